"""The structure of a model's answer text: citation markers, sentences, and refusal phrasings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# [2], [1][3], [1, 3], [1-3], 【2】, ［2］, [Source 2], [来源2]. At most three digits, so a year
# in brackets ("[2024]") is left alone; parenthesised numbers are never markers ("(3) years").
MARKER = re.compile(
    r"[ \t]?[\[【［]\s*(?:(?:sources?|refs?|references?|passages?|来源|资料|文档|出处)\s*)?"
    r"(\d{1,3}(?:\s*(?:[,，、;；]|-|–|—|~|to)\s*\d{1,3})*)\s*[\]】］]",
    re.IGNORECASE,
)
_RANGE_CAP = 20  # "[1-300]" is not a citation anyone meant

_BULLET = re.compile(
    r"[ \t]*(?:[-*•·+]\s+|\d{1,2}[.)]\s+|\d{1,2}、\s*|[（(]\d{1,2}[)）]\s*|#{1,6}\s+)"
)
# CJK stops end a sentence anywhere; Latin ones only before a space, a marker, a closer or the end.
_END = re.compile(r"[。！？]+|[.!?]+(?=[\s\[【［\"'”’)）*]|$)")
_CLOSERS = re.compile(r"[\"'”’)）」』*]*")
_TRAILING_MARKERS = re.compile(rf"(?:\s*{MARKER.pattern})*", re.IGNORECASE)
# Dots that do not end a sentence: always ("e.g."), or before a number ("Sec. 4", "No. 7").
_ABBREVIATIONS = frozenset("e.g i.e cf vs dr mr mrs ms prof approx".split())
_NUMBER_ABBREVIATIONS = frozenset("no nos sec secs art arts para paras cl fig p pp ch vol".split())
_TAIL = re.compile(r"[\s\"'”’)）」』*.。!！?？:：;；,，]*$")

_REFUSALS = re.compile(
    "|".join(
        [
            r"\b(?:documents?|sources?|passages?|context|provided (?:text|information|material))"
            r"\s+(?:do|does|did)\s*(?:n[o']t|not)\s+(?:contain|mention|include|provide|say|"
            r"specify|state|address|cover|discuss|answer)",
            r"\bnot (?:mentioned|found|stated|specified|provided|covered|addressed|included|"
            r"contained|given|described) (?:in|by) (?:the |any of the |these )?(?:provided |given )?"
            r"(?:documents?|sources?|passages?|context|texts?)",
            r"\b(?:there is|i found|i see|contains?) no (?:relevant )?(?:information|mention|details?)"
            r"\b.{0,60}\b(?:documents?|sources?|passages?|context)",
            r"\bi (?:cannot|can't|can not|am unable to|could not|couldn't|was unable to) "
            r"(?:find|answer|determine|locate)\b.{0,60}\b(?:documents?|sources?|passages?|"
            r"context|provided)",
            # a named document instead of "the documents" ("The FHS does not explicitly state
            # where ..."; "The Guide does not contain the answer"): only with "the answer" or a
            # question word after it, since "does not mention X" can be a real answer
            r"\b(?:do|does|did)\s*(?:n[o']t|not)\s+(?:explicitly |directly |clearly )?"
            r"(?:contain|provide|give|include)\s+(?:the|an|any) answer",
            r"\b(?:do|does|did)\s*(?:n[o']t|not)\s+(?:explicitly |directly |clearly )?"
            r"(?:state|say|specify|mention|describe|explain)\s+(?:where|what|which|how|when|who|"
            r"whom|whether|why)\b",
            r"(?:文档|资料|文件|来源|材料|上下文|段落)(?:中|里|内)?(?:并)?(?:没有|未|不|均未|并未)"
            r"(?:提及|提到|包含|涉及|说明|找到|给出|记载|相关|有关)",
            r"无法(?:从|根据|在|依据)(?:所?提供的|给定的|现有的)?(?:资料|文档|文件|来源|材料|信息)",
            r"(?:资料|文档|文件|来源|材料).{0,8}(?:没有|未)(?:相关|有关)?(?:信息|内容|说明|答案)",
        ]
    ),
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer as written: `text` keeps bullet and markers, `body` has neither."""

    text: str
    body: str
    cited: tuple[int, ...]  # every number its markers name, in order, valid or not


def _always(match: re.Match[str] | None) -> re.Match[str]:
    """The match of a pattern that also matches the empty string, so it is never None."""
    assert match is not None, "a pattern that matches the empty string always matches"
    return match


