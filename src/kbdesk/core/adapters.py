"""The adapters folder `<data>/adapters/<name>/` (adapter.gguf + meta.json): typed metadata, listing,
resolving, installing, renaming and removing adapters, and the chosen-adapter setting that follows.

An adapter trained on an encrypted collection is *sealed* under that collection's key: its
adapter.gguf, its held-out questions (split.json) and its evaluation; meta.json keeps names,
counts and settings only. It answers only in its own collection, unlocked."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

from kbdesk.core.crypt.sealed import is_sealed, read_sealed, write_sealed
from kbdesk.core.errors import CollectionLocked, InvalidSetting, ModelMissing, Remedy, SealBroken
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
REPORT_FILE = "report.html"  # ... and its report (not written for a sealed adapter)
SPLIT_FILE = "split.json"  # a sealed adapter's held-out questions (meta.json's split otherwise)
ADAPTER_PURPOSE, SPLIT_PURPOSE, EVALUATION_PURPOSE = "adapter", "adapter split", "evaluation"
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
    sealed: bool = False  # under its collection's key (an encrypted collection's adapter)

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
            sealed=bool(data.get("sealed")),
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
    key: bytes | None = None,
) -> Path:
    """Copies a trained adapter into `<adapters>/<name>/` with its meta.json; with the
    collection's `key`, `adapter_file` is sealed already and the held-out questions are
    sealed beside it.

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
    if key is not None:
        meta = _sealed_split(staged, meta, key)
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


def save_evaluation(
    adapter_path: Path, result: dict, report_html: str, key: bytes | None = None
) -> Path | None:
    """Writes the evaluation's result and report beside the adapter and its summary into
    meta.json; returns the report's path. A sealed adapter's result is sealed under `key` and
    gets no report file (the window and `kbdesk eval` show it): None."""
    folder = adapter_path.parent
    meta = read_meta(adapter_path)
    text = json.dumps(result, ensure_ascii=False, indent=1)
    report: Path | None = folder / REPORT_FILE
    if meta.sealed:
        write_sealed(
            folder / EVALUATION_FILE, _key_for(meta, key), text.encode(), EVALUATION_PURPOSE
        )
        report = None
    else:
        atomic_write_text(folder / EVALUATION_FILE, text)
        atomic_write_text(folder / REPORT_FILE, report_html)
    summary = {k: result[k] for k in EVALUATION_SUMMARY if k in result}
    write_meta(adapter_path, replace(meta, evaluation=summary))
    return report


def read_evaluation(adapter_path: Path, key: bytes | None = None) -> dict | None:
    """The last evaluation's whole result, None when the adapter was never evaluated (or is
    sealed and `key` is not its collection's)."""
    path = adapter_path.with_name(EVALUATION_FILE)
    try:
        if read_meta(adapter_path).sealed:
            if key is None:
                return None
            data = json.loads(read_sealed(path, key, EVALUATION_PURPOSE))
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, SealBroken):
        return None
    return data if isinstance(data, dict) else None


def adapter_split(adapter_path: Path, key: bytes | None = None) -> dict:
    """The held-out questions the adapter's evaluation asks (sealed ones need the key)."""
    meta = read_meta(adapter_path)
    if not meta.sealed:
        return meta.split
    data = read_sealed(adapter_path.with_name(SPLIT_FILE), _key_for(meta, key), SPLIT_PURPOSE)
    return json.loads(data)


def adapter_key(adapter_path: Path, collection: str, key: bytes | None) -> bytes | None:
    """The key that opens the adapter when answering in `collection` (its key or None): None
    for a plain adapter.

    :raises ModelMissing: a sealed adapter of another collection, or of this one locked.
    """
    meta = read_meta(adapter_path)
    if not meta.sealed:
        return None
    if meta.collection != collection or key is None:
        raise ModelMissing(
            f"The adapter '{adapter_name(adapter_path)}' was trained on the encrypted "
            f"collection '{meta.collection}' and is encrypted with it: it answers only there, "
            "while that collection is unlocked.",
            remedy=Remedy.CHOOSE_ADAPTER,
        )
    return key


def seal_adapter(adapter_path: Path, key: bytes) -> None:
    """Seal a plain adapter under its collection's key (that collection was encrypted): its
    held-out questions, its evaluation and the adapter itself; its report file goes. Each file
    is sealed only once and meta.json says so last, so a run cut short is simply run again."""
    meta = read_meta(adapter_path)
    if meta.sealed:
        return
    folder = adapter_path.parent
    sealed = _sealed_split(folder, meta, key)
    for path, purpose in (
        (folder / EVALUATION_FILE, EVALUATION_PURPOSE),
        (adapter_path, ADAPTER_PURPOSE),
    ):
        if path.is_file() and not is_sealed(path):
            write_sealed(path, key, path.read_bytes(), purpose)
    (folder / REPORT_FILE).unlink(missing_ok=True)
    write_meta(adapter_path, sealed)


def _sealed_split(folder: Path, meta: AdapterMeta, key: bytes) -> AdapterMeta:
    """The held-out questions sealed into `folder`; the meta.json that then says so."""
    split = json.dumps(meta.split, ensure_ascii=False).encode("utf-8")
    write_sealed(folder / SPLIT_FILE, key, split, SPLIT_PURPOSE)
    return replace(meta, split={}, sealed=True)


def _key_for(meta: AdapterMeta, key: bytes | None) -> bytes:
    if key is None:
        raise CollectionLocked(
            f"The adapter '{meta.name}' is encrypted with collection '{meta.collection}'.",
            hint="Unlock that collection first.",
        )
    return key


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
