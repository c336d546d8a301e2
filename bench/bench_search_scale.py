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

It then times keyword-search variants on the same queries (monkeypatched in this process only,
``src/`` is untouched) to show where FTS5 time goes, and measures exact flat search at 20k, 50k
and 100k vectors (FAISS only) against HNSW, the evidence for ``ANN_THRESHOLD``.

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
from kbdesk.core.search.searcher import Searcher, SearchOptions
from kbdesk.core.search.text import STOPWORDS, index_body, match_expression, query_terms
from kbdesk.core.store.catalog import Catalog, FileFacts
from kbdesk.core.store.vectors import ANN_THRESHOLD, HNSW_EF_SEARCH, VectorIndex
from kbdesk.core.types import ChunkDraft

GOAL_MS = 50.0
VOCAB_SIZE = 30_000
COMMON_RANKS = 2_000  # content words (after the stopwords) that count as "common" for queries
CHUNKS_PER_DOC = 200
TOPICS = 1_000
ENTITY_PREFIXES = ("clause", "section", "article", "invoice", "case", "order", "item", "ref")
ENTITY_RE = re.compile(r"\b[a-z]+-\d+\b")
POOL = max(50, 4 * 10)  # what Searcher.search asks dense and keyword for when k=10, no reranker
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


def one_thread(fn, *args):
    """Call a FAISS function with one OpenMP thread (the setting is per calling thread)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return fn(*args)
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
    """Alternative ways to run the keyword half, to show where FTS5 time goes."""

    def __init__(self, catalog: Catalog, row_budget: int):
        self.con = catalog.con
        self.catalog = catalog
        self.row_budget = row_budget
        con = self.con
        # Document frequency per (stemmed) term, and a scratch FTS5 table with the same
        # tokenizer to stem query terms exactly as the index does. Both are TEMP: no schema change.
        con.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.kv USING fts5vocab(main, chunks_fts, row)"
        )
        con.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem USING fts5(body,"
            " tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        con.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_v USING fts5vocab(temp, stem, instance)"
        )

    def current(self, text: str, k: int):
        match = match_expression(text)
        return self.catalog.keyword_search(match, k) if match else []

    def bm25_sql(self, text: str, k: int):
        """Same MATCH, but ORDER BY bm25() (SQLite's top-N sorter) instead of ORDER BY rank."""
        match = match_expression(text)
        return self._bm25(match, k) if match else []

    def match_count(self, text: str) -> int:
        return self.match_count_expr(match_expression(text))

    def match_count_expr(self, match: str) -> int:
        return self.con.execute(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match,)
        ).fetchone()[0]

    def term_dfs(self, text: str) -> list[tuple[str, int]]:
        """(query term, document frequency of its stemmed token), via fts5vocab lookups."""
        con = self.con
        terms = query_terms(text)
        con.execute("DELETE FROM temp.stem")
        con.executemany(
            "INSERT INTO temp.stem(rowid, body) VALUES (?, ?)", list(enumerate(terms, 1))
        )
        out = []
        for rowid, term in enumerate(terms, 1):
            tokens = [
                r[0] for r in con.execute("SELECT term FROM temp.stem_v WHERE doc = ?", (rowid,))
            ]
            df = 0
            for token in tokens:  # a phrase matches at most as many rows as its rarest token
                found = con.execute("SELECT doc FROM temp.kv WHERE term = ?", (token,)).fetchone()
                df = min(df, found[0]) if df else (found[0] if found else 0)
            out.append((term, df))
        return out

    def _bm25(self, match: str, k: int):
        rows = self.con.execute(
            "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
            " ORDER BY s LIMIT ?",
            (match, k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def budget_match(self, text: str, and_group: bool) -> str | None:
        """OR of the rarest terms while their document frequencies sum to <= row_budget (the
        rarest is always kept). With and_group, the dropped common terms come back as one AND
        group, so chunks holding all of them still match (FTS5 intersects doclists cheaply)."""
        dfs = sorted(self.term_dfs(text), key=lambda p: p[1])
        if not dfs:
            return None
        keep, total = [], 0
        for term, df in dfs:
            if keep and total + df > self.row_budget:
                break
            keep.append(term)
            total += df
        quoted = ['"' + t.replace('"', '""') + '"' for t, _ in dfs]
        match = " OR ".join(quoted[: len(keep)])
        dropped = quoted[len(keep) :]
        if and_group and len(dropped) >= 2:
            match += " OR (" + " AND ".join(dropped) + ")"
        return match

    def budget(self, text: str, k: int, and_group: bool = False):
        match = self.budget_match(text, and_group)
        return self._bm25(match, k) if match else []


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
        params.efSearch = max(HNSW_EF_SEARCH, 2 * POOL)  # as VectorIndex.search sets it
    result["ef_search"] = params.efSearch if params else None

    # Keyword variants, monkeypatched into a second Searcher in this process only.
    variants = KeywordVariants(catalog, args.row_budget)
    patched = Searcher(catalog, vindex, embedder)
    patched.keyword = lambda text, k, doc_ids=None: variants.budget(text, k, and_group=True)
    result["row_budget"] = args.row_budget
    mapped = Catalog(db_path)  # its own connection, memory-mapped
    mapped.con.execute(f"PRAGMA mmap_size={8 << 30}")
    mapped_variants = KeywordVariants(mapped, args.row_budget)

    methods = {
        "faiss_hnsw": lambda q: raw.search(q["vector"][None], POOL, params=params)[1][0],
        "faiss_flat": lambda q: flat.search(q["vector"][None], POOL)[1][0] + 1,
        "dense": lambda q: searcher.dense(q["text"], POOL),
        "keyword": lambda q: searcher.keyword(q["text"], POOL),
        "hybrid": lambda q: searcher.search(q["text"], hybrid),
        "keyword_bm25_sql": lambda q: variants.bm25_sql(q["text"], POOL),
        "keyword_bm25_mmap": lambda q: mapped_variants.bm25_sql(q["text"], POOL),
        "term_df_lookup": lambda q: variants.term_dfs(q["text"]),
        "keyword_budget": lambda q: variants.budget(q["text"], POOL),
        "keyword_budget_and": lambda q: variants.budget(q["text"], POOL, and_group=True),
        "hybrid_budget_and": lambda q: patched.search(q["text"], hybrid),
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

    def every(o):
        return [c for c, _ in o]

    def hits(o):
        return [h.chunk_id for h in o]

    result["source_top10"] = {
        "dense": _share(outputs["dense"], timed, top),
        "keyword": _share(outputs["keyword"], timed, top),
        "hybrid": _share(outputs["hybrid"], timed, hits),
        "keyword_budget": _share(outputs["keyword_budget"], timed, top),
        "keyword_budget_and": _share(outputs["keyword_budget_and"], timed, top),
        "hybrid_budget_and": _share(outputs["hybrid_budget_and"], timed, hits),
    }
    kw = outputs["keyword"]
    result["overlap_with_current"] = {
        "keyword_bm25_sql@50": _overlap(outputs["keyword_bm25_sql"], kw, every),
        "keyword_bm25_mmap@50": _overlap(outputs["keyword_bm25_mmap"], kw, every),
        "keyword_budget@10": _overlap(outputs["keyword_budget"], kw, top),
        "keyword_budget_and@10": _overlap(outputs["keyword_budget_and"], kw, top),
        "keyword_budget_and@50": _overlap(outputs["keyword_budget_and"], kw, every),
        "hybrid_budget_and@10": _overlap(outputs["hybrid_budget_and"], outputs["hybrid"], hits),
    }
    result["keyword_results"] = float(np.mean([len(o) for o in kw]))
    result["peak_rss_mb_search"] = peak_rss_mb()
    result["rss_mb_search"] = rss_now_mb()

    # Why keyword search costs what it costs: rows FTS5 has to score per query.
    print(f"[{n:,}] counting FTS5 matches", flush=True)
    stats = [
        (variants.match_count(q["text"]), [df for _, df in variants.term_dfs(q["text"])])
        for q in timed
    ]
    matched = np.array([c for c, _ in stats], dtype=float)
    kw_times = np.array(times["keyword"])
    result["fts"] = {
        "terms_per_query": float(np.mean([len(d) for _, d in stats])),
        "median_rows_matched": float(np.median(matched)),
        "p95_rows_matched": float(np.percentile(matched, 95)),
        "median_max_term_df": float(np.median([max(d) for _, d in stats])),
        "median_min_term_df": float(np.median([min(d) for _, d in stats])),
        "us_per_matched_row": float(np.median(kw_times * 1000 / np.maximum(matched, 1))),
        "latency_vs_rows_corr": float(np.corrcoef(kw_times, matched)[0, 1]),
        "budget_and_rows_matched_median": float(
            np.median(
                [variants.match_count_expr(variants.budget_match(q["text"], True)) for q in timed]
            )
        ),
    }
    print(f"[{n:,}] fts: {json.dumps(result['fts'])}", flush=True)

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
    from kbdesk.core.store.vectors import HNSW_EF_CONSTRUCTION, HNSW_M

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
        params.efSearch = max(HNSW_EF_SEARCH, 2 * POOL)
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
    "keyword_bm25_sql": "A: keyword, ORDER BY bm25() instead of rank",
    "keyword_bm25_mmap": "A + PRAGMA mmap_size=8 GiB on the connection",
    "term_df_lookup": "df lookup of the query terms (overhead of B/C)",
    "keyword_budget": "B: keyword, rarest terms within the row budget, bm25()",
    "keyword_budget_and": "C: B + dropped terms as one AND group",
    "hybrid_budget_and": "**hybrid with C**",
}


def report(results: list[dict], threshold: dict | None, command: str) -> str:
    lines = []
    add = lines.append
    add("## Hybrid search at scale")
    add("")
    add(
        f"- date: {time.strftime('%Y-%m-%d')}; machine: 2 cores, 24 GiB RAM; "
        f"faiss {faiss.__version__}, SQLite {sqlite3.sqlite_version}"
    )
    add(f"- command: `{command}`")
    if results:
        r0 = results[0]
        add(
            f"- dim {r0['dim']}, {r0['queries']} timed queries per size after {WARMUP} warm-up, "
            f"HNSW M=32 efConstruction=80, efSearch={r0['ef_search']} (VectorIndex.search for k={POOL})"
        )
    add("")
    if results:
        head = (
            "| operation | "
            + " | ".join(f"N={r['n']:,} p50 ms | p95 ms | ÷ HNSW p50" for r in results)
            + " |"
        )
        add(head)
        add("|---|" + "---:|---:|---:|" * len(results))
        for m, label in LABELS.items():
            cells = []
            for r in results:
                lat = r["latency_ms"][m]
                base = r["latency_ms"]["faiss_hnsw"]["p50"]
                cells.append(f"{lat['p50']:.2f} | {lat['p95']:.2f} | {lat['p50'] / base:.1f}×")
            add(f"| {label} | " + " | ".join(cells) + " |")
        add("")
        add("| per size | " + " | ".join(f"N={r['n']:,}" for r in results) + " |")
        add("|---|" + "---:|" * len(results))
        rows = [
            ("hybrid p50 vs 50 ms goal", lambda r: _goal(r["latency_ms"]["hybrid"]["p50"])),
            ("hybrid p50 ÷ raw HNSW p50", lambda r: f"{_ratio(r, 'hybrid', 'faiss_hnsw'):.1f}×"),
            ("hybrid p50 ÷ raw flat p50", lambda r: f"{_ratio(r, 'hybrid', 'faiss_flat'):.2f}×"),
            ("keyword share of hybrid p50", lambda r: f"{_ratio(r, 'keyword', 'hybrid'):.0%}"),
            (
                "HNSW recall@10 / @50 vs exact",
                lambda r: f"{r['recall_at_10']:.3f} / {r['recall_at_50']:.3f}",
            ),
            (
                "source chunk in top-10: dense / keyword / hybrid",
                lambda r: " / ".join(
                    f"{r['source_top10'][m]:.0%}" for m in ("dense", "keyword", "hybrid")
                ),
            ),
            (
                "FTS rows matched per query (median / p95)",
                lambda r: (
                    f"{r['fts']['median_rows_matched']:,.0f} / {r['fts']['p95_rows_matched']:,.0f}"
                ),
            ),
            (
                "terms per query; median df of commonest term",
                lambda r: (
                    f"{r['fts']['terms_per_query']:.1f}; {r['fts']['median_max_term_df']:,.0f}"
                ),
            ),
            (
                "keyword µs per matched row (median); corr(latency, rows)",
                lambda r: (
                    f"{r['fts']['us_per_matched_row']:.2f}; {r['fts']['latency_vs_rows_corr']:.2f}"
                ),
            ),
            (
                "1-min load average before / after timing (2 cores, shared)",
                lambda r: f"{r['loadavg'][0]:.2f} / {r['loadavg'][1]:.2f}",
            ),
            ("catalog insert (replace_document)", lambda r: _insert(r)),
            ("VectorIndex.rebuild (HNSW) / save", lambda r: _index_build(r)),
            (
                "catalog on disk / index file",
                lambda r: f"{r['db_mb'] / 1024:.2f} GiB / {r['index_mb'] / 1024:.2f} GiB",
            ),
            (
                "peak RSS (build + search) / RSS while searching",
                lambda r: (
                    f"{r['peak_rss_mb'] / 1024:.1f} GiB / {r['rss_mb_search'] / 1024:.1f} GiB"
                ),
            ),
        ]
        for label, fn in rows:
            add(f"| {label} | " + " | ".join(fn(r) for r in results) + " |")
        add("")
        add(
            "Keyword variants, monkeypatched in the benchmark process only (src/ unchanged), "
            "timed in the same round-robin as the table above. Overlap = share of the current "
            "top-k the variant also returns. Row budget (B, C): "
            f"{results[0]['row_budget']:,} postings."
        )
        add("")
        add(
            "| variant | "
            + " | ".join(f"N={r['n']:,} p50 / p95 ms | ÷ current p50" for r in results)
            + " |"
        )
        add("|---|" + "---:|---:|" * len(results))
        for m, label in VARIANT_LABELS.items():
            cells = []
            for r in results:
                lat = r["latency_ms"][m]
                ref = r["latency_ms"]["hybrid" if m.startswith("hybrid") else "keyword"]["p50"]
                cells.append(f"{lat['p50']:.2f} / {lat['p95']:.2f} | {lat['p50'] / ref:.2f}×")
            add(f"| {label} | " + " | ".join(cells) + " |")
        add("")
        add("| variant quality | " + " | ".join(f"N={r['n']:,}" for r in results) + " |")
        add("|---|" + "---:|" * len(results))
        for key in results[0]["overlap_with_current"]:
            add(
                f"| overlap {key} | "
                + " | ".join(f"{r['overlap_with_current'][key]:.0%}" for r in results)
                + " |"
            )
        for key in results[0]["source_top10"]:
            add(
                f"| source chunk in top-10: {key} | "
                + " | ".join(f"{r['source_top10'][key]:.0%}" for r in results)
                + " |"
            )
        add(
            "| FTS rows matched per query with C (median) | "
            + " | ".join(f"{r['fts']['budget_and_rows_matched_median']:,.0f}" for r in results)
            + " |"
        )
        add("")
    if threshold:
        add(
            "Exact flat vs HNSW, FAISS only (k=50, single query), for `ANN_THRESHOLD` "
            f"(now {ANN_THRESHOLD:,}):"
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
        "--row-budget", type=int, default=20_000, help="postings budget of the 'budget' variants"
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
    common += ["--row-budget", str(args.row_budget)]
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
