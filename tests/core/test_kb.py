"""End-to-end knowledge base behaviour with the real embedders, SQLite and FAISS."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from kbdesk.core.errors import CollectionError, EmbedderMismatch, InvalidSetting
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.types import DocStatus, FileStatus
from tests.helpers import LEASE_PAGES, make_pdf

pytestmark = pytest.mark.parametrize("embedder", ["use-multilingual", "minilm"])


@pytest.fixture
def kb(data_dir, docs_dir, embedder):
    with KnowledgeBase.open(data_dir, "test", embedder=embedder) as kb:
        report = kb.import_paths([docs_dir])
        assert report.ok, report.failed
        yield kb


def _top(kb, query, mode="hybrid"):
    hits = kb.search(query, k=5, mode=mode)
    assert hits, f"no hits for {query!r} in {mode}"
    return hits[0]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_english_hits_carry_the_right_document_and_page(kb, mode, embedder):
    hit = _top(kb, "How much notice is needed to terminate the lease?", mode)
    assert (hit.document, hit.page) == ("lease.pdf", 3)
    hit = _top(kb, "amlodipine dose", mode)
    assert (hit.document, hit.page) == ("hypertension.pdf", 2)
    assert hit.boxes, "PDF hits carry the boxes of their lines for highlighting"


def test_chinese_hits_carry_the_right_page(kb, embedder):
    for mode in ("keyword", "hybrid"):
        hit = _top(kb, "手术后多久可以洗澡", mode)
        assert (hit.document, hit.page) == ("术后护理须知.pdf", 2)
    if embedder == "use-multilingual":  # MiniLM is English-only; USE understands Chinese
        assert _top(kb, "什么时候复查", "dense").page == 3


def test_reimport_embeds_nothing_and_changes_nothing(kb, docs_dir, embedder):
    before = [(d.id, d.chunks) for d in kb.documents()]
    report = kb.import_paths([docs_dir])
    assert report.embedded == 0
    assert {r.status for r in report.results} == {FileStatus.UNCHANGED}
    assert [(d.id, d.chunks) for d in kb.documents()] == before


def test_changed_file_is_reindexed_and_old_chunks_leave(kb, docs_dir, embedder):
    lease = docs_dir / "lease.pdf"
    old_ids = set(
        kb.catalog.chunk_ids_of_documents([kb.catalog.document_by_path(str(lease.resolve())).id])
    )
    pages = LEASE_PAGES[:2] + [
        "Section 9 Termination. Notice of one hundred and twenty days is required."
    ]
    make_pdf(lease, pages, title="Commercial Lease Agreement")
    report = kb.import_paths([docs_dir])
    changed = report.by_status(FileStatus.UPDATED)
    assert [r.path for r in changed] == [str(lease.resolve())]
    assert 0 < changed[0].embedded < changed[0].chunks, "unchanged passages reuse their vectors"
    live = set(kb.catalog.chunk_ids().tolist())
    assert not old_ids & live, "the old version's chunks are gone from the catalog"
    assert set(kb.index.ids().tolist()) == live, "and from the vector index"
    hit = _top(kb, "one hundred and twenty days notice", "keyword")
    assert hit.page == 3 and "one hundred and twenty" in hit.text
    assert all("ninety" not in h.text for h in kb.search("ninety days", mode="keyword"))


def test_reading_again_replaces_an_unchanged_document_in_place(kb, docs_dir, embedder):
    lease = str((docs_dir / "lease.pdf").resolve())
    before = kb.catalog.document_by_path(lease)
    old_ids = set(kb.catalog.chunk_ids_of_documents([before.id]))
    report = kb.import_paths([lease], again=True)
    assert [r.status for r in report.results] == [FileStatus.UPDATED]
    assert report.embedded == 0, "the same passages reuse their vectors"
    after = kb.catalog.document_by_path(lease)
    assert after.chunks == before.chunks and after.status == DocStatus.READY
    live = set(kb.catalog.chunk_ids().tolist())
    assert not old_ids & live and set(kb.index.ids().tolist()) == live
    assert _top(kb, "How much notice is needed to terminate the lease?").page == 3
    # the other documents were not part of it
    assert {r.status for r in kb.import_paths([docs_dir]).results} == {FileStatus.UNCHANGED}


def test_remove_drops_a_document_everywhere(kb, docs_dir, embedder):
    results = kb.remove([str(docs_dir / "lease.pdf")])
    assert results[0].status == FileStatus.REMOVED
    assert all(d.name != "lease.pdf" for d in kb.documents())
    assert all(h.document != "lease.pdf" for h in kb.search("lease termination notice", k=10))
    assert np.array_equal(kb.index.ids(), kb.catalog.chunk_ids())
    assert kb.remove(["nope.pdf"])[0].status == FileStatus.FAILED


def test_deleted_files_leave_the_index_on_folder_reimport(kb, docs_dir, embedder):
    (docs_dir / "hypertension.pdf").unlink()
    report = kb.import_paths([docs_dir])
    assert [r.status for r in report.results if r.path.endswith("hypertension.pdf")] == [
        FileStatus.REMOVED
    ]
    assert all(h.document != "hypertension.pdf" for h in kb.search("amlodipine", k=10))


def test_document_filter_and_context(kb, embedder):
    hits = kb.search("notice", k=5, documents=["hypertension.pdf"])
    assert hits and {h.document for h in hits} == {"hypertension.pdf"}
    hit = kb.search("security deposit returned", k=1, mode="keyword", context=1)[0]
    assert hit.document == "lease.pdf"
    assert hit.context_before or hit.context_after


def test_vector_index_is_rebuilt_when_missing_or_damaged(kb, data_dir, embedder):
    folder = kb.folder
    kb.close()
    (folder / "vectors.faiss").write_bytes(b"garbage")
    with KnowledgeBase.open(data_dir, "test") as again:
        assert _top(again, "amlodipine dose", "dense").page == 2
    (folder / "vectors.faiss").unlink()
    with KnowledgeBase.open(data_dir, "test") as again:
        assert np.array_equal(again.index.ids(), again.catalog.chunk_ids())


def test_embedder_is_fixed_per_collection(kb, data_dir, embedder):
    other = "minilm" if embedder == "use-multilingual" else "use-multilingual"
    with pytest.raises(EmbedderMismatch):
        KnowledgeBase.open(data_dir, "test", embedder=other)
    assert KnowledgeBase.open(data_dir, "test").manifest.embedder == embedder


def test_bad_settings_and_names_are_rejected(data_dir, embedder):
    with pytest.raises(InvalidSetting, match="overlap"):
        KnowledgeBase.open(data_dir, "x", embedder=embedder, chunk_size=500, chunk_overlap=400)
    with pytest.raises(InvalidSetting):
        KnowledgeBase.open(data_dir, "../escape", embedder=embedder)
    with pytest.raises(CollectionError):
        KnowledgeBase.open(data_dir, "missing", create=False)


def test_duplicates_are_skipped_with_the_original_named(kb, docs_dir, tmp_path, embedder):
    copy = tmp_path / "copy-of-lease.pdf"
    shutil.copy(docs_dir / "lease.pdf", copy)
    result = kb.import_paths([copy]).results[0]
    assert result.status == FileStatus.DUPLICATE and "lease.pdf" in result.reason
    assert all(d.status == DocStatus.READY for d in kb.documents())


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_each_page_is_listed_once(tmp_path, mode, embedder):
    from tests.helpers import make_pdf

    pages = [
        " ".join(
            f"Clause {p}.{i}: the security deposit is returned within {i + p} days."
            for i in range(12)
        )
        for p in range(1, 5)
    ]
    make_pdf(tmp_path / "docs" / "deposits.pdf", pages)
    query = "When is the security deposit returned?"
    small = {"chunk_size": 200, "chunk_overlap": 0, "embedder": embedder}
    with KnowledgeBase.open(tmp_path / "kb", "small", **small) as kb:
        assert kb.import_paths([tmp_path / "docs"]).ok
        hits = kb.search(query, k=10, mode=mode)
        places = [(h.document, h.page) for h in hits]
        assert len(hits) >= 3 and len(places) == len(set(places))
        # small passages: several of one page match, so without the rule pages would repeat
        raw = kb.searcher().keyword(query, 30)
        rows = kb.catalog.chunks(c for c, _ in raw)
        pages = [(rows[c].doc_id, rows[c].page) for c, _ in raw]
        assert len(pages) > len(set(pages))
