"""Retrieval and answer quality on both development corpora, in one table for bench/RESULTS.md.

Corpora: `real` (bench/realcorpus: public documents nobody here wrote, hand-written questions;
fetched by bench/realcorpus/fetch.py) and `own` (bench/corpus, written by us: it flatters us).
Retrieval: hit@1 / hit@5 (a gold document on a gold page among the top 1 / 5 passages) for
dense, keyword and hybrid (the default, and RRF), per language, question kind and look-alike
slice. Answers (Answerer on a warm model, as `kbdesk ask` answers with default settings at
temperature 0): gold facts (every fact in the answer), a citation on a gold page, unanswerable
questions declined, false declines (answerable questions declined), unverified answers, seconds.
Collections are kept in bench/out/quality/ and re-imported incrementally (--fresh rebuilds them).
Usage: .venv/bin/python bench/bench_quality.py [--corpora real own] [--retrieval-only]
       [--models small large] [--limit N] [--language en|zh] [--passages N] [--evidence-first]
       [--log DIR] [--resume] [--write-results] [--json]
A long run (all 198 real questions take ~2.5 h) can stop and go on with --log DIR --resume;
it refuses answers logged by another revision of the answering code (src/kbdesk/core).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_answers import has_fact, resolve_model, stratified  # noqa: E402
from kbdesk.core.kb import KnowledgeBase  # noqa: E402
from kbdesk.core.search.fusion import DEFAULT_FUSION  # noqa: E402
from kbdesk.core.types import AnswerOutcome  # noqa: E402

OUT = ROOT / "bench" / "out" / "quality"
RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- bench_quality:start -->", "<!-- bench_quality:end -->"
MODES = ("dense", "keyword", "hybrid", "hybrid-convex", "hybrid-rrf")
# The revision of the code that answers (the core but the shared server's client; "+" where it
# has uncommitted changes): a resumed run must not mix revisions.
_ANSWERING = ["src/kbdesk/core", ":(exclude)src/kbdesk/core/server"]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args, "--", *_ANSWERING], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()


REVISION = _git("log", "-1", "--format=%h") + ("+" if _git("status", "--porcelain") else "")
# A quotation of the closest passage is not an answer: it counts as declining, and is also
# reported on its own (how often one was given, and whether it held the gold facts).
DECLINED = (AnswerOutcome.NOT_IN_DOCUMENTS, AnswerOutcome.REFUSED, AnswerOutcome.QUOTED)


@dataclass(frozen=True)
class Question:
    id: str
    language: str
    kind: str
    question: str
    gold: tuple[tuple[str, int | None], ...]  # (file name, page or None for unpaged files)
    facts: tuple[str, ...]
    lookalike: bool

    @property
    def answerable(self) -> bool:
        return bool(self.gold)

    def slices(self) -> list[str]:
        out = ["all", self.language, self.kind]
        if self.lookalike:
            out.append("lookalike")
        return out


@dataclass(frozen=True)
class Corpus:
    name: str
    docs_dir: Path
    questions: tuple[Question, ...]


def own_corpus() -> Corpus:
    from bench.corpus import build, load_docs, load_questions

    docs_dir = OUT / "own-docs"
    if not docs_dir.is_dir():
        build(docs_dir)
    filenames = {d["id"]: d["filename"] for d in load_docs()}
    questions = tuple(
        Question(
            id=q["id"],
            language=q["language"],
            kind=q["type"],
            question=q["question"],
            gold=() if q["type"] == "unanswerable" else ((filenames[q["doc"]], q["page"]),),
            facts=tuple(q.get("facts", ())),
            lookalike=False,
        )
        for q in load_questions()
    )
    return Corpus("own", docs_dir, questions)


def real_corpus() -> Corpus:
    folder = ROOT / "bench" / "realcorpus"
    docs_dir = ROOT / "bench" / "out" / "realcorpus" / "docs"
    if not any(docs_dir.glob("*")):
        raise SystemExit(f"{docs_dir} is empty: run .venv/bin/python bench/realcorpus/fetch.py")
    data = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    rows = data["questions"] if isinstance(data, dict) else data
    listing = json.loads((folder / "documents.json").read_text(encoding="utf-8"))["documents"]
    filenames = {d["id"]: d["filename"] for d in listing}
    questions = tuple(
        Question(
            id=str(q["id"]),
            language=q["language"],
            kind=q["kind"],
            question=q["question"],
            gold=tuple(
                (filenames.get(g["document"], g["document"]), g.get("page"))
                for g in q.get("gold") or ()
            ),
            facts=tuple(q.get("facts") or ()),
            lookalike=bool(q.get("lookalike")),
        )
        for q in rows
    )
    return Corpus("real", docs_dir, questions)


CORPORA = {"real": real_corpus, "own": own_corpus}


def open_collection(corpus: Corpus, fresh: bool) -> KnowledgeBase:
    data_dir = OUT / f"{corpus.name}-kb"
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    kb = KnowledgeBase.open(data_dir, "bench", embedder="use-multilingual")
    report = kb.import_paths([corpus.docs_dir])
    if report.failed:
        raise SystemExit(f"import failed: {[(r.path, r.reason) for r in report.failed]}")
    return kb


def on_gold(q: Question, document: str, page: int | None) -> bool:
    return any(document == d and (p is None or page == p) for d, p in q.gold)


def retrieval(kb: KnowledgeBase, corpus: Corpus) -> dict:
    tallies: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    seconds: dict[str, float] = defaultdict(float)
    answerable = [q for q in corpus.questions if q.answerable]
    for q in answerable:
        for mode in MODES:
            name, _, fusion = mode.partition("-")
            start = time.perf_counter()
            hits = kb.search(q.question, k=5, mode=name, fusion=fusion or DEFAULT_FUSION)
            seconds[mode] += time.perf_counter() - start
            found = [on_gold(q, h.document, h.page) for h in hits]
            for key in q.slices():
                t = tallies[mode][key]
                t[0] += bool(found and found[0])
                t[1] += any(found)
                t[2] += 1
    return {
        "table": {
            mode: {
                key: {"hit@1": round(h1 / n, 3), "hit@5": round(h5 / n, 3), "n": n}
                for key, (h1, h5, n) in slices.items()
            }
            for mode, slices in tallies.items()
        },
        "ms_per_query": {
            m: round(1000 * s / max(1, len(answerable)), 1) for m, s in seconds.items()
        },
    }


def answers(
    kb: KnowledgeBase,
    corpus: Corpus,
    model: str,
    limit: int | None,
    log: Path | None,
    passages: int | None = None,
    evidence_first: bool = False,
    resume: bool = False,
    language: str | None = None,
):
    from kbdesk.core.generate.answerer import Answerer, AskOptions
    from kbdesk.core.generate.host import LlamaHost

    asked = [q for q in corpus.questions if language in (None, q.language)]
    questions = stratified(asked, limit)
    records = logged(log, questions) if resume and log else []
    done = {r["id"] for r in records}
    host = LlamaHost(resolve_model(model))
    answerer = Answerer(kb, host)
    host.load()
    answerer.checker.warm_up()
    options = AskOptions(temperature=0.0, evidence_first=evidence_first)
    if passages:
        options = replace(options, passages=passages)
    sink = log.open("a" if resume else "w", encoding="utf-8") if log else None
    try:
        for i, q in enumerate(questions, 1):
            if q.id in done:
                continue
            start = time.perf_counter()
            answer = answerer.ask(q.question, options=options)
            record = {
                "id": q.id,
                "language": q.language,
                "slices": q.slices(),
                "answerable": q.answerable,
                "outcome": answer.outcome.value,
                "declined": answer.outcome in DECLINED,
                "unverified": answer.outcome is AnswerOutcome.UNVERIFIED,
                "quoted": answer.outcome is AnswerOutcome.QUOTED,
                "facts_ok": all(has_fact(answer.answer, f) for f in q.facts) if q.facts else None,
                "page_ok": any(on_gold(q, c.document, c.page) for c in answer.citations),
                "seconds": round(time.perf_counter() - start, 2),
                "question": q.question,
                "answer": answer.answer,
                "citations": [[c.document, c.page] for c in answer.citations],
                # what each citation quotes: a later check can be tried on these answers offline
                "quotes": [c.quote for c in answer.citations],
                "evidence": [[e.document, e.page, e.text] for e in answer.evidence],
                "notice": answer.notice,  # why an answer is unverified or declined
                "revision": REVISION,
            }
            records.append(record)
            if sink:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()
            print(
                f"  [{i}/{len(questions)}] {q.id} {record['outcome']} facts={record['facts_ok']} "
                f"page={record['page_ok']} {record['seconds']}s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if sink:
            sink.close()
        host.close()
    return {"model": host.model_name, "questions": len(questions), "table": summarise(records)}


def logged(log: Path, questions: list[Question]) -> list[dict]:
    """The answers a resumed run already logged, refused where another revision gave them (a
    table of mixed code would measure nothing). The log is written again without a line that a
    stop cut short, so that the next answer starts a line of its own."""
    if not log.exists():
        return []
    kept = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            kept.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    other = {r.get("revision") for r in kept} - {REVISION}
    if other:
        raise SystemExit(f"{log} holds answers of revision {other}, not {REVISION}: start anew")
    log.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), "utf-8")
    wanted = {q.id for q in questions}
    records = [r for r in kept if r["id"] in wanted]
    print(f"  resuming: {len(records)} answers logged", file=sys.stderr, flush=True)
    return records


def summarise(records: list[dict]) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        for key in r["slices"]:  # all, language, kind, look-alike
            groups[key].append(r)

    def share(rows: list[dict], test) -> float | None:
        return round(sum(1 for r in rows if test(r)) / len(rows), 3) if rows else None

    table = {}
    for key, rows in groups.items():
        ans = [r for r in rows if r["answerable"]]
        una = [r for r in rows if not r["answerable"]]
        table[key] = {
            "n": f"{len(ans)}/{len(una)}",
            "gold_facts": share(
                [r for r in ans if r["facts_ok"] is not None], lambda r: r["facts_ok"]
            ),
            "right_page": share(ans, lambda r: r["page_ok"]),
            "declined_unanswerable": share(una, lambda r: r["declined"]),
            "false_declines": share(ans, lambda r: r["declined"]),
            # shown as verified, yet without the gold facts: the worst failure
            "verified_wrong": share(
                [r for r in ans if r["facts_ok"] is not None],
                lambda r: r["outcome"] == AnswerOutcome.ANSWERED.value and not r["facts_ok"],
            ),
            "unverified": share(rows, lambda r: r["unverified"]),
            "quoted": share(rows, lambda r: r["quoted"]),
            "model_facts": share(
                [r for r in ans if r["facts_ok"] is not None],
                lambda r: r["facts_ok"] and not r["quoted"],
            ),
            "s_per_answer": round(sum(r["seconds"] for r in rows) / len(rows), 1),
        }
    return table


def markdown(report: dict) -> str:
    lines = [START, ""]
    for corpus, result in report["corpora"].items():
        lines.append(
            f"**{corpus} corpus** ({result['questions']} questions, "
            f"{result['answerable']} answerable) — retrieval, hit@1 / hit@5:\n"
        )
        table = result["retrieval"]["table"]
        slices = [s for s in table["hybrid"] if s != "all"]
        keys = ["all", *sorted(slices)]
        lines.append(
            "| mode | " + " | ".join(f"{k} (n={table['hybrid'][k]['n']})" for k in keys) + " |"
        )
        lines.append("|---" * (len(keys) + 1) + "|")
        for mode in MODES:
            cells = [f"{table[mode][k]['hit@1']:.2f} / {table[mode][k]['hit@5']:.2f}" for k in keys]
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
        lines.append("")
        for run in result.get("answers", []):
            lines.append(f"Answers, {run['model']} ({run['questions']} questions):\n")
            cols = (
                "n",
                "gold_facts",
                "model_facts",
                "right_page",
                "declined_unanswerable",
                "false_declines",
                "verified_wrong",
                "quoted",
                "unverified",
                "s_per_answer",
            )
            lines.append("| | " + " | ".join(cols) + " |")
            lines.append("|---" * (len(cols) + 1) + "|")
            for key, row in run["table"].items():
                lines.append(f"| {key} | " + " | ".join(str(row[c]) for c in cols) + " |")
            lines.append("")
    lines.append(END)
    return "\n".join(lines)


def write_results(text: str) -> None:
    current = RESULTS.read_text(encoding="utf-8")
    if START in current and END in current:
        head, rest = current.split(START, 1)
        tail = rest.split(END, 1)[1]
        RESULTS.write_text(head + text + tail, encoding="utf-8")
    else:
        RESULTS.write_text(
            current.rstrip() + "\n\n## Quality on real documents\n\n" + text + "\n",
            encoding="utf-8",
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", nargs="+", choices=sorted(CORPORA), default=["real", "own"])
    parser.add_argument("--retrieval-only", action="store_true")
    parser.add_argument("--models", nargs="+", default=["small", "large"])
    parser.add_argument("--limit", type=int, help="answer every k-th question, N in all")
    parser.add_argument("--language", choices=["en", "zh"], help="answer only these questions")
    parser.add_argument("--passages", type=int, help="passages per answer (default: the app's)")
    parser.add_argument(
        "--evidence-first",
        action="store_true",
        help="the model chooses the sentences that answer first (the app's setting; off)",
    )
    parser.add_argument("--log", type=Path, help="folder for one JSON line per answer")
    parser.add_argument(
        "--resume", action="store_true", help="keep the answers --log holds, answer the rest"
    )
    parser.add_argument("--fresh", action="store_true", help="re-import the collections")
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    report: dict = {"corpora": {}}
    for name in args.corpora:
        corpus = CORPORA[name]()
        print(f"{name}: importing {corpus.docs_dir}", file=sys.stderr, flush=True)
        with open_collection(corpus, args.fresh) as kb:
            result = {
                "questions": len(corpus.questions),
                "answerable": sum(q.answerable for q in corpus.questions),
                "retrieval": retrieval(kb, corpus),
            }
            if not args.retrieval_only:
                result["answers"] = []
                for model in args.models:
                    log = None
                    if args.log:
                        args.log.mkdir(parents=True, exist_ok=True)
                        log = args.log / f"{name}-{model}.jsonl"
                    print(f"{name}: answering with {model}", file=sys.stderr, flush=True)
                    result["answers"].append(
                        answers(
                            kb,
                            corpus,
                            model,
                            args.limit,
                            log,
                            args.passages,
                            args.evidence_first,
                            args.resume,
                            args.language,
                        )
                    )
        report["corpora"][name] = result
    text = markdown(report)
    if args.write_results:
        write_results(text)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
