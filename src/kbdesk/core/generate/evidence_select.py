"""Evidence first, then the answer: the model picks the numbered sentences that answer the question
under a grammar, then answers from those sentences alone (after Slobodkin et al., "Attribute
First, then Generate", ACL 2024).

Both steps are one conversation, so the second prompt is the first one plus a short turn and
llama.cpp reuses the first one's evaluated tokens (host.py: prefix reuse); the answer turn shows
only the chosen sentences, as numbered sources, and the citation checker judges the answer
against them alone, so a number or a name from a sentence that was not chosen is not verified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.generate.answer_text import sentence_spans
from kbdesk.core.generate.citation_quotes import merge_spans, quote_text
from kbdesk.core.generate.evidence_windows import GAP
from kbdesk.core.generate.faithfulness import furniture
from kbdesk.core.generate.prompt import (
    ANSWER_IN,
    DECLINE_SENTENCE,
    History,
    Message,
    count_messages,
    recent_history,
    source_block,
)
from kbdesk.core.generate.support import numbers_in
from kbdesk.core.messages import language_of
from kbdesk.core.types import Citation, Evidence, Hit, source_place

# Most answers rest on one to three sentences; more chosen sentences mean a longer answer turn
# and more room for a fact from the wrong one.
MOST_CHOSEN = 4
SELECTION_TOKENS = 40  # '{"sentences": [12, 31, 7, 40]}' is about 16 tokens
# The answer turn repeats the chosen sentences: four long sentences and the instruction.
ANSWER_TURN_RESERVE = 600

EVIDENCE_SYSTEM_PROMPT = f"""You answer questions using only the user's documents. First you \
choose the numbered sentences that state the answer; then you answer from the chosen sentences \
alone, citing each sentence with the number of its source, like [1]. Never invent facts, \
numbers or names that the sentences do not state. Answer in the language of the question. Be \
concise. If the sentences do not answer the question, say so in one sentence: \
"{DECLINE_SENTENCE["en"]}" (in Chinese: "{DECLINE_SENTENCE["zh"]}")."""

_SELECT_INSTRUCTION = f"""Which of the numbered sentences above state the answer to the \
question? Reply as JSON with their numbers, the most important first, at most {MOST_CHOSEN}. \
Reply {{"sentences": []}} if none of them answers this exact question."""

_ANSWER_INSTRUCTION = """Answer the question from these sources alone, {language}, in one to \
three sentences, with the sources' own names, numbers and terms. Cite each sentence with its \
source number, like [1]."""


