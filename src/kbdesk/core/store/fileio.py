"""Files on disk: crash-safe writes (temp file beside the target, fsync, rename) and SHA-256 of a file."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BLOCK = 1 << 20  # read size for hashing


@contextmanager
def atomic_path(
    path: str | os.PathLike, *, sync_dir: bool = False, exclusive: bool = False
) -> Iterator[Path]:
    """Yield a temp path beside `path` for a writer that opens the file itself (FAISS, a copy).

    When the block ends normally the temp file is fsynced and renamed over `path`, so a crash
    leaves either the old file or the new one, never a torn one. When it raises, the temp file
    is removed and `path` is untouched.

    :param sync_dir: also fsync the folder after the rename, so the rename itself survives a
        power cut (worth it for large files that are expensive to redo).
    :param exclusive: the caller is the only writer of `path` (it holds the collection's
        writer lock, or it is the model assembler). The temp name is then fixed,
        `<name>.tmp`, so one left by a killed process is overwritten by the next write instead
        of piling up (these files are large). Otherwise the name is unique, so concurrent
        writers of the same file never write into each other's temp file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive:
        tmp = path.with_name(path.name + ".tmp")
    else:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace `path` with `data` crash-safely (see `atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Replace `path` with `text` as UTF-8, crash-safely (see `atomic_path`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename inside `folder` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # the rename is still atomic there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    # Opened for writing: Windows refuses to flush a read-only handle.
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | os.PathLike, block: int = BLOCK) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks (models are gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()
