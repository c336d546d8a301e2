"""Answer-prompt variants on the real corpus: passages, wording, order, and a re-ask after a decline.

The same questions, retrieved once (the default hybrid search, 6 passages), answered by one warm
model at temperature 0 under each variant, every answer checked by the product's citation checker
(`check_citations`) and scored as bench_quality.py scores it: gold facts (every fact in the
answer), a citation on a gold page, answerable declined (false declines), unanswerable declined,
unverified answers, seconds per answer and prompt tokens. A variant is
`p<N>[-open][-last][-retry]`:
- p<N>: the top N passages of the same search;
- open: a prompt that asks for the answer first and keeps the decline sentence for when no source
  is about the question (the product's prompt otherwise, prompt.SYSTEM_PROMPT);
- last: the best passage placed last, next to the question (numbered by rank all the same);
- retry: after a decline, ask once more with the single passage that holds the sentence closest
  to the question (the citation checker's score);
- force: the same re-ask with a prompt that offers no way to decline, kept only when the citation
  checker finds every sentence supported by the passage (otherwise the decline stands).
A first pass shared by two variants (p3-open and p3-open-retry) is generated once.
Usage: .venv/bin/python bench/bench_answer_variants.py [--model large] [--answerable 20]
       [--unanswerable 6] [--variants p6 p3 p3-open ...] [--log FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_answers import has_fact, resolve_model, stratified  # noqa: E402
from bench.bench_quality import on_gold, open_collection, real_corpus  # noqa: E402
from kbdesk.core.embed import relevance_floor  # noqa: E402
from kbdesk.core.generate import prompt as prompt_module  # noqa: E402
from kbdesk.core.generate.citations import check_citations  # noqa: E402
from kbdesk.core.generate.support import closest_sentence  # noqa: E402

OPEN_PROMPT = """You answer questions using only the numbered sources the user provides. \
Find the sentences of the sources that answer the question and answer from them in one to three \
sentences, keeping their names, numbers and terms. Cite each sentence with the number of its \
source, like [2] (several: [1][3]). Answer in the language of the question, even when the \
sources are in another language. Only if no source is about what the question asks, reply with \
one sentence: "The documents do not contain the answer." (in Chinese: "文档中没有找到答案。")."""

# The re-ask of `force`: no way to decline; the citation checker decides whether it stands.
FORCE_PROMPT = """You answer a question from the numbered source the user provides. Answer in \
one or two sentences with the source's own names, numbers and terms, and cite it like [1]. \
Answer in the language of the question."""


@dataclass(frozen=True)
class _Gated:
    declined: bool = True
    supported: bool = False
    text: str = ""
    citations: tuple = ()


GATED = _Gated()


@dataclass(frozen=True)
class Variant:
    name: str
    passages: int
    open: bool
    last: bool
    retry: bool
    force: bool = False

    @classmethod
    def parse(cls, name: str) -> Variant:
        head, *flags = name.split("-")
        if not head.startswith("p") or not head[1:].isdigit():
            raise SystemExit(f"unknown variant {name!r}")
        unknown = set(flags) - {"open", "last", "retry", "force"}
        if unknown:
            raise SystemExit(f"unknown flags {sorted(unknown)} in {name!r}")
        return cls(
            name,
            int(head[1:]),
            "open" in flags,
            "last" in flags,
            "retry" in flags or "force" in flags,
            "force" in flags,
        )

    @property
    def first_pass(self) -> tuple:
        return (self.passages, self.open, self.last)


def generate(host, checker, question: str, hits, variant: Variant, system: str | None = None):
    system = system or (OPEN_PROMPT if variant.open else prompt_module.SYSTEM_PROMPT)
    plan = prompt_module.build_messages(
        question,
        hits,
        count_tokens=host.count_tokens,
        context_window=host.n_ctx,
        answer_budget=512,
        system=system,
    )
    messages = plan.messages
    if variant.last and len(plan.sources) > 1:
        blocks = [prompt_module.source_block(n, h) for n, h in enumerate(plan.sources, 1)]
        blocks = blocks[1:] + blocks[:1]
        user = "Sources:\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question.strip()}"
        messages = [*messages[:-1], {"role": "user", "content": user}]
    text = host.format_chat(messages)
    tokens = len(host.tokenize(text))
    raw = host.complete(text, max_tokens=512, temperature=0.0)
    return check_citations(raw, plan.sources, checker, question), tokens


def closest_passage(question: str, hits, checker):
    found = closest_sentence([h.text for h in hits], question, checker)
    return hits[found[0]] if found else None