# Numbers written in words or Chinese numerals in a question are often counts ("the two
# conditions") that the evidence lists without naming; only numbers in digits are held to the
# evidence, and not digits inside a name ("X11", "/etc/rc2.d"; "v1.2" is a version).
_DIGIT_NUMBER = re.compile(r"(?<![A-Za-uw-z0-9_/\\.-])\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Candidates:
    """The sentences the model chooses from, numbered 1..n in prompt order."""

    hits: tuple[Hit, ...]
    units: tuple[tuple[int, int, int], ...]  # (hit, start, end in hit.text)

    def text(self, k: int) -> str:
        """Sentence k (1-based), on one line."""
        i, a, b = self.units[k - 1]
        return " ".join(self.hits[i].text[a:b].split())


def reading_spans(hit: Hit) -> tuple[tuple[int, int], ...]:
    """The sentences of a hit the model reads: its `reading` spans, else all its sentences."""
    return hit.reading or tuple((a, b) for a, b, _ in sentence_spans(hit.text))


def candidates(hits: Sequence[Hit]) -> Candidates:
    """The sentences the model may choose, numbered in order: those it reads, less headings,
    page furniture and table-of-contents lines (never evidence; they stay in the prompt,
    unnumbered, as context)."""
    units: list[tuple[int, int, int]] = []
    for i, hit in enumerate(hits):
        units.extend((i, a, b) for a, b in reading_spans(hit) if not furniture(hit.text[a:b]))
    return Candidates(tuple(hits), tuple(units))


def selection_grammar(n: int, most: int = MOST_CHOSEN) -> str:
    """GBNF for '{"sentences": [..]}' holding 0..`most` of the numbers 1..n: the reply always
    parses and names only sentences that exist."""
    numbers = " | ".join(f'"{k}"' for k in range(n, 0, -1))
    more = f'(", " num){{0,{most - 1}}}'
    return f'root ::= "{{\\"sentences\\": [" (num {more})? "]}}"\nnum ::= {numbers}\n'


def parse_selection(reply: str, n: int) -> tuple[int, ...]:
    """The chosen sentence numbers, first mention first, without repeats or unknown numbers."""
    try:
        values = json.loads(reply).get("sentences", [])
    except (ValueError, AttributeError):
        values = re.findall(r"\d+", reply)
    chosen = []
    for v in values:
        try:
            k = int(v)
        except (TypeError, ValueError):
            continue
        if 1 <= k <= n and k not in chosen:
            chosen.append(k)
    return tuple(chosen[:MOST_CHOSEN])


def _selection_user(question: str, cands: Candidates) -> str:
    number = {unit: k for k, unit in enumerate(cands.units, start=1)}
    parts = []
    for i, hit in enumerate(cands.hits):
        where = source_place(hit.document, hit.page)
        lines = []
        for a, b in reading_spans(hit):
            k = number.get((i, a, b))
            text = " ".join(hit.text[a:b].split())
            lines.append(f"({k}) {text}" if k else text)
        if lines:
            parts.append(f"{where}:\n" + "\n".join(lines))
    # The question before the sentences too: a small model reads them knowing what to look for.
    asked = f"Question: {question.strip()}"
    sentences = "\n\n".join(parts)
    return f"{asked}\n\nSentences:\n{sentences}\n\n{asked}\n\n{_SELECT_INSTRUCTION}"


@dataclass(frozen=True)
class Selection:
    """The first turn: its messages, what they number, and the grammar for the reply."""

    messages: list[Message]
    candidates: Candidates
    omitted: int  # passages left out to fit the context window

    @property
    def grammar(self) -> str:
        return selection_grammar(len(self.candidates.units))


def selection_turn(
    question: str,
    hits: Sequence[Hit],
    *,
    history: History = (),
    count_tokens: Callable[[str], int],
    context_window: int,
    answer_budget: int,
) -> Selection:
    """The first turn, fitted to what the selection, the answer turn and the answer leave free:
    older history goes first, then the last passages."""
    limit = context_window - answer_budget - SELECTION_TOKENS - ANSWER_TURN_RESERVE
    system = {"role": "system", "content": EVIDENCE_SYSTEM_PROMPT}
    past, kept = recent_history(history), list(hits)
    while True:
        cands = candidates(kept)
        messages = [system, *past, {"role": "user", "content": _selection_user(question, cands)}]
        if count_messages(messages, count_tokens) <= limit:
            return Selection(messages, cands, len(hits) - len(kept))
        if past:
            past = past[2:] if len(past) > 1 and past[1]["role"] == "assistant" else past[1:]
        elif len(kept) > 1:
            kept.pop()
        else:
            raise InvalidSetting(
                "The question is too long for the model's context window.",
                hint="Shorten the question or choose a model with a larger context.",
            )


def chosen_sources(cands: Candidates, chosen: Sequence[int]) -> tuple[Hit, ...]:
    """One source per passage that holds a chosen sentence, in the passages' order: its excerpt
    is the chosen sentences alone, in reading order, its `reading` their spans."""
    by_hit: dict[int, list[tuple[int, int]]] = {}
    for k in chosen:
        i, a, b = cands.units[k - 1]
        by_hit.setdefault(i, []).append((a, b))
    out = []
    for i in sorted(by_hit):
        hit = cands.hits[i]
        spans = sorted(by_hit[i])
        excerpt = GAP.join(" ".join(hit.text[a:b].split()) for a, b in spans)
        out.append(replace(hit, excerpt=excerpt, reading=tuple(spans)))
    return tuple(out)


def about_this_question(question: str, sources: Sequence[Hit]) -> bool:
    """Whether the chosen sentences can answer *this* question: every number the question
    writes in digits (a version, a year, a section, an amount) is in them or in their documents'
    names. A question about version 1.1 answered from version 1.2, or about 2010 answered
    with a sentence about 2020, fails."""
    asked = {n for m in _DIGIT_NUMBER.finditer(question) for n in numbers_in(m.group())}
    if not asked:
        return True
    held: set[str] = set()
    for hit in sources:
        held |= numbers_in(hit.excerpt or hit.text, loose=True) | numbers_in(hit.document)
    return asked <= held


def answer_turn(
    question: str, selection: Selection, reply: str, sources: Sequence[Hit]
) -> list[Message]:
    """The whole conversation for the answer: the first turn, the model's choice, and the chosen
    sentences as numbered sources."""
    blocks = "\n\n".join(source_block(n, hit) for n, hit in enumerate(sources, start=1))
    instruction = _ANSWER_INSTRUCTION.format(language=ANSWER_IN[language_of(question)])
    return [
        *selection.messages,
        {"role": "assistant", "content": reply.strip()},
        {"role": "user", "content": f"Chosen sentences:\n{blocks}\n\n{instruction}"},
    ]


def quote_chosen(citations: Sequence[Citation], sources: Sequence[Hit]) -> tuple[Citation, ...]:
    """Each citation quotes and highlights the sentences chosen from its passage."""
    out = []
    for citation in citations:
        hit = sources[citation.n - 1]
        spans = merge_spans(hit.text, list(hit.reading)) if hit.reading else ()
        if spans:
            citation = replace(citation, quote=quote_text(hit.text, spans), quote_spans=spans)
        out.append(citation)
    return tuple(out)


def evidence_of(sources: Sequence[Hit]) -> tuple[Evidence, ...]:
    """The chosen sentences, for the answer's JSON and the window."""
    return tuple(
        Evidence(hit.document, hit.page, hit.chunk_id, hit.text[a:b], (a, b))
        for hit in sources
        for a, b in hit.reading
    )


__all__ = [
    "Candidates",
    "Selection",
    "answer_turn",
    "candidates",
    "chosen_sources",
    "evidence_of",
    "parse_selection",
    "quote_chosen",
    "selection_grammar",
    "selection_turn",
]
