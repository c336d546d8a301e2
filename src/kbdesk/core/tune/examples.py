"""Question/answer examples written by the local model about passages of a collection, and their filter."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

from kbdesk.core.jobs import CancelToken
from kbdesk.core.messages import language_of

# Passages shorter than this rarely hold a fact worth a question (headings, page furniture);
# a Chinese character counts twice (it says about as much as a short English word).
MIN_PASSAGE_WEIGHT = 80
_CJK = re.compile(r"[\u3400-\u9fff]")
# Words that make a question lean on the passage it was written from; a user never has it.
_LEANING = re.compile(
    r"\b(this|the|above|following|given|provided)\s+(passage|text|excerpt|section|paragraph|"
    r"document|source)\b|本段|这段|该段|上文|以上|文中|本文|这篇|该文",
    re.IGNORECASE,
)

WRITER_SYSTEM = """You write questions that a reader of a document collection would ask, and \
answer them from one passage. Reply with one JSON object and nothing else."""

WRITER_USER = """Passage from {document}{where}:
\"\"\"
{text}
\"\"\"

Write one question that this passage answers. The question must stand on its own for someone \
who has not seen the passage: name the subject (the law, the product, the procedure) instead of \
saying "this passage" or "the text". Then answer it in one or two sentences using only the \
passage, and copy, word for word, the sentence of the passage that supports the answer. \
Write the question and the answer in {language}.
Reply as JSON: {{"question": "...", "answer": "...", "quote": "..."}}"""

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese (简体中文)"}

UNANSWERABLE_USER = """Passage from {document}{where}:
\"\"\"
{text}
\"\"\"

Write one question about the same subject that a reader might ask but that this passage does \
NOT answer (a detail, number or case it does not mention). The question must stand on its own: \
name the subject instead of saying "this passage". Write it in {language}.
Reply as JSON: {{"question": "..."}}"""
# A written "unanswerable" question is kept only when no sentence of the collection's closest
# passages matches it this well (the answerer's quotation threshold: a match that close usually
# holds an answer).
UNANSWERABLE_CEILING = 0.6


class Dropped:
    """Why a written example was not kept (one reason per example, checked in this order)."""

    UNREADABLE = "reply was not the JSON asked for"
    EMPTY = "question, answer or quote missing"
    LEANING = "question does not stand alone"
    NOT_A_QUESTION = "question is not a question, or the answer repeats it"
    QUOTE = "quote not found word for word in the passage"
    DUPLICATE = "same question as an earlier one"


@dataclass(frozen=True)
class Example:
    """One question about one passage, with the answer and its verbatim evidence."""

    question: str
    answer: str
    quote: str
    chunk_id: int
    document: str
    page: int | None
    language: str
    source: str = "generated"  # or "user" for pairs the user brought

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> Example:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__ if k in row})


@dataclass
class FilterReport:
    """How many examples were written, kept and dropped (and why)."""

    written: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    last_reason: str = ""  # of the latest example dropped
    repaired: int = 0  # kept with the passage's own sentence in place of a paraphrased quote

    def to_json(self) -> dict:
        return {
            "written": self.written,
            "kept": self.kept,
            "quote_repaired": self.repaired,
            "dropped": dict(self.dropped),
        }

    def summary(self) -> str:
        why = "; ".join(f"{n} {reason}" for reason, n in self.dropped.most_common())
        fixed = (
            f", {self.repaired} with the passage's own sentence as quote" if self.repaired else ""
        )
        return f"{self.kept} of {self.written} examples kept{fixed}" + (f" ({why})" if why else "")


def squash(text: str) -> str:
    """Text compared for verbatim quotes and duplicates: NFKC, case and spacing folded."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def _no_space(text: str) -> str:
    return re.sub(r"\s+", "", squash(text))


def parse_reply(reply: str) -> dict | None:
    """The first JSON object in a model's reply, or None."""
    start = reply.find("{")
    while start != -1:
        depth = 0
        for end in range(start, len(reply)):
            if reply[end] == "{":
                depth += 1
            elif reply[end] == "}":
                depth -= 1
                if depth == 0:
                    try:
                        value = json.loads(reply[start : end + 1])
                    except json.JSONDecodeError:
                        break
                    return value if isinstance(value, dict) else None
        start = reply.find("{", start + 1)
    return None


def check_example(parsed: dict | None, passage: str, seen: set[str]) -> str | None:
    """The reason to drop a written example (a `Dropped` value), or None to keep it."""
    if parsed is None:
        return Dropped.UNREADABLE
    values = [parsed.get(k) for k in ("question", "answer", "quote")]
    if not all(isinstance(v, str) and v.strip() for v in values):
        return Dropped.EMPTY
    question, answer, quote = (str(v).strip() for v in values)
    if _LEANING.search(question):
        return Dropped.LEANING
    if not question.rstrip().endswith(("?", "？")) or squash(answer) == squash(question):
        return Dropped.NOT_A_QUESTION
    # Line breaks and hyphenation of the PDF's layout are not the model's to reproduce.
    if _no_space(quote.strip("\"'“”")) not in _no_space(passage):
        return Dropped.QUOTE
    if squash(question) in seen:
        return Dropped.DUPLICATE
    return None


