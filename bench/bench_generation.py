"""Generation speed: LlamaHost.stream against raw llama-cpp-python on the same warm model.

Measures decode tokens/s, time to first token (TTFT) for a fresh ~1,500-token prompt, and TTFT
for a second question that shares the prompt's prefix (KV-cache reuse). Raw and kbdesk runs are
interleaved, alternating which goes first, and medians are reported: the machine is noisy.
Usage: .venv/bin/python bench/bench_generation.py [--model small|large] [--rounds 3]
       [--max-tokens 64] [--models-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kbdesk.core.generate.host import LlamaHost  # noqa: E402
from kbdesk.core.generate.models import BUILTIN_MODELS  # noqa: E402
from kbdesk.core.paths import AppPaths  # noqa: E402

PARAMS = {"temperature": 0.0, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0}


def ensure_model(key: str, models_dir: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "assemble_models", ROOT / "build" / "assemble_models.py"
    )
    assembler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(assembler)
    return assembler.assemble(BUILTIN_MODELS[key], models_dir)


def long_prompt(host: LlamaHost, question: str, target: int = 1500) -> str:
    facts, i = [], 0
    system = "Answer from these passages only and cite them.\n"
    while host.count_tokens(system + " ".join(facts)) < target - 40:
        facts.append(
            f"[{i % 9 + 1}] Clause {i}: the tenant pays {i * 13 % 997} euros by day {i % 28 + 1}."
        )
        i += 1
    return host.format_chat(
        [
            {"role": "system", "content": system + " ".join(facts)},
            {"role": "user", "content": question},
        ]
    )


class Counter:
    """Counts single-token decode calls on the shared Llama, the same way for both paths."""

    def __init__(self, llama):
        self.decoded = 0
        self.prompt = 0  # prompt tokens actually evaluated (after any prefix reuse)
        self._orig = llama.eval

        def counting(tokens):
            if len(tokens) == 1:
                self.decoded += 1
            else:
                self.prompt += len(tokens)
            return self._orig(tokens)

        llama.eval = counting


def run(kind: str, host: LlamaHost, counter: Counter, prompt: str, max_tokens: int) -> dict:
    """One generation; decode speed both as throughput and as 1 / median inter-token gap.

    The median gap ignores the bursts when another process takes a core, so it is the figure
    that compares the two code paths; throughput is what a user saw in that run.
    """
    counter.decoded = counter.prompt = 0
    stamps = []
    start = time.perf_counter()
    if kind == "raw":
        pieces = host.llama.create_completion(
            prompt, max_tokens=max_tokens, stream=True, seed=1, **PARAMS
        )
    else:
        pieces = host.stream(prompt, max_tokens=max_tokens, seed=1, **PARAMS)
    for _ in pieces:
        stamps.append(time.perf_counter())
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return {
        "ttft": stamps[0] - start,
        "tok_s": counter.decoded / max(stamps[-1] - stamps[0], 1e-9),
        "tok_s_median_gap": 1.0 / statistics.median(gaps) if gaps else 0.0,
        "decoded": counter.decoded,
        "prompt_evaluated": counter.prompt,
    }


def python_overhead(host: LlamaHost, prompt: str, n: int = 400, repeat: int = 5) -> dict:
    """Microseconds per token each path spends around the model, with the model stubbed out.

    Llama.generate is replaced by a generator replaying fixed tokens, so what is timed is the
    per-token work of each loop (decoding text, stop handling): noise-free, unlike decode timing.
    """
    llama = host.llama
    text = "The keeper climbed the stairs; 灯塔的光照亮了海面 and the ships came home. " * 40
    tokens = host.tokenize(text, special=False)[:n]

    def replay(*_a, **_k):
        yield from tokens

    llama.generate = replay
    try:
        out = {}
        for kind in ("raw", "kbdesk"):
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                if kind == "raw":
                    for _ in llama.create_completion(prompt, max_tokens=n, stream=True, **PARAMS):
                        pass
                else:
                    for _ in host.stream(prompt, max_tokens=n, **PARAMS):
                        pass
                best = min(best, time.perf_counter() - start)
            out[kind] = best / len(tokens) * 1e6
        return out
    finally:
        del llama.generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("small", "large"), default="small")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    path = ensure_model(args.model, args.models_dir or AppPaths.resolve().models_dir)
    host = LlamaHost(path, n_ctx=4096)
    t0 = time.perf_counter()
    llama = host.llama
    load_s = time.perf_counter() - t0
    counter = Counter(llama)
    short = host.format_chat(
        [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    )
    first_q = long_prompt(host, "How much does the tenant pay under clause 12?")
    second_q = first_q.replace("clause 12?", "clause 40, and by which day?")
    n_prompt = host.count_tokens(first_q)

    results: dict[str, dict[str, list[float]]] = {k: {} for k in ("raw", "kbdesk")}
    for r in range(args.rounds):
        order = ("raw", "kbdesk") if r % 2 == 0 else ("kbdesk", "raw")
        for kind in order:
            out = results[kind]
            host.reset()
            gen = run(kind, host, counter, short, args.max_tokens)
            out.setdefault("tok_s", []).append(gen["tok_s"])
            out.setdefault("tok_s_median_gap", []).append(gen["tok_s_median_gap"])
            host.reset()
            fresh = run(kind, host, counter, first_q, 8)
            out.setdefault("ttft_fresh", []).append(fresh["ttft"])
            reuse = run(kind, host, counter, second_q, 8)  # cache still holds first_q's prefix
            out.setdefault("ttft_reuse", []).append(reuse["ttft"])
            print(
                f"round {r + 1} {kind:6}: {gen['tok_s']:.1f} tok/s ({gen['decoded']} tokens; "
                f"{gen['tok_s_median_gap']:.1f} by median gap), "
                f"TTFT fresh {fresh['ttft']:.2f} s ({fresh['prompt_evaluated']} tokens evaluated), "
                f"with prefix reuse {reuse['ttft']:.2f} s ({reuse['prompt_evaluated']} evaluated)",
                flush=True,
            )

    med = {k: {m: statistics.median(v) for m, v in d.items()} for k, d in results.items()}
    overhead = python_overhead(host, short)
    summary = {
        "model": path.name,
        "threads": host.n_threads,
        "load_s": round(load_s, 2),
        "prompt_tokens": n_prompt,
        "max_tokens": args.max_tokens,
        "raw": {k: round(v, 3) for k, v in med["raw"].items()},
        "kbdesk": {k: round(v, 3) for k, v in med["kbdesk"].items()},
        "tok_s_ratio": round(med["kbdesk"]["tok_s"] / med["raw"]["tok_s"], 3),
        "tok_s_median_gap_ratio": round(
            med["kbdesk"]["tok_s_median_gap"] / med["raw"]["tok_s_median_gap"], 3
        ),
        "ttft_ratio": round(med["kbdesk"]["ttft_fresh"] / med["raw"]["ttft_fresh"], 3),
        "overhead_us_per_token": {k: round(v, 1) for k, v in overhead.items()},
        "reuse_over_fresh": round(med["kbdesk"]["ttft_reuse"] / med["kbdesk"]["ttft_fresh"], 3),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"\nmodel {path.name}, {host.n_threads} threads, {n_prompt}-token prompt, medians of {args.rounds}"
        )
        print(
            f"decode tokens/s   raw {med['raw']['tok_s']:.1f}  kbdesk {med['kbdesk']['tok_s']:.1f}"
            f"  ratio {summary['tok_s_ratio']:.3f} (goal >= 0.95)"
        )
        print(
            f"  by median gap   raw {med['raw']['tok_s_median_gap']:.1f}"
            f"  kbdesk {med['kbdesk']['tok_s_median_gap']:.1f}"
            f"  ratio {summary['tok_s_median_gap_ratio']:.3f}"
        )
        print(
            f"  loop overhead   raw {overhead['raw']:.0f} us/token  kbdesk "
            f"{overhead['kbdesk']:.0f} us/token (model stubbed; a decode step is "
            f"{1e6 / med['raw']['tok_s_median_gap']:.0f} us)"
        )
        print(
            f"TTFT fresh (s)    raw {med['raw']['ttft_fresh']:.2f}  kbdesk {med['kbdesk']['ttft_fresh']:.2f}"
            f"  ratio {summary['ttft_ratio']:.3f} (goal <= 1.1)"
        )
        print(
            f"TTFT prefix reuse kbdesk {med['kbdesk']['ttft_reuse']:.2f} s = "
            f"{summary['reuse_over_fresh']:.3f} of fresh (raw {med['raw']['ttft_reuse']:.2f} s)"
        )
    host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
