"""The sentences the model reads: of the answer context's passages, the sentences closest to the
question, each with its neighbours, fitted to a token budget (prompt evaluation is most of an
answer's time on a CPU: bench/RESULTS.md, "Where the seconds of `kbdesk ask` go")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from kbdesk.core.embed.base import Embedder
from kbdesk.core.generate.answer_text import sentence_spans
from kbdesk.core.generate.faithfulness import page_furniture
from kbdesk.core.generate.support import SupportScorer
from kbdesk.core.search.fusion import zscores
from kbdesk.core.types import Hit

GAP = " … "  # where sentences of one passage were left out between two windows
WINDOW = 1  # sentences kept on each side of a chosen one: a heading, a condition, a list's lead
# What a block's search score adds to each of its sentences' support, per standard deviation
# above the blocks' mean: one sentence is little to judge a place by, and search has read the
# whole passage, its heading and the question's rare words (bench/RESULTS.md, "The search's
# ranking as a prior for the sentences read").
BLOCK_PRIOR = 0.1


@dataclass(frozen=True)
class SentenceRanking:
    """The blocks' sentences, each scored against the question (the citation checker's support
    score): computed once, fitted to any budget."""

    blocks: tuple[Hit, ...]
    spans: tuple[tuple[tuple[int, int], ...], ...]  # per block, its sentences' (start, end)
    units: tuple[tuple[int, int], ...]  # (block, sentence), best first
    scores: tuple[float, ...]  # of `units`

    def text(self, unit: tuple[int, int]) -> str:
        i, j = unit
        return self.blocks[i].text[slice(*self.spans[i][j])]


def rank_sentences(
    blocks: Sequence[Hit], question: str, embedder: Embedder | None
) -> SentenceRanking:
    """Every sentence of the blocks, best first: its support of the question (a number the
    question names and a sentence lacks caps that score, as in citation checking) plus its
    block's standing in the search (BLOCK_PRIOR)."""
    spans = tuple(tuple((a, b) for a, b, _ in sentence_spans(b.text)) for b in blocks)
    units = [(i, j) for i, s in enumerate(spans) for j in range(len(s))]
    texts = [blocks[i].text[slice(*spans[i][j])] for i, j in units]
    support = SupportScorer(texts, embedder).score([question])[0] if units else ()
    standing = zscores({i: float(b.score) for i, b in enumerate(blocks)})
    scores = [
        float(x) + BLOCK_PRIOR * standing[i] for x, (i, _) in zip(support, units, strict=True)
    ]
    order = sorted(range(len(units)), key=lambda k: -scores[k])
    return SentenceRanking(
        tuple(blocks),
        spans,
        tuple(units[k] for k in order),
        tuple(scores[k] for k in order),
    )


def evidence_windows(
    blocks: Sequence[Hit],
    question: str,
    embedder: Embedder | None,
    budget: int,
    count_tokens: Callable[[str], int],
    window: int = WINDOW,
) -> list[Hit]:
    """The blocks cut down to windows around their sentences that match `question` best, best
    first until `budget` tokens are used (see `fit_windows`)."""
    ranking = rank_sentences(blocks, question, embedder)
    return fit_windows(ranking, budget, count_tokens, window)


def fit_windows(
    ranking: SentenceRanking,
    budget: int,
    count_tokens: Callable[[str], int],
    window: int = WINDOW,
) -> list[Hit]:
    """Each of the best sentences with `window` neighbours on each side (the sentence alone
    when its window does not fit), until `budget` tokens. Each kept block keeps its full text
    for citations and highlighting; what the model reads is its `excerpt`. Blocks left without
    a sentence are dropped; the blocks keep the ranking's order.

    Page furniture (running headers, page numbers, contents lines) is never read, and a
    sentence already read elsewhere (the same text on another page) is not a centre again:
    both spent the budget on nothing the answer can use."""
    spans = ranking.spans
    cost: dict[tuple[int, int], int] = {}

    def price(unit: tuple[int, int]) -> int:
        if unit not in cost:
            cost[unit] = int(count_tokens(ranking.text(unit))) + 1
        return cost[unit]

    furniture = {
        (i, j)
        for i, block in enumerate(spans)
        for j in range(len(block))
        if page_furniture(ranking.text((i, j)))
    }
    chosen: set[tuple[int, int]] = set()
    seen: set[str] = set()
    used = 0
    for i, j in ranking.units:
        said = " ".join(ranking.text((i, j)).split())
        if (i, j) in furniture or said in seen:
            continue
        seen.add(said)
        wanted = [
            (i, n)
            for n in range(max(0, j - window), min(len(spans[i]), j + window + 1))
            if (i, n) not in chosen and (i, n) not in furniture
        ]
        extra = sum(price(u) for u in wanted)
        if used + extra > budget:  # the sentence alone, when its window does not fit
            wanted = [(i, j)] if (i, j) not in chosen else []
            extra = price((i, j)) if wanted else 0
            if used + extra > budget:
                continue
        chosen.update(wanted)
        used += extra
    out = []
    for i, block in enumerate(ranking.blocks):
        kept = sorted(n for b, n in chosen if b == i)
        if kept:
            excerpt = _excerpt(block.text, list(spans[i]), kept)
            out.append(replace(block, excerpt=excerpt, reading=tuple(spans[i][n] for n in kept)))
    return out


def _excerpt(text: str, spans: list[tuple[int, int]], kept: list[int]) -> str:
    """The kept sentences in reading order, consecutive ones with the text between them and a
    gap mark where some were left out."""
    parts: list[str] = []
    previous = None
    for n in kept:
        a, b = spans[n]
        if previous is None:
            lead = "" if n == 0 else GAP.lstrip()
            parts.append(lead + text[a:b])
        elif n == previous + 1:
            parts.append(text[spans[previous][1] : b])
        else:
            parts.append(GAP + text[a:b])
        previous = n
    if previous is not None and previous < len(spans) - 1:
        parts.append(GAP.rstrip())
    return "".join(parts)
