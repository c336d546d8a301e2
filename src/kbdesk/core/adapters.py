"""The adapters folder `<data>/adapters/<name>/` (adapter.gguf + meta.json): typed metadata, listing,
resolving, installing, renaming and removing adapters, and the chosen-adapter setting that follows."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

from kbdesk.core.errors import InvalidSetting, ModelMissing, Remedy
from kbdesk.core.paths import AppPaths, validate_collection_name
from kbdesk.core.settings import SettingsStore
from kbdesk.core.store.fileio import (
    atomic_write_text,
    discard_folder,
    empty_trash,
    sha256_file,
    staging_path,
    swap_folder,
)

ADAPTER_FILE = "adapter.gguf"  # beside it, meta.json (base model, data, settings, evaluation)
META_FILE = "meta.json"
EVALUATION_FILE = "evaluation.json"  # the four-way evaluation's whole result
REPORT_FILE = "report.html"  # ... and its report
# What meta.json keeps of the evaluation (the adapters list shows its recommendation).
EVALUATION_SUMMARY = (
    "model",
    "questions",
    "answerable",
    "arms",
    "recommendation",
    "forgetting",
    "created",
)


@dataclass(frozen=True)
class BaseModelRef:
    """The model an adapter was trained on: adapters only fit that model."""

    name: str
    file: str
    size: int | None = None
    sha256: str | None = None

    @classmethod
    def from_json(cls, data: dict | None) -> BaseModelRef | None:
        if not isinstance(data, dict) or not (data.get("name") or data.get("file")):
            return None
        return cls(
            name=str(data.get("name") or data.get("file")),
            file=str(data.get("file") or ""),
            size=data.get("size"),
            sha256=data.get("sha256"),
        )


@dataclass(frozen=True)
class AdapterMeta:
    """meta.json: what an adapter was trained on and how, and its evaluation once run."""

    name: str = ""
    base: BaseModelRef | None = None
    collection: str | None = None
    created: str | None = None
    counts: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # steps, first/final loss, losses
    split: dict = field(default_factory=dict)  # train / held-out / unanswerable questions
    evaluation: dict | None = None

    @property
    def base_name(self) -> str:
        return self.base.name if self.base else "unknown model"

    @property
    def final_loss(self) -> float | None:
        return self.training.get("final_loss")

    @property
    def recommendation(self) -> str | None:
        return ((self.evaluation or {}).get("recommendation") or {}).get("text")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> AdapterMeta:
        def mapping(key: str) -> dict:
            value = data.get(key)
            return value if isinstance(value, dict) else {}

        evaluation = data.get("evaluation")
        return cls(
            name=str(data.get("name") or ""),
            base=BaseModelRef.from_json(data.get("base")),
            collection=data.get("collection"),
            created=data.get("created"),
            counts=mapping("counts"),
            settings=mapping("settings"),
            training=mapping("training"),
            split=mapping("split"),
            evaluation=evaluation if isinstance(evaluation, dict) else None,
        )


@dataclass(frozen=True)
class Adapter:
    name: str  # the folder's name: what settings, `kbdesk ask --adapter` and the window use
    path: Path  # the adapter.gguf inside it
    meta: AdapterMeta

    def to_json(self) -> dict:
        """The listing `kbdesk adapters --json` prints."""
        meta = self.meta
        return {
            "name": self.name,
            "path": str(self.path),
            "base": asdict(meta.base) if meta.base else None,
            "collection": meta.collection,
            "created": meta.created,
            "counts": meta.counts,
            "final_loss": meta.final_loss,
            "evaluated": meta.evaluation is not None,
        }


def validate_adapter_name(name: str) -> str:
    """Adapter names follow the collection-name rules (they are folder names too)."""
    try:
        return validate_collection_name(name)
    except InvalidSetting as exc:
        raise InvalidSetting(f"'{name}' is not a valid adapter name.", hint=exc.hint) from None


def read_meta(adapter_path: str | os.PathLike) -> AdapterMeta:
    """The meta.json beside an adapter file (empty for a loose .gguf without one)."""
    meta = Path(adapter_path).with_name(META_FILE)
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return AdapterMeta()
    return AdapterMeta.from_json(data) if isinstance(data, dict) else AdapterMeta()


def write_meta(adapter_path: str | os.PathLike, meta: AdapterMeta) -> None:
    atomic_write_text(
        Path(adapter_path).with_name(META_FILE),
        json.dumps(meta.to_json(), ensure_ascii=False, indent=1),
    )


def list_adapters(adapters_dir: str | os.PathLike) -> list[Adapter]:
    """Every adapter in `adapters_dir`, by name. Loose .gguf files and folders without an
    adapter.gguf are not adapters and are not listed (`resolve_adapter` refuses them too).
    """
    folder = Path(adapters_dir)
    if not folder.is_dir():
        return []
    found = [
        Adapter(sub.name, sub / ADAPTER_FILE, read_meta(sub / ADAPTER_FILE))
        for sub in folder.iterdir()
        # hidden folders are adapters being installed, replaced or removed
        if sub.is_dir() and not sub.name.startswith(".") and (sub / ADAPTER_FILE).is_file()
    ]
    return sorted(found, key=lambda a: a.name)


def _no_adapter(adapters_dir: str | os.PathLike, name: str) -> ModelMissing:
    known = ", ".join(a.name for a in list_adapters(adapters_dir))
    return ModelMissing(
        f"No adapter named '{name}' (looked for {Path(adapters_dir) / name / ADAPTER_FILE}).",
        hint=f"Known adapters: {known}." if known else "No adapters have been trained yet.",
        remedy=Remedy.CHOOSE_ADAPTER,
    )


def resolve_adapter(adapters_dir: str | os.PathLike, name: str) -> Path:
    """The adapter file for a name `list_adapters` returns, or for an explicit path to a .gguf.

    :raises ModelMissing: naming what was looked for and the adapters that do exist.
    """
    candidate = Path(name).expanduser()
    if candidate.suffix.lower() == ".gguf":
        if candidate.is_file():
            return candidate.resolve()
        raise ModelMissing(
            f"The adapter file {candidate} does not exist.", remedy=Remedy.CHOOSE_ADAPTER
        )
    for adapter in list_adapters(adapters_dir):
        if adapter.name == name:
            return adapter.path
    raise _no_adapter(adapters_dir, name)


def adapter_name(path: str | os.PathLike) -> str:
    """How an adapter file is named to the user: its folder for one in the adapters layout,
    the file's own name for an explicit .gguf path."""
    path = Path(path)
    return path.parent.name if path.name == ADAPTER_FILE else path.stem


