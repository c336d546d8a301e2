"""A collection on disk: its folder, manifest (schema, embedder, chunking) and single-writer lock."""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO

from kbdesk.core.errors import CollectionBusy, CollectionError
from kbdesk.core.store.fileio import atomic_write_text
from kbdesk.core.store.schema import SCHEMA_VERSION

MANIFEST = "manifest.json"
CATALOG = "catalog.sqlite3"
VECTORS = "vectors.faiss"
LOCK = "write.lock"


@dataclass(frozen=True)
class Manifest:
    schema_version: int
    embedder: str
    dim: int
    chunk_size: int
    chunk_overlap: int
    created_at: float

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(
                schema_version=int(data["schema_version"]),
                embedder=str(data["embedder"]),
                dim=int(data["dim"]),
                chunk_size=int(data["chunking"]["size"]),
                chunk_overlap=int(data["chunking"]["overlap"]),
                created_at=float(data.get("created_at", 0)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CollectionError(
                f"The collection manifest {path} is missing or damaged ({exc}).",
                hint="Restore it from a backup, or delete the collection folder and import again.",
            ) from exc
        if manifest.schema_version > SCHEMA_VERSION:
            raise CollectionError(
                f"Collection '{folder.name}' was written by a newer kbdesk "
                f"(schema {manifest.schema_version}; this one reads up to {SCHEMA_VERSION}).",
                hint="Update kbdesk to open this collection.",
            )
        return manifest

    def upgraded(self, folder: Path) -> Manifest:
        """The manifest of a collection whose catalog has just been brought up to date."""
        if self.schema_version >= SCHEMA_VERSION:
            return self
        manifest = replace(self, schema_version=SCHEMA_VERSION)
        manifest.save(folder)
        return manifest

    def save(self, folder: Path) -> None:
        data = asdict(self)
        data["chunking"] = {"size": data.pop("chunk_size"), "overlap": data.pop("chunk_overlap")}
        atomic_write_text(folder / MANIFEST, json.dumps(data, indent=2))

    @classmethod
    def new(cls, embedder: str, dim: int, chunk_size: int, chunk_overlap: int) -> Manifest:
        return cls(SCHEMA_VERSION, embedder, dim, chunk_size, chunk_overlap, time.time())


@contextmanager
def writer_lock(folder: Path, name: str):
    """Hold the collection's write lock (one importer or remover at a time, across processes)."""
    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / LOCK, "a+")  # noqa: SIM115 - closed in finally
    try:
        try:
            _lock(fh)
        except OSError as exc:
            raise CollectionBusy(
                f"Collection '{name}' is being changed by another kbdesk window or command.",
                hint="Wait for that import to finish, or cancel it, then try again.",
            ) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()  # closing releases the lock, also when the process dies


def _lock(fh: IO[str]) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
