"""Copying a local collection to a shared server: each document in its own transaction with its
original file, passages, vectors and keyword index, so a reader sees a document whole or not at
all; resumable (documents already there are skipped), and a changed file replaces its old
version atomically.

Row-level security forbids COPY into the protected tables, so passages are copied into a
temporary table (fast, one round trip) and moved by one INSERT ... SELECT, which the policies check
and which builds the keyword vectors on the server; their postings follow from those vectors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg

from kbdesk.core.errors import EmbedderMismatch
from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.search.text import fts_words
from kbdesk.core.server import admin
from kbdesk.core.server.connection import ServerAddress, connect, scalar, server_errors
from kbdesk.core.server.schema import ADD_POSTINGS
from kbdesk.core.types import DocStatus, Document, Progress, Stage

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS kbdesk_staging (
    ordinal integer, page integer, char_start integer, char_end integer, boxes text,
    text text, section text, body text, embedding vector
) ON COMMIT DELETE ROWS
"""
_MOVE = """
INSERT INTO kbdesk.chunks (collection_id, doc_id, ordinal, page, char_start, char_end, boxes,
                           text, section, keywords, length, embedding)
SELECT %(collection)s, %(doc)s, ordinal, page, char_start, char_end, boxes, text, section, kw,
       (SELECT coalesce(sum(array_length(positions, 1)), 0) FROM unnest(kw)), embedding
FROM (SELECT *, to_tsvector(%(words)s::regconfig, body) AS kw FROM kbdesk_staging) AS s
RETURNING length
"""
# A first upload of at least this many passages builds its HNSW graph once at its end (schema 3's
# kbdesk.pause_graph); below it the graph grows row by row, as it does for every later upload.
BULK_GRAPH_PASSAGES = 20_000
GRAPH_MESSAGE = "Building the shared collection's search graph…"
GRAPH_PENDING = (
    "No search graph yet: searches compare every passage (exact, slower) until an upload into "
    "it ends."
)
_MOVE_POSTINGS = ADD_POSTINGS + " WHERE c.collection_id = %(collection)s AND c.doc_id = %(doc)s"


@dataclass
class PushReport:
    collection: str
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already on the server, unchanged
    failed: list[tuple[str, str]] = field(default_factory=list)  # (document, why)
    # the local paths of the documents the server now holds (added, replaced or already there):
    # names repeat across folders, paths do not
    held: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.replaced)} replaced, "
            f"{len(self.skipped)} already there, {len(self.failed)} failed."
        )


