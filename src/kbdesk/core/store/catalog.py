"""The SQLite catalog: documents, chunks, their vectors and the FTS5 keyword index, one transaction per document.

Longer than our ~400-line habit on purpose: every SQL statement over catalog.sqlite3 lives in
this one class, so a schema change (schema.py) is reviewed against all its queries in one file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from kbdesk.core.errors import CollectionError
from kbdesk.core.search.text import KEYWORD_ROW_BUDGET, budgeted_match
from kbdesk.core.store.connections import DATABASE_ERRORS, OPERATIONAL_ERRORS, ThreadConnections
from kbdesk.core.store.schema import SCHEMA, SCHEMA_VERSION, catalog_version, migrate
from kbdesk.core.types import ChunkDraft, DocStatus, Document, Hit


@dataclass(frozen=True)
class ChunkRow:
    """A chunk joined with its document, as search results need it."""

    id: int
    doc_id: int
    ordinal: int
    page: int | None
    char_start: int
    char_end: int
    boxes: tuple
    text: str
    document: str
    path: str
    section: str = ""

    def hit(self, rank: int, score: float, **changes) -> Hit:
        """This passage as a search result; `changes` replace fields (text, boxes, context)."""
        hit = Hit(
            rank,
            score,
            self.id,
            self.doc_id,
            self.document,
            self.path,
            self.page,
            self.text,
            ordinal=self.ordinal,
            boxes=self.boxes,
            section=self.section,
        )
        return replace(hit, **changes) if changes else hit


@dataclass(frozen=True)
class FileFacts:
    path: str
    name: str
    kind: str
    sha256: str
    size: int
    mtime: float


_DOC_COLUMNS = (
    "id, path, name, kind, sha256, size, mtime, status, error, pages, chunks, added_at, updated_at,"
    " chunking"
)


def _doc(row: tuple) -> Document:
    return Document(*row)


def _inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid of the row an INSERT just made (sqlite3 types it Optional for other statements)."""
    if cursor.lastrowid is None:
        raise CollectionError("The catalog did not return the id of a row it just inserted.")
    return cursor.lastrowid


