"""Where the seconds of one `kbdesk ask --json` go: a fresh process per question, as a shell runs it.

Builds a collection of bench/corpus (`kbdesk --data-dir D ingest`, the default embedder), then runs
`python -m kbdesk --data-dir D ask --json QUESTION` once per question and round, each in a new
interpreter whose hooks time, exclusively (a stage nested in another is charged to the inner one):
- interpreter start-up (spawn to the first line) and exit (the last line to the process's end);
- python imports (every `import`, wherever it happens; -X importtime's top-level totals);
- encoder load (the embedder for retrieval; and for the citation check if it needs another one);
- index load (the vector index), search (query embedding, dense + keyword, fusion), jieba's load;
- model load (the read of the GGUF with progress, llama.cpp's start-up) and close;
- prompt building (token counting, chat template), prompt evaluation (tokens, the first
  `Llama.eval` of a generation), decoding (tokens, every later step and the sampling);
- citation check (scoring; its encoder load shows as "citation check: encoder load");
- other: the CLI, settings, catalog, printing (the rest of the in-process time).
Seconds are medians over questions x rounds; a share is the stage's median over the median
end-to-end seconds (so shares need not add up to exactly 100 %).

Every run is greedy (`--temperature 0`), so all variants decode the same tokens. The code
measured is the working tree's src/ (copied once at the start, so edits during the run do not
change it) or, with `--source REV`, a git revision's (exported with git archive and run through
PYTHONPATH; the checkout is not touched). Variants, interleaved per question, alternating which
goes first: "in-process" (everything loads in the asking process, as the installed program
does); `--baseline REV`: another revision's source (KBDESK_HELPER=0: in-process also in the
revisions that had a warm helper); `--env VAR=VALUE`: with that environment. Ratios are
each variant's median seconds ÷ those of the reference (--reference; default in-process), from
the same run; "paired by question" is the median of the ratios of the same question in the same
round. `--busy N` keeps N cores busy with spinning processes meanwhile (another program at work).
Usage: .venv/bin/python bench/bench_ask_latency.py [--model small|large] [--questions 4]
       [--rounds 2] [--source tree|REV] [--baseline REV] [--env VAR=VALUE,...]
       [--busy N] [--reference NAME] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_generation import ensure_model  # noqa: E402
from bench.corpus import build, load_questions  # noqa: E402
from kbdesk.core.generate.models import BUILTIN_MODELS  # noqa: E402
from kbdesk.core.paths import AppPaths  # noqa: E402

# Runs in the fresh interpreter. It imports nothing of kbdesk itself: hooks are attached to each
# module right after its first import, so the imports stage is what `kbdesk ask` really imports.
WORKER = r"""
import sys, time, _thread
T0, WALL0 = time.perf_counter(), time.time()
import _frozen_importlib as _boot

out_path, argv = sys.argv[1], sys.argv[2:]
MAIN = _thread.get_ident()
stack, spent, counts, top_imports = ["other"], {}, {}, {}
mark = [time.perf_counter()]

def _charge():
    now = time.perf_counter()
    spent[stack[-1]] = spent.get(stack[-1], 0.0) + now - mark[0]
    mark[0] = now

def enter(name):
    _charge(); stack.append(name)

def leave():
    _charge(); stack.pop()

def timed(name_of):
    def wrap(fn):
        def inner(*a, **k):
            if _thread.get_ident() != MAIN:
                return fn(*a, **k)
            enter(name_of(a))
            try:
                return fn(*a, **k)
            finally:
                leave()
        return inner
    return wrap

def fixed(name):
    return timed(lambda a: name)

def encoder_load(a):
    return "citation check: encoder load" if "citation check" in stack else "encoder load"

def timed_generator(fn):
    def inner(*a, **k):
        it = fn(*a, **k)
        try:
            while True:
                enter("decoding")
                try:
                    piece = next(it)
                except StopIteration:
                    return
                finally:
                    leave()
                yield piece
        finally:
            it.close()
    return inner

def patch_eval(cls):
    original = cls.eval
    def eval(self, tokens):
        n = len(tokens)
        key = "prompt evaluation" if n > 1 else "decoding"
        counts[key + " tokens"] = counts.get(key + " tokens", 0) + n
        if _thread.get_ident() != MAIN:
            return original(self, tokens)
        enter(key)
        try:
            return original(self, tokens)
        finally:
            leave()
    cls.eval = eval

