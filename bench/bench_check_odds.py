"""The model's own check (answer_check.py) on real-corpus answers: its yes-odds for right
answers, wrong ones and answers to unanswerable questions, to set `CheckOdds` for a model.

Each question is answered as `bench/bench_quality.py` answers it (warm model, temperature 0);
the odds are recorded as the answerer computes them, before either floor acts, together with
whether the draft answer holds the gold facts and what became of it. Questions: all of the
corpus (~40 minutes for the real one's 198), the first N (stratified), those a `bench_quality`
log left with the outcomes given (the floors matter where an answer would be shown
unverified; unanswerable questions are always taken), or named by id. Only the built-in 1.5B
model has floors to set.
Usage: .venv/bin/python bench/bench_check_odds.py [--corpus real|own] [--limit N]
       [--log FILE [--outcomes unverified ...]] [--ids eu01,un02] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_answers import has_fact, resolve_model, stratified  # noqa: E402
from bench.bench_quality import open_collection, own_corpus, real_corpus  # noqa: E402
from kbdesk.core.generate.answer_check import odds_floors  # noqa: E402
from kbdesk.core.generate.answerer import Answerer, AskOptions  # noqa: E402
from kbdesk.core.generate.host import LlamaHost  # noqa: E402


class RecordingAnswerer(Answerer):
    """The answerer, keeping the last draft answer the check judged and its odds."""

    judged: tuple[str, float | None] | None = None

    def _model_odds(self, question, checked, hits, cancel):
        odds = super()._model_odds(question, checked, hits, cancel)
        self.judged = (checked.text, odds)
        return odds


def chosen(args, questions: list) -> list:
    if args.ids:
        ids = set(args.ids.split(","))
        return [q for q in questions if q.id in ids]
    if args.log:
        rows = [json.loads(line) for line in args.log.read_text(encoding="utf-8").splitlines()]
        ids = {r["id"] for r in rows if r["outcome"] in args.outcomes or not r["answerable"]}
        return [q for q in questions if q.id in ids]
    return stratified(questions, args.limit)


def kind(answerable: bool, facts_ok: bool | None) -> str:
    if not answerable:
        return "unanswerable"
    return "right" if facts_ok else "wrong"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["real", "own"], default="real")
    parser.add_argument("--limit", type=int, help="the first N questions, stratified")
    parser.add_argument("--log", type=Path, help="a bench_quality log to take questions from")
    parser.add_argument("--outcomes", nargs="+", default=["unverified"])
    parser.add_argument("--ids", help="question ids, comma-separated")
    parser.add_argument("--out", type=Path, help="write one JSON line per answer here")
    args = parser.parse_args()
    corpus = real_corpus() if args.corpus == "real" else own_corpus()
    kb = open_collection(corpus, fresh=False)
    host = LlamaHost(resolve_model("large"))
    answerer = RecordingAnswerer(kb, host)
    host.load()
    answerer.checker.warm_up()
    floors = odds_floors(host.model_name)
    sink = args.out.open("w", encoding="utf-8") if args.out else None
    groups: dict[str, list[float]] = {}
    for q in chosen(args, list(corpus.questions)):
        answerer.judged = None
        answer = answerer.ask(q.question, options=AskOptions(temperature=0.0))
        if answerer.judged is None or answerer.judged[1] is None:
            continue  # declined before the check, or nothing to check against
        draft, odds = answerer.judged
        facts_ok = all(has_fact(draft, f) for f in q.facts) if q.facts else None
        row = {
            "id": q.id,
            "kind": kind(q.answerable, facts_ok),
            "odds": round(odds, 4),
            "outcome": answer.outcome.value,
            "draft": draft,
        }
        groups.setdefault(row["kind"], []).append(odds)
        print(f"  {q.id} {row['kind']} odds={odds:.3f} {row['outcome']}", flush=True)
        if sink:
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
    if sink:
        sink.close()
    print(f"\nfloors: {floors}")
    for name, values in sorted(groups.items()):
        values.sort()
        below = (
            {
                label: sum(v < floor for v in values)
                for label, floor in (("doubt", floors.doubt), ("decline", floors.decline))
            }
            if floors
            else {}
        )
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name} ({len(values)}): {shown}; below the floors: {below}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