def install_adapter(
    adapters_dir: str | os.PathLike,
    name: str,
    adapter_file: Path,
    meta: AdapterMeta,
    *,
    replace_existing: bool = False,
) -> Path:
    """Copies a trained adapter into `<adapters>/<name>/` with its meta.json.

    Built in a hidden folder and swapped in: a kill leaves either no adapter or a whole one.
    An adapter of the same name is replaced only when asked to.
    """
    name = validate_adapter_name(name)
    final = Path(adapters_dir) / name
    if final.exists() and not replace_existing:
        raise InvalidSetting(f"An adapter named '{name}' already exists.")
    empty_trash(adapters_dir)
    staged = staging_path(final)
    shutil.copyfile(adapter_file, staged / ADAPTER_FILE)
    write_meta(staged / ADAPTER_FILE, replace(meta, name=name))
    swap_folder(staged, final)
    return final / ADAPTER_FILE


def _existing(adapters_dir: str | os.PathLike, name: str) -> Path:
    folder = Path(adapters_dir) / validate_adapter_name(name)
    if not (folder / ADAPTER_FILE).is_file():
        raise _no_adapter(adapters_dir, name)
    return folder


def _follow_choice(paths: AppPaths, old: str, new: str | None) -> None:
    """The chosen adapter in the saved settings follows a rename (or is cleared by a removal),
    so the next question does not ask for an adapter that is gone."""
    store = SettingsStore(paths.config_dir)
    settings = store.load()
    if settings.adapter == old:
        store.save(replace(settings, adapter=new))


def rename_adapter(paths: AppPaths, old: str, new: str) -> Path:
    """Renames an adapter; a refused rename (bad or taken name) changes nothing."""
    source = _existing(paths.adapters_dir, old)
    target = source.with_name(validate_adapter_name(new))
    if target.exists():
        raise InvalidSetting(
            f"An adapter named '{new}' already exists.", hint="Choose another name."
        )
    os.replace(source, target)
    meta = read_meta(target / ADAPTER_FILE)
    write_meta(target / ADAPTER_FILE, replace(meta, name=target.name))
    _follow_choice(paths, old, target.name)
    return target


def remove_adapter(paths: AppPaths, name: str) -> None:
    """Removes an adapter with its evaluation; never half of one is listed."""
    discard_folder(_existing(paths.adapters_dir, name))
    _follow_choice(paths, name, None)


def save_evaluation(adapter_path: Path, result: dict, report_html: str) -> Path:
    """Writes the evaluation's result and report beside the adapter and its summary into
    meta.json; returns the report's path."""
    folder = adapter_path.parent
    atomic_write_text(folder / EVALUATION_FILE, json.dumps(result, ensure_ascii=False, indent=1))
    atomic_write_text(folder / REPORT_FILE, report_html)
    summary = {k: result[k] for k in EVALUATION_SUMMARY if k in result}
    write_meta(adapter_path, replace(read_meta(adapter_path), evaluation=summary))
    return folder / REPORT_FILE


def read_evaluation(adapter_path: Path) -> dict | None:
    """The last evaluation's whole result, None when the adapter was never evaluated."""
    try:
        data = json.loads(adapter_path.with_name(EVALUATION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def created_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def model_sha256(model_path: str | os.PathLike) -> str:
    """The model file's SHA-256: a built-in's recorded one (checked when it was assembled), or
    hashed once per process for a given size and time stamp."""
    from kbdesk.core.generate.models import BUILTIN_MODELS

    path = Path(model_path)
    stat = path.stat()
    for spec in BUILTIN_MODELS.values():
        if spec.file == path.name and spec.size == stat.st_size:
            return spec.sha256
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def check_base(adapter_path: str | os.PathLike, model_path: str | os.PathLike) -> None:
    """Refuses an adapter trained on another base model, saying which model it belongs to.

    Adapters without meta.json (brought by the user) are left to llama.cpp, which refuses
    tensors whose shapes do not fit.
    """
    base = read_meta(adapter_path).base
    if base is None or not base.sha256:
        return
    model_path = Path(model_path)
    if base.size not in (None, model_path.stat().st_size) or (
        model_sha256(model_path) != base.sha256
    ):
        raise ModelMissing(
            f"The adapter '{adapter_name(adapter_path)}' belongs to the model "
            f"{base.name}, not to {model_path.name}.",
            hint="Choose that model to answer with this adapter, or answer without it.",
            remedy=Remedy.CHOOSE_ADAPTER,
        )