def patch_attr(obj, attr, wrapper):
    if hasattr(obj, attr):
        setattr(obj, attr, wrapper(getattr(obj, attr)))

def on_import(name, module):
    if name == "kbdesk.core.embed.universal_sentence_encoder":
        patch_attr(module.UniversalSentenceEncoder, "_load", timed(encoder_load))
    elif name == "kbdesk.core.embed.sentence_transformer":
        patch_attr(module.SentenceTransformerEmbedder, "_load", timed(encoder_load))
    elif name == "kbdesk.core.store.vectors":
        patch_attr(module.VectorIndex, "open", fixed("index load"))
    elif name == "kbdesk.core.kb":
        patch_attr(module.KnowledgeBase, "search", fixed("search"))
        patch_attr(module.KnowledgeBase, "best_similarity", fixed("search"))
    elif name == "kbdesk.core.search.text":
        patch_attr(module, "_get_jieba", fixed("jieba load"))
    elif name == "kbdesk.core.generate.host":
        patch_attr(module.LlamaHost, "load", fixed("model load"))
        patch_attr(module.LlamaHost, "close", fixed("model close"))
        patch_attr(module.LlamaHost, "format_chat", fixed("prompt building"))
        patch_attr(module.LlamaHost, "_generate", timed_generator)
    elif name == "kbdesk.core.generate.answerer":
        patch_attr(module, "build_messages", fixed("prompt building"))
        patch_attr(module, "check_citations", fixed("citation check"))
    elif name == "llama_cpp.llama":
        patch_eval(module.Llama)

original_find_and_load = _boot._find_and_load

def find_and_load(name, import_):
    if _thread.get_ident() != MAIN or stack[-1] == "imports":
        module = original_find_and_load(name, import_)
        on_import(name, module)
        return module
    start = time.perf_counter()
    enter("imports")
    try:
        module = original_find_and_load(name, import_)
    finally:
        leave()
        top = name.partition(".")[0]
        top_imports[top] = top_imports.get(top, 0.0) + time.perf_counter() - start
    on_import(name, module)
    return module

_boot._find_and_load = find_and_load
for _name in [n for n in sys.modules if n.startswith(("kbdesk", "llama_cpp"))]:
    on_import(_name, sys.modules[_name])

import io, contextlib
captured = io.StringIO()
with contextlib.redirect_stdout(captured):
    from kbdesk.cli import main
    code = main(argv)
_charge()
T1, WALL1 = time.perf_counter(), time.time()
_boot._find_and_load = original_find_and_load
import json
with open(out_path, "w", encoding="utf-8") as fh:
    json.dump({"code": code, "stages": spent, "counts": counts, "in_process_s": T1 - T0,
               "wall_start": WALL0, "wall_end": WALL1, "stdout": captured.getvalue(),
               "top_imports": top_imports}, fh)
"""


def ask_once(src: Path, data_dir: Path, question: str, env_extra: dict[str, str]) -> dict:
    """One `kbdesk ask --json` in a fresh interpreter, timed by stage; wall from spawn to exit."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    env = {**os.environ, "PYTHONPATH": str(src), **env_extra}
    # Greedy (--temperature 0): every variant decodes the same tokens, so their times compare.
    argv = ["--data-dir", str(data_dir), "ask", "--json", "--temperature", "0", question]
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(out), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    end = time.time()
    if done.returncode != 0:
        raise SystemExit(f"kbdesk ask failed ({done.returncode}):\n{done.stderr[-3000:]}")
    got = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    if got["code"] != 0:
        raise SystemExit(f"kbdesk ask exited {got['code']}:\n{done.stderr[-3000:]}")
    stages = dict(got["stages"])
    stages["interpreter start-up"] = got["wall_start"] - start
    stages["interpreter exit"] = end - got["wall_end"]
    answer = json.loads(got["stdout"])
    return {
        "wall_s": end - start,
        "stages": stages,
        "counts": got["counts"],
        "top_imports": got["top_imports"],
        "answer": answer,
    }


