"""The catalog's SQL schema, its version and the steps that upgrade an older catalog."""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2

# MIGRATIONS[v]: the statements that take a catalog from schema v - 1 to v (v = 2, 3, ...).
# A change to SCHEMA below bumps SCHEMA_VERSION and adds its step here; tests/core/test_upgrade.py
# opens a collection written by an earlier release (tests/fixtures/) to prove the steps.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: each chunk's section path ("4. Obligations › 4.2 Notices"); older chunks have none
    # until their document is read again (Re-index).
    # documents.chunking: the chunker version that read the document (ingest/chunking.py); an
    # import reads an older one again, replacing its chunks in one transaction.
    2: (
        "ALTER TABLE chunks ADD COLUMN section TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE documents ADD COLUMN chunking INTEGER NOT NULL DEFAULT 1",
    ),
}

# The keyword index tokenizer (porter stemming for English; jieba splits Chinese before it).
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    path       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT '',
    sha256     TEXT NOT NULL DEFAULT '',
    size       INTEGER NOT NULL DEFAULT 0,
    mtime      REAL NOT NULL DEFAULT 0,
    status     TEXT NOT NULL,
    error      TEXT,
    error_code TEXT,
    pages      INTEGER NOT NULL DEFAULT 0,
    chunks     INTEGER NOT NULL DEFAULT 0,
    added_at   REAL NOT NULL,
    updated_at REAL NOT NULL,
    chunking   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS documents_sha ON documents(sha256);
CREATE TABLE IF NOT EXISTS chunks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal    INTEGER NOT NULL,
    page       INTEGER,
    char_start INTEGER NOT NULL,
    char_end   INTEGER NOT NULL,
    boxes      TEXT NOT NULL DEFAULT '[]',
    text       TEXT NOT NULL,
    text_hash  TEXT NOT NULL,
    section    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(text_hash);
CREATE TABLE IF NOT EXISTS embeddings (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vector   BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    body, tokenize = '{FTS_TOKENIZE}'
);
"""


def catalog_version(con: sqlite3.Connection) -> int | None:
    """The schema version a catalog records; None for a new, empty file."""
    if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
        return None
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def migrate(con: sqlite3.Connection) -> None:
    """Upgrade an older catalog step by step, each step and its version bump in one
    transaction, so a killed upgrade leaves the last complete version."""
    found = catalog_version(con)
    while found is not None and found < SCHEMA_VERSION:
        con.execute("BEGIN IMMEDIATE")
        try:
            found = catalog_version(con)  # another process may have upgraded it meanwhile
            if found is not None and found < SCHEMA_VERSION:
                found += 1
                for statement in MIGRATIONS[found]:
                    con.execute(statement)
                con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(found),))
                log.info("catalog upgraded to schema %d", found)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
