"""Hybrid search latency at 100k and 1M chunks, against raw FAISS measured in the same run.

Usage::

    .venv/bin/python bench/bench_search_scale.py                      # 100k and 1M chunks
    .venv/bin/python bench/bench_search_scale.py --quick              # 20k chunks, smoke test
    .venv/bin/python bench/bench_search_scale.py --sizes 100000 --queries 100 --markdown out.md

For each size N it builds a real collection with the product's classes:

* a ``Catalog`` (SQLite + FTS5) filled through ``Catalog.replace_document``, one transaction per
  synthetic document of ~200 chunks, as an import does. Chunk text is 60-150 words drawn from a
  Zipf-Mandelbrot distribution over a ~30k-word vocabulary (the ~110 English stopwords of
  ``text.STOPWORDS`` take the top ranks, the rest are pronounceable synthetic words), plus 2-4
  rare "entity" tokens per chunk such as ``clause-123456``. Vectors are clustered the way real
  embeddings are (1000 topic centres -> a document centre per document -> its chunks, with
  Gaussian noise, normalised) and are stored in the ``embeddings`` table by the same call;
* the ``VectorIndex`` rebuilt from the catalog (HNSW, since N >= ANN_THRESHOLD) and saved; and
  an exact ``faiss.IndexFlatIP`` over the same vectors, the baseline and the recall reference.

Queries are built from random stored chunks: the dense query is the chunk's vector plus small
noise (renormalised); the text query is 2-4 common content words of that chunk plus one of its
entity tokens. The ``Searcher`` gets a stub embedder whose ``embed([text])`` looks the query
vector up in a dict: this benchmark measures search, not embedding, which costs the same at any
collection size.

Measured per query, round-robin in rotating order so machine noise hits every method alike:
raw FAISS HNSW search (k=50 with the efSearch ``VectorIndex.search`` uses; k=50 is the pool
``Searcher.search`` asks each retriever for when k=10), raw exact flat search (k=50),
``Searcher.dense`` (k=50), ``Searcher.keyword`` (k=50) and the full
``Searcher.search(q, SearchOptions(k=10, mode="hybrid"))``, which also fetches the chunk rows.
Shared machines are noisy, so every time is also given as a ratio to raw HNSW in the same run.

Interleaved with those, and monkeypatched in this process only (``src/`` is untouched):
the keyword search as it was before the postings budget (an OR of every term, ORDER BY rank),
the cost of the document-frequency lookup ``Searcher.keyword`` now does first
(``Catalog.document_frequencies``, fts5vocab) and of a bounded alternative (count a term's
postings with ``LIMIT budget+1``), and keyword / hybrid search using that alternative.

Then, for HNSW sizes, recall@10 against the exact search at efSearch 100/200/400 for the
product's index and for an index with the same parameters whose vectors were inserted in random
order; and exact flat search at 20k, 50k and 100k vectors (FAISS only, default OpenMP threads
and one thread) against HNSW, the evidence for ``ANN_THRESHOLD``.

Each size runs in a child process, so its peak RSS (``ru_maxrss``) is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from kbdesk.core.embed.base import EmbedderSpec
from kbdesk.core.search.searcher import KEYWORD_ROW_BUDGET, Searcher, SearchOptions
from kbdesk.core.search.text import (
    STOPWORDS,
    budgeted_match,
    index_body,
    match_expression,
    query_terms,
)
from kbdesk.core.store.catalog import Catalog, FileFacts
from kbdesk.core.store.vectors import (
    ANN_THRESHOLD,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    VectorIndex,
)
from kbdesk.core.types import ChunkDraft

GOAL_MS = 50.0
VOCAB_SIZE = 30_000
COMMON_RANKS = 2_000  # content words (after the stopwords) that count as "common" for queries
CHUNKS_PER_DOC = 200
TOPICS = 1_000
ENTITY_PREFIXES = ("clause", "section", "article", "invoice", "case", "order", "item", "ref")
ENTITY_RE = re.compile(r"\b[a-z]+-\d+\b")
POOL = max(50, 4 * 10)  # what Searcher.search asks dense and keyword for when k=10, no reranker
HNSW_EF_SEARCH_USED = max(HNSW_EF_SEARCH, 2 * POOL)  # what VectorIndex.search sets for k=POOL
WARMUP = 10
SEED = 20240611


# -- synthetic corpus --------------------------------------------------------------------------


def make_vocabulary(rng: np.random.Generator) -> tuple[list[str], int]:
    """Stopwords first (they are most frequent in real text), then synthetic words, short first."""
    stop = sorted(w for w in STOPWORDS if w.isascii())
    rng.shuffle(stop)
    onsets = "b c d f g h j k l m n p r s t v w z br cr dr fl gr pl st tr sh ch th".split()
    vowels = "a e i o u ai ea ou".split()
    codas = ["", "", "", "n", "r", "s", "l", "m", "t", "nd"]
    seen = set(stop)
    words: list[str] = []
    while len(words) < VOCAB_SIZE - len(stop):
        syllables = int(rng.choice([1, 2, 2, 3, 3, 3, 4]))
        word = "".join(
            onsets[rng.integers(len(onsets))]
            + vowels[rng.integers(len(vowels))]
            + codas[rng.integers(len(codas))]
            for _ in range(syllables)
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    words.sort(key=len)  # Zipf's law of abbreviation: frequent words are short
    return stop + words, len(stop)


def zipf_cdf(size: int) -> np.ndarray:
    p = 1.0 / (np.arange(size) + 2.7)  # Zipf-Mandelbrot, the classic fit for English
    cdf = np.cumsum(p)
    return cdf / cdf[-1]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def noisy(rng: np.random.Generator, centre: np.ndarray, scale: float, n: int) -> np.ndarray:
    """n unit vectors around centre; scale is the noise norm relative to the (unit) centre."""
    dim = centre.shape[-1]
    return unit(centre + rng.standard_normal((n, dim), dtype=np.float32) * (scale / dim**0.5))


class Corpus:
    """Deterministic synthetic documents: texts with entity tokens, and clustered vectors."""

    def __init__(self, dim: int, seed: int):
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        self.vocab, self.n_stop = make_vocabulary(self.rng)
        self.rank = {w: i for i, w in enumerate(self.vocab)}
        self.cdf = zipf_cdf(len(self.vocab))
        self.topics = unit(self.rng.standard_normal((TOPICS, dim), dtype=np.float32))

    def document(self, n_chunks: int) -> tuple[list[str], np.ndarray]:
        rng = self.rng
        lengths = rng.integers(60, 151, n_chunks)
        ids = np.searchsorted(self.cdf, rng.random(int(lengths.sum())))
        vocab = self.vocab
        texts = []
        start = 0
        for length in lengths:
            words = [vocab[i] for i in ids[start : start + length].tolist()]
            start += length
            for _ in range(int(rng.integers(2, 5))):
                entity = f"{ENTITY_PREFIXES[rng.integers(len(ENTITY_PREFIXES))]}-{rng.integers(100_000, 1_000_000)}"
                words.insert(int(rng.integers(len(words) + 1)), entity)
            texts.append(" ".join(words))
        return texts, self.vectors(n_chunks)

    def vectors(self, n_chunks: int) -> np.ndarray:
        """A document covers 1-3 topics; its chunks scatter around a per-topic document centre."""
        rng = self.rng
        topics = rng.choice(TOPICS, int(rng.integers(1, 4)), replace=False)
        centres = np.vstack([noisy(rng, self.topics[t], 0.6, 1) for t in topics])
        which = rng.integers(len(topics), size=n_chunks)
        vectors = np.empty((n_chunks, self.dim), dtype=np.float32)
        for j in range(len(topics)):
            rows = np.flatnonzero(which == j)
            vectors[rows] = noisy(rng, centres[j], 0.6, len(rows))
        return vectors


# -- building ----------------------------------------------------------------------------------


def build_catalog(catalog: Catalog, corpus: Corpus, n: int, flat) -> dict:
    """Insert n chunks through Catalog.replace_document, ~200 chunks per document."""
    t0 = time.perf_counter()
    gen_s = 0.0
    doc_no = 0
    done = 0
    expected_id = 1
    while done < n:
        n_chunks = min(CHUNKS_PER_DOC, n - done)
        g0 = time.perf_counter()
        texts, vectors = corpus.document(n_chunks)
        drafts, pos = [], 0
        for i, text in enumerate(texts):
            drafts.append(ChunkDraft(i, text, None, pos, pos + len(text)))
            pos += len(text) + 2
        hashes = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        bodies = [index_body(t) for t in texts]
        facts = FileFacts(
            path=f"/synthetic/doc{doc_no:06d}.txt",
            name=f"doc{doc_no:06d}.txt",
            kind="txt",
            sha256=hashlib.sha256(str(doc_no).encode()).hexdigest(),
            size=pos,
            mtime=0.0,
        )
        gen_s += time.perf_counter() - g0
        _, ids, _ = catalog.replace_document(facts, 0, drafts, hashes, bodies, vectors)
        if ids[0] != expected_id or ids[-1] != expected_id + n_chunks - 1:
            raise RuntimeError("chunk ids are not contiguous; the flat baseline would not align")
        expected_id += n_chunks
        flat.add(vectors)
        done += n_chunks
        doc_no += 1
        if doc_no % 500 == 0:
            rate = done / (time.perf_counter() - t0)
            print(f"  inserted {done:,}/{n:,} chunks ({rate:,.0f}/s)", flush=True)
    total = time.perf_counter() - t0
    return {"documents": doc_no, "insert_s": total - gen_s, "generate_s": gen_s}


def flat_from_catalog(catalog: Catalog, dim: int):
    flat = faiss.IndexFlatIP(dim)
    expected = 1
    for ids, vectors in catalog.iter_vectors():
        if ids[0] != expected or ids[-1] != expected + len(ids) - 1:
            raise RuntimeError("chunk ids are not contiguous; the flat baseline would not align")
        expected += len(ids)
        flat.add(np.ascontiguousarray(vectors))
    return flat


# -- queries -----------------------------------------------------------------------------------


class LookupEmbedder:
    """Returns the pre-chosen vector of each query text (the benchmark is about search)."""

    def __init__(self, table: dict[str, np.ndarray], dim: int):
        self.spec = EmbedderSpec("bench-lookup", dim)
        self.table = table

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self.table[t] for t in texts])

    def warm_up(self) -> None:
        pass


def make_queries(catalog: Catalog, corpus: Corpus, n: int, count: int, seed: int):
    rng = np.random.default_rng(seed + 1)
    chunk_ids = sorted(int(i) + 1 for i in rng.choice(n, count, replace=False))
    rows = catalog.chunks(chunk_ids)
    _, vectors = catalog.vectors_for_ids(chunk_ids)
    lo, hi = corpus.n_stop, corpus.n_stop + COMMON_RANKS
    queries = []
    for cid, vector in zip(chunk_ids, vectors, strict=True):
        text = rows[cid].text
        common = sorted({w for w in text.split() if lo <= corpus.rank.get(w, -1) < hi})
        words = list(rng.choice(common, min(len(common), int(rng.integers(2, 5))), replace=False))
        entities = ENTITY_RE.findall(text)
        words.append(entities[rng.integers(len(entities))])
        rng.shuffle(words)
        qvec = noisy(rng, vector, 0.3, 1)[0]
        queries.append({"chunk": cid, "text": " ".join(words), "vector": qvec})
    order = rng.permutation(len(queries))
    return [queries[i] for i in order]


# -- timing ------------------------------------------------------------------------------------


def time_round_robin(
    methods: dict[str, Callable[[dict], object]], queries: list[dict]
) -> tuple[dict[str, list[float]], dict[str, list[object]]]:
    """Time every method on every query, rotating the order per query; first WARMUP untimed."""
    names = list(methods)
    times = {m: [] for m in names}
    outputs = {m: [] for m in names}
    for qi, query in enumerate(queries):
        shift = qi % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter_ns()
            out = methods[name](query)
            dt = (time.perf_counter_ns() - t0) / 1e6
            if qi >= WARMUP:
                times[name].append(dt)
                outputs[name].append(out)
    return times, outputs


def pct(times: list[float]) -> dict:
    return {
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "mean": float(np.mean(times)),
    }


def one_thread(fn, *args, **kwargs):
    """Call a FAISS function with one OpenMP thread (the setting is per calling thread)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        faiss.omp_set_num_threads(threads)


def rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- keyword variants (monkeypatched here only, never in src/) ---------------------------------


class KeywordVariants:
    """The keyword half before and beside the product's, monkeypatched in this process only."""

    def __init__(self, catalog: Catalog):
        self.con = catalog.con
        self.catalog = catalog

    def before(self, text: str, k: int):
        """What Searcher.keyword did before the postings budget (commit 6b1d4ab): an OR of every
        query term, ORDER BY rank."""
        match = match_expression(text)
        if match is None:
            return []
        rows = self.con.execute(
            "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def df_product(self, text: str) -> list[int]:
        """Document frequencies as Searcher.keyword gets them (since 2026-11-22 the capped probe)."""
        return self.catalog.document_frequencies(query_terms(text), KEYWORD_ROW_BUDGET + 1)

    def df_probe(self, text: str) -> list[int]:
        """min(df, budget + 1) per term: count a term's postings, but stop past the budget.
        No stemming step is needed (MATCH tokenizes the term like the index did), and the cost
        is bounded by the budget, where fts5vocab reads a common term's whole doclist."""
        cap = KEYWORD_ROW_BUDGET + 1
        sql = "SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
        return [
            self.con.execute(sql, ('"' + t.replace('"', '""') + '"', cap)).fetchone()[0]
            for t in query_terms(text)
        ]

    def probe(self, text: str, k: int, doc_ids: list[int] | None = None):
        """Searcher.keyword with df_probe in place of Catalog.document_frequencies."""
        terms = query_terms(text)
        if not terms:
            return []
        dfs = self.df_probe(text)
        return self.catalog.keyword_search(
            budgeted_match(terms, dfs, KEYWORD_ROW_BUDGET), k, doc_ids
        )

    def product_match(self, text: str) -> str | None:
        terms = query_terms(text)
        if not terms:
            return None
        return budgeted_match(terms, self.df_product(text), KEYWORD_ROW_BUDGET)

    def match_count(self, match: str | None) -> int:
        if match is None:
            return 0
        return self.con.execute(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match,)
        ).fetchone()[0]


