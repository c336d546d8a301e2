"""The held-out split (by passage, fixed before training) and RAFT-style training conversations."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kbdesk.core.generate.answer_text import sentence_spans
from kbdesk.core.generate.prompt import (
    DECLINE_SENTENCE,
    NO_RAG_SYSTEM_PROMPT,
    SYSTEM_PROMPT,
    source_block,
    user_message,
)
from kbdesk.core.tune.examples import Example
from kbdesk.core.types import Hit

HELD_OUT_SHARE = 0.2  # of the passages with examples; their questions are never trained on
MIN_HELD_OUT = 2
DISTRACTORS = 3  # hard negatives from our own hybrid search, per training question
WITHOUT_SOURCE_SHARE = 0.2  # examples whose passage is left out: they teach the decline
CLOSED_BOOK_SHARE = 0.3  # extra question -> answer pairs without sources (the adapter alone)

Message = dict[str, str]


@dataclass(frozen=True)
class Split:
    """Which passages train and which are held out for evaluation (saved with the adapter)."""

    train: tuple[Example, ...]
    held_out: tuple[Example, ...]
    seed: int

    def to_json(self) -> dict:
        return {
            "seed": self.seed,
            "train": [e.to_json() for e in self.train],
            "held_out": [e.to_json() for e in self.held_out],
        }

    @classmethod
    def from_json(cls, data: dict) -> Split:
        return cls(
            tuple(Example.from_json(e) for e in data["train"]),
            tuple(Example.from_json(e) for e in data["held_out"]),
            int(data["seed"]),
        )


def split_by_passage(
    examples: Sequence[Example], *, share: float = HELD_OUT_SHARE, seed: int = 0
) -> Split:
    """Hold out every question of a random share of passages: a held-out question's passage
    is never seen in training, so the evaluation cannot reward memorising its wording."""
    passages = sorted({e.chunk_id for e in examples})
    if len(passages) < MIN_HELD_OUT + 1:
        return Split(tuple(examples), (), seed)
    count = max(MIN_HELD_OUT, round(share * len(passages)))
    held = set(random.Random(seed).sample(passages, min(count, len(passages) - 1)))
    return Split(
        tuple(e for e in examples if e.chunk_id not in held),
        tuple(e for e in examples if e.chunk_id in held),
        seed,
    )


_CLOSING = re.compile(r"[.!?。！？]+$")


def cite_sentences(answer: str, n: int) -> str:
    """The answer with [n] before each sentence's closing punctuation, as the prompt asks."""
    text = answer.strip()
    out, pos = [], 0
    for start, end, _ in sentence_spans(text):
        sentence = text[start:end]
        closing = _CLOSING.search(sentence)
        cut = closing.start() if closing else len(sentence)
        out.append(text[pos:start] + sentence[:cut].rstrip() + f" [{n}]" + sentence[cut:])
        pos = end
    return "".join(out) + text[pos:] if out else f"{text} [{n}]"


def source_hit(example: Example, text: str, path: str = "") -> Hit:
    """The example's own passage, numbered like a search result."""
    return Hit(0, 0.0, example.chunk_id, 0, example.document, path, example.page, text)


def grounded_conversation(question: str, sources: Sequence[Hit], answer: str) -> list[Message]:
    """The prompt the answerer sends (same system prompt, same numbered sources), answered."""
    blocks = [source_block(n, hit) for n, hit in enumerate(sources, start=1)]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(question, blocks)},
        {"role": "assistant", "content": answer},
    ]


def closed_book_conversation(question: str, answer: str) -> list[Message]:
    return [
        {"role": "system", "content": NO_RAG_SYSTEM_PROMPT},
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]


def raft_conversations(
    examples: Sequence[Example],
    passage_of: Callable[[Example], Hit],
    distractors_of: Callable[[Example], Sequence[Hit]],
    *,
    seed: int = 0,
    without_source: float = WITHOUT_SOURCE_SHARE,
    closed_book: float = CLOSED_BOOK_SHARE,
) -> list[list[Message]]:
    """Training conversations: each question with its passage among hard negatives at a random
    position (the answer cites it), or without it (the answer declines); plus closed-book pairs.
    """
    rng = random.Random(seed)
    out: list[list[Message]] = []
    for example in examples:
        negatives = [h for h in distractors_of(example) if h.chunk_id != example.chunk_id]
        negatives = list(negatives[:DISTRACTORS])
        if negatives and rng.random() < without_source:
            lang = example.language if example.language in DECLINE_SENTENCE else "en"
            out.append(grounded_conversation(example.question, negatives, DECLINE_SENTENCE[lang]))
        else:
            sources = list(negatives)
            position = rng.randint(0, len(sources))
            sources.insert(position, passage_of(example))
            answer = cite_sentences(example.answer, position + 1)
            out.append(grounded_conversation(example.question, sources, answer))
        if rng.random() < closed_book:
            out.append(closed_book_conversation(example.question, example.answer))
    rng.shuffle(out)
    return out
