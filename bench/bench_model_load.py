"""Time to the first answer token from a cold and a warm disk: kbdesk's load (one sequential read
of the model with progress, then llama.cpp) ÷ llama.cpp's own mmap load (pages read as touched).

The window shows "Loading the answer model… 45%" from that read; this measures what showing it
costs or saves. Each run is a fresh process; "cold" first drops the model from the page cache
(posix_fadvise DONTNEED, no root needed for clean pages); the two ways alternate which goes first.
Usage: .venv/bin/python bench/bench_model_load.py [--model small|large] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_generation import ensure_model  # noqa: E402
from kbdesk.core.paths import AppPaths  # noqa: E402

# Runs in a fresh interpreter: load one way, then evaluate a short prompt and decode one token.
WORKER = r"""
import json, sys, time
from kbdesk.core.generate.host import LlamaHost
model, way = sys.argv[1], sys.argv[2]
start = time.perf_counter()
host = LlamaHost(model, n_ctx=2048)
shares = []
if way == "prefetch":
    host.load(lambda p: shares.append(p.done / p.total))
else:
    host.llama
loaded = time.perf_counter()
prompt = host.format_chat([{"role": "user", "content": "Say yes."}])
next(iter(host.stream(prompt, max_tokens=1, temperature=0.0)))
first = time.perf_counter()
print(json.dumps({"load_s": loaded - start, "first_token_s": first - start,
                  "progress_updates": len(shares)}))
"""


def evict(path: Path) -> None:
    with open(path, "rb") as fh:
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def run(model: Path, way: str, cold: bool) -> dict:
    if cold:
        evict(model)
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(model), way],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=["small", "large"], default="large")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = ensure_model(args.model, AppPaths.resolve().models_dir)
    results: dict[str, dict[str, list[float]]] = {}
    for cache in ("cold", "warm"):
        for r in range(args.rounds):
            order = ("mmap", "prefetch") if r % 2 == 0 else ("prefetch", "mmap")
            for way in order:
                got = run(model, way, cold=cache == "cold")
                for key in ("load_s", "first_token_s"):
                    results.setdefault(f"{cache}/{way}", {}).setdefault(key, []).append(got[key])
    summary = {
        name: {key: round(statistics.median(values), 3) for key, values in keys.items()}
        for name, keys in results.items()
    }
    ratios = {
        cache: round(
            summary[f"{cache}/prefetch"]["first_token_s"]
            / summary[f"{cache}/mmap"]["first_token_s"],
            3,
        )
        for cache in ("cold", "warm")
    }
    report = {
        "model": model.name,
        "size_gb": round(model.stat().st_size / 1e9, 2),
        "rounds": args.rounds,
        "median_s": summary,
        "first_token_prefetch_over_mmap": ratios,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{model.name} ({report['size_gb']} GB), {args.rounds} rounds, medians:")
    for name, keys in summary.items():
        print(
            f"  {name:<14} load {keys['load_s']:6.2f} s   first token {keys['first_token_s']:6.2f} s"
        )
    for cache, ratio in ratios.items():
        print(f"  {cache}: time to first token, prefetch ÷ mmap = {ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