def export_revision(rev: str, dest: Path) -> Path:
    """src/ of git revision `rev`, unpacked into dest (git archive: the checkout is not touched)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "src"], cwd=ROOT, capture_output=True, check=True
    )
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def snapshot_tree(dest: Path) -> Path:
    """The working tree's src/kbdesk as it is now (others may edit it during a long run)."""
    shutil.copytree(
        ROOT / "src" / "kbdesk",
        dest / "src" / "kbdesk",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return dest / "src"


def make_collection(data_dir: Path, models_dir: Path, src: Path) -> None:
    docs = build(data_dir / "corpus")
    (data_dir / "models").symlink_to(models_dir, target_is_directory=True)
    subprocess.run(
        [sys.executable, "-m", "kbdesk", "--data-dir", str(data_dir), "ingest", "--no-ocr"]
        + [str(p) for p in docs],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(src)},
        check=True,
        capture_output=True,
    )


def pick_questions(n: int) -> list[str]:
    """n answerable questions, alternating English and Chinese, spread over the file."""
    answerable = [q for q in load_questions() if q["type"] != "unanswerable"]
    by_lang = {lang: [q for q in answerable if q["language"] == lang] for lang in ("en", "zh")}
    picked = []
    for i in range(n):
        pool = by_lang["en" if i % 2 == 0 else "zh"]
        picked.append(pool[(i // 2) * len(pool) // max(1, (n + 1) // 2)]["question"])
    return picked


def summarise(runs: list[dict]) -> dict:
    wall = statistics.median(r["wall_s"] for r in runs)
    names = sorted({s for r in runs for s in r["stages"]})
    stages = {name: statistics.median(r["stages"].get(name, 0.0) for r in runs) for name in names}
    counts = {
        key: statistics.median(r["counts"].get(key, 0) for r in runs)
        for key in sorted({k for r in runs for k in r["counts"]})
    }
    imports = {
        name: statistics.median(r["top_imports"].get(name, 0.0) for r in runs)
        for name in {k for r in runs for k in r["top_imports"]}
    }
    heavy = dict(sorted(imports.items(), key=lambda kv: -kv[1])[:6])
    return {
        "runs": len(runs),
        "wall_s": round(wall, 3),
        "stages_s": {k: round(v, 3) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])},
        "share": {k: round(v / wall, 3) for k, v in stages.items()},
        "counts": counts,
        "heaviest_imports_s": {k: round(v, 3) for k, v in heavy.items()},
    }


def print_table(report: dict) -> None:
    variants = report["variants"]
    names = list(variants)
    first = variants[names[0]]
    order = list(first["stages_s"])
    order += [s for v in variants.values() for s in v["stages_s"] if s not in order]
    header = f"{'stage':<30}" + "".join(f"{n[:22]:>24}" for n in names)
    print(header)
    for stage in dict.fromkeys(order):
        cells = ""
        for n in names:
            v = variants[n]
            s = v["stages_s"].get(stage, 0.0)
            cells += f"{s:>13.2f} s ({100 * v['share'].get(stage, 0.0):4.1f} %)"
        print(f"{stage:<30}{cells}")
    print(
        f"{'end to end (median)':<30}" + "".join(f"{variants[n]['wall_s']:>22.2f} s" for n in names)
    )
    for n in names:
        v = variants[n]
        tokens = ", ".join(f"{k} {v['counts'][k]:.0f}" for k in v["counts"])
        print(f"  {n}: {v['runs']} runs; {tokens}")
        print(
            "    heaviest imports: "
            + ", ".join(f"{k} {s:.2f} s" for k, s in v["heaviest_imports_s"].items())
        )
    for name, ratio in report.get("ratios", {}).items():
        print(f"  {name}: {ratio:.3f}")
    for note in report.get("notes", []):
        print(f"  note: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(BUILTIN_MODELS), default="large")
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--source", default="tree", help="the code measured: the working tree or a git revision"
    )
    parser.add_argument("--baseline", metavar="REV", help="also run git revision REV's source")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="VAR=VALUE[,VAR=VALUE]",
        help="also run in-process with these environment variables set (repeatable)",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="keep N cores busy with spinning processes during the runs (a busy machine)",
    )
    parser.add_argument(
        "--reference", default=THIS, help="the variant ratios divide by (default: %(default)s)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the report (--json)
        model = ensure_model(args.model, AppPaths.resolve().models_dir)
    questions = pick_questions(args.questions)
    with tempfile.TemporaryDirectory(prefix="kbdesk-ask-latency-") as tmp:
        tmp_path = Path(tmp)
        if args.source == "tree":
            source = snapshot_tree(tmp_path / "tree")
        else:
            source = export_revision(args.source, tmp_path / "source")
        variants: dict[str, tuple[Path, dict[str, str]]] = {}
        in_process = {"KBDESK_HELPER": "0"}  # revisions that had a warm helper: not used
        if args.baseline:
            base = export_revision(args.baseline, tmp_path / "base")
            variants[args.baseline] = (base, in_process)
        variants[THIS] = (source, in_process)
        for spec in args.env:
            pairs = dict(item.split("=", 1) for item in spec.split(","))
            variants[spec] = (source, {**in_process, **pairs})
        # One import, copied for each variant: the same chunks and ids everywhere (two imports
        # may number them differently, and ties in the ranking then fall differently).
        make_collection(tmp_path / "data", model.parent, source)
        data_dirs = {}
        for n, name in enumerate(variants):
            data_dirs[name] = tmp_path / f"data{n}"
            shutil.copytree(tmp_path / "data", data_dirs[name], symlinks=True)
        runs: dict[str, list[dict]] = {name: [] for name in variants}
        names = list(variants)
        spinners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(args.busy)
        ]
        try:
            for r in range(args.rounds):
                for i, question in enumerate(questions):
                    order = names if (r * len(questions) + i) % 2 == 0 else names[::-1]
                    for name in order:
                        src, env = variants[name]
                        got = ask_once(src, data_dirs[name], question, env)
                        got["question"], got["round"] = i, r
                        runs[name].append(got)
                        print(
                            f"  round {r + 1} q{i + 1} {name}: {got['wall_s']:.1f} s, "
                            f"{got['answer'].get('outcome')}",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        report = compare(runs, args, model.name, questions)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"{report['model']}, {len(questions)} questions x {args.rounds} rounds, medians:")
        print_table(report)
    return 0


