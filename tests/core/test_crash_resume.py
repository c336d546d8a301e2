"""An import killed at any moment leaves a collection that opens and resumes with nothing duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

from kbdesk.core.kb import KnowledgeBase
from tests.helpers import make_pdf

N_DOCS = 60  # several embedding groups, so the kill lands between commits


def _corpus(folder):
    for i in range(N_DOCS):
        pages = [
            f"Matter {i} page {p}. The retainer for matter number {i} is {1000 + i * 7 + p} dollars and the "
            f"hearing is listed for day {p + i} of the calendar. Counsel reviewed exhibit {i}-{p}. "
            * 3
            for p in range(1, 5)
        ]
        make_pdf(folder / f"matter_{i:02d}.pdf", pages)


def _ready_count(catalog_path) -> int:
    con = sqlite3.connect(catalog_path, timeout=30)
    try:
        return con.execute("SELECT COUNT(*) FROM documents WHERE status='ready'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_killed_import_opens_and_resumes_without_duplicates(tmp_path):
    docs, data = tmp_path / "docs", tmp_path / "kb"
    _corpus(docs)
    catalog = data / "collections" / "default" / "catalog.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbdesk", "--data-dir", str(data), "ingest", str(docs)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if catalog.exists() and _ready_count(catalog) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, (
        "import finished before it could be killed: " + proc.stderr.read().decode()
    )
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = _ready_count(catalog)
    assert 1 <= committed < N_DOCS

    with KnowledgeBase.open(data) as kb:
        integrity = kb.catalog.con.execute("PRAGMA integrity_check").fetchone()[0]
        assert integrity == "ok"
        assert len([d for d in kb.documents() if d.status == "ready"]) == committed
        assert np.array_equal(kb.index.ids(), kb.catalog.chunk_ids()), (
            "index reconciled with catalog"
        )
        report = kb.import_paths([docs])
        assert report.ok
        assert len(report.by_status("unchanged")) == committed, "committed documents are not redone"
        assert len(report.by_status("imported")) == N_DOCS - committed
        docs_rows = kb.documents()
        assert len(docs_rows) == N_DOCS and len({d.path for d in docs_rows}) == N_DOCS
        ordinals = kb.catalog.con.execute(
            "SELECT doc_id, ordinal, COUNT(*) FROM chunks GROUP BY doc_id, ordinal HAVING COUNT(*) > 1"
        ).fetchall()
        assert ordinals == [], "no chunk is stored twice"
        fts = kb.catalog.con.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
        assert fts == kb.catalog.chunk_count()
        assert np.array_equal(kb.index.ids(), kb.catalog.chunk_ids())
        hit = kb.search("retainer for matter number 17", k=1, mode="keyword")[0]
        assert hit.document == "matter_17.pdf"
