"""The import job: scan, skip what is unchanged, parse on a helper thread, embed in batches, commit per document."""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kbdesk.core import ingest
from kbdesk.core.errors import (
    Cancelled,
    DocumentUnreadable,
    ErrorCode,
    KbdeskError,
    NeedsOCR,
)
from kbdesk.core.ingest.chunking import CHUNKING_VERSION
from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.search.text import index_body
from kbdesk.core.store.catalog import Catalog, FileFacts
from kbdesk.core.store.fileio import sha256_file
from kbdesk.core.store.vectors import VectorIndex
from kbdesk.core.types import (
    ChunkDraft,
    DocStatus,
    FileResult,
    FileStatus,
    ImportReport,
    Progress,
    Stage,
)

EMBED_GROUP = 128  # new passages gathered across small documents before one embedder call
EMBED_SLICE = 64  # cancel is checked between slices
SAVE_EVERY_S = 30.0  # the vector index is checkpointed this often during long imports


@dataclass
class _Parsed:
    facts: FileFacts
    status: FileStatus  # IMPORTED or UPDATED
    pages: int = 0
    drafts: list[ChunkDraft] = field(default_factory=list)
    embed_texts: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    vectors: np.ndarray | None = None  # allocated by Importer._flush
    warnings: tuple[str, ...] = ()

    def allocated_vectors(self) -> np.ndarray:
        if self.vectors is None:
            raise RuntimeError(f"{self.facts.path}: vectors used before Importer._flush made them")
        return self.vectors


@dataclass
class _Outcome:
    result: FileResult | None = None  # already decided (unchanged, duplicate, failed)
    parsed: _Parsed | None = None
    failure: tuple[FileFacts, KbdeskError] | None = None

    @property
    def path(self) -> str | None:
        """The file this outcome is about."""
        if self.parsed is not None:
            return self.parsed.facts.path
        if self.result is not None:
            return self.result.path
        return self.failure[0].path if self.failure is not None else None


