"""A file that exists only in memory, for libraries that read or write only by path: llama.cpp
loading a sealed adapter, the gguf package writing one. On Linux a memfd (never on a disk); where
there is none, a temporary file that is removed at once (and said so in the README)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def memory_path(data: bytes = b"", name: str = "kbdesk") -> Iterator[Path]:
    """A path whose file holds `data`; `read_back` reads what a library wrote to it."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(name, 0)
        try:
            _write_all(fd, data)
            yield Path(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    handle, raw = tempfile.mkstemp(prefix=f".{name}-")  # pragma: no cover - not Linux
    try:
        _write_all(handle, data)
        os.close(handle)
        yield Path(raw)
    finally:
        Path(raw).unlink(missing_ok=True)


def read_back(path: Path) -> bytes:
    """The whole file at `path` (a memory path re-opened: its own offset starts at 0)."""
    with open(path, "rb") as fh:
        return fh.read()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