def record_of(q, checked, seconds: float, tokens: int) -> dict:
    declined = checked.declined or not any(ch.isalnum() for ch in checked.text)
    return {
        "id": q.id,
        "language": q.language,
        "answerable": q.answerable,
        "declined": declined,
        "unverified": not declined and not checked.supported,
        "facts_ok": (
            all(has_fact(checked.text, f) for f in q.facts)
            if q.facts and not declined
            else (False if q.facts else None)
        ),
        "page_ok": not declined and any(on_gold(q, c.document, c.page) for c in checked.citations),
        "seconds": round(seconds, 2),
        "tokens": tokens,
        "answer": checked.text.strip(),
    }


def summary(rows: list[dict]) -> dict:
    out = {}
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups["all"].append(r)
        groups[r["language"]].append(r)
    for key, group in groups.items():
        ans = [r for r in group if r["answerable"]]
        una = [r for r in group if not r["answerable"]]
        fact_rows = [r for r in ans if r["facts_ok"] is not None]

        def share(items, test):
            return round(sum(1 for r in items if test(r)) / len(items), 2) if items else None

        out[key] = {
            "n": f"{len(ans)}/{len(una)}",
            "gold_facts": share(fact_rows, lambda r: r["facts_ok"]),
            "right_page": share(ans, lambda r: r["page_ok"]),
            "false_declines": share(ans, lambda r: r["declined"]),
            "unanswerable_declined": share(una, lambda r: r["declined"]),
            "unverified": share(group, lambda r: r["unverified"]),
            "s_per_answer": round(sum(r["seconds"] for r in group) / len(group), 1),
            "prompt_tokens": round(sum(r["tokens"] for r in group) / len(group)),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="large")
    parser.add_argument("--answerable", type=int, default=20)
    parser.add_argument("--unanswerable", type=int, default=6)
    parser.add_argument(
        "--variants", nargs="+", default=["p6", "p3", "p3-open", "p3-open-last", "p3-open-retry"]
    )
    parser.add_argument("--log", type=Path, help="one JSON line per answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    variants = [Variant.parse(v) for v in args.variants]

    from kbdesk.core.generate.host import LlamaHost

    corpus = real_corpus()
    kb = open_collection(corpus, fresh=False)
    questions = stratified([q for q in corpus.questions if q.answerable], args.answerable)
    questions += stratified([q for q in corpus.questions if not q.answerable], args.unanswerable)
    depth = max(v.passages for v in variants)
    hits = {q.id: kb.search(q.question, k=depth) for q in questions}
    # The product's relevance gate declines before any prompt; the same for every variant.
    floor = relevance_floor(kb.manifest.embedder)
    gated = {q.id for q in questions if kb.best_similarity(q.question) < floor}
    host = LlamaHost(resolve_model(args.model))
    host.load()
    from kbdesk.core.embed import create_embedder

    checker = create_embedder("use-multilingual")
    checker.warm_up()
    sink = args.log.open("w", encoding="utf-8") if args.log else None
    first: dict[tuple, dict[str, tuple]] = defaultdict(dict)
    results: dict[str, list[dict]] = {v.name: [] for v in variants}
    try:
        for q in questions:
            for v in variants:
                top = hits[q.id][: v.passages]
                if q.id in gated:
                    row = record_of(q, GATED, 0.0, 0)
                    results[v.name].append(row)
                    continue
                cached = first[v.first_pass].get(q.id)
                if cached is None:
                    start = time.perf_counter()
                    checked, tokens = generate(host, checker, q.question, top, v)
                    cached = (checked, tokens, time.perf_counter() - start)
                    first[v.first_pass][q.id] = cached
                checked, tokens, seconds = cached
                if v.retry and (checked.declined or not checked.text.strip()):
                    start = time.perf_counter()
                    best = closest_passage(q.question, hits[q.id][: v.passages], checker)
                    if best is not None:
                        system = FORCE_PROMPT if v.force else None
                        again, more = generate(host, checker, q.question, [best], v, system)
                        tokens += more
                        if not v.force or (again.supported and not again.declined):
                            checked = again
                    seconds += time.perf_counter() - start
                row = record_of(q, checked, seconds, tokens)
                results[v.name].append(row)
                if sink:
                    sink.write(json.dumps({"variant": v.name, **row}, ensure_ascii=False) + "\n")
                    sink.flush()
                print(
                    f"  {q.id} {v.name}: declined={row['declined']} facts={row['facts_ok']} "
                    f"page={row['page_ok']} {row['seconds']}s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if sink:
            sink.close()
        host.close()
    report = {"model": host.model_name, "variants": {n: summary(r) for n, r in results.items()}}
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    cols = (
        "n",
        "gold_facts",
        "right_page",
        "false_declines",
        "unanswerable_declined",
        "unverified",
        "s_per_answer",
        "prompt_tokens",
    )
    print(f"{report['model']}, real corpus, temperature 0")
    print("| variant | slice | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for name, table in report["variants"].items():
        for key, row in table.items():
            print(f"| {name} | {key} | " + " | ".join(str(row[c]) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
