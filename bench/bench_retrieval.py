"""Retrieval quality on the bilingual corpus: hit@1 / hit@5 of dense, keyword and hybrid (convex and
RRF fusion), per embedder.

A hit is the gold document on the gold page (document only for non-paginated files). This is
the measurement behind the default embedder choice (see RESULTS.md, "Default embedder").
Usage: .venv/bin/python bench/bench_retrieval.py [--embedders use-multilingual minilm] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import build, load_docs, load_questions  # noqa: E402
from kbdesk.core.kb import KnowledgeBase  # noqa: E402

MODES = ("dense", "keyword", "hybrid", "hybrid-rrf")  # hybrid = convex fusion (the default)


def evaluate(kb: KnowledgeBase, questions: list[dict], filenames: dict[str, str]) -> dict:
    tallies: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])  # hit1, hit5, n
    latency: dict[str, float] = defaultdict(float)
    for q in questions:
        if q["type"] == "unanswerable":
            continue
        gold_doc, gold_page = filenames[q["doc"]], q["page"]
        for mode in MODES:
            start = time.perf_counter()
            mode_name, _, fusion = mode.partition("-")
            hits = kb.search(q["question"], k=5, mode=mode_name, fusion=fusion or "calibrated")
            latency[mode] += time.perf_counter() - start
            found = [
                (h.document == gold_doc and (gold_page is None or h.page == gold_page))
                for h in hits
            ]
            for key in ((mode, "all"), (mode, q["language"]), (mode, q["type"])):
                t = tallies[key]
                t[0] += bool(found[:1] and found[0])
                t[1] += any(found)
                t[2] += 1
    table = {
        f"{m}/{g}": {"hit@1": round(t[0] / t[2], 3), "hit@5": round(t[1] / t[2], 3), "n": t[2]}
        for (m, g), t in sorted(tallies.items())
    }
    n = tallies[(MODES[0], "all")][2]
    return {"table": table, "ms_per_query": {m: round(1000 * latency[m] / n, 1) for m in MODES}}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--embedders", nargs="+", default=["use-multilingual", "minilm"])
    parser.add_argument("--chunk-size", type=int, help="chunk size of the test collections")
    parser.add_argument("--chunk-overlap", type=int, help="chunk overlap of the test collections")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = load_questions()
    filenames = {d["id"]: d["filename"] for d in load_docs()}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        docs_dir = Path(tmp) / "corpus"
        build(docs_dir)
        for name in args.embedders:
            with KnowledgeBase.open(
                Path(tmp) / "kb",
                name.replace(":", "_")[-40:],
                embedder=name,
                chunk_size=args.chunk_size,
                chunk_overlap=args.chunk_overlap,
            ) as kb:
                start = time.perf_counter()
                report = kb.import_paths([docs_dir])
                assert report.ok, report.failed
                import_s = time.perf_counter() - start
                results[name] = {
                    "import_s": round(import_s, 1),
                    **evaluate(kb, questions, filenames),
                }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    answerable = sum(q["type"] != "unanswerable" for q in questions)
    print(f"{answerable} answerable questions over {len(filenames)} documents\n")
    groups = sorted({k.split("/", 1)[1] for r in results.values() for k in r["table"]})
    for name, res in results.items():
        print(f"== {name} (import {res['import_s']} s; ms/query {res['ms_per_query']})")
        print(f"{'group':<14}" + "".join(f"{m + ' h@1/h@5':>22}" for m in MODES))
        for g in groups:
            cells = []
            for m in MODES:
                cell = res["table"].get(f"{m}/{g}")
                cells.append(
                    f"{cell['hit@1']:.2f} / {cell['hit@5']:.2f} (n={cell['n']})" if cell else "-"
                )
            print(f"{g:<14}" + "".join(f"{c:>22}" for c in cells))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