def push(
    kb: KnowledgeBase,
    address: ServerAddress,
    name: str | None = None,
    *,
    password: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> PushReport:
    """Upload `kb`'s ready documents into the shared collection `name` (default: the local
    collection's name), creating it when this login may create collections."""
    name = name or kb.name
    report = PushReport(name)
    with closing(connect(address, password)) as con, server_errors(address):
        admin.require_schema(con, address)
        target = admin.find_collection(con, name)
        manifest = kb.manifest
        if target is None:
            target = admin.create_collection(
                con,
                name,
                manifest.embedder,
                manifest.dim,
                manifest.chunk_size,
                manifest.chunk_overlap,
            )
        if target.embedder != manifest.embedder:
            raise EmbedderMismatch(
                f"The shared collection '{name}' uses the embedder '{target.embedder}'; "
                f"'{kb.name}' uses '{manifest.embedder}'.",
                hint="Upload it into a new shared collection (another name).",
            )
        admin.require_write(target, address, "add to it")
        documents = [d for d in kb.documents() if d.status == DocStatus.READY]
        there: dict[str, str] = dict(
            con.execute(
                "SELECT sha256, source FROM kbdesk.documents WHERE collection_id = %s",
                (target.id,),
            ).fetchall()
        )
        pause_graph(con, target, sum(d.chunks for d in documents), first=not there)
        try:
            for done, doc in enumerate(documents):
                if cancel:
                    cancel.raise_if_cancelled()
                progress(Progress(Stage.UPLOADING, done, len(documents), item=doc.name))
                if doc.sha256 in there:
                    report.skipped.append(doc.name)
                    report.held.append(doc.path)
                    continue
                data = _original(doc)
                if isinstance(data, str):
                    report.failed.append((doc.name, data))
                    continue
                replaced = _upload(con, kb, target, doc, data)
                (report.replaced if replaced else report.added).append(doc.name)
                report.held.append(doc.path)
                there[doc.sha256] = doc.path
        finally:
            # also after a stop: readers get the graph of what is there (a lost connection
            # leaves it to the next push, which resumes)
            if not con.broken:
                total = len(documents)
                progress(Progress(Stage.UPLOADING, total, total, message=GRAPH_MESSAGE))
                build_graph(con, target)
        progress(Progress(Stage.DONE, len(documents), len(documents)))
    return report


def pause_graph(
    con: psycopg.Connection, target: admin.SharedCollectionInfo, passages: int, first: bool
) -> bool:
    """Before the `first` upload into `target` of BULK_GRAPH_PASSAGES `passages` or more, drop
    its HNSW graph for build_graph to build once at the end; True where it did (the server does
    nothing where the collection holds documents)."""
    if not first or passages < BULK_GRAPH_PASSAGES:
        return False
    return bool(scalar(con, "SELECT kbdesk.pause_graph(%s)", (target.name,)))


def build_graph(con: psycopg.Connection, target: admin.SharedCollectionInfo) -> bool:
    """Build `target`'s HNSW graph where it has none; True where one was built."""
    with con.transaction():
        con.execute("SET LOCAL statement_timeout = 0")  # minutes for a few 100,000 passages
        return bool(scalar(con, "SELECT kbdesk.build_graph(%s)", (target.name,)))


def _original(doc: Document) -> bytes | str:
    """The document's original file as imported, or why it cannot be uploaded."""
    try:
        data = Path(doc.path).read_bytes()
    except OSError as err:
        return f"its original file cannot be read ({err.strerror or err}); import it again"
    if hashlib.sha256(data).hexdigest() != doc.sha256:
        return "its original file changed since it was imported; import it again first"
    return data


def _upload(
    con: psycopg.Connection,
    kb: KnowledgeBase,
    target: admin.SharedCollectionInfo,
    doc: Document,
    data: bytes,
) -> bool:
    """One document in one transaction; True when it replaced an older version of that file."""
    ids = kb.catalog.chunk_ids_of_documents([doc.id])
    rows = kb.catalog.chunks(ids)
    bodies = kb.catalog.keyword_bodies(ids)
    found, vectors = kb.catalog.vectors_for_ids(ids)
    vector_of = {int(c): v for c, v in zip(found, vectors, strict=True)}
    ordered = sorted(rows.values(), key=lambda r: r.ordinal)
    with con.transaction():
        removed = con.execute(
            "DELETE FROM kbdesk.documents WHERE collection_id = %s AND source = %s RETURNING id",
            (target.id, doc.path),
        ).fetchall()
        doc_id = scalar(
            con,
            "INSERT INTO kbdesk.documents (collection_id, source, name, kind, sha256, size, pages,"
            " chunking) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                target.id,
                doc.path,
                doc.name,
                doc.kind,
                doc.sha256,
                len(data),
                doc.pages,
                doc.chunking,
            ),
        )
        con.execute(
            "INSERT INTO kbdesk.files (doc_id, collection_id, data) VALUES (%s, %s, %s)",
            (doc_id, target.id, data),
        )
        _copy_passages(con, ordered, bodies, vector_of)
        move_passages(con, target, doc_id)
    return bool(removed)


def move_passages(con: psycopg.Connection, target: admin.SharedCollectionInfo, doc_id: int) -> None:
    """Move the staged passages into the document `doc_id` with their keyword vectors (counted
    by the collection's stemmer) and postings, and record its passage and word counts (BM25's
    document lengths)."""
    where = {"collection": target.id, "doc": doc_id, "words": target.words}
    lengths = con.execute(_MOVE, where).fetchall()
    con.execute(_MOVE_POSTINGS, where)
    con.execute(
        "UPDATE kbdesk.documents SET chunks = %s, tokens = %s WHERE id = %s",
        (len(lengths), sum(r[0] for r in lengths), doc_id),
    )


def _copy_passages(
    con: psycopg.Connection,
    rows: Sequence,
    bodies: dict[int, str],
    vector_of: dict[int, np.ndarray],
) -> None:
    con.execute(_STAGING)
    with con.cursor().copy(
        "COPY kbdesk_staging (ordinal, page, char_start, char_end, boxes, text, section, body,"
        " embedding) FROM STDIN"
    ) as copy:
        for r in rows:
            copy.write_row(
                (
                    r.ordinal,
                    r.page,
                    r.char_start,
                    r.char_end,
                    json.dumps([list(b) for b in r.boxes]),
                    r.text,
                    r.section,
                    fts_words(bodies.get(r.id, r.text)),
                    vector_of[r.id],
                )
            )
