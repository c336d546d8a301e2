"""Which LoRA adapters exist: one layout, `<adapters>/<name>/adapter.gguf`, listed and resolved alike."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kbdesk.core.errors import ModelMissing, Remedy
from kbdesk.core.store.fileio import sha256_file

ADAPTER_FILE = "adapter.gguf"  # beside it, meta.json (base model, data, settings, evaluation)
META_FILE = "meta.json"


@dataclass(frozen=True)
class AdapterInfo:
    name: str  # the folder's name: what settings, `kbdesk ask --adapter` and the window use
    path: Path  # the adapter.gguf inside it


def list_adapters(adapters_dir: str | os.PathLike) -> list[AdapterInfo]:
    """Every adapter in `adapters_dir`, by name. Loose .gguf files and folders without an
    adapter.gguf are not adapters and are not listed (`resolve_adapter` refuses them too).
    """
    folder = Path(adapters_dir)
    if not folder.is_dir():
        return []
    found = [
        AdapterInfo(sub.name, sub / ADAPTER_FILE)
        for sub in folder.iterdir()
        # hidden folders are adapters being installed, replaced or removed
        if sub.is_dir() and not sub.name.startswith(".") and (sub / ADAPTER_FILE).is_file()
    ]
    return sorted(found, key=lambda a: a.name)


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
    adapters = list_adapters(adapters_dir)
    for adapter in adapters:
        if adapter.name == name:
            return adapter.path
    known = ", ".join(a.name for a in adapters)
    raise ModelMissing(
        f"No adapter named '{name}' (looked for {Path(adapters_dir) / name / ADAPTER_FILE}).",
        hint=f"Known adapters: {known}." if known else "No adapters have been trained yet.",
        remedy=Remedy.CHOOSE_ADAPTER,
    )


def adapter_name(path: str | os.PathLike) -> str:
    """How an adapter file is named to the user: its folder for one in the adapters layout,
    the file's own name for an explicit .gguf path."""
    path = Path(path)
    return path.parent.name if path.name == ADAPTER_FILE else path.stem


def read_meta(adapter_path: str | os.PathLike) -> dict:
    """The meta.json beside an adapter file ({} for a loose .gguf without one)."""
    meta = Path(adapter_path).with_name(META_FILE)
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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
    base = read_meta(adapter_path).get("base") or {}
    expected = base.get("sha256")
    if not expected:
        return
    model_path = Path(model_path)
    if base.get("size") not in (None, model_path.stat().st_size) or (
        model_sha256(model_path) != expected
    ):
        raise ModelMissing(
            f"The adapter '{adapter_name(adapter_path)}' belongs to the model "
            f"{base.get('name') or base.get('file') or 'it was trained on'}, not to "
            f"{model_path.name}.",
            hint="Choose that model to answer with this adapter, or answer without it.",
            remedy=Remedy.CHOOSE_ADAPTER,
        )