class Catalog:
    """Access to catalog.sqlite3 from any thread (one connection each, see connections.py)."""

    def __init__(self, path: Path, key: bytes | None = None):
        self.path = Path(path)
        self._connections = ThreadConnections(self.path, key)
        self._write_lock = threading.RLock()
        try:
            con = self.con
            found = catalog_version(con)
            if found is not None and found > SCHEMA_VERSION:
                raise CollectionError(
                    f"{self.path} was written by a newer kbdesk (schema {found}).",
                    hint="Update kbdesk to open this collection.",
                )
            migrate(con)  # an older catalog first, step by step
            con.executescript(SCHEMA)  # idempotent DDL; executescript manages its own transaction
            con.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?), ('generation', '0')",
                (str(SCHEMA_VERSION),),
            )
        except DATABASE_ERRORS as exc:
            raise CollectionError(
                f"The catalog {self.path} cannot be opened: {exc}.",
                hint="Restore it from a backup or delete the collection and re-import.",
            ) from exc

    # -- connections -------------------------------------------------------------------------

    @property
    def con(self) -> sqlite3.Connection:
        """The calling thread's connection."""
        return self._connections.get()

    def close(self) -> None:
        """Close every connection this catalog opened, whichever thread opened it."""
        self._connections.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction; bumps the generation the vector index compares with."""
        with self._write_lock:
            con = self.con
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'"
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @property
    def generation(self) -> int:
        row = self.con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    # -- documents ---------------------------------------------------------------------------

    def document_by_path(self, path: str) -> Document | None:
        row = self.con.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE path = ?", (path,)
        ).fetchone()
        return _doc(row) if row else None

    def document(self, doc_id: int) -> Document | None:
        row = self.con.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        return _doc(row) if row else None

    def ready_document_with_sha(self, sha256: str, *, other_than: str) -> Document | None:
        row = self.con.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE sha256 = ? AND status = ? AND path != ?",
            (sha256, DocStatus.READY, other_than),
        ).fetchone()
        return _doc(row) if row else None

    def documents(self) -> list[Document]:
        rows = self.con.execute(f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY name, path")
        return [_doc(r) for r in rows]

    def replace_document(
        self,
        facts: FileFacts,
        pages: int,
        drafts: list[ChunkDraft],
        text_hashes: list[str],
        fts_bodies: list[str],
        vectors: np.ndarray,
        chunking: int = 1,
    ) -> tuple[int, list[int], list[int]]:
        """Store a parsed document in one transaction, dropping any previous version of it;
        `chunking` is the chunker version that cut it.

        Returns (doc_id, new chunk ids, removed chunk ids).
        """
        if not (len(drafts) == len(text_hashes) == len(fts_bodies) == len(vectors)):
            raise ValueError("drafts, hashes, bodies and vectors must have the same length")
        with self._write() as con:
            doc_id, removed = self._upsert_document(
                con, facts, DocStatus.READY, None, None, pages, len(drafts)
            )
            con.execute("UPDATE documents SET chunking = ? WHERE id = ?", (chunking, doc_id))
            ids: list[int] = []
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            for draft, text_hash, body, vector in zip(
                drafts, text_hashes, fts_bodies, vectors, strict=True
            ):
                cur = con.execute(
                    "INSERT INTO chunks(doc_id, ordinal, page, char_start, char_end, boxes, text,"
                    " text_hash, section)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        doc_id,
                        draft.ordinal,
                        draft.page,
                        draft.char_start,
                        draft.char_end,
                        json.dumps([list(b) for b in draft.boxes]),
                        draft.text,
                        text_hash,
                        draft.section,
                    ),
                )
                chunk_id = _inserted_id(cur)
                ids.append(chunk_id)
                con.execute("INSERT INTO chunks_fts(rowid, body) VALUES (?, ?)", (chunk_id, body))
                con.execute(
                    "INSERT INTO embeddings(chunk_id, vector) VALUES (?, ?)",
                    (chunk_id, vector.tobytes()),
                )
        return doc_id, ids, removed

    def record_failure(self, facts: FileFacts, status: str, error: str, code: str) -> list[int]:
        """Mark a file as not imported (failed / needs OCR), dropping chunks of an older version."""
        with self._write() as con:
            _, removed = self._upsert_document(con, facts, status, error, code, 0, 0)
        return removed

    def touch_document(self, doc_id: int, mtime: float) -> None:
        """The file's timestamp changed but its content did not."""
        with self._write() as con:
            con.execute("UPDATE documents SET mtime=? WHERE id=?", (mtime, doc_id))

    def remove_document(self, doc_id: int) -> list[int]:
        with self._write() as con:
            removed = self._delete_chunks(con, doc_id)
            con.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return removed

    def _upsert_document(
        self,
        con: sqlite3.Connection,
        facts: FileFacts,
        status: str,
        error: str | None,
        code: str | None,
        pages: int,
        chunks: int,
    ) -> tuple[int, list[int]]:
        """Create or update a file's row, dropping the chunks of its previous version.

        Returns (doc_id, removed chunk ids). Runs inside the caller's write transaction.
        """
        now = time.time()
        values = (
            facts.name,
            facts.kind,
            facts.sha256,
            facts.size,
            facts.mtime,
            status,
            error,
            code,
            pages,
            chunks,
            now,
        )
        old = con.execute("SELECT id FROM documents WHERE path = ?", (facts.path,)).fetchone()
        if old is None:
            cur = con.execute(
                "INSERT INTO documents(name, kind, sha256, size, mtime, status, error, error_code, pages,"
                " chunks, updated_at, path, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*values, facts.path, now),
            )
            return _inserted_id(cur), []
        removed = self._delete_chunks(con, old[0])
        con.execute(
            "UPDATE documents SET name=?, kind=?, sha256=?, size=?, mtime=?, status=?, error=?,"
            " error_code=?, pages=?, chunks=?, updated_at=? WHERE id=?",
            (*values, old[0]),
        )
        return old[0], removed

    @staticmethod
    def _delete_chunks(con: sqlite3.Connection, doc_id: int) -> list[int]:
        ids = [r[0] for r in con.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        if ids:
            con.executemany("DELETE FROM chunks_fts WHERE rowid = ?", ((i,) for i in ids))
            con.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))  # cascades to embeddings
        return ids

    # -- chunks and vectors ------------------------------------------------------------------

    def vectors_for_hashes(self, hashes: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        """Stored vectors of chunks with these texts, so unchanged text is never embedded twice."""
        found: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self.con.execute(
                f"SELECT c.text_hash, e.vector FROM chunks c JOIN embeddings e ON e.chunk_id = c.id"
                f" WHERE c.text_hash IN ({marks})",
                batch,
            )
            for text_hash, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] == dim:
                    found[text_hash] = vector
        return found

    def iter_vectors(self, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) in id order, in batches: what a vector index is rebuilt from."""
        last = -1
        while True:
            rows = self.con.execute(
                "SELECT chunk_id, vector FROM embeddings WHERE chunk_id > ? ORDER BY chunk_id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
                len(rows), -1
            )
            last = int(ids[-1])
            yield ids, vectors

    def vectors_for_ids(self, ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        ids = [int(i) for i in ids]
        out_ids, blobs = [], []
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            for cid, blob in self.con.execute(
                f"SELECT chunk_id, vector FROM embeddings WHERE chunk_id IN ({marks})", batch
            ):
                out_ids.append(cid)
                blobs.append(blob)
        if not out_ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(out_ids), -1)
        return np.asarray(out_ids, dtype=np.int64), vectors

    def chunk_ids(self) -> np.ndarray:
        """Every passage's id, sorted (each has its vector: the two are written together).
        Read through the small covering index of the passages, not the table of vectors: an
        encrypted catalog decrypts every page it reads (60k passages: 0.04 s against 1.0 s)."""
        rows = self.con.execute("SELECT id FROM chunks").fetchall()
        return np.sort(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))

    def document_heads(self, chars: int = 160) -> list[tuple[int, str, str]]:
        """(id, file name, start of its first passage) of every ready document: what a
        document-name search matches against (the first passage usually opens with the title)."""
        rows = self.con.execute(
            "SELECT d.id, d.name, substr(c.text, 1, ?) FROM documents d"
            " LEFT JOIN chunks c ON c.doc_id = d.id AND c.ordinal = 0 WHERE d.status = ?",
            (chars, DocStatus.READY),
        )
        return [(int(r[0]), r[1], r[2] or "") for r in rows]

    def chunk_ids_of_documents(self, doc_ids: list[int]) -> list[int]:
        marks = ",".join("?" * len(doc_ids))
        rows = self.con.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", doc_ids)
        return [r[0] for r in rows]

    def chunk_count(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = [int(i) for i in ids]
        out: dict[int, ChunkRow] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self.con.execute(
                "SELECT c.id, c.doc_id, c.ordinal, c.page, c.char_start, c.char_end, c.boxes, c.text,"
                " d.name, d.path, c.section FROM chunks c JOIN documents d ON d.id = c.doc_id"
                f" WHERE c.id IN ({marks})",
                batch,
            )
            for r in rows:
                boxes = tuple(tuple(b) for b in json.loads(r[6]))
                out[r[0]] = ChunkRow(
                    r[0], r[1], r[2], r[3], r[4], r[5], boxes, r[7], r[8], r[9], r[10]
                )
        return out

    def keyword_bodies(self, ids: Iterable[int]) -> dict[int, str]:
        """What the keyword index holds for each passage (its text, Chinese split into words):
        what a shared server's keyword index is built from."""
        ids = [int(i) for i in ids]
        out: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self.con.execute(
                f"SELECT rowid, body FROM chunks_fts WHERE rowid IN ({marks})", batch
            )
            out.update((int(r[0]), r[1]) for r in rows)
        return out

    def neighbour_ids(self, doc_id: int, ordinal: int, around: int) -> list[int]:
        """The passages within `around` of passage `ordinal` of a document, itself left out."""
        rows = self.con.execute(
            "SELECT id FROM chunks WHERE doc_id = ? AND ordinal BETWEEN ? AND ? AND ordinal != ?"
            " ORDER BY ordinal",
            (doc_id, ordinal - around, ordinal + around, ordinal),
        ).fetchall()
        return [r[0] for r in rows]

    def neighbour_texts(
        self, doc_id: int, ordinal: int, before: int, after: int
    ) -> tuple[str, str]:
        rows = self.con.execute(
            "SELECT ordinal, text FROM chunks WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
            (doc_id, ordinal - before, ordinal + after),
        ).fetchall()
        prev = " ".join(t for o, t in rows if o < ordinal)
        nxt = " ".join(t for o, t in rows if o > ordinal)
        return prev, nxt

    def doc_ids_for_names(self, names: Iterable[str]) -> list[int]:
        """Resolve document filters given as file names, paths or ids."""
        out: list[int] = []
        for name in names:
            rows = self.con.execute(
                "SELECT id FROM documents WHERE name = ? OR path = ? OR CAST(id AS TEXT) = ?",
                (name, name, str(name)),
            ).fetchall()
            out.extend(r[0] for r in rows)
        return out

    # -- keyword search ----------------------------------------------------------------------

    def keyword_search(
        self, match: str, k: int, doc_ids: list[int] | None = None
    ) -> list[tuple[int, float]]:
        """FTS5 BM25 over the segmented chunk bodies; scores are negated so higher is better."""
        # ORDER BY bm25() uses SQLite's top-N sorter; ORDER BY rank was ~1.7x slower at 1M chunks.
        if doc_ids:
            marks = ",".join("?" * len(doc_ids))
            sql = (
                "SELECT f.rowid, bm25(chunks_fts) AS s FROM chunks_fts f JOIN chunks c ON c.id = f.rowid"
                f" WHERE chunks_fts MATCH ? AND c.doc_id IN ({marks}) ORDER BY s LIMIT ?"
            )
            params: list = [match, *doc_ids, k]
        else:
            sql = (
                "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
                " ORDER BY s LIMIT ?"
            )
            params = [match, k]
        try:
            rows = self.con.execute(sql, params).fetchall()
        except OPERATIONAL_ERRORS:
            return []  # a query FTS5 cannot parse finds nothing rather than failing the search
        return [(int(r[0]), -float(r[1])) for r in rows]

    def keyword_ranked(
        self, terms: list[str], k: int, doc_ids: list[int] | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over the rarest of `terms` within the keyword budget (text.budgeted_terms)."""
        frequencies = self.document_frequencies(terms, KEYWORD_ROW_BUDGET + 1)
        match = budgeted_match(terms, frequencies, KEYWORD_ROW_BUDGET)
        return self.keyword_search(match, k, doc_ids) if match else []

    def document_frequencies(self, terms: list[str], cap: int) -> list[int]:
        """How many chunks contain each query term (as FTS5 tokenizes it), counting at most `cap`.

        Capped counts cost at most `cap` postings per term whatever the collection size, which is
        all the keyword budget needs to tell rare terms from common ones (bench_search_scale.py:
        2.8 ms at 1M chunks against 10 ms for full counts from fts5vocab).
        """
        sql = "SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
        frequencies = []
        for term in terms:
            try:
                row = self.con.execute(sql, ('"' + term.replace('"', '""') + '"', cap)).fetchone()
            except OPERATIONAL_ERRORS:
                row = (0,)
            frequencies.append(int(row[0]))
        return frequencies

    def stats(self) -> dict:
        con = self.con
        return {
            "documents": con.execute("SELECT COUNT(*) FROM documents").fetchone()[0],
            "ready": con.execute(
                "SELECT COUNT(*) FROM documents WHERE status = ?", (DocStatus.READY,)
            ).fetchone()[0],
            "chunks": self.chunk_count(),
        }