def marker_position(text: str) -> int:
    """Where a new marker goes in a sentence: before its closing punctuation."""
    return _always(_TAIL.search(text)).start()


def parse_marker(body: str) -> list[int]:
    """Numbers in one marker's body: "2", "1, 3", "1-3" (ranges expanded)."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、;；]\s*", body.strip()):
        bounds = re.split(r"\s*(?:-|–|—|~|to)\s*", part, flags=re.IGNORECASE)
        if len(bounds) == 2 and 0 <= int(bounds[1]) - int(bounds[0]) < _RANGE_CAP:
            numbers.extend(range(int(bounds[0]), int(bounds[1]) + 1))
        else:
            numbers.extend(int(b) for b in bounds)
    return numbers


def find_markers(text: str) -> list[tuple[int, int, list[int]]]:
    """(start, end, numbers) of every citation marker, the space before it included."""
    return [(m.start(), m.end(), parse_marker(m.group(1))) for m in MARKER.finditer(text)]


def strip_markers(text: str) -> str:
    """The text without citation markers."""
    return MARKER.sub("", text)


def render_markers(numbers: Sequence[int]) -> str:
    """The normal form of a citation: [1][3]."""
    return "".join(f"[{n}]" for n in numbers)


def has_refusal(text: str) -> bool:
    """Whether the text says the documents do not contain the answer (English or Chinese)."""
    return _REFUSALS.search(text) is not None


def _is_abbreviation(line: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", line[:dot])
    if word is None:
        return False
    token = word.group(1).lower().rstrip(".")
    following = line[dot + 1 :].lstrip()
    if token in _NUMBER_ABBREVIATIONS:
        return following[:1].isdigit()
    if token in _ABBREVIATIONS or len(token) == 1 or "." in token:  # "J. Smith", "U.S."
        return True
    return following[:1].islower()  # English sentences start with a capital


def _sentence(text: str) -> Sentence:
    cited = tuple(n for _, _, numbers in find_markers(text) for n in numbers)
    bullet = _BULLET.match(text)
    body = strip_markers(text[bullet.end() :] if bullet else text)
    return Sentence(text, " ".join(body.split()), cited)


def split_sentences(answer: str) -> list[str | Sentence]:
    """The answer as sentences and the whitespace between them; joined, they give it back.

    Lines (list items) are always boundaries. A marker right after the closing punctuation
    belongs to the sentence before it ("... 30 days.[2] Next", "……三十日。[2]").
    """
    pieces: list[str | Sentence] = []
    for line in re.split(r"(\n)", answer):
        if line == "\n" or not line.strip():
            pieces.append(line)
            continue
        start = len(line) - len(line.lstrip())
        if start:
            pieces.append(line[:start])
        pos = start
        bullet = _BULLET.match(line, start)  # "2. Second item" does not end at "2."
        for m in _END.finditer(line, bullet.end() if bullet else start):
            if m.start() < pos:
                continue
            if m.group()[-1] == "." and len(m.group()) == 1 and _is_abbreviation(line, m.start()):
                continue
            end = _always(_CLOSERS.match(line, m.end())).end()
            end = _always(_TRAILING_MARKERS.match(line, end)).end()
            pieces.append(_sentence(line[pos:end]))
            gap = len(line[end:]) - len(line[end:].lstrip())
            if gap:
                pieces.append(line[end : end + gap])
            pos = end + gap
        if pos < len(line):
            rest = line[pos:]
            trimmed = rest.rstrip()
            pieces.append(_sentence(trimmed))
            if len(trimmed) < len(rest):
                pieces.append(rest[len(trimmed) :])
    return pieces


def sentence_spans(text: str) -> list[tuple[int, int, Sentence]]:
    """Each sentence of a passage with its (start, end) in `text`, by split_sentences' rules.

    A stored passage has a line break only where a paragraph ends (a heading, a list item),
    so lines are boundaries here as in answers. Spans are trimmed of surrounding whitespace.
    """
    spans: list[tuple[int, int, Sentence]] = []
    pos = 0
    for piece in split_sentences(text):
        raw = piece.text if isinstance(piece, Sentence) else piece
        if isinstance(piece, Sentence) and raw.strip():
            start = pos + len(raw) - len(raw.lstrip())
            spans.append((start, pos + len(raw.rstrip()), piece))
        pos += len(raw)
    return spans