def _put(out: queue.Queue, item, stop: threading.Event) -> bool:
    """Queue an item for the consumer unless it has stopped listening; False if it has."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Importer:
    """One run of an import over a set of files and folders. Holds no state between runs."""

    def __init__(
        self,
        catalog: Catalog,
        index: VectorIndex,
        embedder,
        settings: ingest.ChunkSettings,
        *,
        ocr: bool = True,
        again: bool = False,
        progress: ProgressFn = no_progress,
        cancel: CancelToken | None = None,
        on_file: Callable[[FileResult], None] | None = None,
        on_plan: Callable[[list[str]], None] | None = None,
        index_lock: threading.RLock | None = None,
    ):
        self.catalog = catalog
        self.index = index
        self.embedder = embedder
        self.dim = embedder.spec.dim
        self.settings = settings
        self.ocr = ocr
        self.again = again  # read unchanged files too (Re-index), replacing them as an update
        self.progress = progress
        self.cancel = cancel or CancelToken()
        self.on_file = on_file
        self.on_plan = on_plan  # told the files to process, in order, before the first one
        self.index_lock = index_lock or threading.RLock()
        self._results: list[FileResult] = []
        self._last_save = time.monotonic()

    # -- planning ----------------------------------------------------------------------------

    def _plan(self, paths: list[Path]) -> tuple[list[Path], list[Path]]:
        existing: list[Path] = []
        folders: list[Path] = []
        for path in paths:
            if not path.exists():
                self._emit(
                    FileResult(
                        str(path),
                        FileStatus.FAILED,
                        f"{path.name}: no such file or folder",
                        ErrorCode.NOT_FOUND,
                    )
                )
                continue
            existing.append(path)
            if path.is_dir():
                folders.append(path.resolve())
        files = [p.resolve() for p in ingest.iter_supported_files(existing)]
        return list(dict.fromkeys(files)), folders

    def _emit(self, result: FileResult) -> None:
        self._results.append(result)
        if self.on_file is not None:
            self.on_file(result)

    # -- run ---------------------------------------------------------------------------------

    def run(self, paths: Iterable[str | os.PathLike]) -> ImportReport:
        self.progress(Progress(Stage.SCANNING))
        files, folders = self._plan([Path(p).expanduser() for p in paths])
        if self.on_plan is not None:
            self.on_plan([str(f) for f in files])
        cancelled = False
        try:
            self._prune_missing(folders, set(map(str, files)))
            self._process(files)
        except Cancelled:
            cancelled = True
        finally:
            self._save_index(force=True)
        self.progress(Progress(Stage.DONE, len(files), len(files)))
        return ImportReport(tuple(self._results), cancelled)

    def _prune_missing(self, folders: list[Path], present: set[str]) -> None:
        """Files that were imported from these folders and are gone now leave the index."""
        if not folders:
            return
        for doc in self.catalog.documents():
            inside = any(Path(doc.path).is_relative_to(f) for f in folders)
            if inside and doc.path not in present and not Path(doc.path).exists():
                removed = self.catalog.remove_document(doc.id)
                with self.index_lock:
                    self.index.remove(np.asarray(removed, dtype=np.int64))
                self._emit(FileResult(doc.path, FileStatus.REMOVED, "file no longer exists"))

    def _process(self, files: list[Path]) -> None:
        total = len(files)
        outcomes: queue.Queue = queue.Queue(maxsize=4)
        stop = threading.Event()
        producer = threading.Thread(
            target=self._produce, args=(files, outcomes, stop), daemon=True, name="kbdesk-parse"
        )
        producer.start()
        done = 0
        pending: list[_Parsed] = []
        try:
            finished = False
            while not finished:
                self.cancel.raise_if_cancelled()
                try:
                    item = outcomes.get(timeout=0.05 if pending else 0.5)
                except queue.Empty:
                    if pending:
                        done += self._flush(pending, done, total)
                        pending = []
                    continue
                if item is None:
                    finished = True
                elif isinstance(item, BaseException):
                    raise item
                elif item.result is not None:
                    self._emit(item.result)
                    done += 1
                elif item.failure is not None:
                    self._record_failure(*item.failure)
                    done += 1
                else:
                    pending.append(item.parsed)
                    if sum(len(p.embed_texts) for p in pending) >= EMBED_GROUP:
                        done += self._flush(pending, done, total)
                        pending = []
                current = item.path if isinstance(item, _Outcome) else None
                self.progress(Progress(Stage.PARSING, done, total, item=current))
            if pending:
                done += self._flush(pending, done, total)
        finally:
            stop.set()
            while producer.is_alive():
                with contextlib.suppress(queue.Empty):
                    outcomes.get(timeout=0.1)
            producer.join()

    # -- producer (helper thread): decide, hash, parse, chunk ----------------------------------

    def _produce(self, files: list[Path], out: queue.Queue, stop: threading.Event) -> None:
        seen_sha: dict[str, str] = {}
        try:
            for path in files:
                if stop.is_set() or self.cancel.cancelled:
                    return
                if not _put(out, self._examine(path, seen_sha), stop):
                    return
        except BaseException as exc:  # surfaced on the main loop, never lost
            out.put(exc)
            return
        _put(out, None, stop)

    def _examine(self, path: Path, seen_sha: dict[str, str]) -> _Outcome:
        name = path.name
        facts = FileFacts(str(path), name, path.suffix.lower().lstrip("."), "", 0, 0.0)
        try:
            stat = path.stat()
            facts = FileFacts(str(path), name, facts.kind, "", stat.st_size, stat.st_mtime)
            existing = self.catalog.document_by_path(str(path))
            # Read by this chunker (an older one's chunks are cut again), and not asked to re-read.
            current = (
                existing
                if existing is not None
                and existing.status == DocStatus.READY
                and existing.chunking >= CHUNKING_VERSION
                and not self.again
                else None
            )
            if current and current.size == stat.st_size and current.mtime == stat.st_mtime:
                return _Outcome(
                    result=FileResult(
                        str(path),
                        FileStatus.UNCHANGED,
                        pages=current.pages,
                        chunks=current.chunks,
                    )
                )
            sha = sha256_file(path)
            facts = FileFacts(str(path), name, facts.kind, sha, stat.st_size, stat.st_mtime)
            if current and current.sha256 == sha:
                self.catalog.touch_document(current.id, stat.st_mtime)
                return _Outcome(
                    result=FileResult(
                        str(path),
                        FileStatus.UNCHANGED,
                        pages=current.pages,
                        chunks=current.chunks,
                    )
                )
            twin = self.catalog.ready_document_with_sha(sha, other_than=str(path))
            twin_path = twin.path if twin else seen_sha.get(sha)
            if twin_path:
                return _Outcome(
                    result=FileResult(
                        str(path),
                        FileStatus.DUPLICATE,
                        f"same content as {Path(twin_path).name} ({twin_path}), which is already imported",
                        "duplicate",
                    )
                )
            seen_sha[sha] = str(path)
            parsed = ingest.load_document(path, ocr=self.ocr, cancel=self.cancel)
            drafts = ingest.chunk_document(parsed, self.settings)
            if not drafts:
                raise DocumentUnreadable(f"{name} contains no text to index.")
            title = (parsed.title or path.stem).strip()
            embed_texts = [f"{title}\n{d.text}" for d in drafts]
            status = FileStatus.UPDATED if existing else FileStatus.IMPORTED
            facts = FileFacts(str(path), name, parsed.kind, sha, stat.st_size, stat.st_mtime)
            return _Outcome(
                parsed=_Parsed(
                    facts,
                    status,
                    parsed.pages,
                    drafts,
                    embed_texts,
                    [text_hash(t) for t in embed_texts],
                    warnings=parsed.warnings,
                )
            )
        except Cancelled:
            raise
        except KbdeskError as exc:
            return _Outcome(failure=(facts, exc))
        except OSError as exc:
            return _Outcome(
                failure=(
                    facts,
                    DocumentUnreadable(f"{name} cannot be read: {exc.strerror or exc}."),
                )
            )
        except Exception as exc:  # noqa: BLE001 - one broken file never stops an import
            return _Outcome(
                failure=(facts, DocumentUnreadable(f"{name} could not be imported: {exc}."))
            )

    # -- consumer (calling thread): embed and commit ---------------------------------------------

    def _flush(self, batch: list[_Parsed], done: int, total: int) -> int:
        """Embed what is new across these documents, then commit each in its own transaction."""
        todo: list[tuple[_Parsed, int]] = []
        for parsed in batch:
            known = self.catalog.vectors_for_hashes(parsed.hashes, self.dim)
            parsed.vectors = allocated = np.zeros((len(parsed.hashes), self.dim), np.float32)
            for i, h in enumerate(parsed.hashes):
                if h in known:
                    allocated[i] = known[h]
                else:
                    todo.append((parsed, i))
        texts = [p.embed_texts[i] for p, i in todo]
        per_doc: dict[int, int] = {}
        for parsed, _ in todo:
            per_doc[id(parsed)] = per_doc.get(id(parsed), 0) + 1
        seen: dict[int, int] = {}
        for start in range(0, len(texts), EMBED_SLICE):
            self.cancel.raise_if_cancelled()
            current = todo[start][0]
            for parsed, _ in todo[start - EMBED_SLICE if start else 0 : start]:
                seen[id(parsed)] = seen.get(id(parsed), 0) + 1
            self.progress(
                Progress(
                    Stage.EMBEDDING,
                    done,
                    total,
                    item=current.facts.path,
                    message=f"{start:,}/{len(texts):,} passages",
                    item_fraction=seen.get(id(current), 0) / per_doc[id(current)],
                )
            )
            vectors = self.embedder.embed(texts[start : start + EMBED_SLICE])
            for (parsed, i), vector in zip(todo[start : start + EMBED_SLICE], vectors, strict=True):
                parsed.allocated_vectors()[i] = vector
        new_counts: dict[int, int] = {}
        for parsed, _ in todo:
            new_counts[id(parsed)] = new_counts.get(id(parsed), 0) + 1
        for parsed in batch:
            self._commit(parsed, new_counts.get(id(parsed), 0))
        self._save_index()
        return len(batch)

    def _commit(self, parsed: _Parsed, embedded: int) -> None:
        bodies = [index_body(t) for t in parsed.embed_texts]
        vectors = parsed.allocated_vectors()
        doc_id, ids, removed = self.catalog.replace_document(
            parsed.facts,
            parsed.pages,
            parsed.drafts,
            parsed.hashes,
            bodies,
            vectors,
            chunking=CHUNKING_VERSION,
        )
        with self.index_lock:
            self.index.remove(np.asarray(removed, dtype=np.int64))
            self.index.add(np.asarray(ids, dtype=np.int64), vectors)
        reason = "; ".join(parsed.warnings) or None
        self._emit(
            FileResult(
                parsed.facts.path, parsed.status, reason, None, parsed.pages, len(ids), embedded
            )
        )

    def _record_failure(self, facts: FileFacts, error: KbdeskError) -> None:
        status = DocStatus.NEEDS_OCR if isinstance(error, NeedsOCR) else DocStatus.FAILED
        if facts.size or Path(facts.path).exists():
            removed = self.catalog.record_failure(facts, status, str(error), error.code)
            with self.index_lock:
                self.index.remove(np.asarray(removed, dtype=np.int64))
        self._emit(FileResult(facts.path, FileStatus.FAILED, str(error), error.code))

    def _save_index(self, force: bool = False) -> None:
        if not self.index.dirty:
            return
        if force or time.monotonic() - self._last_save >= SAVE_EVERY_S:
            with self.index_lock:
                self.index.save(self.catalog.generation)
            self._last_save = time.monotonic()
