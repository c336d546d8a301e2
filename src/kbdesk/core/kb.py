"""KnowledgeBase: the facade the CLI and the GUI call to import, remove, list and search one collection."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kbdesk.core import collections_admin
from kbdesk.core.collection import CATALOG, MANIFEST, VECTORS, Manifest, writer_lock
from kbdesk.core.crypt import keys
from kbdesk.core.embed import DEFAULT_EMBEDDER, Embedder, create_embedder, embedder_dim
from kbdesk.core.embed.registry import normalise_id
from kbdesk.core.encrypt_existing import finish_if_checked
from kbdesk.core.encryption import collection_key
from kbdesk.core.errors import CollectionError, EmbedderMismatch, ErrorCode
from kbdesk.core.generate.chats import ChatStore
from kbdesk.core.ingest import ChunkSettings
from kbdesk.core.ingest.chunking import CHUNKING_VERSION
from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.paths import DEFAULT_COLLECTION, AppPaths, validate_collection_name
from kbdesk.core.search.answer_context import PAGES_READ, ContextOptions
from kbdesk.core.search.fusion import DEFAULT_FUSION, FUSIONS
from kbdesk.core.search.rerank import CrossEncoderReranker
from kbdesk.core.search.searcher import Searcher, SearchOptions
from kbdesk.core.store.catalog import Catalog
from kbdesk.core.store.vectors import VectorIndex
from kbdesk.core.types import DocStatus, Document, FileResult, FileStatus, Hit, ImportReport

__all__ = ["DEFAULT_FUSION", "FUSIONS", "KnowledgeBase"]  # the fusions: the CLI offers them


class KnowledgeBase:
    """One open collection. Cheap to open: models and the vector index load on first use."""

    # Its documents may be added and removed here (a shared collection: as the login may).
    writable = True

    def __init__(self, paths: AppPaths, name: str, manifest: Manifest, key: bytes | None = None):
        self.paths = paths
        self.name = name
        self.folder = paths.collection_dir(name)
        self.key = key  # an encrypted collection's data key (crypt/keys.py); None: plain files
        self.settings = ChunkSettings(manifest.chunk_size, manifest.chunk_overlap)
        self.catalog = Catalog(self.folder / CATALOG, key=key)  # upgrades an older catalog
        self.manifest = manifest.upgraded(self.folder)
        self._embedder: Embedder | None = None
        self._index: VectorIndex | None = None
        self._index_lock = threading.RLock()
        self._reranker: CrossEncoderReranker | None = None
        self._searcher: Searcher | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike | None = None,
        collection: str = DEFAULT_COLLECTION,
        *,
        embedder: str | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
        create: bool = True,
        key: bytes | None = None,
        secret: str | None = None,
    ) -> KnowledgeBase:
        """Open (or create) a collection. An encrypted one needs its data key, its passphrase or
        recovery key (`secret`), or a key the system key store remembers for it.

        :raises CollectionLocked: an encrypted collection and no way to unlock it.
        :raises WrongKey: the key or passphrase does not unlock it.
        """
        paths = AppPaths.resolve(data_dir)
        name = validate_collection_name(collection)
        folder = paths.collection_dir(name)
        if (folder / "manifest.json").is_file():
            finish_if_checked(folder, name)
            manifest = Manifest.load(folder)
            if embedder is not None and normalise_id(embedder) != manifest.embedder:
                raise EmbedderMismatch(
                    f"Collection '{name}' was built with the embedder '{manifest.embedder}'.",
                    hint="Its embedder cannot change; create a new collection to use another one.",
                )
            return cls(paths, name, manifest, collection_key(folder, name, key, secret))
        if not create:
            raise CollectionError(
                f"There is no collection named '{name}' in {paths.collections_dir}."
            )
        defaults = ChunkSettings()
        settings = ChunkSettings(
            chunk_size or defaults.size,
            chunk_overlap if chunk_overlap is not None else defaults.overlap,
        )
        embedder_id = normalise_id(embedder or DEFAULT_EMBEDDER)
        dim = embedder_dim(embedder_id)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = Manifest.new(embedder_id, dim, settings.size, settings.overlap)
        key = collection_key(folder, name, key, secret)  # create_encrypted wrote its keys
        manifest.save(folder)
        return cls(paths, name, manifest, key)

    @classmethod
    def create_encrypted(
        cls,
        data_dir: str | os.PathLike | None,
        collection: str,
        passphrase: str,
        *,
        embedder: str | None = None,
    ) -> tuple[KnowledgeBase, str]:
        """A new encrypted collection and its recovery key (to be shown to the user once).

        The key file is written before anything else, so no file of the collection is ever
        plain; a collection of that name that exists already is refused.
        """
        paths = AppPaths.resolve(data_dir)
        name = validate_collection_name(collection)
        folder = paths.collection_dir(name)
        if (folder / MANIFEST).is_file():
            raise collections_admin.CollectionExists(f"A collection named '{name}' exists already.")
        key, recovery = keys.new_data_key(), keys.new_recovery_key()
        keyfile = keys.new_key_file(uuid.uuid4().hex, key, passphrase, recovery)
        folder.mkdir(parents=True, exist_ok=True)
        keyfile.save(folder)
        return cls.open(data_dir, name, embedder=embedder, key=key), recovery

    @property
    def encrypted(self) -> bool:
        return self.key is not None

    def chats(self) -> ChatStore:
        """This collection's saved chats (sealed in an encrypted collection)."""
        return ChatStore(self.folder, key=self.key)

    @staticmethod
    def collections(data_dir: str | os.PathLike | None = None) -> list[str]:
        return AppPaths.resolve(data_dir).collection_names()

    @staticmethod
    def rename_collection(data_dir: str | os.PathLike | None, old: str, new: str) -> Path:
        """Rename a closed collection; see `collections_admin.rename_collection`."""
        return collections_admin.rename_collection(data_dir, old, new)

    @staticmethod
    def delete_collection(data_dir: str | os.PathLike | None, name: str) -> None:
        """Delete a closed collection; see `collections_admin.delete_collection`."""
        collections_admin.delete_collection(data_dir, name)

    # -- lazy heavy parts --------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = create_embedder(self.manifest.embedder)
        return self._embedder

    @property
    def index(self) -> VectorIndex:
        with self._index_lock:
            if self._index is None:
                index = VectorIndex(
                    self.folder / VECTORS, self.manifest.dim, self.manifest.embedder, key=self.key
                )
                index.open(self.catalog)
                if index.dirty:
                    index.save(index.generation)
                self._index = index
            return self._index

    def warm_up(self) -> None:
        """Load the embedder and the vector index now (call off the UI thread)."""
        self.embedder.warm_up()
        _ = self.index

    def set_reranker(self, folder: str | os.PathLike | None) -> None:
        self._reranker = CrossEncoderReranker(folder) if folder else None

    # -- operations --------------------------------------------------------------------------

    @contextmanager
    def _writing(self):
        """The writer lock, refused once the collection was renamed or deleted under this handle
        (taking the lock in a vanished folder would bring back an empty one)."""
        gone = collections_admin.NoSuchCollection(
            f"Collection '{self.name}' was renamed or deleted in another window.",
            hint="Choose it again from the list of collections.",
        )
        if not (self.folder / MANIFEST).is_file():
            raise gone
        with writer_lock(self.folder, self.name):
            if not (self.folder / MANIFEST).is_file():
                raise gone
            yield

    def import_paths(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        ocr: bool = True,
        again: bool = False,
        progress: ProgressFn = no_progress,
        cancel: CancelToken | None = None,
        on_file: Callable[[FileResult], None] | None = None,
        on_plan: Callable[[list[str]], None] | None = None,
    ) -> ImportReport:
        from kbdesk.core.importer import Importer

        with self._writing():
            importer = Importer(
                self.catalog,
                self.index,
                self.embedder,
                self.settings,
                ocr=ocr,
                again=again,
                progress=progress,
                cancel=cancel,
                on_file=on_file,
                on_plan=on_plan,
                index_lock=self._index_lock,
            )
            return importer.run(list(paths))

    def remove(self, paths: Iterable[str | os.PathLike]) -> list[FileResult]:
        """Drop documents (given by path, file name or id) from the catalog and the vector index."""
        results: list[FileResult] = []
        with self._writing():
            for raw in paths:
                doc = self._find(str(raw))
                if doc is None:
                    results.append(
                        FileResult(
                            str(raw),
                            FileStatus.FAILED,
                            f"{raw} is not in collection '{self.name}'",
                            ErrorCode.NOT_FOUND,
                        )
                    )
                    continue
                removed = self.catalog.remove_document(doc.id)
                with self._index_lock:
                    index = self.index
                    index.remove(np.asarray(removed, dtype=np.int64))
                    index.save(self.catalog.generation)
                results.append(FileResult(doc.path, FileStatus.REMOVED, chunks=len(removed)))
        return results

    def _find(self, ref: str) -> Document | None:
        candidate = Path(ref).expanduser()
        doc = (
            self.catalog.document_by_path(str(candidate.resolve()))
            if candidate.exists() or candidate.is_absolute()
            else None
        )
        if doc is None:
            doc = self.catalog.document_by_path(str(candidate.absolute()))
        if doc is None:
            ids = self.catalog.doc_ids_for_names([ref])
            if len(ids) == 1:
                doc = self.catalog.document(ids[0])
        return doc

    def documents(self) -> list[Document]:
        return self.catalog.documents()

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
        options = SearchOptions(
            k=k, mode=mode, documents=tuple(documents), context=context, fusion=fusion
        )
        with self._index_lock:  # re-entrant: searcher() takes it too
            searcher = self.searcher()
            searcher.reranker = self._reranker
            return searcher.search(query, options)

    def answer_context(
        self, query: str, pages: int = PAGES_READ, *, documents: Iterable[str] = ()
    ) -> list[Hit]:
        """What the model reads to answer `query`: the best `pages` places, each with its other
        scoring passages and the ones beside its best, adjacent ones merged (answer_context.py).
        `search` lists each page once, for people."""
        with self._index_lock:
            searcher = self.searcher()
            return searcher.answer_context(query, ContextOptions(pages=pages), tuple(documents))

    def searcher(self) -> Searcher:
        """The collection's searcher (loads the embedder and index on first use)."""
        with self._index_lock:
            if self._searcher is None:
                self._searcher = Searcher(self.catalog, self.index, self.embedder)
            return self._searcher

    def best_similarity(self, query: str, documents: Iterable[str] = ()) -> float:
        """Cosine similarity of the closest passage: how related the collection is to a question."""
        with self._index_lock:
            return self.searcher().best_similarity(query, tuple(documents))

    def stale_documents(self, documents: Iterable[Document] | None = None) -> list[Document]:
        """Ready documents an earlier kbdesk cut into passages (no section paths, older
        headings rules), of `documents` (a list just read) or of the collection: importing them
        again re-reads them, each replaced in one transaction, so an interrupted re-read loses
        nothing."""
        return [
            d
            for d in (self.documents() if documents is None else documents)
            if d.status == DocStatus.READY and d.chunking < CHUNKING_VERSION
        ]

    def other_version(self, question: str, doc_ids: Iterable[int]) -> tuple[str, ...]:
        """The versions the question asks for when the given documents are all of another
        version (Searcher)."""
        with self._index_lock:
            return self.searcher().other_version(question, doc_ids)

    def other_document(self, question: str, doc_ids: Iterable[int]) -> tuple[str, ...]:
        """The documents the question asks about by name when the given documents are none of
        them (Searcher)."""
        with self._index_lock:
            return self.searcher().other_document(question, doc_ids)

    def unmentioned(self, question: str, passages: Sequence[str] = ()) -> list[str]:
        """The names the question uses that no passage of the collection contains (Searcher)."""
        with self._index_lock:
            return self.searcher().unmentioned(question, passages)

    def close(self) -> None:
        with self._index_lock:
            if self._index is not None and self._index.dirty:
                self._index.save(self.catalog.generation)
        self.catalog.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
