"""Evidence recall: is the text that answers a question in what the model reads?

For every answerable question of both corpora, the passages the answer prompt is given are
checked for the gold evidence (real corpus: the hand-copied evidence sentence of a gold page;
own corpus, which has none: every gold fact), compared without case, whitespace or line-end
hyphens. Ways of choosing what the model reads, from the same collection in the same run:
- `per-page`: the search list people see, each page once (what the prompt got until 2026-12-06);
- `context`: the best pages with their other scoring passages and the passages beside the best
  one, adjacent passages merged (KnowledgeBase.answer_context), all of it;
- `context@T`: the same, trimmed in rank order to T prompt tokens of passages (the answer
  prompt's budget), counted with the answer model's own tokenizer;
- `windows@T` (and `windows-pP@T` from P pages): the sentences of that context closest to the
  question, each with its neighbours, T tokens of them (evidence_windows.py).
Also: median passage tokens per question (prompt length: prompt evaluation is most of an
answer's time) and the share of questions with a gold page in what is read. No generation.
Usage: .venv/bin/python bench/bench_evidence.py [--corpora real own] [--pages 10]
       [--budgets 800 1200 1600] [--wide 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_answers import resolve_model  # noqa: E402
from bench.bench_quality import CORPORA, on_gold, open_collection  # noqa: E402
from kbdesk.core.embed import create_embedder  # noqa: E402
from kbdesk.core.generate.evidence_windows import fit_windows, rank_sentences  # noqa: E402
from kbdesk.core.generate.prompt import passage_budget_fit, passage_text  # noqa: E402
from kbdesk.core.search.answer_context import PAGES_READ  # noqa: E402


def squash(text: str) -> str:
    text = re.sub(r"-\s*\n\s*", "", text)  # a word hyphenated at a line end
    return re.sub(r"\s+", "", text).lower()


def evidence_of(corpus_name: str, raw: dict) -> list[list[str]]:
    """Alternatives, each a list of strings that must all be read (any one alternative does)."""
    if corpus_name == "real":
        return [[g["evidence"]] for g in raw.get("gold") or () if g.get("evidence")]
    return [list(raw.get("facts") or ())]


def raw_questions(corpus_name: str) -> dict[str, dict]:
    if corpus_name == "real":
        data = json.loads((ROOT / "bench/realcorpus/questions.json").read_text(encoding="utf-8"))
        return {str(q["id"]): q for q in data["questions"]}
    lines = (ROOT / "bench/corpus/questions.jsonl").read_text(encoding="utf-8").splitlines()
    return {q["id"]: q for q in map(json.loads, filter(None, lines))}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", nargs="+", default=["real", "own"], choices=sorted(CORPORA))
    parser.add_argument("--pages", type=int, default=PAGES_READ)
    parser.add_argument("--budgets", nargs="+", type=int, default=[800, 1200, 1600])
    parser.add_argument("--wide", type=int, default=15, help="pages for the windows-pP ways")
    parser.add_argument("--model", default="large")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from kbdesk.core.generate.host import LlamaHost

    host = LlamaHost(resolve_model(args.model))
    checker = create_embedder("use-multilingual")  # the citation checker's encoder
    report: dict = {}
    for name in args.corpora:
        corpus = CORPORA[name]()
        raw = raw_questions(name)
        kb = open_collection(corpus, fresh=False)
        tallies: dict[str, dict[str, list[int]]] = defaultdict(
            lambda: defaultdict(lambda: [0, 0, 0])
        )
        tokens: dict[str, list[int]] = defaultdict(list)
        for q in corpus.questions:
            if not q.answerable:
                continue
            wanted = [[squash(s) for s in alt] for alt in evidence_of(name, raw[q.id])]
            if not wanted or not any(wanted):
                continue
            ways = {"per-page": kb.search(q.question, k=args.pages)}
            context = kb.answer_context(q.question, pages=args.pages)
            ways["context"] = context
            near = rank_sentences(context, q.question, checker)
            wide = rank_sentences(
                kb.answer_context(q.question, pages=args.wide), q.question, checker
            )
            for budget in args.budgets:
                ways[f"context@{budget}"] = passage_budget_fit(context, budget, host.count_tokens)
                ways[f"windows@{budget}"] = fit_windows(near, budget, host.count_tokens)
                ways[f"windows-p{args.wide}@{budget}"] = fit_windows(
                    wide, budget, host.count_tokens
                )
            for way, hits in ways.items():
                read = squash("\n".join(passage_text(h) for h in hits))
                found = any(all(s in read for s in alt) for alt in wanted)
                page = any(on_gold(q, h.document, h.page) for h in hits)
                tokens[way].append(sum(host.count_tokens(passage_text(h)) for h in hits))
                for key in q.slices():
                    t = tallies[way][key]
                    t[0] += found
                    t[1] += page
                    t[2] += 1
        kb.close()
        report[name] = {
            way: {
                "slices": {
                    key: {"evidence_recall": round(e / n, 3), "gold_page": round(p / n, 3), "n": n}
                    for key, (e, p, n) in slices.items()
                },
                "median_passage_tokens": statistics.median(tokens[way]),
            }
            for way, slices in tallies.items()
        }
    host.close()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    for name, ways in report.items():
        print(f"\n{name} corpus (evidence recall / gold page read / median passage tokens)")
        keys = list(next(iter(ways.values()))["slices"])
        print("| way | " + " | ".join(keys) + " | tokens |")
        print("|---" * (len(keys) + 2) + "|")
        for way, data in ways.items():
            cells = [
                f"{data['slices'][k]['evidence_recall']:.2f} / {data['slices'][k]['gold_page']:.2f}"
                for k in keys
            ]
            print(f"| {way} | " + " | ".join(cells) + f" | {data['median_passage_tokens']:.0f} |")
        print("n: " + ", ".join(f"{k} {ways['context']['slices'][k]['n']}" for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