def writer_messages(text: str, document: str, page: int | None) -> list[dict]:
    language = LANGUAGE_NAMES.get(language_of(text), "English")
    where = f", page {page}" if page is not None else ""
    user = WRITER_USER.format(document=document, where=where, text=text.strip(), language=language)
    return [{"role": "system", "content": WRITER_SYSTEM}, {"role": "user", "content": user}]


def unanswerable_messages(text: str, document: str, page: int | None) -> list[dict]:
    language = LANGUAGE_NAMES.get(language_of(text), "English")
    where = f", page {page}" if page is not None else ""
    user = UNANSWERABLE_USER.format(
        document=document, where=where, text=text.strip(), language=language
    )
    return [{"role": "system", "content": WRITER_SYSTEM}, {"role": "user", "content": user}]


def write_unanswerable(host, chunk, closest_match, seen: set[str]) -> dict | None:
    """An on-topic question the collection does not answer, or None.

    `closest_match(question)` is the best support score of any sentence of the collection's
    closest passages; the question is dropped when that is high (the documents may answer it).
    """
    prompt = host.format_chat(unanswerable_messages(chunk.text, chunk.document, chunk.page))
    parsed = parse_reply(host.complete(prompt, max_tokens=96, temperature=0.3))
    question = parsed.get("question") if parsed else None
    if not isinstance(question, str) or not question.strip() or _LEANING.search(question):
        return None
    question = question.strip()
    if squash(question) in seen or closest_match(question) >= UNANSWERABLE_CEILING:
        return None
    seen.add(squash(question))
    return {"question": question, "document": chunk.document, "page": chunk.page}


def write_examples(
    host,
    passages: Iterable,
    report: FilterReport,
    *,
    seen: set[str] | None = None,
    cancel: CancelToken | None = None,
    temperature: float = 0.3,
    repair: Callable[[str, str], str | None] | None = None,
) -> Iterator[Example]:
    """One written and filtered example per passage (a catalog ChunkRow), as they come.

    `report` counts what was written, kept and dropped; `seen` (normalised questions) carries
    duplicates across calls, so a resumed run does not repeat itself. `repair(answer, passage)`,
    when given, replaces a quote that is not in the passage with the passage's own sentence that
    supports the answer (or None): small models paraphrase when asked to copy.
    """
    seen = set() if seen is None else seen
    for chunk in passages:
        if cancel is not None:
            cancel.raise_if_cancelled()
        prompt = host.format_chat(writer_messages(chunk.text, chunk.document, chunk.page))
        reply = host.complete(prompt, max_tokens=256, temperature=temperature, cancel=cancel)
        report.written += 1
        parsed = parse_reply(reply)
        reason = check_example(parsed, chunk.text, seen)
        repaired = False
        if reason == Dropped.QUOTE and repair is not None and parsed is not None:
            found = repair(str(parsed["answer"]), chunk.text)
            if found:
                parsed = {**parsed, "quote": found}
                reason = check_example(parsed, chunk.text, seen)
                repaired = reason is None
        if reason is not None:
            report.dropped[reason] += 1
            report.last_reason = reason
            continue
        assert parsed is not None
        question = str(parsed["question"]).strip()
        seen.add(squash(question))
        report.kept += 1
        report.repaired += repaired
        yield Example(
            question=question,
            answer=str(parsed["answer"]).strip(),
            quote=str(parsed["quote"]).strip().strip("\"'“”"),
            chunk_id=int(chunk.id),
            document=chunk.document,
            page=chunk.page,
            language=language_of(question),
        )


def candidate_passages(chunks: Iterable) -> list:
    """Passages worth a question: long enough, in the order given."""
    return [c for c in chunks if text_weight(c.text) >= MIN_PASSAGE_WEIGHT]


def text_weight(text: str) -> int:
    text = text.strip()
    return len(text) + len(_CJK.findall(text))


def supporting_sentence(embedder, threshold: float) -> Callable[[str, str], str | None]:
    """A `repair` for write_examples: the passage's sentence that best supports the answer, when
    it scores at least `threshold` (the citation checker's support score)."""
    from kbdesk.core.generate.support import closest_sentence

    def repair(answer: str, passage: str) -> str | None:
        if not answer.strip():
            return None
        found = closest_sentence([passage], answer, embedder)
        if found is None:
            return None
        _, a, b, score = found
        return passage[a:b] if score >= threshold else None

    return repair
