"""VectorIndex: exact below the threshold, HNSW above, atomic saves, reconcile and rebuild from the catalog."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kbdesk.core.store.catalog import Catalog, FileFacts
from kbdesk.core.store.vectors import VectorIndex
from kbdesk.core.types import ChunkDraft

DIM = 16


def _unit(n, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _fill(catalog: Catalog, n_docs: int, per_doc: int, seed=0) -> np.ndarray:
    vectors = _unit(n_docs * per_doc, seed)
    for d in range(n_docs):
        drafts = [ChunkDraft(i, f"doc {d} chunk {i}", 1, 0, 10) for i in range(per_doc)]
        rows = vectors[d * per_doc : (d + 1) * per_doc]
        facts = FileFacts(f"/x/{d}.pdf", f"{d}.pdf", "pdf", f"sha{d}", 1, 1.0)
        catalog.replace_document(
            facts, 1, drafts, [f"h{d}-{i}" for i in range(per_doc)], [t.text for t in drafts], rows
        )
    return vectors


@pytest.fixture
def catalog(tmp_path):
    c = Catalog(tmp_path / "catalog.sqlite3")
    yield c
    c.close()


@pytest.mark.parametrize("threshold,kind", [(10_000, "flat"), (50, "hnsw")])
def test_search_finds_the_nearest_vector_in_either_kind(tmp_path, catalog, threshold, kind):
    vectors = _fill(catalog, 10, 20)
    index = VectorIndex(tmp_path / "v.faiss", DIM, "e", ann_threshold=threshold)
    index.open(catalog)
    assert index.kind == kind and index.count == 200
    ids = catalog.chunk_ids()
    for row in (0, 57, 199):
        assert index.search(vectors[row], 1)[0][0] == ids[row]


def test_delete_then_search_never_returns_deleted_ids_in_hnsw(tmp_path, catalog):
    vectors = _fill(catalog, 4, 50)
    index = VectorIndex(tmp_path / "v.faiss", DIM, "e", ann_threshold=50)
    index.open(catalog)
    ids = catalog.chunk_ids()
    index.remove(ids[:5])
    assert all(cid not in set(ids[:5]) for cid, _ in index.search(vectors[0], 20))
    assert index.count == 195


def test_flat_index_upgrades_to_hnsw_on_save_past_threshold(tmp_path, catalog):
    index = VectorIndex(tmp_path / "v.faiss", DIM, "e", ann_threshold=100)
    index.open(catalog)
    vectors = _fill(catalog, 3, 40)
    index.add(catalog.chunk_ids(), vectors)
    assert index.kind == "flat"
    index.save(catalog.generation)
    assert index.kind == "hnsw" and index.count == 120
    assert index.search(vectors[7], 1)[0][0] == catalog.chunk_ids()[7]


def test_saved_index_is_reused_and_reconciled_with_a_newer_catalog(tmp_path, catalog):
    _fill(catalog, 3, 10)
    index = VectorIndex(tmp_path / "v.faiss", DIM, "e")
    index.open(catalog)
    index.save(catalog.generation)
    meta = json.loads((tmp_path / "v.json").read_text())
    assert meta == {
        "embedder": "e",
        "dim": DIM,
        "generation": catalog.generation,
        "kind": "flat",
        "count": 30,
    }
    # the catalog moves on without the index (a crash before the index was saved)
    more = _unit(10, seed=5)
    drafts = [ChunkDraft(i, f"new {i}", 1, 0, 5) for i in range(10)]
    catalog.replace_document(
        FileFacts("/x/0.pdf", "0.pdf", "pdf", "new", 1, 2.0),
        1,
        drafts,
        [f"n{i}" for i in range(10)],
        [d.text for d in drafts],
        more,
    )
    again = VectorIndex(tmp_path / "v.faiss", DIM, "e")
    again.open(catalog)
    assert np.array_equal(again.ids(), catalog.chunk_ids())
    assert again.search(more[3], 1)[0][0] == catalog.chunk_ids()[-7]


def test_index_from_another_embedder_or_torn_file_is_rebuilt(tmp_path, catalog):
    _fill(catalog, 2, 10)
    index = VectorIndex(tmp_path / "v.faiss", DIM, "e")
    index.open(catalog)
    index.save(catalog.generation)
    other = VectorIndex(tmp_path / "v.faiss", DIM, "another")
    other.open(catalog)
    assert other.dirty and other.count == 20
    (tmp_path / "v.faiss").write_bytes((tmp_path / "v.faiss").read_bytes()[:100])
    torn = VectorIndex(tmp_path / "v.faiss", DIM, "e")
    torn.open(catalog)
    assert torn.count == 20 and np.array_equal(torn.ids(), catalog.chunk_ids())
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("threshold,kind", [(10_000, "flat"), (50, "hnsw")])
def test_a_sealed_index_saves_and_loads_under_its_key_and_is_rebuilt_when_damaged(
    tmp_path, threshold, kind, caplog
):
    from kbdesk.core.crypt.keys import new_data_key
    from kbdesk.core.crypt.sealed import is_sealed

    key = new_data_key()
    catalog = Catalog(tmp_path / "catalog.sqlite3", key=key)
    vectors = _fill(catalog, 4, 50)
    path = tmp_path / "v.faiss"
    index = VectorIndex(path, DIM, "e", ann_threshold=threshold, key=key)
    index.open(catalog)
    index.save(catalog.generation)
    raw = path.read_bytes()
    assert is_sealed(path) and vectors[7].tobytes()[:16] not in raw, "no vector in the clear"
    again = VectorIndex(path, DIM, "e", ann_threshold=threshold, key=key)
    assert again._load() and again.kind == kind and again.count == 200
    assert again.search(vectors[7], 1)[0][0] == catalog.chunk_ids()[7]
    # A flipped byte, or another key: the index is rebuilt from the catalog, the truth.
    damaged = bytearray(raw)
    damaged[len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(damaged))
    for k in (key, new_data_key()):
        rebuilt = VectorIndex(path, DIM, "e", ann_threshold=threshold, key=k)
        assert not rebuilt._load()
        rebuilt.open(catalog)
        assert (
            rebuilt.count == 200 and rebuilt.search(vectors[7], 1)[0][0] == catalog.chunk_ids()[7]
        )
    assert "cannot be opened" in caplog.text
    catalog.close()
