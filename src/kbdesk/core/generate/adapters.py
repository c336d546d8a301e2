"""Which LoRA adapters exist: one layout, `<adapters>/<name>/adapter.gguf`, listed and resolved alike."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kbdesk.core.errors import ModelMissing, Remedy

ADAPTER_FILE = "adapter.gguf"  # beside it, meta.json (base model, data, settings, evaluation)


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
        if sub.is_dir() and (sub / ADAPTER_FILE).is_file()
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
