"""SharedCollection: a collection on the practice's server, opened with this user's own login; it
searches, gives the answer's context and lists documents as a local collection does (the
Assistant answers over it unchanged), and brings a document's original file to this PC when a
citation opens it. Only searches reach the server: questions are embedded here, answers are
written here, and chats are kept here."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path

from kbdesk.core.embed import Embedder, create_embedder
from kbdesk.core.errors import AccessDenied, ErrorCode
from kbdesk.core.generate.chats import ChatStore
from kbdesk.core.paths import AppPaths
from kbdesk.core.search.answer_context import PAGES_READ, ContextOptions
from kbdesk.core.search.fusion import DEFAULT_FUSION
from kbdesk.core.search.searcher import SearchOptions
from kbdesk.core.server import admin
from kbdesk.core.server.connection import ServerAddress, connect, open_pool, server_errors
from kbdesk.core.server.passages import ServerPassages, SharedSearcher
from kbdesk.core.server.removal import delete
from kbdesk.core.store.fileio import atomic_path, sha256_file
from kbdesk.core.types import DocStatus, Document, FileResult, FileStatus, Hit


class SharedCollection:
    """One shared collection, read through a small pool of connections (searches may come from
    several threads at once)."""

    def __init__(self, paths: AppPaths, address: ServerAddress, passages: ServerPassages):
        self.paths = paths
        self.address = address
        self.passages = passages
        self.info = passages.collection
        self.manifest = self.info  # its embedder, dimension and chunking, as a local manifest
        self.catalog = passages  # what a summary reads a whole document from
        self.key: bytes | None = None  # nothing of it is sealed on this PC
        self.name = self.info.name
        self._embedder: Embedder | None = None
        self._searcher: SharedSearcher | None = None
        self._lock = threading.Lock()
        self._documents: list[Document] | None = None

    @classmethod
    def open(
        cls,
        address: ServerAddress,
        name: str,
        *,
        data_dir: str | os.PathLike | None = None,
        password: str | None = None,
    ) -> SharedCollection:
        """:raises AccessDenied: the login may not read a collection of that name (the server does
        not say whether one exists)."""
        paths = AppPaths.resolve(data_dir)
        with connect(address, password) as con, server_errors(address):
            admin.require_schema(con, address)
            info = admin.readable(con, address, name)
        pool = open_pool(address, password)
        shared = cls(paths, address, ServerPassages(pool, address, info, paths.shared_files_dir))
        shared.refresh()
        return shared

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = create_embedder(self.info.embedder)
            return self._embedder

    def searcher(self) -> SharedSearcher:
        embedder = self.embedder
        with self._lock:
            if self._searcher is None:
                self._searcher = SharedSearcher(self.passages, embedder)
            return self._searcher

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        *,
        documents: Iterable[str] = (),
        context: int = 0,
        fusion: str = DEFAULT_FUSION,
    ) -> list[Hit]:
        """As KnowledgeBase.search: each page once, best first."""
        options = SearchOptions(
            k=k, mode=mode, documents=tuple(documents), context=context, fusion=fusion
        )
        return self.searcher().search(query, options)

    def answer_context(
        self, query: str, pages: int = PAGES_READ, *, documents: Iterable[str] = ()
    ) -> list[Hit]:
        """What the model reads to answer `query` (as KnowledgeBase.answer_context)."""
        return self.searcher().answer_context(query, ContextOptions(pages=pages), tuple(documents))

    def best_similarity(self, query: str, documents: Iterable[str] = ()) -> float:
        return self.searcher().best_similarity(query, tuple(documents))

    def other_version(self, question: str, doc_ids: Iterable[int]) -> tuple[str, ...]:
        return self.searcher().other_version(question, doc_ids)

    def other_document(self, question: str, doc_ids: Iterable[int]) -> tuple[str, ...]:
        return self.searcher().other_document(question, doc_ids)

    def unmentioned(self, question: str, passages: Sequence[str] = ()) -> list[str]:
        return self.searcher().unmentioned(question, passages)

    def chats(self) -> ChatStore:
        """This PC's saved chats over the shared collection (questions never reach the server)."""
        server = hashlib.sha256(self.address.account.encode()).hexdigest()[:12]
        return ChatStore(self.paths.data_dir / "shared-chats" / f"{server}-{self.info.id}")

    @property
    def encrypted(self) -> bool:
        return False  # nothing of it is kept on this PC but chats and opened originals

    def warm_up(self) -> None:
        """Load the embedder and the document list now (off the window's main thread)."""
        self.searcher()
        self.refresh()

    def stale_documents(self, documents: Iterable[Document] | None = None) -> list[Document]:
        return []  # re-reading documents is the uploader's, on its own PC

    def documents(self) -> list[Document]:
        """The collection's documents as last read from the server (read when it was opened, and
        by refresh()): a window asks for them on its main thread, which never waits on a
        network."""
        if self._documents is None:
            return self.refresh()
        return list(self._documents)

    def refresh(self) -> list[Document]:
        """Read the document list from the server again."""
        rows = self.passages.rows(
            "SELECT id, name, kind, sha256, size, extract(epoch FROM imported_at), pages, chunks,"
            " chunking FROM kbdesk.documents WHERE collection_id = %s ORDER BY name, id",
            (self.info.id,),
        )
        documents = [
            Document(
                id=r[0],
                path=str(self.passages.local_path(r[0], r[1])),
                name=r[1],
                kind=r[2],
                sha256=r[3],
                size=int(r[4]),
                mtime=float(r[5]),
                status=DocStatus.READY,
                error=None,
                pages=r[6],
                chunks=r[7],
                added_at=float(r[5]),
                updated_at=float(r[5]),
                chunking=r[8],
            )
            for r in rows
        ]
        self._documents = documents
        return list(documents)

    @property
    def writable(self) -> bool:
        """Whether this login may change the collection's documents (as of opening it)."""
        return self.info.access != "read"

    def remove(self, refs: Iterable[str]) -> list[FileResult]:
        """Remove documents (by path as listed, or name) from the collection on the server, as
        KnowledgeBase.remove does locally, then read the list again; audited on the server.

        :raises AccessDenied: this login may only read the collection."""
        refs = [str(r) for r in refs]
        listed = {key: d for d in self.documents() for key in (d.path, d.name)}
        wanted = {ref: listed.get(ref) for ref in refs}
        ids = [d.id for d in wanted.values() if d is not None]
        with server_errors(self.address), self.passages.pool.connection() as con:
            removed = {doc_id for doc_id, _ in delete(con, self.info, self.address, ids)}
        self.refresh()
        results = []
        for ref, doc in wanted.items():
            if doc is not None and doc.id in removed:
                results.append(FileResult(doc.path, FileStatus.REMOVED, chunks=doc.chunks))
            else:
                results.append(
                    FileResult(
                        ref,
                        FileStatus.FAILED,
                        f"{ref} is not in the shared collection '{self.name}'",
                        ErrorCode.NOT_FOUND,
                    )
                )
        return results

    def original(self, doc_id: int) -> Path:
        """This PC's copy of a document's original file (what a citation opens), fetched from the
        server the first time; the server decides whether this login may have it."""
        rows = self.passages.rows(
            "SELECT d.name, d.sha256 FROM kbdesk.documents d WHERE d.collection_id = %s"
            " AND d.id = %s",
            (self.info.id, doc_id),
        )
        if not rows:
            raise AccessDenied(
                f"The shared collection '{self.name}' has no document {doc_id} that "
                f"'{self.address.login}' may open."
            )
        name, sha256 = rows[0]
        path = self.passages.local_path(doc_id, name)
        if path.is_file() and sha256_file(path) == sha256:
            return path
        [(data,)] = self.passages.rows(
            "SELECT data FROM kbdesk.files WHERE collection_id = %s AND doc_id = %s",
            (self.info.id, doc_id),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
        return path

    def close(self) -> None:
        with suppress(Exception):  # closing never fails a window that is closing
            self.passages.pool.close()

    def __enter__(self) -> SharedCollection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
