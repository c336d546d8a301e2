"""Adapter training on a real collection: examples written per hour and kept, seconds per training
step, peak memory of the training process, and a resume after a stop.

Runs `kbdesk.core.tune.pipeline` as the product does (its own process) on a collection from
bench_quality.py's cache (`real`: public documents nobody here wrote; `own`: bench/corpus), with
the chosen built-in model. Memory is the peak resident size of the pipeline process, sampled every
0.2 s. Baseline measured in the same run: one greedy 64-token llama.cpp answer of the same model
(seconds), so the rates print also as multiples of it (machines differ; the ratio travels).
`--stop-after K` stops the job (SIGTERM) after its K-th training step and resumes it, checking
that no step is trained twice.
Usage: .venv/bin/python bench/bench_tune.py [--model small|large] [--corpus real|own]
       [--passages 12] [--steps 4] [--batch 4] [--stop-after 2] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_answers import resolve_model  # noqa: E402
from bench.bench_quality import CORPORA, OUT, open_collection  # noqa: E402
from kbdesk.core.adapters import model_sha256  # noqa: E402
from kbdesk.core.paths import AppPaths  # noqa: E402
from kbdesk.core.tune import training  # noqa: E402
from kbdesk.core.tune.jobdir import WRITTEN_FILE, Event  # noqa: E402
from kbdesk.core.tune.settings import TuneSettings  # noqa: E402


def baseline_seconds(model: Path) -> float:
    from kbdesk.core.generate.host import LlamaHost

    host = LlamaHost(model)
    host.load()
    prompt = host.format_chat([{"role": "user", "content": "Explain what a lease deposit is."}])
    start = time.perf_counter()
    host.complete(prompt, max_tokens=64, temperature=0.0)
    seconds = time.perf_counter() - start
    host.close()
    return seconds


def follow(job, process, stop_after: int | None) -> dict:
    import psutil

    peak, stopped = 0, False
    proc = psutil.Process(process.pid)
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, proc.memory_info().rss)
        if stop_after and not stopped:
            steps = [e for e in job.events() if e.get("event") == Event.STEP]
            if len(steps) >= stop_after:
                job.request_stop()
                stopped = True
        time.sleep(0.2)
    return {"peak_rss": peak, "returncode": process.returncode, "stopped": stopped}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="small")
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="real")
    parser.add_argument("--passages", type=int, default=12)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--stop-after", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the data folder here (adapter, job)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model = resolve_model(args.model)
    corpus = CORPORA[args.corpus]()
    open_collection(corpus, fresh=False).close()  # imported (incrementally) and closed
    data = Path(tempfile.mkdtemp(prefix="kbdesk-tune-")) if not args.keep else args.keep
    (data / "collections").mkdir(parents=True, exist_ok=True)
    link = data / "collections" / "bench"
    if not link.exists():
        os.symlink(OUT / f"{corpus.name}-kb" / "collections" / "bench", link)
    paths = AppPaths.resolve(data)
    base = baseline_seconds(model)
    request = training.TuneRequest(
        name=f"bench-{args.model}",
        collection="bench",
        model=model,
        model_name=model.stem,
        model_sha256=model_sha256(model),
        settings=TuneSettings(steps=args.steps, batch=args.batch, save_every=1),
        auto_steps=False,
        passages=args.passages,
        replace=True,
    )
    job = training.create_job(paths, request)
    started = time.monotonic()
    runs = [follow(job, training.start(job), args.stop_after)]
    if runs[0]["stopped"]:
        runs.append(follow(job, training.start(job), None))
    wall = time.monotonic() - started
    events = job.events()
    times = {e["event"]: e["time"] for e in events}  # the last of each kind
    examples = [e for e in events if e["event"] == "examples"]
    steps = [e for e in events if e["event"] == "step"]
    written = [json.loads(line) for line in (job / WRITTEN_FILE).read_text().splitlines()]
    kept = sum(1 for w in written if w.get("example"))
    reasons: dict[str, int] = {}
    for w in written:
        if not w.get("example"):
            reasons[w["reason"]] = reasons.get(w["reason"], 0) + 1
    example_span = examples[-1]["time"] - examples[0]["time"] if len(examples) > 1 else 0.0
    per_example = example_span / max(1, len(written))
    step_seconds = statistics.median(e["seconds_per_step"] for e in steps) if steps else None
    resumed = [e for e in events if e["event"] == "resumed"]
    trained_twice = len([e["step"] for e in steps]) != len({e["step"] for e in steps})
    report = {
        "model": model.name,
        "corpus": corpus.name,
        "baseline_answer_s": round(base, 2),
        "examples_written": len(written),
        "examples_kept": kept,
        "kept_share": round(kept / max(1, len(written)), 3),
        "dropped": reasons,
        "seconds_per_example": round(per_example, 2),
        "examples_per_hour": round(3600 / per_example) if per_example else None,
        "seconds_per_step": step_seconds,
        "batch": args.batch,
        "steps": len({e["step"] for e in steps}),
        "peak_rss_gb": round(max(r["peak_rss"] for r in runs) / 2**30, 2),
        "resumed_at_step": resumed[0]["step"] if resumed else None,
        "a_step_trained_twice": trained_twice,
        "installed": "installed" in times,
        "wall_s": round(wall, 1),
        "example_s_per_baseline": round(per_example / base, 2),
        "step_s_per_baseline": round(step_seconds / base, 2) if step_seconds else None,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for key, value in report.items():
            print(f"{key:>24}: {value}")
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)
    ok = report["installed"] and not trained_twice and (not args.stop_after or resumed)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
