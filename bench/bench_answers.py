"""Answer quality on the bilingual corpus: Answerer.ask end to end (retrieve, gate, generate, check).

For each question of bench/corpus (greedy, temperature 0, at most 256 answer tokens):
- facts: share of answerable questions whose answer contains every gold fact (case-insensitive,
  whitespace removed, NFKC so full-width digits/punctuation match half-width ones; a number also
  matches when written with other or no thousand separators: "8,745" = "8745", and a fact of
  whole numbers and words when the answer writes the numbers otherwise: "two weeks" = "2 weeks",
  "六人" = "6 人", since 2026-12-07);
- right page: share of answerable questions with a citation on the gold document and gold page
  (document only where the gold page is null, i.e. non-paginated files);
- declined: share of unanswerable questions answered with supported == False;
- false declines: share of answerable questions answered with supported == False;
- seconds per question (wall time of Answerer.ask on a warm model).
Broken down by language and question type. --limit N takes every k-th question of the file, which
keeps the mix of languages and types. --log writes one JSON line per question (answers and the
model's raw output included).
Usage: .venv/bin/python bench/bench_answers.py [--model small|large|PATH] [--limit N]
       [--threads N] [--log FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import build, load_docs, load_questions  # noqa: E402
from kbdesk.core.generate.answerer import Answerer, AskOptions  # noqa: E402
from kbdesk.core.generate.host import LlamaHost  # noqa: E402
from kbdesk.core.generate.models import BUILTIN_MODELS  # noqa: E402
from kbdesk.core.generate.support import numbers_in  # noqa: E402
from kbdesk.core.kb import KnowledgeBase  # noqa: E402
from kbdesk.core.paths import AppPaths  # noqa: E402

OPTIONS = AskOptions(temperature=0.0, max_answer_tokens=256)
# A thousands separator between digits: "8,745", "8’745", "8'745" (whitespace is removed first).
_SEPARATOR = re.compile(r"(?<=\d)[,'’](?=\d{3}(?!\d))")


# Digits joined by a point, slash or colon: a decimal, an address, a ratio, a time.
_WRITTEN_NUMBER = re.compile(r"\d[.:/]\d")


def normalise(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def has_fact(answer: str, fact: str) -> bool:
    a, f = normalise(answer), normalise(fact)
    if f in a or _SEPARATOR.sub("", f) in _SEPARATOR.sub("", a):
        return True
    return _numbers_written_otherwise(answer, a, fact)


def _numbers_written_otherwise(answer: str, normalised: str, fact: str) -> bool:
    """A fact of whole numbers and words that the answer (`normalised`: as normalise() writes
    it) states with the numbers written otherwise: "two weeks" for "2 weeks", "六人" for "6 人".
    Decimals, addresses and ratios are left to the text match ("5.1" is not the kernel "5.10",
    "10.0.2.2" not "10.0.2.2/8")."""
    numbers = numbers_in(fact)
    if not numbers or _WRITTEN_NUMBER.search(fact):
        return False
    if not numbers <= numbers_in(answer, loose=True):
        return False
    words = [w for w in re.findall(r"[^\W\d_]+", fact) if not numbers_in(w, loose=True)]
    return all(normalise(w) in normalised for w in words)


def resolve_model(choice: str) -> Path:
    if choice in BUILTIN_MODELS:
        name = BUILTIN_MODELS[choice].file
        for folder in (AppPaths.resolve().models_dir, Path.home() / ".cache/kbdesk/models"):
            if (folder / name).is_file():
                return folder / name
        raise SystemExit(
            f"model '{choice}' is not assembled ({name}); run build/assemble_models.py"
        )
    path = Path(choice).expanduser()
    if not path.is_file():
        raise SystemExit(f"no model file at {path}")
    return path


def stratified(questions: list[dict], limit: int | None) -> list[dict]:
    if not limit or limit >= len(questions):
        return questions
    return [questions[i * len(questions) // limit] for i in range(limit)]


def score(q: dict, answer, filenames: dict[str, str]) -> dict:
    record = {
        "id": q["id"],
        "language": q["language"],
        "type": q["type"],
        "question": q["question"],
        "answer": answer.answer,
        "supported": answer.supported,
        "citations": [[c.document, c.page] for c in answer.citations],
    }
    if q["type"] == "unanswerable":
        return record
    gold_doc, gold_page = filenames[q["doc"]], q["page"]
    record["missing_facts"] = [f for f in q["facts"] if not has_fact(answer.answer, f)]
    record["facts_ok"] = not record["missing_facts"]
    record["page_ok"] = any(
        c.document == gold_doc and (gold_page is None or c.page == gold_page)
        for c in answer.citations
    )
    record["gold"] = [gold_doc, gold_page]
    return record


def summarise(records: list[dict]) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        for key in ("all", r["language"], r["type"]):
            groups[key].append(r)

    def pct(rows: list[dict], test) -> float | None:
        return round(100 * sum(map(test, rows)) / len(rows), 1) if rows else None

    table = {}
    for key in ["all", "en", "zh", "paraphrase", "exact", "crosslingual", "unanswerable"]:
        rows = groups.get(key, [])
        if not rows:
            continue
        ans = [r for r in rows if r["type"] != "unanswerable"]
        una = [r for r in rows if r["type"] == "unanswerable"]
        table[key] = {
            "n_answerable": len(ans),
            "n_unanswerable": len(una),
            "facts": pct(ans, lambda r: r["facts_ok"]),
            "right_page": pct(ans, lambda r: r["page_ok"]),
            "declined": pct(una, lambda r: not r["supported"]),
            "false_declines": pct(ans, lambda r: not r["supported"]),
            "s_per_question": round(sum(r["seconds"] for r in rows) / len(rows), 1),
        }
    return table


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="small", help="small, large or a .gguf path")
    parser.add_argument("--limit", type=int, help="every k-th question, N in all")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: physical cores)")
    parser.add_argument("--log", type=Path, help="write one JSON line per question here")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the --log records of these questions; ask the rest",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = stratified(load_questions(), args.limit)
    filenames = {d["id"]: d["filename"] for d in load_docs()}
    model_path = resolve_model(args.model)
    records = []
    if args.resume and args.log and args.log.is_file():
        wanted = {q["id"] for q in questions}
        kept = [json.loads(line) for line in args.log.read_text(encoding="utf-8").splitlines()]
        records = [r for r in kept if r["id"] in wanted]
        done = {r["id"] for r in records}
        questions_to_ask = [q for q in questions if q["id"] not in done]
    else:
        questions_to_ask = questions
    log = args.log.open("a" if args.resume else "w", encoding="utf-8") if args.log else None
    with tempfile.TemporaryDirectory() as tmp:
        docs_dir = Path(tmp) / "corpus"
        build(docs_dir)
        with KnowledgeBase.open(Path(tmp) / "kb", "bench") as kb:
            report = kb.import_paths([docs_dir])
            assert report.ok, report.failed
            host = LlamaHost(model_path, n_threads=args.threads)
            answerer = Answerer(kb, host)
            start = time.perf_counter()
            _ = host.llama  # load the model outside the timed questions
            load_s = time.perf_counter() - start
            answerer.checker.warm_up()
            for i, q in enumerate(questions_to_ask, 1):
                start = time.perf_counter()
                raw: list[str] = []
                answer = answerer.ask(q["question"], options=OPTIONS, on_token=raw.append)
                record = score(q, answer, filenames)
                record["raw"] = "".join(raw)  # the model's own words, before the citation check
                record["seconds"] = round(time.perf_counter() - start, 2)
                records.append(record)
                if log:
                    log.write(json.dumps(record, ensure_ascii=False) + "\n")
                    log.flush()
                print(
                    f"[{i}/{len(questions_to_ask)}] {q['id']} {record['seconds']:.1f}s "
                    f"facts={record.get('facts_ok', '-')} page={record.get('page_ok', '-')} "
                    f"supported={record['supported']}",
                    file=sys.stderr,
                    flush=True,
                )
    if log:
        log.close()
    result = {
        "model": model_path.name,
        "questions": len(questions),
        "ids": [q["id"] for q in questions],
        "load_s": round(load_s, 1),
        "table": summarise(records),
    }
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(f"{result['model']}: {len(questions)} questions, model load {result['load_s']} s\n")
    cols = ("facts", "right_page", "false_declines", "declined", "s_per_question")
    print(f"{'group':<14}{'n (ans/unans)':>14}" + "".join(f"{c:>16}" for c in cols))
    for key, row in result["table"].items():
        n = f"{row['n_answerable']}/{row['n_unanswerable']}"
        cells = ["-" if row[c] is None else f"{row[c]:.1f}" for c in cols]
        print(f"{key:<14}{n:>14}" + "".join(f"{c:>16}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
