"""The sentences of a cited passage that support the claims citing it: each citation's quote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from kbdesk.core.embed.base import Embedder
from kbdesk.core.generate.answer_text import Sentence, sentence_spans, split_sentences
from kbdesk.core.generate.faithfulness import page_furniture
from kbdesk.core.generate.support import SupportScorer
from kbdesk.core.types import Citation

Span = tuple[int, int]
# A further sentence joins a claim's quote only while the claim is not yet supported and the
# sentence adds at least this much: a second fact ("8,400 dollars ... 5 percent") lifts the
# union by 0.3 or more; a word the claim shares with a same-topic sentence by chance, by 0.05-0.1.
MIN_GAIN = 0.15
QUOTE_JOIN = " … "  # between quoted sentences that are not next to each other


def claims_by_source(answer: str) -> dict[int, list[str]]:
    """The sentences of an answer that cite each source number, without their markers."""
    claims: dict[int, list[str]] = {}
    for piece in split_sentences(answer):
        if isinstance(piece, Sentence) and piece.body:
            for n in dict.fromkeys(piece.cited):
                claims.setdefault(n, []).append(piece.body)
    return claims


def with_quotes(
    citations: Sequence[Citation],
    claims: Mapping[int, Sequence[str]],
    embedder: Embedder | None,
    threshold: float,
    given: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
) -> tuple[Citation, ...]:
    """The citations with `quote` and `quote_spans` filled from the claims citing each (by n).

    One scorer covers every sentence of every cited passage, so the embedder runs once. A
    quote is never a running header, page number or contents line (page_furniture): sharing
    the document's title, a header otherwise joined quotes about that document. The claims are
    scored as the citation check scores them: what they only restate (the document's name,
    `given`: the versions the question names; `asked`: its words) is not held against them.
    """
    units = [_quotable(sentence_spans(c.text), c.text) for c in citations]
    offsets = np.cumsum([0, *map(len, units)])
    texts = list(dict.fromkeys(t for c in citations for t in claims.get(c.n, ())))
    scorer = SupportScorer(
        [s.body for spans in units for *_, s in spans],
        embedder,
        names=[c.document for c, spans in zip(citations, units, strict=True) for _ in spans],
        given=given,
        asked=asked,
    )
    rows = scorer.score(texts) if texts and offsets[-1] else []
    out = []
    for k, citation in enumerate(citations):
        if not units[k]:
            out.append(citation)
            continue
        lo, hi = int(offsets[k]), int(offsets[k + 1])
        own = [(texts.index(t), rows[texts.index(t)][lo:hi]) for t in claims.get(citation.n, ())]
        chosen = _supporting(scorer, own, lo, threshold)
        spans = merge_spans(citation.text, [units[k][i][:2] for i in chosen])
        out.append(replace(citation, quote=quote_text(citation.text, spans), quote_spans=spans))
    return tuple(out)


def _quotable(spans: list[tuple[int, int, Sentence]], text: str) -> list[tuple[int, int, Sentence]]:
    """The sentences of a passage that may be quoted: all but its page furniture."""
    return [span for span in spans if not page_furniture(text[span[0] : span[1]])]


def _supporting(
    scorer: SupportScorer, claims: list[tuple[int, np.ndarray]], lo: int, threshold: float
) -> list[int]:
    """Indexes of the passage sentences that support the claims; the best one if none does."""
    chosen: set[int] = set()
    best, best_score = 0, -1.0
    for claim, row in claims:
        order = [int(i) for i in np.argsort(-row, kind="stable")]
        if float(row[order[0]]) > best_score:
            best, best_score = order[0], float(row[order[0]])
        picked, score = [order[0]], float(row[order[0]])
        while score < threshold and len(picked) < len(order):  # fewest sentences that support it
            together = {
                i: scorer.union_score(claim, [lo + j + 1 for j in [*picked, i]])
                for i in order
                if i not in picked
            }
            i = max(together, key=lambda i: together[i])  # ties: the better sentence alone
            if together[i] - score < MIN_GAIN:
                break
            picked, score = [*picked, i], together[i]
        if score >= threshold:
            chosen.update(picked)
    return sorted(chosen) or [best]


def merge_spans(text: str, spans: list[Span]) -> tuple[Span, ...]:
    """Spans in order, neighbours with only whitespace between them joined into one."""
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and not text[out[-1][1] : a].strip():
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def quote_text(text: str, spans: Sequence[Span]) -> str:
    """The quoted sentences, verbatim, non-adjacent ones joined by an ellipsis."""
    return QUOTE_JOIN.join(text[a:b] for a, b in spans)