def hnsw_checks(vindex: VectorIndex, flat, queries: list[dict], n: int) -> dict:
    """Recall of the product's HNSW at other efSearch values, and of an HNSW with the same
    parameters built from the same vectors inserted in random order (VectorIndex.rebuild inserts
    them in chunk-id order, i.e. document by document)."""
    qs = np.vstack([q["vector"] for q in queries])
    _, truth = flat.search(qs, 10)
    truth = truth + 1

    def sweep(index, label: str) -> dict:
        out = {}
        methods = {}
        for ef in (HNSW_EF_SEARCH_USED, 200, 400):
            p = faiss.SearchParametersHNSW()
            p.efSearch = ef
            methods[f"{label} ef{ef}"] = lambda q, p=p: index.search(
                q["vector"][None], POOL, params=p
            )
        times, outputs = time_round_robin(methods, queries)
        timed_truth = truth[WARMUP:]
        for name in methods:
            recall = np.mean(
                [
                    len(set(o[1][0, :10].tolist()) & set(t.tolist())) / 10
                    for o, t in zip(outputs[name], timed_truth, strict=True)
                ]
            )
            out[name] = {**pct(times[name]), "recall_at_10": float(recall)}
        return out

    result = sweep(vindex._index, "product")
    print(f"[{n:,}] shuffled-order HNSW build", flush=True)
    vectors = flat.reconstruct_n(0, n)
    order = np.random.default_rng(SEED).permutation(n)
    shuffled = faiss.IndexIDMap2(
        faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    )
    faiss.downcast_index(shuffled.index).hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    t0 = time.perf_counter()
    for start in range(0, n, 20_000):  # the batch size Catalog.iter_vectors feeds rebuild with
        ids = order[start : start + 20_000]
        shuffled.add_with_ids(vectors[ids], ids.astype(np.int64) + 1)
    build_s = time.perf_counter() - t0
    del vectors
    result.update(sweep(shuffled, "shuffled"))
    result["shuffled_build_s"] = build_s
    return result


