"""Dense, keyword and hybrid search over one collection, with document filters, rerank and context."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from kbdesk.core.embed.base import Embedder
from kbdesk.core.errors import InvalidSetting
from kbdesk.core.search.fusion import FUSIONS, fuse
from kbdesk.core.search.rerank import CrossEncoderReranker
from kbdesk.core.search.text import budgeted_match, query_terms
from kbdesk.core.store.catalog import Catalog
from kbdesk.core.store.vectors import VectorIndex
from kbdesk.core.types import Hit

MODES = ("hybrid", "dense", "keyword")
MAX_K = 200
# Postings the keyword side may score per query (see text.budgeted_match); measured in
# bench/bench_search_scale.py: keyword p50 at 1M chunks drops from 485 ms to ~30-40 ms.
KEYWORD_ROW_BUDGET = 20_000


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    mode: str = "hybrid"
    documents: tuple[str, ...] = ()  # file names, paths or ids to search within
    context: int = 0  # neighbouring chunks to attach on each side
    rerank_depth: int = 50
    fusion: str = "convex"  # how hybrid merges dense and keyword lists: "convex" or "rrf"

    def __post_init__(self):
        if self.fusion not in FUSIONS:
            raise InvalidSetting(
                f"Unknown fusion '{self.fusion}'.", hint=f"Use one of: {', '.join(FUSIONS)}."
            )
        if self.mode not in MODES:
            raise InvalidSetting(
                f"Unknown search mode '{self.mode}'.", hint=f"Use one of: {', '.join(MODES)}."
            )
        if not 1 <= self.k <= MAX_K:
            raise InvalidSetting(f"k must be between 1 and {MAX_K} (got {self.k}).")
        if not 0 <= self.context <= 5:
            raise InvalidSetting(f"context must be between 0 and 5 chunks (got {self.context}).")


class Searcher:
    def __init__(
        self,
        catalog: Catalog,
        index: VectorIndex,
        embedder: Embedder,
        reranker: CrossEncoderReranker | None = None,
    ):
        self.catalog = catalog
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed_query(self, query: str) -> np.ndarray:
        cached = self._query_cache.get(query)
        if cached is None:
            cached = self.embedder.embed([query])[0]
            self._query_cache[query] = cached
            if len(self._query_cache) > 256:
                self._query_cache.popitem(last=False)
        return cached

    def dense(
        self, query: str, k: int, doc_ids: list[int] | None = None
    ) -> list[tuple[int, float]]:
        vector = self.embed_query(query)
        if doc_ids is None:
            return self.index.search(vector, k)
        # Within a few documents an exact scan of their vectors is both exact and fast.
        ids = self.catalog.chunk_ids_of_documents(doc_ids)
        chunk_ids, vectors = self.catalog.vectors_for_ids(ids)
        if not len(chunk_ids):
            return []
        scores = vectors @ vector
        top = np.argsort(-scores)[:k]
        return [(int(chunk_ids[i]), float(scores[i])) for i in top]

    def keyword(
        self, query: str, k: int, doc_ids: list[int] | None = None
    ) -> list[tuple[int, float]]:
        terms = query_terms(query)
        if not terms:
            return []
        match = budgeted_match(
            terms,
            self.catalog.document_frequencies(terms, KEYWORD_ROW_BUDGET + 1),
            KEYWORD_ROW_BUDGET,
        )
        if match is None:  # only without terms, returned above
            return []
        return self.catalog.keyword_search(match, k, doc_ids)

    def search(self, query: str, options: SearchOptions = SearchOptions()) -> list[Hit]:
        query = query.strip()
        if not query:
            return []
        doc_ids = None
        if options.documents:
            doc_ids = self.catalog.doc_ids_for_names(options.documents)
            if not doc_ids:
                return []
        depth = max(options.k, options.rerank_depth if self.reranker else 0)
        if options.mode == "dense":
            ranked = self.dense(query, depth, doc_ids)
        elif options.mode == "keyword":
            ranked = self.keyword(query, depth, doc_ids)
        else:
            pool = max(50, 4 * depth)
            dense, keyword = self.dense(query, pool, doc_ids), self.keyword(query, pool, doc_ids)
            ranked = fuse(options.fusion, dense, keyword)[:depth]
        rows = self.catalog.chunks([cid for cid, _ in ranked])
        ranked = [(cid, score) for cid, score in ranked if cid in rows]
        if self.reranker is not None and ranked:
            scores = self.reranker.scores(query, [rows[cid].text for cid, _ in ranked])
            ranked = sorted(zip((c for c, _ in ranked), scores, strict=True), key=lambda t: -t[1])
        hits = []
        for rank, (cid, score) in enumerate(ranked[: options.k], start=1):
            row = rows[cid]
            before = after = ""
            if options.context:
                before, after = self.catalog.neighbour_texts(
                    row.doc_id, row.ordinal, options.context, options.context
                )
            hits.append(
                Hit(
                    rank=rank,
                    score=score,
                    chunk_id=cid,
                    doc_id=row.doc_id,
                    document=row.document,
                    path=row.path,
                    page=row.page,
                    text=row.text,
                    ordinal=row.ordinal,
                    boxes=row.boxes,
                    context_before=before,
                    context_after=after,
                )
            )
        return hits
