"""How hybrid search should merge its dense and keyword lists, measured on both corpora.

Each question's dense and keyword result lists (top 200, with their raw scores) are computed
once from the real collections of bench/bench_quality.py; every fusion method is then scored on
the same lists (hit@1 / hit@5 on a gold document + page), per slice. A method is worth keeping
only if it never loses to its best part on any slice. This is the measurement behind
kbdesk.core.search.fusion's default (bench/RESULTS.md, "Fusion").
Usage: .venv/bin/python bench/bench_fusion.py [--corpora real own] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_quality import CORPORA, on_gold, open_collection  # noqa: E402
from kbdesk.core.generate.answer_text import sentence_spans  # noqa: E402
from kbdesk.core.search import fusion  # noqa: E402
from kbdesk.core.search.text import query_terms  # noqa: E402

POOL = 200
SENTENCE_DEPTH = 20  # passages of the calibrated list the "sentence" methods re-order
ONE_PER_PAGE = False
Ranked = list[tuple[int, float]]


def lists(kb, corpus) -> list[dict]:
    """Per answerable question: its dense and keyword lists and where each chunk is."""
    kb.warm_up()
    searcher = kb.searcher()
    out = []
    for q in corpus.questions:
        if not q.answerable:
            continue
        dense = searcher.dense(q.question, POOL)
        keyword = searcher.keyword(q.question, POOL)
        union = sorted({c for c, _ in dense} | {c for c, _ in keyword})
        rows = kb.catalog.chunks(union)
        where = {c: (r.document, r.page) for c, r in rows.items()}
        texts = {c: r.text.lower() for c, r in rows.items()}
        ids, vectors = kb.catalog.vectors_for_ids(union)
        question = searcher.embed_query(q.question)
        sims = vectors @ question
        cosine = {int(c): float(s) for c, s in zip(ids, sims, strict=True)}
        head = fusion.calibrated_fusion(cosine, keyword)[:SENTENCE_DEPTH]
        closest = {
            c: float(np.max(searcher.embedder.embed(sentences_of(rows[c].text)) @ question))
            for c, _ in head
        }
        out.append(
            {
                "q": q,
                "dense": dense,
                "keyword": keyword,
                "where": where,
                "cosine": cosine,
                "texts": texts,
                "terms": query_terms(q.question),
                "closest": closest,
            }
        )
    return out


def methods() -> dict[str, Callable[[dict], Ranked]]:
    found: dict[str, Callable[[dict], Ranked]] = {
        "dense": lambda x: x["dense"],
        "keyword": lambda x: x["keyword"],
        "rrf": lambda x: fusion.reciprocal_rank_fusion([x["dense"], x["keyword"]]),
    }
    for alpha in (0.4, 0.5, 0.6, 0.7):
        found[f"convex-{alpha}"] = lambda x, a=alpha: fusion.convex_fusion(
            x["dense"], x["keyword"], a
        )
    for alpha in (0.5, 0.6, 0.7):
        found[f"full-{alpha}"] = lambda x, a=alpha: full_convex(x, a)
        found[f"z-{alpha}"] = lambda x, a=alpha: zscore(x, a)
    for alpha in (0.5, 0.6):
        for r0 in (None, 0.5, 0.6):
            found[f"zconf-{alpha}-{r0}"] = lambda x, a=alpha, r=r0: zscore(x, a, r, confident=True)
    for alpha in (0.5, 0.6, 0.7):
        for r0 in (0.5, 0.6, 0.7):
            found[f"zagree-{alpha}-{r0}"] = lambda x, a=alpha, r=r0: zscore(x, a, r)
    for alpha in (0.5, 0.6):
        for r0 in (0.6, 0.7, 0.8):
            found[f"agree-{alpha}-{r0}"] = lambda x, a=alpha, r=r0: agreement(x, a, r)
    for cover in (0.6, 0.75, 0.9):
        for low in (0.3, 0.4):
            found[f"cover-{cover}-{low}"] = lambda x, c=cover, a=low: covered(x, c, a)
    for weight in (0.3, 0.4, 0.5):
        found[f"sentence-{weight}"] = lambda x, w=weight: sentence_first(x, w)
    for name in fusion.FUSIONS:
        found[f"kbdesk:{name}"] = lambda x, n=name: fusion.fuse(
            n, x["dense"], x["keyword"], x["cosine"]
        )
    return found


def _minmax(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    return {c: (s - lo) / (hi - lo) if hi > lo else 1.0 for c, s in scores.items()}


def full_convex(x: dict, alpha: float) -> Ranked:
    """Convex fusion where every candidate has its true dense score (not 0 when absent)."""
    dense = _minmax(x["cosine"])
    keyword = _minmax(dict(x["keyword"]))
    fused = {c: alpha * dense[c] + (1 - alpha) * keyword.get(c, 0.0) for c in dense}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def zscore(x: dict, alpha: float, r0: float | None = None, confident: bool = False) -> Ranked:
    """Each side's scores as standard deviations above its own mean (a confident side stands out)."""
    import statistics

    def z(scores: dict[int, float]) -> dict[int, float]:
        values = list(scores.values())
        if len(values) < 2:
            return {c: 0.0 for c in scores}
        mean, sd = statistics.fmean(values), statistics.pstdev(values) or 1.0
        return {c: (s - mean) / sd for c, s in scores.items()}

    dense = z(x["cosine"])
    keyword = z(dict(x["keyword"]))
    floor = min(keyword.values(), default=0.0)
    kw = 1 - alpha
    if r0 is not None:
        cosine = x["cosine"]
        best = max(cosine.values(), default=0.0)
        top = [cosine.get(c, 0.0) for c, _ in x["keyword"][:3]]
        ratio = max(top) / best if top and best > 0 else 0.0
        kw *= min(1.0, max(0.0, (ratio - r0) / (1.0 - r0)))
    dw = alpha
    if confident:  # each side weighted by how far its best passage stands out from its second

        def gap(scores: dict[int, float]) -> float:
            top = sorted(scores.values(), reverse=True)[:2]
            return top[0] - top[1] if len(top) == 2 else 0.0

        dw *= 1.0 + gap(dense)
        kw *= 1.0 + gap(keyword)
    fused = {c: dw * dense[c] + kw * keyword.get(c, floor) for c in dense}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def agreement(x: dict, alpha: float, r0: float) -> Ranked:
    """Convex fusion whose keyword weight shrinks when the dense side finds the keyword side's
    best passages unrelated (a question in one language, keyword matches in the other)."""
    cosine = x["cosine"]
    best = max(cosine.values(), default=0.0)
    top = [cosine.get(c, 0.0) for c, _ in x["keyword"][:3]]
    ratio = max(top) / best if top and best > 0 else 0.0
    trust = min(1.0, max(0.0, (ratio - r0) / (1.0 - r0)))
    dense = _minmax(cosine)
    keyword = _minmax(dict(x["keyword"]))
    kw = (1 - alpha) * trust
    fused = {c: alpha * dense[c] + kw * keyword.get(c, 0.0) for c in dense}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def covered(x: dict, cover: float, low: float) -> Ranked:
    """Calibrated fusion, but the dense share drops to `low` when the keyword side's best
    passage holds at least `cover` of the question's terms (an exact-wording lookup)."""
    terms = x["terms"]
    top = x["keyword"][0][0] if x["keyword"] else None
    text = x["texts"].get(top, "") if top is not None else ""
    share = sum(1 for t in terms if t in text) / len(terms) if terms and text else 0.0
    alpha = low if share >= cover else fusion.DENSE_WEIGHT
    return fusion.calibrated_fusion(x["cosine"], x["keyword"], alpha)


