"""Decode and prompt speed of the portable llama.cpp build ÷ a native build, on the same machine.

The portable build (what kbdesk ships: one CPU library per instruction set, the best for this
CPU loaded by src/kbdesk/core/generate/cpu_variants.py) and a native build (`GGML_NATIVE=ON`,
this machine's own CPU, built once by build/llama_wheel.sh --native, a few minutes) are
installed side by side under bench/out/; `--also DIR` adds any other built wheel folder (e.g.
an older build from ~/.cache/kbdesk/wheels/). Each round runs every build, one fresh process
each, rotating which goes first, on the same model, prompt, threads and greedy decoding;
medians are reported (the machine is shared and noisy).
Usage: .venv/bin/python bench/bench_portable_build.py [--model small|large] [--rounds 5]
       [--tokens 96] [--models-dir DIR] [--also WHEEL_DIR ...] [--json]
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
from kbdesk.core.generate.host import physical_cores  # noqa: E402
from kbdesk.core.paths import AppPaths  # noqa: E402

OUT = ROOT / "bench" / "out" / "llama-builds"

# Runs inside a fresh interpreter whose sys.path starts with one build's install folder.
WORKER = r"""
import json, sys, time
import llama_cpp
from llama_cpp import Llama
from kbdesk.core.generate.cpu_variants import load_cpu_backend, loaded_variant
load_cpu_backend(llama_cpp)  # a variant build: the library kbdesk would choose; else nothing
model, threads, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
llama = Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
              n_batch=512, verbose=False)
facts = " ".join(f"Clause {i}: the tenant pays {i * 13 % 997} euros by day {i % 28 + 1}."
                 for i in range(40))
prompt = ("<|im_start|>system\nAnswer from these clauses.\n" + facts + "<|im_end|>\n"
          "<|im_start|>user\nWrite a long story about a lighthouse keeper.<|im_end|>\n"
          "<|im_start|>assistant\n")
tokens = llama.tokenize(prompt.encode(), add_bos=True, special=True)
start = time.perf_counter()
stamps = []
for _token in llama.generate(tokens, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
    stamps.append(time.perf_counter())
    if len(stamps) > n:  # generate() never stops by itself: exactly n decoded tokens are timed
        break
info = llama_cpp.llama_print_system_info().decode()
print(json.dumps({
    "prompt_tokens": len(tokens),
    "prompt_tok_s": len(tokens) / (stamps[0] - start),
    "decode_tok_s": n / (stamps[-1] - stamps[0]),
    "avx512": "AVX512 = 1" in info,
    "variant": loaded_variant() or "(one library)",
    "library": llama_cpp.__file__,
}))
"""


def install(kind: str, wheels: str | None = None) -> Path:
    """The folder holding this build's llama_cpp package, built and installed once."""
    flag = ["--native"] if kind == "native" else []
    wheels = (
        wheels
        or subprocess.run(
            ["bash", str(ROOT / "build" / "llama_wheel.sh"), sys.executable, *flag],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    wheel = next(Path(wheels).glob("llama_cpp_python-*.whl"))
    target = OUT / Path(wheels).name
    if not (target / "llama_cpp").is_dir():
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
        subprocess.run([*pip, "--no-deps", "--target", str(target), str(wheel)], check=True)
    return target


def measure(target: Path, model: Path, threads: int, tokens: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(model), str(threads), str(tokens)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["library"].startswith(str(target)), result["library"]  # the intended build ran
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("small", "large"), default="large")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--also", nargs="*", default=[], metavar="WHEEL_DIR")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    model = ensure_model(args.model, args.models_dir or AppPaths.resolve().models_dir)
    builds = {kind: install(kind) for kind in ("portable", "native")}
    builds |= {Path(folder).name: install("also", folder) for folder in args.also}
    threads = physical_cores()
    runs: dict[str, list[dict]] = {kind: [] for kind in builds}
    kinds = list(builds)
    for r in range(args.rounds):
        for kind in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
            result = measure(builds[kind], model, threads, args.tokens)
            runs[kind].append(result)
            print(
                f"round {r + 1} {kind:8}: decode {result['decode_tok_s']:.1f} tok/s, "
                f"prompt {result['prompt_tok_s']:.1f} tok/s, AVX-512 {result['avx512']}, "
                f"CPU library {result['variant']}",
                flush=True,
            )

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    summary = {
        "model": model.name,
        "threads": threads,
        "rounds": args.rounds,
        "prompt_tokens": runs["portable"][0]["prompt_tokens"],
        "decoded_tokens": args.tokens,
        "native_has_avx512": runs["native"][0]["avx512"],
        "portable_has_avx512": runs["portable"][0]["avx512"],
        "portable_cpu_library": runs["portable"][0]["variant"],
        **{
            f"{kind}_{key}": round(med(kind, key), 2)
            for kind in builds
            for key in ("decode_tok_s", "prompt_tok_s")
        },
        "decode_ratio": round(med("portable", "decode_tok_s") / med("native", "decode_tok_s"), 3),
        "prompt_ratio": round(med("portable", "prompt_tok_s") / med("native", "prompt_tok_s"), 3),
        **{
            f"portable_over_{kind}_prompt": round(
                med("portable", "prompt_tok_s") / med(kind, "prompt_tok_s"), 3
            )
            for kind in kinds[2:]
        },
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"\n{model.name}, {threads} threads, {summary['prompt_tokens']}-token prompt, "
            f"{args.tokens} decoded tokens, medians of {args.rounds} interleaved rounds:\n"
            f"  decode: portable {summary['portable_decode_tok_s']} tok/s ÷ native "
            f"{summary['native_decode_tok_s']} = {summary['decode_ratio']} (goal ≥ 0.9)\n"
            f"  prompt: portable {summary['portable_prompt_tok_s']} tok/s ÷ native "
            f"{summary['native_prompt_tok_s']} = {summary['prompt_ratio']}\n"
            f"  portable ran {summary['portable_cpu_library']}"
        )
        for kind in kinds[2:]:
            print(
                f"  prompt: portable ÷ {kind} {summary[f'portable_over_{kind}_prompt']}, "
                f"decode {summary[f'{kind}_decode_tok_s']} tok/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
