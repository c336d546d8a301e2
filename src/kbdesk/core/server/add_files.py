"""Adding files to a shared collection from this PC: they are read, split and embedded here (the
local import: every format, OCR, one broken file never stops the rest) into a staging collection
kept for that shared collection, then uploaded as `push` does, each document in its own
transaction. A document leaves the staging collection once the server has it, so an upload cut
short (a killed process, the network gone) resumes with the next file added."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.paths import AppPaths
from kbdesk.core.server import admin
from kbdesk.core.server.connection import ServerAddress, connect, server_errors
from kbdesk.core.server.push import PushReport, push
from kbdesk.core.types import ImportReport

STAGING_NAME = "pending"


def staging_folder(paths: AppPaths, address: ServerAddress, collection: str) -> Path:
    """The data folder of the staging collection for `collection` on that server and login."""
    key = hashlib.sha256(f"{address.account}\0{collection}".encode()).hexdigest()[:16]
    return paths.shared_staging_dir / key


@dataclass(frozen=True)
class AddReport:
    collection: str
    imported: ImportReport
    uploaded: PushReport

    def summary(self) -> str:
        added = len(self.uploaded.added) + len(self.uploaded.replaced)
        text = f"Added {added} document{'s' * (added != 1)} to the shared collection '{self.collection}'"
        there = len(self.uploaded.skipped)
        if there:
            text += f" ({there} already there)"
        problems = [_named(Path(r.path).name, r.reason or "") for r in self.imported.failed]
        problems += [_named(name, why) for name, why in self.uploaded.failed]
        if problems:
            text += f"; {len(problems)} not added ({'; '.join(problems[:3])})"
        return text + "."


def _named(name: str, why: str) -> str:
    return why if name in why else f"{name}: {why}"


def add_files(
    address: ServerAddress,
    collection: str,
    files: Iterable[str | os.PathLike],
    *,
    data_dir: str | os.PathLike | None = None,
    password: str | None = None,
    ocr: bool = True,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> AddReport:
    """Import `files` (files and folders) into the shared collection `collection`.

    :raises AccessDenied: the login may not read the collection, or may only read it (before
        any file is read)."""
    with closing(connect(address, password)) as con, server_errors(address):
        admin.require_schema(con, address)
        target = admin.readable(con, address, collection)
    admin.require_write(target, address, "add to it")
    staging = staging_folder(AppPaths.resolve(data_dir), address, collection)
    with KnowledgeBase.open(
        staging,
        STAGING_NAME,
        embedder=target.embedder,
        chunk_size=target.chunk_size,
        chunk_overlap=target.chunk_overlap,
    ) as kb:
        imported = kb.import_paths(list(files), ocr=ocr, progress=progress, cancel=cancel)
        uploaded = push(
            kb, address, collection, password=password, progress=progress, cancel=cancel
        )
        kb.remove(uploaded.held)
    return AddReport(collection, imported, uploaded)
