"""Catalog: one transaction per document, cascade deletes, FTS kept in step, vector reuse by text hash."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from kbdesk.core.errors import CollectionError
from kbdesk.core.store.catalog import Catalog, FileFacts
from kbdesk.core.types import ChunkDraft, DocStatus


def _store(catalog, path, texts, sha="s"):
    drafts = [ChunkDraft(i, t, 1, 0, len(t), ((1.0, 2.0, 3.0, 4.0),)) for i, t in enumerate(texts)]
    vectors = np.eye(len(texts), 4, dtype=np.float32)
    return catalog.replace_document(
        FileFacts(path, path.rsplit("/", 1)[-1], "pdf", sha, 1, 1.0),
        1,
        drafts,
        [f"h:{t}" for t in texts],
        texts,
        vectors,
    )


def test_replace_removes_old_chunks_fts_rows_and_vectors_together(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    _, first, _ = _store(catalog, "/d/a.pdf", ["alpha beta", "gamma delta"])
    doc_id, second, removed = _store(catalog, "/d/a.pdf", ["epsilon"], sha="t")
    assert removed == first and catalog.chunk_count() == 1
    con = catalog.con
    assert con.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0] == 1
    assert con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 1
    assert catalog.keyword_search('"alpha"', 5) == []
    assert [cid for cid, _ in catalog.keyword_search('"epsilon"', 5)] == second
    assert catalog.document(doc_id).chunks == 1 and catalog.chunks(second)[second[0]].boxes == (
        (1, 2, 3, 4),
    )


def test_failed_write_rolls_back_completely(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    _store(catalog, "/d/a.pdf", ["one", "two"])
    generation = catalog.generation
    with pytest.raises(ValueError):
        catalog.replace_document(
            FileFacts("/d/a.pdf", "a.pdf", "pdf", "x", 1, 1.0),
            1,
            [ChunkDraft(0, "three", 1, 0, 5)],
            ["h"],
            ["three", "extra"],
            np.zeros((1, 4), np.float32),
        )
    assert catalog.generation == generation and catalog.chunk_count() == 2


def test_vectors_are_found_by_text_hash_for_reuse(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    _store(catalog, "/d/a.pdf", ["one", "two"])
    found = catalog.vectors_for_hashes(["h:two", "h:missing"], dim=4)
    assert list(found) == ["h:two"] and found["h:two"][1] == 1.0


def test_failure_is_recorded_with_reason_and_cleared_on_success(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    facts = FileFacts("/d/b.pdf", "b.pdf", "pdf", "", 3, 1.0)
    catalog.record_failure(facts, DocStatus.FAILED, "b.pdf is password-protected.", "encrypted")
    doc = catalog.document_by_path("/d/b.pdf")
    assert (doc.status, doc.error) == (DocStatus.FAILED, "b.pdf is password-protected.")
    _store(catalog, "/d/b.pdf", ["fine now"])
    doc = catalog.document_by_path("/d/b.pdf")
    assert (doc.status, doc.error, doc.chunks) == (DocStatus.READY, None, 1)


def test_a_damaged_catalog_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CollectionError, match="cannot be opened"):
        Catalog(path)


def test_document_frequencies_use_the_index_tokenizer(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    _store(catalog, "/d/a.pdf", ["termination of the lease", "terminated early", "rent"])
    _store(catalog, "/d/b.pdf", ["洗澡 手术", "手术"], sha="b")
    # porter stems 'terminating', 'termination' and 'terminated' alike; Chinese words match whole
    terms = ["terminating", "rent", "absent", "手术", "7.2"]
    assert catalog.document_frequencies(terms, cap=100) == [2, 1, 0, 2, 0]
    assert catalog.document_frequencies(terms, cap=1) == [1, 1, 0, 1, 0]


def _connection_in_a_thread(catalog):
    opened = []
    worker = threading.Thread(target=lambda: opened.append(catalog.con))
    worker.start()
    worker.join()
    return opened[0]


def test_close_closes_the_connection_of_every_thread(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    mine = catalog.con
    ready, closed = threading.Event(), threading.Event()
    seen = []

    def reader():  # a thread still alive, holding its connection, when close() runs
        con = catalog.con
        seen.append(con)
        con.execute("SELECT 1").fetchone()
        ready.set()
        closed.wait(10)
        try:
            con.execute("SELECT 1")  # from its own thread: only a closed connection refuses
        except sqlite3.ProgrammingError as exc:
            seen.append(exc)

    worker = threading.Thread(target=reader)
    worker.start()
    assert ready.wait(10)
    assert seen[0] is not mine
    catalog.close()
    closed.set()
    worker.join()
    assert len(seen) == 2 and "closed" in str(seen[1])
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        mine.execute("SELECT 1")
    assert catalog.generation == 0  # used again, it opens a fresh connection
    catalog.close()


def test_the_connection_of_a_finished_thread_is_closed_when_another_opens(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    finished = _connection_in_a_thread(catalog)
    assert finished.execute("SELECT 1").fetchone() == (1,)  # kept until something sweeps
    _connection_in_a_thread(catalog)
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        finished.execute("SELECT 1")
    catalog.close()


def test_an_encrypted_catalog_works_alike_and_its_files_hold_no_text(tmp_path):
    from kbdesk.core.crypt.keys import new_data_key
    from kbdesk.core.errors import WrongKey

    key = new_data_key()
    path = tmp_path / "c.sqlite3"
    catalog = Catalog(path, key=key)
    words = ["indemnification", "subrogation", "amlodipine", "术后护理须知"]
    _, ids, _ = _store(catalog, "/d/secret-lease.pdf", [" ".join(words)])
    assert [cid for cid, _ in catalog.keyword_search('"subrogation"', 5)] == ids  # FTS5 works
    assert catalog.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    catalog.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("c.sqlite3")]
    assert files, "the database and its write-ahead log"
    for file in files:
        raw = file.read_bytes()
        for word in [*words, "secret-lease"]:
            assert word.encode() not in raw, f"{word} readable in {file.name}"
    with pytest.raises(WrongKey, match="does not open c.sqlite3"):
        Catalog(path, key=new_data_key())
    with pytest.raises(CollectionError):  # nor as plain SQLite
        Catalog(path)
    reopened = Catalog(path, key=key)
    assert reopened.document_by_path("/d/secret-lease.pdf").chunks == 1
    reopened.close()
