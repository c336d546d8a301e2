"""pgvector's HNSW settings on kbdesk-like vectors: recall@10 against exact search and query time
for each candidate list length (hnsw.ef_search), with the graph built as kbdesk's server builds it
(one document per transaction, the index already there) and for comparison in one bulk build.

The vectors are bench_search_scale.py's synthetic clustered ones (a document's passages scatter
around its 1-3 topics); queries are noisy copies of 100 passages. Tells what HNSW_EF_FLOOR in
src/kbdesk/core/server/passages.py should be. Loopback PostgreSQL from pgserver, nothing kept.
Usage: .venv/bin/python bench/bench_server_hnsw.py [--size N] [--graphs 16/64 32/80]
       [--ef 64 100 200 400] [--builds "per document" bulk] [--document 60]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_search_scale import Corpus, noisy  # noqa: E402

DIM = 512
PER_TRANSACTION = 30  # passages of one document, as a push imports them


def vectors(n: int, longest: int) -> tuple[np.ndarray, np.ndarray]:
    """n passage vectors in document order and 100 queries, unit length."""
    corpus = Corpus(DIM, 11)
    rng = np.random.default_rng(5)
    parts, total = [], 0
    while total < n:
        size = int(rng.integers(5, longest))
        parts.append(corpus.vectors(size))
        total += size
    x = np.vstack(parts)[:n].astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = np.vstack([noisy(rng, x[i], 0.3, 1)[0] for i in rng.choice(n, 100, replace=False)])
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q.astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--graphs", nargs="+", default=["16/64"], help="m/ef_construction")
    parser.add_argument("--ef", type=int, nargs="+", default=[64, 100, 200, 400])
    parser.add_argument(
        "--builds", nargs="+", default=["per document"], choices=["per document", "bulk"]
    )
    parser.add_argument("--document", type=int, default=60, help="most passages per document")
    args = parser.parse_args()

    import faiss
    import pgserver
    import psycopg
    from pgvector.psycopg import register_vector

    x, queries = vectors(args.size, args.document)
    flat = faiss.IndexFlatIP(DIM)
    flat.add(x)
    truth = [set(row) for row in flat.search(queries, 10)[1].tolist()]
    folder = Path(tempfile.mkdtemp(prefix="kbdesk-hnsw-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    results = []
    try:
        con = psycopg.connect(f"postgresql://postgres@/postgres?host={folder}", autocommit=True)
        con.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(con)
        con.execute(f"CREATE TABLE t (id int, e vector({DIM}))")
        con.execute("SET maintenance_work_mem = '2GB'")

        def load(first: int, last: int) -> None:
            with con.cursor().copy("COPY t (id, e) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "vector"])
                for i in range(first, last):
                    copy.write_row((i, x[i]))

        for graph in args.graphs:
            m, efc = (int(v) for v in graph.split("/"))
            for build in args.builds:
                con.execute("TRUNCATE t")
                con.execute("DROP INDEX IF EXISTS t_hnsw")
                index = (
                    "CREATE INDEX t_hnsw ON t USING hnsw (e vector_cosine_ops)"
                    f" WITH (m = {m}, ef_construction = {efc})"
                )
                t0 = time.perf_counter()
                if build == "bulk":
                    load(0, args.size)
                    con.execute(index)
                else:
                    con.execute(index)
                    for first in range(0, args.size, PER_TRANSACTION):
                        with con.transaction():
                            load(first, min(args.size, first + PER_TRANSACTION))
                build_s = time.perf_counter() - t0
                for ef in args.ef:
                    con.execute(f"SET hnsw.ef_search = {ef}")
                    hits, ms = 0, []
                    for q, want in zip(queries, truth, strict=True):
                        t0 = time.perf_counter()
                        rows = con.execute(
                            "SELECT id FROM t ORDER BY e <=> %s LIMIT 10", (q,)
                        ).fetchall()
                        ms.append(1000 * (time.perf_counter() - t0))
                        hits += len(want & {r[0] for r in rows})
                    row = {
                        "size": args.size,
                        "m": m,
                        "ef_construction": efc,
                        "build": build,
                        "document": args.document,
                        "build_s": round(build_s),
                        "ef_search": ef,
                        "recall_at_10": round(hits / (10 * len(queries)), 3),
                        "p50_ms": round(float(np.median(ms)), 1),
                    }
                    results.append(row)
                    print(json.dumps(row), flush=True)
        con.close()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