# -- one size ----------------------------------------------------------------------------------


def run_size(n: int, args, out_path: Path) -> None:
    base = Path(args.workdir) / str(n)
    base.mkdir(parents=True, exist_ok=True)
    db_path = base / "catalog.sqlite3"
    corpus = Corpus(args.dim, SEED)
    result: dict = {"n": n, "dim": args.dim, "queries": args.queries}

    catalog = Catalog(db_path)
    existing = catalog.chunk_count()
    if existing == n:
        print(f"[{n:,}] reusing catalog {db_path}", flush=True)
        t0 = time.perf_counter()
        flat = flat_from_catalog(catalog, args.dim)
        result["build"] = {"reused": True, "flat_from_catalog_s": time.perf_counter() - t0}
    else:
        if existing:
            raise SystemExit(f"{db_path} holds {existing} chunks, not {n}; use a fresh --workdir")
        print(f"[{n:,}] building catalog {db_path}", flush=True)
        flat = faiss.IndexFlatIP(args.dim)
        result["build"] = build_catalog(catalog, corpus, n, flat)
        catalog.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        result["build"]["chunks_per_s"] = n / result["build"]["insert_s"]
    print(f"[{n:,}] catalog: {result['build']}", flush=True)

    vindex = VectorIndex(base / "vectors.faiss", args.dim, "bench-lookup")
    t0 = time.perf_counter()
    if existing == n and vindex.path.exists():
        vindex.open(catalog)
        result["build"]["index_open_s"] = time.perf_counter() - t0
    else:
        vindex.rebuild(catalog)
        result["build"]["index_build_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        vindex.save(catalog.generation)
        result["build"]["index_save_s"] = time.perf_counter() - t0
    result["index_kind"] = vindex.kind
    print(f"[{n:,}] vector index ({vindex.kind}): {result['build']}", flush=True)
    if vindex.count != n or flat.ntotal != n:
        raise RuntimeError(f"index holds {vindex.count}, flat {flat.ntotal}, expected {n}")

    queries = make_queries(catalog, corpus, n, args.queries + WARMUP, SEED + n)
    embedder = LookupEmbedder({q["text"]: q["vector"] for q in queries}, args.dim)
    searcher = Searcher(catalog, vindex, embedder)
    hybrid = SearchOptions(k=10, mode="hybrid")

    raw = vindex._index  # IndexIDMap2 over HNSW: exactly what VectorIndex.search calls
    params = None
    if vindex.kind == "hnsw":
        params = faiss.SearchParametersHNSW()
        params.efSearch = HNSW_EF_SEARCH_USED
    result["ef_search"] = params.efSearch if params else None

    # Keyword variants, monkeypatched into a second Searcher in this process only.
    variants = KeywordVariants(catalog)
    probed = Searcher(catalog, vindex, embedder)
    probed.keyword = variants.probe
    result["row_budget"] = KEYWORD_ROW_BUDGET

    methods = {
        "faiss_hnsw": lambda q: raw.search(q["vector"][None], POOL, params=params)[1][0],
        "faiss_flat": lambda q: flat.search(q["vector"][None], POOL)[1][0] + 1,
        "dense": lambda q: searcher.dense(q["text"], POOL),
        "keyword": lambda q: searcher.keyword(q["text"], POOL),
        "hybrid": lambda q: searcher.search(q["text"], hybrid),
        "keyword_before": lambda q: variants.before(q["text"], POOL),
        "df_product": lambda q: variants.df_product(q["text"]),
        "df_probe": lambda q: variants.df_probe(q["text"]),
        "keyword_probe": lambda q: variants.probe(q["text"], POOL),
        "hybrid_probe": lambda q: probed.search(q["text"], hybrid),
        "faiss_hnsw_1t": lambda q: one_thread(raw.search, q["vector"][None], POOL, params=params)[
            1
        ][0],
        "hybrid_1t": lambda q: one_thread(searcher.search, q["text"], hybrid),
        "hybrid_probe_1t": lambda q: one_thread(probed.search, q["text"], hybrid),
    }
    print(f"[{n:,}] timing {len(queries)} queries ({WARMUP} warm-up)", flush=True)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    times, outputs = time_round_robin(methods, queries)
    result["timing_s"] = time.perf_counter() - t0
    result["loadavg"] = [load_before, os.getloadavg()[0]]
    result["latency_ms"] = {m: pct(t) for m, t in times.items()}
    timed = queries[WARMUP:]
    print(f"[{n:,}] latency: {json.dumps(result['latency_ms'])}", flush=True)

    # Recall of HNSW against the exact search, and whether the source chunk comes back.
    hnsw_out, flat_out = outputs["faiss_hnsw"], outputs["faiss_flat"]
    result["recall_at_10"] = _overlap(hnsw_out, flat_out, lambda o: o[:10].tolist())
    result["recall_at_50"] = _overlap(hnsw_out, flat_out, lambda o: o.tolist())

    def top(o):
        return [c for c, _ in o[:10]]

    def hits(o):
        return [h.chunk_id for h in o]

    result["source_top10"] = {
        "dense": _share(outputs["dense"], timed, top),
        "keyword": _share(outputs["keyword"], timed, top),
        "hybrid": _share(outputs["hybrid"], timed, hits),
        "keyword_before": _share(outputs["keyword_before"], timed, top),
        "keyword_probe": _share(outputs["keyword_probe"], timed, top),
        "hybrid_probe": _share(outputs["hybrid_probe"], timed, hits),
    }
    result["overlap"] = {
        "keyword vs keyword_before @10": _overlap(
            outputs["keyword"], outputs["keyword_before"], top
        ),
        "keyword_probe vs keyword @10": _overlap(outputs["keyword_probe"], outputs["keyword"], top),
        "hybrid_probe vs hybrid @10": _overlap(outputs["hybrid_probe"], outputs["hybrid"], hits),
    }
    result["peak_rss_mb_search"] = peak_rss_mb()
    result["rss_mb_search"] = rss_now_mb()

    # Why keyword search costs what it costs: rows FTS5 has to score per query.
    print(f"[{n:,}] counting FTS5 matches", flush=True)
    before_rows = np.array([variants.match_count(match_expression(q["text"])) for q in timed])
    product_rows = np.array(
        [variants.match_count(variants.product_match(q["text"])) for q in timed]
    )
    dfs = [variants.df_product(q["text"]) for q in timed]
    before_ms = np.array(times["keyword_before"])
    result["fts"] = {
        "terms_per_query": float(np.mean([len(d) for d in dfs])),
        "before_rows_median": float(np.median(before_rows)),
        "before_rows_p95": float(np.percentile(before_rows, 95)),
        "product_rows_median": float(np.median(product_rows)),
        "product_rows_p95": float(np.percentile(product_rows, 95)),
        "median_max_term_df": float(np.median([max(d) for d in dfs])),
        "before_us_per_row": float(np.median(before_ms * 1000 / np.maximum(before_rows, 1))),
        "before_latency_rows_corr": float(np.corrcoef(before_ms, before_rows)[0, 1]),
    }
    print(f"[{n:,}] fts: {json.dumps(result['fts'])}", flush=True)

    if vindex.kind == "hnsw" and not args.no_hnsw_checks:
        print(f"[{n:,}] HNSW efSearch / insertion order", flush=True)
        result["hnsw"] = hnsw_checks(vindex, flat, queries, n)
        print(f"[{n:,}] hnsw: {json.dumps(result['hnsw'])}", flush=True)

    catalog.close()
    result["examples"] = [q["text"] for q in timed[:3]]
    result["db_mb"] = sum(p.stat().st_size for p in base.glob("catalog.sqlite3*")) / 2**20
    result["index_mb"] = vindex.path.stat().st_size / 2**20
    result["peak_rss_mb"] = peak_rss_mb()
    out_path.write_text(json.dumps(result, indent=1))


def _share(outputs, queries, ids) -> float:
    return float(np.mean([q["chunk"] in ids(o) for o, q in zip(outputs, queries, strict=True)]))


def _overlap(a, b, ids) -> float:
    vals = []
    for x, y in zip(a, b, strict=True):
        sx, sy = set(ids(x)), set(ids(y))
        vals.append(len(sx & sy) / max(1, len(sy)))
    return float(np.mean(vals))


# -- exact flat search at small sizes (ANN_THRESHOLD) ------------------------------------------


def run_threshold(args, out_path: Path) -> None:
    corpus = Corpus(args.dim, SEED)
    sizes = (20_000, 50_000, 100_000)
    chunks = [corpus.vectors(CHUNKS_PER_DOC) for _ in range(0, max(sizes), CHUNKS_PER_DOC)]
    xb = np.vstack(chunks)
    rng = np.random.default_rng(SEED + 7)
    out = {}
    for n in sizes:
        src = rng.choice(n, args.queries + WARMUP, replace=False)
        queries = [{"vector": noisy(rng, xb[i], 0.3, 1)[0]} for i in src]
        flat = faiss.IndexFlatIP(args.dim)
        flat.add(xb[:n])
        hnsw = faiss.IndexHNSWFlat(args.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        t0 = time.perf_counter()
        hnsw.add(xb[:n])
        build = time.perf_counter() - t0
        params = faiss.SearchParametersHNSW()
        params.efSearch = HNSW_EF_SEARCH_USED
        methods = {
            "faiss_flat": lambda q, f=flat: f.search(q["vector"][None], POOL),
            "faiss_flat_1t": lambda q, f=flat: one_thread(f.search, q["vector"][None], POOL),
            "faiss_hnsw": lambda q, h=hnsw, p=params: h.search(q["vector"][None], POOL, params=p),
        }
        times, outputs = time_round_robin(methods, queries)
        recall = np.mean(
            [
                len(set(h[0, :10].tolist()) & set(f[0, :10].tolist())) / 10
                for (_, h), (_, f) in zip(outputs["faiss_hnsw"], outputs["faiss_flat"], strict=True)
            ]
        )
        out[str(n)] = {
            "flat": pct(times["faiss_flat"]),
            "flat_1t": pct(times["faiss_flat_1t"]),
            "hnsw": pct(times["faiss_hnsw"]),
            "hnsw_build_s": build,
            "hnsw_recall_at_10": float(recall),
        }
        print(f"[threshold {n:,}] {json.dumps(out[str(n)])}", flush=True)
    out_path.write_text(json.dumps(out, indent=1))


# -- report ------------------------------------------------------------------------------------

LABELS = {
    "faiss_hnsw": f"raw FAISS, product index (HNSW), k={POOL}",
    "faiss_flat": f"raw FAISS flat (exact), k={POOL}",
    "dense": f"Searcher.dense, k={POOL}",
    "keyword": f"Searcher.keyword, k={POOL}",
    "hybrid": "**Searcher.search hybrid, k=10**",
}
VARIANT_LABELS = {
    "keyword_before": "keyword before the budget (OR of all terms, ORDER BY rank)",
    "df_product": "df lookup now in Searcher.keyword (fts5vocab)",
    "df_probe": "df lookup by bounded probe (LIMIT budget+1)",
    "keyword_probe": "Searcher.keyword with the probe lookup",
    "hybrid_probe": "**hybrid with the probe lookup**",
    "faiss_hnsw_1t": "raw FAISS HNSW, 1 OpenMP thread",
    "hybrid_1t": "hybrid, 1 OpenMP thread",
    "hybrid_probe_1t": "**hybrid with the probe lookup, 1 OpenMP thread**",
}


def _row(add, label: str, cells: list[str]) -> None:
    add(f"| {label} | " + " | ".join(cells) + " |")


def report(results: list[dict], threshold: dict | None, command: str) -> str:
    lines: list[str] = []
    add = lines.append
    add("## Hybrid search at scale")
    add("")
    add(
        f"- date: {time.strftime('%Y-%m-%d')}; machine: 2 cores (shared, see load), 24 GiB RAM; "
        f"faiss {faiss.__version__}, SQLite {sqlite3.sqlite_version}"
    )
    add(f"- command: `.venv/bin/python {command}`")
    if results:
        add(
            f"- dim {results[0]['dim']}, {results[0]['queries']} timed queries per size after "
            f"{WARMUP} warm-up, all methods interleaved per query; HNSW M={HNSW_M} "
            f"efConstruction={HNSW_EF_CONSTRUCTION}, efSearch={HNSW_EF_SEARCH_USED} (what "
            f"VectorIndex.search uses for the k={POOL} pool); keyword row budget "
            f"{KEYWORD_ROW_BUDGET:,} postings; fusion = SearchOptions default"
        )
        add("")
        add(
            "| operation | "
            + " | ".join(f"N={r['n']:,} p50 ms | p95 ms | ÷ HNSW p50" for r in results)
            + " |"
        )
        add("|---|" + "---:|---:|---:|" * len(results))
        for m, label in {**LABELS, **VARIANT_LABELS}.items():
            cells = []
            for r in results:
                lat = r["latency_ms"][m]
                base = r["latency_ms"]["faiss_hnsw"]["p50"]
                cells.append(f"{lat['p50']:.2f} | {lat['p95']:.2f} | {lat['p50'] / base:.1f}×")
            _row(add, label, cells)
        add("")
        add("| per size | " + " | ".join(f"N={r['n']:,}" for r in results) + " |")
        add("|---|" + "---:|" * len(results))
        rows = [
            ("hybrid p50 vs 50 ms goal", lambda r: _goal(r["latency_ms"]["hybrid"]["p50"])),
            ("hybrid p50 ÷ raw HNSW p50", lambda r: f"{_ratio(r, 'hybrid', 'faiss_hnsw'):.0f}×"),
            ("hybrid p50 ÷ raw flat p50", lambda r: f"{_ratio(r, 'hybrid', 'faiss_flat'):.2f}×"),
            ("keyword p50 ÷ hybrid p50", lambda r: f"{_ratio(r, 'keyword', 'hybrid'):.0%}"),
            (
                "keyword now ÷ before (p50)",
                lambda r: f"{_ratio(r, 'keyword', 'keyword_before'):.3f}×",
            ),
            (
                "hybrid with probe ÷ hybrid (p50)",
                lambda r: f"{_ratio(r, 'hybrid_probe', 'hybrid'):.2f}×",
            ),
            (
                "raw HNSW / hybrid / hybrid with probe, 1 thread ÷ default threads (p50)",
                lambda r: " / ".join(
                    f"{_ratio(r, a + '_1t', a):.2f}×"
                    for a in ("faiss_hnsw", "hybrid", "hybrid_probe")
                ),
            ),
            (
                "FTS5 rows matched per query, before / now (median)",
                lambda r: (
                    f"{r['fts']['before_rows_median']:,.0f} / {r['fts']['product_rows_median']:,.0f}"
                ),
            ),
            (
                "before: µs per matched row; corr(latency, rows)",
                lambda r: (
                    f"{r['fts']['before_us_per_row']:.2f}; {r['fts']['before_latency_rows_corr']:.2f}"
                ),
            ),
            (
                "terms per query; median df of its commonest term",
                lambda r: (
                    f"{r['fts']['terms_per_query']:.1f}; {r['fts']['median_max_term_df']:,.0f}"
                ),
            ),
            (
                "top-10 overlap: keyword now vs before / probe vs now / hybrid probe vs now",
                lambda r: " / ".join(f"{v:.0%}" for v in r["overlap"].values()),
            ),
            (
                "source chunk in top-10: dense / keyword / hybrid",
                lambda r: " / ".join(
                    f"{r['source_top10'][m]:.0%}" for m in ("dense", "keyword", "hybrid")
                ),
            ),
            (
                "HNSW recall@10 / @50 vs exact",
                lambda r: f"{r['recall_at_10']:.3f} / {r['recall_at_50']:.3f}",
            ),
            (
                "1-min load average before / after timing",
                lambda r: f"{r['loadavg'][0]:.2f} / {r['loadavg'][1]:.2f}",
            ),
            ("catalog insert (replace_document, 200 chunks/doc)", _insert),
            ("VectorIndex.rebuild (HNSW) / save", _index_build),
            (
                "catalog on disk / index file",
                lambda r: f"{r['db_mb'] / 1024:.2f} GiB / {r['index_mb'] / 1024:.2f} GiB",
            ),
            (
                "peak RSS (whole child) / RSS while searching",
                lambda r: (
                    f"{r['peak_rss_mb'] / 1024:.1f} GiB / {r['rss_mb_search'] / 1024:.1f} GiB"
                ),
            ),
        ]
        for label, fn in rows:
            _row(add, label, [fn(r) for r in results])
        add("")
        checked = [r for r in results if "hnsw" in r]
        if checked:
            add(
                "HNSW recall@10 vs exact and raw search p50 (ms, one OpenMP thread) by efSearch: "
                "the product's index "
                "(VectorIndex.rebuild, vectors inserted in chunk-id = document order) vs the same "
                "parameters with the vectors inserted in a random order (20k batches):"
            )
            add("")
            add(
                "| index, efSearch | "
                + " | ".join(f"N={r['n']:,} recall@10 | p50 ms" for r in checked)
                + " |"
            )
            add("|---|" + "---:|---:|" * len(checked))
            for key, val in checked[0]["hnsw"].items():
                if not isinstance(val, dict):
                    continue
                cells = [
                    f"{r['hnsw'][key]['recall_at_10']:.3f} | {r['hnsw'][key]['p50']:.2f}"
                    for r in checked
                ]
                _row(add, key, cells)
            _row(
                add,
                "random-order build time",
                [f"{r['hnsw']['shuffled_build_s']:.0f} s | " for r in checked],
            )
            add("")
    if threshold:
        add(
            "Exact flat vs HNSW, FAISS only (k=50, one query at a time), for `ANN_THRESHOLD` "
            f"(now {ANN_THRESHOLD:,}); flat with FAISS's default OpenMP threads (2) and with one:"
        )
        add("")
        add(
            "| vectors | flat p50 / p95 ms | flat, 1 OpenMP thread | HNSW p50 / p95 ms |"
            " HNSW recall@10 | HNSW build s |"
        )
        add("|---:|---:|---:|---:|---:|---:|")
        for n, t in threshold.items():
            add(
                f"| {int(n):,} | {t['flat']['p50']:.2f} / {t['flat']['p95']:.2f} | "
                f"{t['flat_1t']['p50']:.2f} / {t['flat_1t']['p95']:.2f} | "
                f"{t['hnsw']['p50']:.2f} / {t['hnsw']['p95']:.2f} | {t['hnsw_recall_at_10']:.3f} | "
                f"{t['hnsw_build_s']:.1f} |"
            )
        add("")
    return "\n".join(lines)


def _ratio(r, a, b) -> float:
    return r["latency_ms"][a]["p50"] / r["latency_ms"][b]["p50"]


def _goal(p50: float) -> str:
    return f"{p50:.1f} ms = {p50 / GOAL_MS:.2f}× goal ({'met' if p50 <= GOAL_MS else 'MISSED'})"


def _insert(r) -> str:
    b = r["build"]
    if b.get("reused"):
        return "reused"
    return f"{b['insert_s']:.0f} s ({b['chunks_per_s']:,.0f} chunks/s; +{b['generate_s']:.0f} s text gen)"


def _index_build(r) -> str:
    b = r["build"]
    if "index_build_s" not in b:
        return f"opened in {b.get('index_open_s', 0):.1f} s"
    return f"{b['index_build_s']:.0f} s / {b['index_save_s']:.1f} s"


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--workdir", help="default: a temp dir under /tmp, deleted unless --keep")
    ap.add_argument("--keep", action="store_true", help="keep the workdir (rerun reuses it)")
    ap.add_argument("--quick", action="store_true", help="20k chunks only, for smoke testing")
    ap.add_argument("--no-threshold", action="store_true", help="skip the flat/HNSW 20k-100k part")
    ap.add_argument(
        "--no-hnsw-checks", action="store_true", help="skip the efSearch / insertion-order part"
    )
    ap.add_argument("--markdown", help="also write the Markdown section to this file")
    ap.add_argument("--child", choices=["size", "threshold"], help=argparse.SUPPRESS)
    ap.add_argument("--child-n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child == "size":
        run_size(args.child_n, args, Path(args.child_out))
        return 0
    if args.child == "threshold":
        run_threshold(args, Path(args.child_out))
        return 0

    command = "bench/bench_search_scale.py " + " ".join(sys.argv[1:] if argv is None else argv)
    sizes = [20_000] if args.quick else args.sizes
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kbdesk-scale-", dir="/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = str(workdir)
    common = ["--dim", str(args.dim), "--queries", str(args.queries), "--workdir", str(workdir)]
    if args.no_hnsw_checks:
        common.append("--no-hnsw-checks")
    me = str(Path(__file__).resolve())
    results, threshold = [], None
    try:
        for n in sizes:
            out = workdir / f"result-{n}.json"
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    me,
                    "--child",
                    "size",
                    "--child-n",
                    str(n),
                    "--child-out",
                    str(out),
                    *common,
                ],
                check=True,
            )
            results.append(json.loads(out.read_text()))
            print(f"[{n:,}] done in {time.perf_counter() - t0:.0f} s", flush=True)
            if not args.keep:
                shutil.rmtree(workdir / str(n), ignore_errors=True)
        if not args.no_threshold:
            out = workdir / "result-threshold.json"
            subprocess.run(
                [sys.executable, me, "--child", "threshold", "--child-out", str(out), *common],
                check=True,
            )
            threshold = json.loads(out.read_text())
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(results, threshold, command)
    print()
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