def sentences_of(text: str) -> list[str]:
    """The passage's sentences (sentence_spans never yields a blank one); the whole text when
    it has none."""
    return [text[a:b] for a, b, _ in sentence_spans(text)] or [text]


def sentence_first(x: dict, weight: float) -> Ranked:
    """Calibrated fusion whose first passages are re-ordered by (1 - weight) z(fused score) +
    weight z(the similarity of the passage's sentence closest to the question): a second stage
    measured and not kept (bench/RESULTS.md, "The best sentence as a second stage")."""
    ranked = fusion.calibrated_fusion(x["cosine"], x["keyword"])
    head = ranked[:SENTENCE_DEPTH]
    fused = fusion.zscores(dict(head))
    sentence = fusion.zscores({c: x["closest"][c] for c, _ in head})
    order = sorted(head, key=lambda kv: -((1 - weight) * fused[kv[0]] + weight * sentence[kv[0]]))
    return order + ranked[SENTENCE_DEPTH:]


def evaluate(items: list[dict]) -> dict:
    tallies: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for name, method in methods().items():
        for x in items:
            ranked = method(x)
            if ONE_PER_PAGE:
                seen, unique = set(), []
                for c, s in ranked:
                    place = x["where"].get(c)
                    if place not in seen:
                        seen.add(place)
                        unique.append((c, s))
                ranked = unique
            ranked = ranked[:5]
            found = [on_gold(x["q"], *x["where"].get(c, ("", None))) for c, _ in ranked]
            for key in x["q"].slices():
                t = tallies[name][key]
                t[0] += bool(found and found[0])
                t[1] += any(found)
                t[2] += 1
    return {
        name: {k: (round(a / n, 3), round(b / n, 3), n) for k, (a, b, n) in slices.items()}
        for name, slices in tallies.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", nargs="+", choices=sorted(CORPORA), default=["real", "own"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {}
    for name in args.corpora:
        corpus = CORPORA[name]()
        with open_collection(corpus, fresh=False) as kb:
            report[name] = evaluate(lists(kb, corpus))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, table in report.items():
        slices = sorted({k for row in table.values() for k in row}, key=lambda k: (k != "all", k))
        print(f"\n{name}: hit@1 / hit@5")
        print(f"{'method':<18}" + "".join(f"{s[:12]:>14}" for s in slices))
        for method, row in table.items():
            cells = "".join(
                f"{row[s][0]:>6.2f}/{row[s][1]:<6.2f} " if s in row else f"{'':>14}" for s in slices
            )
            print(f"{method:<18}{cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
