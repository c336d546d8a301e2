"""What encryption costs: one passphrase try (Argon2id at kbdesk's parameters, and alternatives),
sealing / unsealing throughput against reading and writing the same bytes plainly, and a whole
collection: import throughput and hybrid search latency of an encrypted collection ÷ a plain
one, same documents (a long generated PDF and bench/corpus), same run, rounds interleaved;
opening a large encrypted collection, and encrypting an existing one, against plain baselines.

Usage: .venv/bin/python bench/bench_crypt.py [--rounds 5] [--mb 64] [--pages 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # noqa: E402

from bench.corpus import build  # noqa: E402
from bench.synth import make_long_pdf  # noqa: E402
from kbdesk.core.crypt import keys, sealed  # noqa: E402
from kbdesk.core.kb import KnowledgeBase  # noqa: E402

QUESTIONS = ROOT / "bench" / "corpus" / "questions.jsonl"

CANDIDATES = {
    "kbdesk: 128 MiB, 3 passes, 4 lanes": keys.ARGON2,
    "RFC 9106 second choice: 64 MiB, 3 passes, 4 lanes": {
        "memory_cost": 64 * 1024,
        "iterations": 3,
        "lanes": 4,
    },
    "256 MiB, 3 passes, 4 lanes": {"memory_cost": 256 * 1024, "iterations": 3, "lanes": 4},
    "OWASP minimum: 19 MiB, 2 passes, 1 lane": {
        "memory_cost": 19 * 1024,
        "iterations": 2,
        "lanes": 1,
    },
}


def argon2_seconds(params: dict, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        Argon2id(salt=os.urandom(16), length=32, **params).derive(b"correct horse battery staple")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(mb: int, rounds: int) -> dict:
    data = os.urandom(mb << 20)
    key = keys.new_data_key()
    out: dict[str, list[float]] = {
        "plain write": [],
        "sealed write": [],
        "plain read": [],
        "sealed read": [],
    }
    with tempfile.TemporaryDirectory() as folder:
        plain, locked = Path(folder) / "plain.bin", Path(folder) / "sealed.bin"
        for _ in range(rounds):
            start = time.perf_counter()
            plain.write_bytes(data)
            os.fsync(os.open(plain, os.O_RDONLY))
            out["plain write"].append(time.perf_counter() - start)
            start = time.perf_counter()
            sealed.write_sealed(locked, key, data, "bench")
            out["sealed write"].append(time.perf_counter() - start)
            start = time.perf_counter()
            assert plain.read_bytes() == data
            out["plain read"].append(time.perf_counter() - start)
            start = time.perf_counter()
            assert sealed.read_sealed(locked, key, "bench") == data
            out["sealed read"].append(time.perf_counter() - start)
    rates = {k: mb / statistics.median(v) for k, v in out.items()}
    return {
        **{f"{k} MB/s": round(v, 1) for k, v in rates.items()},
        "write ratio (sealed / plain)": round(rates["sealed write"] / rates["plain write"], 3),
        "read ratio (sealed / plain)": round(rates["sealed read"] / rates["plain read"], 3),
    }


def collections(pages: int, rounds: int) -> dict:
    """Import and search, encrypted ÷ plain: each round imports the same documents into a fresh
    collection of each kind (which goes first alternates), then times every question's hybrid
    search in both."""
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    imports: dict[str, list[float]] = {"plain": [], "encrypted": []}
    searches: dict[str, list[float]] = {"plain": [], "encrypted": []}
    chunks = 0
    with tempfile.TemporaryDirectory() as folder:
        docs = Path(folder) / "docs"
        make_long_pdf(docs / f"long-{pages}.pdf", pages)
        build(docs / "corpus")  # bench/corpus's documents, written as PDF, DOCX, ...
        for r in range(rounds):
            kinds = ("plain", "encrypted") if r % 2 == 0 else ("encrypted", "plain")
            opened = {}
            for kind in kinds:
                data = Path(folder) / f"data-{r}-{kind}"
                if kind == "plain":
                    kb = KnowledgeBase.open(data, "bench")
                else:
                    kb, _ = KnowledgeBase.create_encrypted(data, "bench", "bench passphrase")
                kb.warm_up()
                start = time.perf_counter()
                report = kb.import_paths([docs])
                assert report.ok, report.failed
                chunks = kb.catalog.chunk_count()
                imports[kind].append(chunks / (time.perf_counter() - start))
                opened[kind] = kb
            for question in questions:
                for kind in kinds:
                    start = time.perf_counter()
                    opened[kind].search(question, k=5)
                    searches[kind].append((time.perf_counter() - start) * 1000)
            for kb in opened.values():
                kb.close()
    rate = {k: statistics.median(v) for k, v in imports.items()}
    p50 = {k: statistics.median(v) for k, v in searches.items()}
    return {
        "passages": chunks,
        "import passages/s plain": round(rate["plain"], 1),
        "import passages/s encrypted": round(rate["encrypted"], 1),
        "import ratio (encrypted / plain, goal >= 0.90)": round(
            rate["encrypted"] / rate["plain"], 3
        ),
        "search p50 ms plain": round(p50["plain"], 2),
        "search p50 ms encrypted": round(p50["encrypted"], 2),
        "search p50 ratio (encrypted / plain, goal <= 1.15)": round(
            p50["encrypted"] / p50["plain"], 3
        ),
        "searches per kind": len(searches["plain"]),
    }


def large_open(n: int, rounds: int) -> dict:
    """Seconds from opening a collection of n passages to its first dense and keyword result,
    encrypted ÷ plain: the same synthetic passages and vectors (bench_search_scale.py's corpus,
    the HNSW index the product builds past its threshold), written once per kind, then opened
    `rounds` times each, alternating. Both files sit in the page cache (just written), so this
    is decryption and deserialising, not the disk."""
    from bench.bench_search_scale import Corpus, build_catalog
    from kbdesk.core.store.catalog import Catalog
    from kbdesk.core.store.vectors import VectorIndex

    class _NoFlat:  # build_catalog also fills a baseline index this measurement does not need
        def add(self, vectors):
            pass

    dim, key = 512, keys.new_data_key()
    kinds = {"plain": None, "encrypted": key}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as folder:
        for kind, k in kinds.items():
            (Path(folder) / kind).mkdir()
            catalog = Catalog(Path(folder) / kind / "catalog.sqlite3", key=k)
            build_catalog(catalog, Corpus(dim, seed=0), n, _NoFlat())
            index = VectorIndex(Path(folder) / kind / "vectors.faiss", dim, "synthetic", key=k)
            index.rebuild(catalog)
            index.save(catalog.generation)
            query = catalog.vectors_for_ids(catalog.chunk_ids()[:1])[1][0]
            catalog.close()
        for r in range(rounds):
            for kind in list(kinds)[r % 2 :] + list(kinds)[: r % 2]:
                start = time.perf_counter()
                catalog = Catalog(Path(folder) / kind / "catalog.sqlite3", key=kinds[kind])
                index = VectorIndex(
                    Path(folder) / kind / "vectors.faiss", dim, "synthetic", key=kinds[kind]
                )
                index.open(catalog)
                assert index.search(query, 10) and catalog.keyword_search('"the"', 10)
                times[kind].append(time.perf_counter() - start)
                catalog.close()
    first = {k: statistics.median(v) for k, v in times.items()}
    return {
        "passages": n,
        "seconds to first search, plain": round(first["plain"], 2),
        "seconds to first search, encrypted": round(first["encrypted"], 2),
        "ratio (encrypted / plain)": round(first["encrypted"] / first["plain"], 2),
    }


def encrypt_existing(n: int) -> dict:
    """Seconds to encrypt an existing plain collection of n passages where it is (export,
    seal, check, move), against copying the same folder plainly in the same run."""
    import shutil

    from bench.bench_search_scale import Corpus, build_catalog
    from kbdesk.core.collection import Manifest
    from kbdesk.core.encryption import encrypt_collection
    from kbdesk.core.store.catalog import Catalog
    from kbdesk.core.store.vectors import VectorIndex

    class _NoFlat:
        def add(self, vectors):
            pass

    dim = 512
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "data" / "collections" / "big"
        plain.mkdir(parents=True)
        Manifest.new("synthetic", dim, 900, 150).save(plain)
        catalog = Catalog(plain / "catalog.sqlite3")
        build_catalog(catalog, Corpus(dim, seed=0), n, _NoFlat())
        index = VectorIndex(plain / "vectors.faiss", dim, "synthetic")
        index.rebuild(catalog)
        index.save(catalog.generation)
        catalog.close()
        size = sum(f.stat().st_size for f in plain.rglob("*") if f.is_file())
        start = time.perf_counter()
        shutil.copytree(plain, Path(folder) / "copy")
        copied = time.perf_counter() - start
        start = time.perf_counter()
        encrypt_collection(Path(folder) / "data", "big", "bench passphrase")
        encrypted = time.perf_counter() - start
    return {
        "passages": n,
        "MB": round(size / 1e6),
        "seconds to encrypt": round(encrypted, 1),
        "seconds to copy the same files": round(copied, 1),
        "ratio (encrypt / copy)": round(encrypted / copied, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--pages", type=int, default=200, help="pages of the generated PDF")
    parser.add_argument("--collection-rounds", type=int, default=3)
    parser.add_argument("--open-passages", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {
        "argon2id seconds per try (median)": {
            name: round(argon2_seconds(p, args.rounds), 3) for name, p in CANDIDATES.items()
        },
        f"sealed files, {args.mb} MB": throughput(args.mb, args.rounds),
        "collections": collections(args.pages, args.collection_rounds),
        "opening a large collection": large_open(args.open_passages, args.rounds),
        "encrypting an existing collection": encrypt_existing(args.open_passages),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