THIS = "in-process"


def compare(runs: dict[str, list[dict]], args, model: str, questions: list[str]) -> dict:
    """Stage medians per variant; end-to-end ratios against the reference variant; which
    answers are the same as its answers to the same questions."""
    report: dict = {
        "model": model,
        "questions": questions,
        "rounds": args.rounds,
        "cores": os.cpu_count(),
        "busy": args.busy,
        "variants": {name: summarise(rs) for name, rs in runs.items() if rs},
        "ratios": {},
        "notes": [],
    }
    reference = args.reference
    ref = report["variants"][reference]["wall_s"]
    by_question = {(r["question"], n): r["answer"] for n, rs in runs.items() for r in rs}
    walls = {(r["round"], r["question"], n): r["wall_s"] for n, rs in runs.items() for r in rs}
    for name, rs in runs.items():
        if name == reference or not rs:
            continue
        report["ratios"][f"end to end, {name} ÷ {reference}"] = round(
            report["variants"][name]["wall_s"] / ref, 3
        )
        # The same question in the same round: what a user asking it would have waited.
        paired = [
            r["wall_s"] / walls[(r["round"], r["question"], reference)]
            for r in rs
            if (r["round"], r["question"], reference) in walls
        ]
        if paired:
            report["ratios"][f"end to end, {name} ÷ {reference}, paired by question"] = round(
                statistics.median(paired), 3
            )
        for stage in ("prompt evaluation", "decoding"):
            mine = report["variants"][name]["stages_s"].get(stage)
            theirs = report["variants"][reference]["stages_s"].get(stage)
            if mine and theirs:
                report["ratios"][f"{stage}, {name} ÷ {reference}"] = round(mine / theirs, 3)
        same = sum(r["answer"] == by_question.get((r["question"], reference)) for r in rs)
        report["answers"] = {
            n: [{"question": r["question"], **r["answer"]} for r in rs] for n, rs in runs.items()
        }
        report["notes"].append(
            f"{name}: {same} of {len(rs)} answers identical to {reference}'s for the same question"
        )
    return report


if __name__ == "__main__":
    raise SystemExit(main())
