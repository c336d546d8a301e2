"""The FAISS vector index keyed by chunk id: exact while small, HNSW past a threshold, saved atomically.

The catalog is the source of truth. The index file carries the catalog generation and the
embedder it was built for; on open it is reconciled with the catalog (missing vectors added,
deleted ones dropped) or rebuilt when it is missing, unreadable or from another embedder. In an
encrypted collection the index file is sealed under the collection's key (vectors can be turned
back into text); a damaged or foreign sealed file is rebuilt from the catalog like a torn one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kbdesk.core.crypt.sealed import read_sealed, write_sealed
from kbdesk.core.store.catalog import Catalog
from kbdesk.core.store.fileio import atomic_path, atomic_write_text

if TYPE_CHECKING:
    from faiss import IndexIDMap, IndexIDMap2

log = logging.getLogger(__name__)

# Measured in bench/bench_search_scale.py: exact search stays well under 10 ms below this size.
ANN_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64
# HNSW cannot delete in place; deleted ids are excluded by a selector until they pass this share.
TOMBSTONE_REBUILD_SHARE = 0.10
SEALED_PURPOSE = "vector index"


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a hard dependency
        from kbdesk.core.errors import ModelMissing

        raise ModelMissing(
            "FAISS is not available.", hint="Install faiss-cpu to enable vector search."
        ) from exc
    return faiss


class VectorIndex:
    def __init__(
        self,
        path: Path,
        dim: int,
        embedder_id: str,
        ann_threshold: int = ANN_THRESHOLD,
        key: bytes | None = None,
    ):
        self.path = Path(path)
        self.key = key  # the collection's data key: the index file is sealed (crypt/sealed.py)
        self.meta_path = self.path.with_suffix(".json")
        self.dim = dim
        self.embedder_id = embedder_id
        self.ann_threshold = ann_threshold
        self._index: IndexIDMap | None = None  # IndexIDMap2 when built here
        self._tombstones: set[int] = set()
        self.generation = -1
        self.dirty = False

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        if self._index is None:
            return "empty"
        inner = _faiss().downcast_index(self._index.index)
        return "hnsw" if "HNSW" in type(inner).__name__ else "flat"

    @property
    def count(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal) - len(self._tombstones)

    def _new_index(self, size_hint: int) -> IndexIDMap2:
        faiss = _faiss()
        if size_hint >= self.ann_threshold:
            inner = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(inner)

    def open(self, catalog: Catalog) -> None:
        """Load the saved index and bring it in line with the catalog."""
        if not self._load():
            self.rebuild(catalog)
            return
        if self.generation != catalog.generation or self.kind == "hnsw":
            self.reconcile(catalog)

    def _load(self) -> bool:
        if not (self.path.is_file() and self.meta_path.is_file()):
            return False
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            if meta.get("embedder") != self.embedder_id or int(meta.get("dim", -1)) != self.dim:
                log.info("vector index %s was built for another embedder; rebuilding", self.path)
                return False
            index = self._read()
            if index.d != self.dim:
                return False
            # read_index already returns the concrete class; downcasting it again would leave a
            # proxy whose owner is garbage-collected (a dangling pointer).
            self._index = index
            if not hasattr(self._index, "id_map"):
                return False
            self.generation = int(meta.get("generation", -1))
            self._tombstones = set()
            return True
        except Exception as exc:  # a torn or foreign file is simply rebuilt from the catalog
            log.warning("vector index %s unreadable (%s); rebuilding", self.path, exc)
            self._index = None
            return False

    def rebuild(self, catalog: Catalog) -> None:
        generation = catalog.generation
        ids = catalog.chunk_ids()
        self._index = self._new_index(len(ids))
        self._tombstones = set()
        # HNSW built in document order makes a poorer graph (recall@10 0.80 vs 0.94 at 1M in
        # bench_search_scale.py): insert in a fixed random order instead.
        order = np.random.default_rng(0).permutation(len(ids))
        for start in range(0, len(order), 20_000):
            batch_ids, vectors = catalog.vectors_for_ids(
                np.sort(ids[order[start : start + 20_000]])
            )
            if len(batch_ids) and vectors.shape[1] == self.dim:
                self._index.add_with_ids(np.ascontiguousarray(vectors), batch_ids)
        self.generation = generation
        self.dirty = True

    def reconcile(self, catalog: Catalog) -> None:
        generation = catalog.generation
        truth = catalog.chunk_ids()
        have = self.ids()
        missing = np.setdiff1d(truth, have, assume_unique=True)
        extra = np.setdiff1d(have, truth, assume_unique=True)
        if len(missing) > max(1000, len(truth) // 2):
            self.rebuild(catalog)
            return
        if len(extra):
            self.remove(extra)
        if len(missing):
            ids, vectors = catalog.vectors_for_ids(missing)
            if len(ids):
                self.add(ids, vectors)
        self.generation = generation
        self.dirty = self.dirty or bool(len(missing) or len(extra))

    def ids(self) -> np.ndarray:
        if self._index is None:
            return np.zeros(0, dtype=np.int64)
        ids = _faiss().vector_to_array(self._index.id_map).astype(np.int64)
        if self._tombstones:
            ids = ids[~np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))]
        return np.sort(ids)

    def save(self, generation: int) -> None:
        """Write to a temp file and rename, so a crash never leaves a torn index."""
        if self._index is None:
            self._index = self._new_index(0)
        if self.kind == "hnsw" and len(self._tombstones) > TOMBSTONE_REBUILD_SHARE * max(
            1, self._index.ntotal
        ):
            self._compact()
        self._maybe_upgrade()
        if self.key is None:
            with atomic_path(self.path, exclusive=True) as tmp:
                _faiss().write_index(self._index, str(tmp))
        else:
            data = _faiss().serialize_index(self._index).tobytes()
            write_sealed(self.path, self.key, data, SEALED_PURPOSE)
        atomic_write_text(
            self.meta_path,
            json.dumps(
                {
                    "embedder": self.embedder_id,
                    "dim": self.dim,
                    "generation": generation,
                    "kind": self.kind,
                    "count": self.count,
                }
            ),
        )
        self.generation = generation
        self.dirty = False

    def _read(self):
        if self.key is None:
            return _faiss().read_index(str(self.path))
        data = read_sealed(self.path, self.key, SEALED_PURPOSE)
        return _faiss().deserialize_index(np.frombuffer(data, dtype=np.uint8))

    # -- mutation ----------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        if self._index is None:
            self._index = self._new_index(len(ids))
        ids = np.asarray(ids, dtype=np.int64)
        revived = self._tombstones.intersection(ids.tolist())
        if revived:  # ids are never reused by the catalog, but stay correct if they were
            self._tombstones.difference_update(revived)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self.dirty = True

    def remove(self, ids: np.ndarray) -> None:
        if self._index is None or len(ids) == 0:
            return
        ids = np.asarray(ids, dtype=np.int64)
        if self.kind == "hnsw":
            self._tombstones.update(int(i) for i in ids)
        else:
            self._index.remove_ids(_faiss().IDSelectorBatch(ids))
        self.dirty = True

    def _compact(self) -> None:
        """Rebuild HNSW without its tombstones (reconstructing vectors from the index itself)."""
        index = self._index
        if index is None:
            return
        keep = self.ids()
        vectors = np.vstack([index.reconstruct(int(i)) for i in keep]) if len(keep) else None
        self._index = self._new_index(len(keep))
        self._tombstones = set()
        if vectors is not None:
            self._index.add_with_ids(vectors, keep)

    def _maybe_upgrade(self) -> None:
        """Switch from exact to HNSW once the collection grows past the threshold."""
        if self._index is None:
            return
        if self.kind == "flat" and self._index.ntotal >= self.ann_threshold:
            vectors = self._index.index.reconstruct_n(0, self._index.ntotal)
            order = _faiss().vector_to_array(self._index.id_map).astype(np.int64)
            self._index = self._new_index(len(order))
            self._index.add_with_ids(np.ascontiguousarray(vectors), order)

    # -- search ------------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self._index is None or self._index.ntotal == 0 or k <= 0:
            return []
        faiss = _faiss()
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        k = min(k, int(self._index.ntotal))
        params = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(HNSW_EF_SEARCH, 2 * k)
            if self._tombstones:
                params.sel = self._tombstone_selector()
        # One query is too small to gain from OpenMP threads, and they spin against any other
        # work on the machine (an import embedding next door): p95 at 1M fell from 8.3 to 0.5 ms.
        # The setting is per calling thread, so index builds elsewhere keep their threads.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self._index.search(query, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return [(int(c), float(s)) for s, c in zip(scores[0], ids[0], strict=True) if c >= 0]

    def _tombstone_selector(self):
        # FAISS keeps raw pointers: the selector and the id array must outlive the search.
        key = len(self._tombstones)
        if getattr(self, "_selector_key", None) != key:
            faiss = _faiss()
            self._selector_ids = np.fromiter(self._tombstones, dtype=np.int64)
            self._selector_batch = faiss.IDSelectorBatch(self._selector_ids)
            self._selector = faiss.IDSelectorNot(self._selector_batch)
            self._selector_key = key
        return self._selector
