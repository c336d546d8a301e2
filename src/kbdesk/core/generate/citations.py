"""Check an answer's citations against its numbered sources and correct them, sentence by sentence."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from kbdesk.core.embed.base import Embedder
from kbdesk.core.generate.answer_text import (
    MARKER,
    Sentence,
    find_markers,
    has_refusal,
    marker_position,
    parse_marker,
    render_markers,
    split_sentences,
    strip_markers,
)
from kbdesk.core.generate.citation_quotes import claims_by_source, with_quotes
from kbdesk.core.generate.faithfulness import contradicts, incomplete, pointer
from kbdesk.core.generate.prompt import NOT_IN_DOCUMENTS, passage_text
from kbdesk.core.generate.support import (
    SupportScorer,
    asked_terms,
    content_terms,
    numbers_in,
    question_numbers,
)
from kbdesk.core.types import Citation, Hit, SentenceCheck

__all__ = [
    "CitedAnswer",
    "check_citations",
    "render_markers",
    "strip_markers",
]

# Thresholds on the 0..1 support score of support.py, set on ~30 hand-written lease, guideline
# and Chinese leaflet sentences (tests/core/generate/test_citations.py) with USE-multilingual:
# a sentence restating its passage scores 0.6-1.0 (cross-lingual 0.6), a same-topic sentence
# against the wrong passage 0.05-0.4, an invented one at most 0.33; the threshold sits between.
SUPPORT_THRESHOLD = 0.45
# A non-supporting citation moves to a supporting source only when that one is clearly better;
# otherwise the two are near-equal and the model's choice stands.
CORRECTION_MARGIN = 0.15
# A single citation that does pass is still moved when another source is this much better: a
# wrong clause of the same lease can share most words (0.5-0.6 against 0.85-0.9 for the right
# one); near-ties (0.53 against 0.71) are genuinely ambiguous and stay as the model wrote them.
STRONG_MARGIN = 0.30
# Without an embedder only words count, and a passage sharing a number and a word or two with
# a sentence it does not support reaches 0.5; restatements still score 0.8-1.0.
WORDS_ONLY_THRESHOLD = 0.60
_SAME = 0.01  # score differences below this are rounding
# Sentences with fewer content terms and no number ("Yes.", "In summary:") are not judged.
MIN_TERMS = 2

# Small models sometimes space the sentinel out or wrap it in punctuation.
_SENTINEL = re.compile(NOT_IN_DOCUMENTS.replace("_", "[_ ]") + r"\.?", re.IGNORECASE)


@dataclass(frozen=True)
class CitedAnswer:
    """A checked answer: corrected text, the sources it cites, and a verdict per sentence."""

    text: str  # markers normalised to [n]
    citations: tuple[Citation, ...]  # by n; n is the source's number in the prompt
    sentences: tuple[SentenceCheck, ...]
    declined: bool  # the model said the documents do not contain the answer
    unsupported: int  # judged sentences that no source supports

    @property
    def supported(self) -> bool:
        """Whether the answer rests on the documents: at least one cited, supported sentence."""
        return not self.declined and any(s.supported and s.citations for s in self.sentences)


def _judged(sentence: Sentence) -> bool:
    terms = content_terms(sentence.body)
    return len(terms) >= MIN_TERMS or bool(terms and numbers_in(sentence.body))


def check_citations(
    answer: str, sources: Sequence[Hit], embedder: Embedder | None = None, question: str = ""
) -> CitedAnswer:
    """Judge every sentence of `answer` against `sources` (source n is sources[n-1]); fix markers.

    A source holds the words and numbers of its document's name, which the prompt showed with
    it, and the versions `question` names are the question's, not claims of the answer:
    "According to FHS 3.0, the kernel is in /boot" is supported by a passage of fhs-3.0.pdf
    that never writes "3.0" (on the real corpus such answers were left unverified).
    """
    if _SENTINEL.search(answer):
        rest = strip_markers(_SENTINEL.sub("", answer)).strip()
        return CitedAnswer(rest, (), (), True, 0)

    pieces = split_sentences(answer)
    sentences = [p for p in pieces if isinstance(p, Sentence)]
    refusals = {i for i, s in enumerate(sentences) if has_refusal(s.body)}
    judged = [i for i, s in enumerate(sentences) if i not in refusals and _judged(s)]
    threshold = SUPPORT_THRESHOLD if embedder is not None else WORDS_ONLY_THRESHOLD
    given, asked = question_numbers(question), asked_terms(question)
    scorer = SupportScorer(
        [passage_text(h) for h in sources],
        embedder,
        names=[h.document for h in sources],
        given=given,
        asked=asked,
    )
    rows = dict(zip(judged, scorer.score([sentences[i].body for i in judged]), strict=True))
    row_index = {i: k for k, i in enumerate(judged)}

    checks: list[SentenceCheck] = []
    rebuilt: list[str] = []
    index = 0
    for piece in pieces:
        if not isinstance(piece, Sentence):
            rebuilt.append(piece)
            continue
        cited = list(dict.fromkeys(n for n in piece.cited if 1 <= n <= len(sources)))
        if index in rows:
            row = rows[index]
            union = partial(scorer.union_score, row_index[index])
            keep, add, supported = _correct(cited, row, threshold, union)
            best = float(row.max()) if len(row) else 0.0
        else:  # too short to judge, or the refusal itself: valid markers stay, nothing flagged
            keep, add, supported, best = {n: n for n in cited}, [], True, 0.0
        index += 1
        text = _rewrite(piece.text, keep, add)
        rebuilt.append(text)
        kept = [k for k in (keep[n] for n in cited) if k]  # None: the marker is dropped
        final = tuple(dict.fromkeys([*kept, *add]))
        corrected = final != tuple(dict.fromkeys(piece.cited))
        checks.append(SentenceCheck(text.strip(), final, supported, round(best, 4), corrected))

    declined = bool(refusals) and not any(c.supported and c.citations for c in checks)
    numbers = sorted({n for c in checks for n in c.citations})
    citations = tuple(citation_of(n, sources[n - 1]) for n in numbers)
    text = "".join(rebuilt).strip()
    citations = with_quotes(citations, claims_by_source(text), embedder, threshold, given, asked)
    quotes = {c.n: c.quote for c in citations if c.quote}
    checks = [
        check if k and pointer(check.text) and k not in rows else _faithful(check, sources, quotes)
        for k, check in enumerate(checks)
    ]
    unsupported = sum(not c.supported for c in checks)
    return CitedAnswer(text, citations, tuple(checks), declined, unsupported)


def _faithful(
    check: SentenceCheck, sources: Sequence[Hit], quotes: dict[int, str]
) -> SentenceCheck:
    """Support is not enough for "verified": a cut-off sentence, a bare yes or no that its
    cited passages contradict, a sentence led by "Yes," or "No," that its quote contradicts,
    or a sentence whose sources hold nothing to quote but page furniture (a contents page), is
    not verified (faithfulness.py). A bare "yes" is too short to have a quote of its own: what
    it answers is the passage it cites."""
    if not check.supported or not check.citations:
        return check
    if not quotes.keys() & set(check.citations):
        return replace(check, supported=False)
    cited = " ".join(passage_text(sources[n - 1]) for n in check.citations)
    quote = " ".join(quotes.get(n, "") for n in check.citations)
    if incomplete(check.text) or contradicts(check.text, cited, quote):
        return replace(check, supported=False)
    return check


def _correct(
    cited: list[int], row: np.ndarray, threshold: float, union: Callable[[list[int]], float]
) -> tuple[dict[int, int | None], list[int], bool]:
    """Where each cited source goes (itself, another, or None), which to add, and the verdict."""
    keep: dict[int, int | None] = {n: n for n in cited}
    if len(row) == 0:
        return {n: None for n in cited}, [], False
    best = int(np.argmax(row)) + 1
    top = float(row[best - 1])
    if cited and union(cited) >= threshold:
        if len(cited) == 1:
            if top - row[cited[0] - 1] >= STRONG_MARGIN:
                keep[cited[0]] = best
            return keep, [], True
        # Each of several sources may hold part of the sentence; one that holds nothing the
        # others do not is dropped, weakest first.
        kept = list(cited)
        for n in sorted(cited, key=lambda n: row[n - 1]):
            rest = [m for m in kept if m != n]
            if row[n - 1] < threshold and union(rest) >= union(kept) - _SAME:
                kept, keep[n] = rest, None
        return keep, [], True
    if top < threshold:
        return {n: None for n in cited}, [], False
    for n in cited:
        if top - row[n - 1] >= CORRECTION_MARGIN:
            keep[n] = None if best in keep.values() else best
    return keep, ([] if any(keep.values()) else [best]), True


# Markers joined by a word stand together as one citation: "[1]和[2]", "[1] and [3]".
_JOINERS = "和|与|及|、|and|or|&"
_JOINER = re.compile(rf"\s*(?:{_JOINERS})?\s*", re.IGNORECASE)
# A sentence led by its sources: "According to [1], ...", "根据[1]和[2]的内容，...". With all
# its markers dropped the lead says nothing ("根据 和 的内容，"), so it goes with them.
_LEAD = re.compile(
    r"^(?P<space>\s*)(?:according to|as (?:stated|described|shown|explained) in|based on|per|"
    r"根据|按照|依据|参考|参照)\s*(?:the\s+)?(?P<markers>(?:"
    + MARKER.pattern
    + rf"|[ \t]*(?:{_JOINERS})[ \t]*)+)"
    r"\s*(?:的?(?:内容|文档|资料|文件|描述|说明|信息))?\s*[,，:：]\s*",
    re.IGNORECASE,
)


def _rewrite(text: str, keep: dict[int, int | None], add: Sequence[int]) -> str:
    """The sentence with each marker renumbered through `keep` (dropped: absent or None), plus `add`.

    Adjacent markers ("[9][0][4]", "[1]和[2]") are rewritten as one run, so the space before
    the run survives whichever of them is dropped, and so does no word that joined them; a run
    that keeps all its markers stays as written. A lead naming only dropped sources goes too.
    """
    lead = _LEAD.match(text)
    if lead and not any(keep.get(n) for _, _, ns in find_markers(lead["markers"]) for n in ns):
        rest = text[lead.end() :]
        text = lead["space"] + (rest[:1].upper() if rest[:1].isascii() else rest[:1]) + rest[1:]
    runs: list[tuple[int, int, list[int]]] = []
    for start, end, numbers in find_markers(text):
        if runs and _JOINER.fullmatch(text[runs[-1][1] : start]):
            runs[-1] = (runs[-1][0], end, runs[-1][2] + numbers)
        else:
            runs.append((start, end, numbers))
    out, pos = [], 0
    for start, end, numbers in runs:
        out.append(text[pos:start])
        mapped = list(dict.fromkeys(m for n in numbers if (m := keep.get(n)) is not None))
        if mapped == list(dict.fromkeys(numbers)):  # each marker in its normal form
            out.append(MARKER.sub(_normal_marker, text[start:end]))
        elif mapped:
            out.append((" " if text[start].isspace() else "") + render_markers(mapped))
        elif start == 0:  # a dropped marker opening the sentence takes its space with it
            end += len(text[end:]) - len(text[end:].lstrip(" \t"))
        pos = end
    out.append(text[pos:])
    body = "".join(out)
    if add:
        cut = marker_position(body)
        glue = " " if cut and body[cut - 1].isascii() and body[cut - 1].isalnum() else ""
        body = body[:cut] + glue + render_markers(add) + body[cut:]
    return body


def _normal_marker(marker: re.Match[str]) -> str:
    space = marker.group()[0] if marker.group()[0] in " \t" else ""
    return space + render_markers(parse_marker(marker.group(1)))


def citation_of(n: int, hit: Hit) -> Citation:
    """Source n of a prompt as a citation (its quote is filled in later)."""
    return Citation(
        n,
        hit.chunk_id,
        hit.doc_id,
        hit.document,
        hit.path,
        hit.page,
        hit.text,
        hit.boxes,
        section=hit.section,
    )
