"""Files and folders on disk: crash-safe writes (temp beside the target, fsync, rename), folder swaps
and removals through a hidden trash, and SHA-256 of a file."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BLOCK = 1 << 20  # read size for hashing
# A folder being replaced or removed is first renamed to a hidden sibling with this suffix (one
# rename on the same file system), so no half-written or half-deleted folder is ever listed: a
# name starting with a dot is never a valid collection or adapter name.
TRASH_SUFFIX = ".trash"
STAGING_SUFFIX = ".staging"

log = logging.getLogger(__name__)


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
        fsync_file(tmp)
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


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a file's bytes to disk."""
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


def trash_path(folder: str | os.PathLike) -> Path:
    """The hidden sibling a folder is renamed to before it is deleted or replaced."""
    folder = Path(folder)
    return folder.with_name(f".{folder.name}{TRASH_SUFFIX}")


def staging_path(folder: str | os.PathLike) -> Path:
    """An empty hidden sibling to build a folder's next version in (see `swap_folder`)."""
    folder = Path(folder)
    staged = folder.with_name(f".{folder.name}{STAGING_SUFFIX}")
    remove_tree(staged)
    staged.mkdir(parents=True)
    return staged


def remove_tree(folder: str | os.PathLike) -> bool:
    """Delete a folder and everything in it; False (logged) when something could not be
    removed yet: it is hidden already, and `empty_trash` tries again later."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        return True
    except OSError as exc:
        log.warning("could not remove %s yet: %s", folder, exc)
        return False
    return True


def swap_folder(staged: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put the complete folder `staged` in the place of `target` (there or not).

    The staged files are flushed, `target` is renamed to its trash, `staged` renamed into place
    and the trash deleted: a kill leaves the old folder either in place or in its trash, and the
    new one complete (read the trash as a fallback where that matters, as checkpoints do).
    Windows cannot rename over a folder, hence the trash in between.
    """
    staged, target = Path(staged), Path(target)
    for f in staged.rglob("*"):
        if f.is_file():
            fsync_file(f)
    trash = trash_path(target)
    remove_tree(trash)
    if target.exists():
        os.replace(target, trash)
    os.replace(staged, target)
    fsync_dir(target.parent)
    remove_tree(trash)
    return target


def discard_folder(folder: str | os.PathLike, *, move=os.replace) -> None:
    """Delete a folder so that it is never seen half-deleted: one rename to its hidden trash,
    then the removal (`move` lets a caller rename under its own lock)."""
    folder = Path(folder)
    trash = trash_path(folder)
    remove_tree(trash)
    move(folder, trash)
    fsync_dir(folder.parent)
    remove_tree(trash)


def empty_trash(parent: str | os.PathLike) -> None:
    """Remove what earlier swaps and removals in `parent` left in their trash (a kill, a file
    another program held open)."""
    parent = Path(parent)
    if parent.is_dir():
        for leftover in parent.iterdir():
            if leftover.name.startswith(".") and leftover.name.endswith(TRASH_SUFFIX):
                remove_tree(leftover)
