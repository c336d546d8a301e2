"""Dense, keyword and hybrid search over one collection, with document filters, rerank and context."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kbdesk.core.embed.base import Embedder
from kbdesk.core.errors import InvalidSetting
from kbdesk.core.search.answer_context import ContextOptions, answer_context
from kbdesk.core.search.documents import (
    DocumentName,
    describe,
    named_documents,
    other_document,
    other_version,
)
from kbdesk.core.search.fusion import DEFAULT_FUSION, FUSIONS, best_first, fuse
from kbdesk.core.search.passages import NearestVectors, Passages
from kbdesk.core.search.rerank import CrossEncoderReranker
from kbdesk.core.search.text import KEYWORD_ROW_BUDGET, name_terms, query_terms, spelled_out
from kbdesk.core.types import Hit

MODES = ("hybrid", "dense", "keyword")
MAX_K = 200
__all__ = ["KEYWORD_ROW_BUDGET", "MODES", "Passages", "SearchOptions", "Searcher"]
# What naming a document adds to a passage's fused score (0..1): enough to put the named
# document's passage before its look-alike sibling's, not enough to lift an unrelated passage
# of it over a relevant one (bench/bench_fusion.py, "names").
NAME_BOOST = 1.0
NAME_HEAD_LINES = 1  # lines of a document's first passage read as its title
PER_PAGE_SLACK = 3


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    mode: str = "hybrid"
    documents: tuple[str, ...] = ()  # file names, paths or ids to search within
    context: int = 0  # neighbouring chunks to attach on each side
    rerank_depth: int = 50
    fusion: str = DEFAULT_FUSION  # how hybrid merges the dense and keyword lists (FUSIONS)

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
        catalog: Passages,
        index: NearestVectors,
        embedder: Embedder,
        reranker: CrossEncoderReranker | None = None,
    ):
        self.catalog = catalog
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._names: tuple[int, list[DocumentName]] = (-1, [])  # (catalog generation, names)

    def document_names(self) -> list[DocumentName]:
        """Every ready document's name field, rebuilt when the catalog changes."""
        generation = self.catalog.generation
        if self._names[0] != generation:
            names = [
                describe(doc_id, name, " ".join(head.split("\n")[:NAME_HEAD_LINES])[:160])
                for doc_id, name, head in self.catalog.document_heads()
            ]
            self._names = (generation, names)
        return self._names[1]

    def hybrid(
        self, query: str, pool: int, doc_ids: list[int] | None, fusion: str
    ) -> list[tuple[int, float]]:
        """Dense and keyword lists fused; passages of a document the question names come first
        among equals, and are searched for even when neither list found them."""
        dense, keyword, cosine = self.candidates(query, pool, doc_ids)
        named = {} if doc_ids else named_documents(query, self.document_names())
        if named:
            chosen = [d for d, strength in named.items() if strength == 1.0]
            more_dense, more_keyword, more_cosine = self.candidates(query, pool // 4, chosen)
            dense, keyword = _merge(dense, more_dense), _merge(keyword, more_keyword)
            cosine.update(more_cosine)
        ranked = fuse(fusion, dense, keyword, cosine)
        if not named:
            return ranked
        owner = {cid: row.doc_id for cid, row in self.catalog.chunks(c for c, _ in ranked).items()}
        boosted = [
            (cid, score + NAME_BOOST * named.get(owner.get(cid, -1), 0.0)) for cid, score in ranked
        ]
        return best_first(dict(boosted))

    def candidates(
        self, query: str, pool: int, doc_ids: list[int] | None
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]], dict[int, float]]:
        """The dense and keyword lists (best-first, `pool` each) and the dense similarity of
        every passage in either: what fusion needs."""
        dense, keyword = self.dense(query, pool, doc_ids), self.keyword(query, pool, doc_ids)
        return dense, keyword, self.cosines(query, dense, keyword)

    def cosines(
        self, query: str, dense: list[tuple[int, float]], keyword: list[tuple[int, float]]
    ) -> dict[int, float]:
        """The dense similarity of every candidate of either list (the keyword side's too)."""
        scores = dict(dense)
        missing = [cid for cid, _ in keyword if cid not in scores]
        if missing:
            ids, vectors = self.catalog.vectors_for_ids(missing)
            if len(ids):
                found = vectors @ self.embed_query(query)
                scores.update(zip((int(c) for c in ids), (float(s) for s in found), strict=True))
        return scores

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
        return self.catalog.keyword_ranked(terms, k, doc_ids) if terms else []

    def ranked(
        self, query: str, depth: int, doc_ids: list[int] | None, mode: str, fusion: str
    ) -> list[tuple[int, float]]:
        """Passages best-first (several of one page among them), about `depth` of them."""
        if mode == "dense":
            return self.dense(query, depth, doc_ids)
        if mode == "keyword":
            return self.keyword(query, depth, doc_ids)
        return self.hybrid(query, max(50, depth), doc_ids, fusion)

    def _doc_ids(self, documents: tuple[str, ...]) -> list[int] | None:
        """The filter's document ids; None: no filter; [] when it names no document."""
        return self.catalog.doc_ids_for_names(documents) if documents else None

    def answer_context(
        self, query: str, options: ContextOptions, documents: tuple[str, ...] = ()
    ) -> list[Hit]:
        """What the model reads for `query` (answer_context.py): pages with their passages."""
        query = query.strip()
        doc_ids = self._doc_ids(documents)
        if not query or doc_ids == []:
            return []
        ranked = self.ranked(query, options.depth, doc_ids, "hybrid", DEFAULT_FUSION)
        return answer_context(ranked, self.catalog, options)

    def best_similarity(self, query: str, documents: tuple[str, ...] = ()) -> float:
        """Cosine similarity of the closest passage: how related the collection is to a question."""
        doc_ids = self._doc_ids(documents)
        if doc_ids == []:
            return 0.0
        top = self.dense(query, 1, doc_ids)
        return top[0][1] if top else 0.0

    def other_version(self, question: str, doc_ids: Iterable[int]) -> tuple[str, ...]:
        """The versions the question asks for when every one of `doc_ids` is a named document
        of another version (documents.other_version); () otherwise."""
        return other_version(question, self.document_names(), doc_ids)

    def other_document(self, question: str, doc_ids: Iterable[int]) -> tuple[str, ...]:
        """The file names of the documents the question asks about by name when `doc_ids` are
        none of them (documents.other_document); () otherwise."""
        return other_document(question, self.document_names(), doc_ids)

    def unmentioned(self, question: str, passages: Sequence[str] = ()) -> list[str]:
        """The names the question uses that no passage of the collection contains: each word of
        a name ("Brightwater-Kestrel"; its numbers are the evidence check's), and an acronym
        neither as itself nor spelled out in `passages` ("NDA": "Non-Disclosure Agreement")."""
        names = [n for n in name_terms(question) if not spelled_out(n, passages)]
        parts = {n: [w.lower() for w in re.findall(r"[A-Za-z]\w+", n)] for n in names}
        words = sorted({w for ws in parts.values() for w in ws})
        if not words:
            return []
        counts = dict(zip(words, self.catalog.document_frequencies(words, cap=1), strict=True))
        return [n for n in names if parts[n] and any(counts[w] == 0 for w in parts[n])]

    def search(self, query: str, options: SearchOptions = SearchOptions()) -> list[Hit]:
        query = query.strip()
        if not query:
            return []
        doc_ids = self._doc_ids(options.documents)
        if doc_ids == []:
            return []
        depth = max(options.k, options.rerank_depth if self.reranker else 0)
        # Passages of one page are one place to look: a few extra make up for those dropped.
        if options.mode == "hybrid":
            ranked = self.ranked(query, 4 * depth, doc_ids, "hybrid", options.fusion)
        else:
            ranked = self.ranked(query, PER_PAGE_SLACK * depth, doc_ids, options.mode, "")
        rows = self.catalog.chunks([cid for cid, _ in ranked])
        ranked = one_per_page([(cid, score) for cid, score in ranked if cid in rows], rows)
        ranked = ranked[:depth]
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
            hits.append(row.hit(rank, score, context_before=before, context_after=after))
        return hits


def _merge(
    first: list[tuple[int, float]], second: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    """One best-first list of both, each passage once with its better score."""
    best = dict(first)
    for cid, score in second:
        best[cid] = max(score, best.get(cid, score))
    return best_first(best)


def one_per_page(ranked: list[tuple[int, float]], rows: dict) -> list[tuple[int, float]]:
    """The best passage of each page (of each unpaged document's passage), best-first.

    Results are places to look: a second passage of a page already listed would push another
    page out of the top k (bench/bench_fusion.py: hit@5 on a gold page rises with it).
    """
    seen: set[tuple[int, int | None, int | None]] = set()
    kept = []
    for cid, score in ranked:
        row = rows[cid]
        place = (row.doc_id, row.page, None if row.page is not None else cid)
        if place not in seen:
            seen.add(place)
            kept.append((cid, score))
    return kept
