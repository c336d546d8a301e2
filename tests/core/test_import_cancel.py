"""Cancelling an import keeps what was committed, reports it, and a later import resumes."""

from __future__ import annotations

import random

import numpy as np

from bench.synth import page_text
from kbdesk.core.jobs import CancelToken
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.types import FileStatus
from tests.helpers import make_pdf

N = 20


def test_cancel_stops_between_documents_and_resume_finishes(tmp_path, data_dir):
    folder = tmp_path / "docs"
    rng = random.Random(3)
    for i in range(N):  # enough passages for several embedding groups
        make_pdf(folder / f"memo_{i:02d}.pdf", [page_text(rng, p, 1800) for p in range(4)])
    cancel = CancelToken()
    seen = []

    def on_file(result):
        seen.append(result)
        if len(seen) == 2:
            cancel.cancel()

    with KnowledgeBase.open(data_dir, "c", embedder="use-multilingual") as kb:
        report = kb.import_paths([folder], cancel=cancel, on_file=on_file)
        assert report.cancelled and not report.ok
        kept = [d for d in kb.documents() if d.status == "ready"]
        assert 2 <= len(kept) < N
        assert np.array_equal(kb.index.ids(), kb.catalog.chunk_ids())
        resumed = kb.import_paths([folder])
        assert resumed.ok and len(resumed.by_status(FileStatus.UNCHANGED)) == len(kept)
        assert len(kb.documents()) == N


def test_embedding_progress_names_the_document_and_its_share_done(tmp_path, data_dir):
    rng = random.Random(5)
    long_pdf = make_pdf(tmp_path / "long.pdf", [page_text(rng, p, 1800) for p in range(60)])
    events = []
    with KnowledgeBase.open(data_dir, "c", embedder="minilm") as kb:
        report = kb.import_paths([long_pdf], progress=events.append)
    assert report.ok
    embedding = [e for e in events if e.stage == "embedding"]
    assert len(embedding) >= 2  # a long document is embedded in several slices
    assert {e.item for e in embedding} == {str(long_pdf)}
    shares = [e.item_fraction for e in embedding]
    assert shares[0] == 0 and all(0 <= s < 1 for s in shares)
    assert shares == sorted(shares) and shares[-1] > 0.5
