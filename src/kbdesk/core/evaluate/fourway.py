"""The four-way evaluation: base model, RAG, adapter, RAG + adapter on the same held-out questions.

Every arm answers through the product's Answerer with identical settings (prompt, passages,
greedy decoding, token budget); only `use_rag` and the adapter differ. Scores per question:
token F1 against the reference answer and whether its key facts appear (answerable), declined
(unanswerable: right; answerable: a false decline), a citation on the source page (RAG arms),
seconds. Arms are compared with paired bootstrap intervals over the same questions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kbdesk.core.evaluate.metrics import (
    bootstrap_interval,
    has_key_facts,
    paired_difference,
    token_f1,
)
from kbdesk.core.generate.answer_text import has_refusal
from kbdesk.core.generate.answerer import Answerer, AskOptions
from kbdesk.core.jobs import CancelToken
from kbdesk.core.search.answer_context import PAGES_READ
from kbdesk.core.types import AnswerOutcome, Progress, Stage

ARMS = ("base", "rag", "adapter", "rag+adapter")
ARM_LABELS = {
    "base": "Model alone",
    "rag": "Documents (RAG)",
    "adapter": "Adapter alone",
    "rag+adapter": "Documents + adapter",
}
# The same, inside a sentence.
ARM_PHRASES = {
    "base": "the model alone",
    "rag": "the documents (RAG)",
    "adapter": "the adapter alone",
    "rag+adapter": "the documents with the adapter",
}
# When arms are not clearly apart, the first of them in this order is recommended: answers
# from the documents carry citations a reader can check; an adapter is one more thing to keep.
PREFERENCE = ("rag", "rag+adapter", "base", "adapter")
DECLINED = (AnswerOutcome.NOT_IN_DOCUMENTS, AnswerOutcome.REFUSED, AnswerOutcome.QUOTED)
# General questions, asked without documents to base and adapter: what fine-tuning may have
# made the model forget. (question, fact that a right answer contains)
GENERAL_QUESTIONS = (
    ("What is the capital of France?", "Paris"),
    ("How many days are there in a week?", "7|seven"),
    ("What is 12 multiplied by 12?", "144"),
    ("Which planet is closest to the Sun?", "Mercury"),
    ("中国的首都是哪座城市？", "北京"),
    ("水的化学式是什么？", "H2O|H₂O"),
)


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    reference: str  # "" when the documents do not answer it
    document: str | None = None
    page: int | None = None
    origin: str = "held-out"  # or "written-unanswerable", "user"

    @property
    def answerable(self) -> bool:
        return bool(self.reference)


def questions_from_split(split: dict) -> list[EvalQuestion]:
    """The held-out questions saved with an adapter, the unanswerable ones written for it, then
    the user's own."""
    out = [
        EvalQuestion(e["question"], e["answer"], e["document"], e["page"])
        for e in split.get("held_out", [])
    ]
    out += [
        EvalQuestion(u["question"], "", origin="written-unanswerable")
        for u in split.get("unanswerable", [])
    ]
    out += [
        EvalQuestion(p["question"], p["answer"], origin="user")
        for p in split.get("user_questions", [])
    ]
    return out


def _declined(answer) -> bool:
    if answer.outcome in DECLINED:
        return True
    return answer.outcome is AnswerOutcome.WITHOUT_DOCUMENTS and has_refusal(answer.answer)


def score(q: EvalQuestion, answer, seconds: float) -> dict:
    declined = _declined(answer)
    right_page = None
    if q.document is not None and answer.outcome is not AnswerOutcome.WITHOUT_DOCUMENTS:
        right_page = any(
            c.document == q.document and (q.page is None or c.page == q.page)
            for c in answer.citations
        )
    if q.answerable:
        f1 = 0.0 if declined else token_f1(answer.answer, q.reference)
        facts = not declined and has_key_facts(answer.answer, q.reference)
        value = f1
    else:
        f1, facts, value = None, None, float(declined)
    return {
        "question": q.question,
        "answerable": q.answerable,
        "answer": answer.answer,
        "outcome": answer.outcome.value,
        "declined": declined,
        "f1": None if f1 is None else round(f1, 4),
        "facts": facts,
        "right_page": right_page,
        "score": round(value, 4),  # F1 when answerable, 1 for a right decline otherwise
        "seconds": round(seconds, 2),
    }


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    paged = [r for r in answerable if r["right_page"] is not None]

    def mean(values):
        values = list(values)
        return round(sum(values) / len(values), 4) if values else None

    scores = [r["score"] for r in rows]
    interval = None
    if scores:
        low, high = bootstrap_interval(scores)
        interval = [round(low, 4), round(high, 4)]
    return {
        "questions": len(rows),
        "score": mean(scores),
        "score_interval": interval,
        "f1": mean(r["f1"] for r in answerable),
        "key_facts": mean(float(r["facts"]) for r in answerable),
        "right_page": mean(float(r["right_page"]) for r in paged) if paged else None,
        "unanswerable_declined": mean(float(r["declined"]) for r in unanswerable),
        "false_declines": mean(float(r["declined"]) for r in answerable),
        "seconds_per_answer": mean(r["seconds"] for r in rows),
    }


def recommend(arms: dict[str, dict], rows: dict[str, list[dict]]) -> dict:
    """The arm to use, or the simplest of those not clearly apart from the best."""
    ranked = sorted(arms, key=lambda a: -(arms[a]["score"] or 0.0))
    best = ranked[0]
    comparisons: dict[str, dict[str, Any]] = {}
    tied = [best]
    for other in ranked[1:]:
        diff, low, high = paired_difference(
            [r["score"] for r in rows[best]], [r["score"] for r in rows[other]]
        )
        comparisons[other] = {
            "difference": round(diff, 4),
            "interval": [round(low, 4), round(high, 4)],
        }
        if low <= 0.0:
            tied.append(other)
    choice = min(tied, key=PREFERENCE.index)
    if len(tied) == 1:
        against = ranked[1]
        c = comparisons[against]
        text = (
            f"Use {ARM_PHRASES[best]}: on {len(rows[best])} held-out questions it "
            f"answered best (score {arms[best]['score']:.2f} against {arms[against]['score']:.2f} "
            f"for {ARM_PHRASES[against]}; 95 % interval of the difference "
            f"{c['interval'][0]:+.2f} to {c['interval'][1]:+.2f})."
        )
    else:
        phrases = [ARM_PHRASES[a] for a in tied]
        names = ", ".join(phrases[:-1]) + " and " + phrases[-1]
        text = (
            f"No clear difference between {names} on {len(rows[best])} held-out questions "
            "(the 95 % interval of each one's difference from the best includes zero). "
            f"Use {ARM_PHRASES[choice]}"
            + (": its answers cite the documents." if choice.startswith("rag") else ".")
        )
    return {
        "arm": choice,
        "best": best,
        "clear": len(tied) == 1,
        "text": text,
        "against_best": comparisons,
    }


def forgetting(answerer: Answerer, adapter: str, options: AskOptions) -> dict:
    """General questions without documents, base against adapter: did training cost knowledge?"""
    import re

    results = {}
    for arm, name in (("base", None), ("adapter", adapter)):
        right = 0
        for question, fact in GENERAL_QUESTIONS:
            answer = answerer.ask(question, options=replace(options, use_rag=False, adapter=name))
            right += bool(re.search(fact, answer.answer, re.IGNORECASE))
        results[arm] = {"right": right, "of": len(GENERAL_QUESTIONS)}
    return results


def evaluate(
    answerer: Answerer,
    questions: Sequence[EvalQuestion],
    adapter: str,
    *,
    passages: int = PAGES_READ,
    max_answer_tokens: int = 256,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> dict:
    """All four arms on the same questions, one after the other, in one process."""
    if not questions:
        raise ValueError("no evaluation questions")
    options = AskOptions(passages=passages, max_answer_tokens=max_answer_tokens, temperature=0.0)
    rows: dict[str, list[dict]] = {}
    total, done = len(ARMS) * len(questions), 0
    for arm in ARMS:
        arm_options = replace(
            options,
            use_rag=arm.startswith("rag"),
            adapter=adapter if arm.endswith("adapter") else None,
        )
        rows[arm] = []
        for q in questions:
            if cancel is not None:
                cancel.raise_if_cancelled()
            start = time.perf_counter()
            answer = answerer.ask(q.question, options=arm_options)
            rows[arm].append(score(q, answer, time.perf_counter() - start))
            done += 1
            if progress is not None:
                progress(Progress(Stage.EVALUATING, done, total, item=ARM_LABELS[arm]))
    arms = {arm: summarise(r) for arm, r in rows.items()}
    return {
        "adapter": adapter,
        "model": answerer.host.model_name,
        "settings": {
            "passages": passages,
            "max_answer_tokens": max_answer_tokens,
            "temperature": 0.0,
        },
        "questions": len(questions),
        "answerable": sum(q.answerable for q in questions),
        "arms": arms,
        "recommendation": recommend(arms, rows),
        "forgetting": forgetting(answerer, adapter, options),
        "answers": rows,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
