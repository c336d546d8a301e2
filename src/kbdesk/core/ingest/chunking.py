"""Chunking: sections (one per PDF page) -> sentence units -> overlapping chunks with exact offsets."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.ingest.textutil import IDEOGRAPH_RE, is_cjk_char, join_separator, text_weight
from kbdesk.core.types import BBox, ChunkDraft, ParsedDocument, Segment

MIN_SIZE, MAX_SIZE = 100, 8000
# What a re-read would change: 2 added section paths and kept "2. Rent" whole as a heading. A
# document read by an older version is read again by the next import of it (importer.py).
CHUNKING_VERSION = 2
_TAIL_FRACTION = 0.15  # a last chunk this small is folded into its predecessor...
_MERGE_LIMIT = 1.25  # ...when the result stays within this multiple of the size

# A sentence ends at . ! ? followed by whitespace (closing quotes/brackets may sit between), or at
# Chinese end punctuation, which needs no following space. The unit keeps its trailing whitespace
# so units tile the section text exactly.
_SENTENCE_END_RE = re.compile(r"[.!?]+[\"')\]’”»]*\s+|[。！？；…]+[”」』）》\"'’]*\s*")
# A heading is a short paragraph of its own: numbered ("3.2 Notices", "Section 4", "Article 5",
# "§ 7", "第三条", "一、") or without a sentence's closing punctuation. A chunk never ends with
# one: its body would be in the next chunk, and the heading read alone answers nothing.
HEADING_MAX_CHARS = 80
_NUMBERED_RE = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s|(?:section|article|chapter|part|clause|schedule|annex)\s+\w+"
    r"|§+\s*\d|第[一二三四五六七八九十百千零〇两\d]+[条章节款部分篇]|[一二三四五六七八九十]+[、.])",
    re.IGNORECASE,
)
_NUMBER_ONLY_RE = re.compile(r"\s*\d{1,3}(?:\.\d{1,3})*\.$")
_CLOSED_RE = re.compile(r"[.!?。！？；;:：…][\"')\]’”»」』）]*\s*$")
# A numbered heading's depth, for section paths: "4." and "Section 4" open level 1, "4.2" level
# 2; "第一章" level 1, "第三节" and "第五条" level 2; "一、" level 1. Unnumbered headings (a short
# line without a full stop) name no path: in a PDF they are as often a caption or a table row;
# nor does a numbered list item that is a whole sentence ("1. Appoint Delegates or delegate ...").
HEADING_MAX_WORDS = 6
_DECIMAL_RE = re.compile(r"^\s*(\d{1,3}(?:\.\d{1,3})*)\.?\s")  # not a year
_ZH_SECTION_RE = re.compile(r"^\s*第[一二三四五六七八九十百千零〇两\d]+([条章节款部分篇])")
SECTION_JOIN = " › "
SECTION_MAX_CHARS = 200  # a path longer than this keeps its innermost headings


@dataclass(frozen=True)
class ChunkSettings:
    """Chunk size and overlap in weighted characters (a CJK ideograph weighs 2)."""

    size: int = 1000
    overlap: int = 150

    def __post_init__(self) -> None:
        for label, value in (("chunk size", self.size), ("overlap", self.overlap)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidSetting(f"{label} must be a whole number, not {value!r}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise InvalidSetting(
                f"chunk size ({self.size}) must be between {MIN_SIZE} and {MAX_SIZE}"
            )
        if self.overlap < 0:
            raise InvalidSetting(f"overlap ({self.overlap}) must not be negative")
        if self.overlap * 2 >= self.size:
            raise InvalidSetting(
                f"overlap ({self.overlap}) must be less than half the chunk size ({self.size})"
            )


@dataclass
class _Section:
    key: int | None
    text: str
    seg_starts: list[int]
    seg_ends: list[int]
    boxes: list[BBox | None]
    para_starts: set[int]  # offsets right after a paragraph separator


def _group(doc: ParsedDocument) -> dict[int | None, list[Segment]]:
    paginated = doc.pages > 0 or any(s.page is not None for s in doc.segments)
    groups: dict[int | None, list[Segment]] = {}
    for seg in doc.segments:
        groups.setdefault(seg.page if paginated else None, []).append(seg)
    return groups


def _build(key: int | None, segments: list[Segment]) -> _Section:
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    para_starts: set[int] = set()
    pos = 0
    prev: Segment | None = None
    for seg in segments:
        if prev is not None:
            sep = "\n" if prev.para_end else join_separator(prev.text, seg.text)
            parts.append(sep)
            pos += len(sep)
            if prev.para_end:
                para_starts.add(pos)
        starts.append(pos)
        parts.append(seg.text)
        pos += len(seg.text)
        ends.append(pos)
        prev = seg
    return _Section(key, "".join(parts), starts, ends, [s.bbox for s in segments], para_starts)


def section_texts(doc: ParsedDocument) -> dict[int | None, str]:
    """Section text per page (None for non-paginated documents); chunk offsets index into it."""
    return {key: _build(key, segs).text for key, segs in _group(doc).items()}


def _char_weights(s: str) -> list[int]:
    match = IDEOGRAPH_RE.match
    return [2 if match(c) else 1 for c in s]


def _split_long(text: str, a: int, b: int, size: int) -> list[tuple[int, int]]:
    """Cut an over-long unit into pieces of at most `size`, at whitespace where reasonable."""
    cw = [0, *accumulate(_char_weights(text[a:b]))]
    n = b - a
    pieces: list[tuple[int, int]] = []
    s = 0
    while cw[n] - cw[s] > size:
        limit = bisect_right(cw, cw[s] + size) - 1
        cut = limit
        if not (is_cjk_char(text[a + limit - 1]) or is_cjk_char(text[a + limit])):
            # Back up to the last whitespace, unless that would leave the piece under half full.
            i = limit - 1
            while i > s and cw[i + 1] - cw[s] >= size / 2:
                if text[a + i].isspace():
                    cut = i + 1
                    break
                i -= 1
        pieces.append((a + s, a + cut))
        s = cut
    pieces.append((a + s, b))
    return pieces


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _units(sec: _Section, size: int) -> tuple[list[tuple[int, int]], list[bool]]:
    text = sec.text
    # "2. Rent", "3.2. Notices": the number's full stop ends no sentence; cut there, the
    # heading would lose its number and never be seen whole.
    ends: set[int] = set()
    numbers: set[int] = set()
    for m in _SENTENCE_END_RE.finditer(text):
        number = _NUMBER_ONLY_RE.match(text, _line_start(text, m.start()), m.start() + 1)
        (numbers if number else ends).add(m.end())
    cuts = (ends | sec.para_starts | {len(text)}) - numbers
    cuts.discard(0)
    spans: list[tuple[int, int]] = []
    para_end: list[bool] = []
    prev = 0
    for cut in sorted(cuts):
        ends_para = cut in sec.para_starts or cut == len(text)
        if text_weight(text, prev, cut) > size:
            pieces = _split_long(text, prev, cut, size)
            spans.extend(pieces)
            para_end.extend([False] * (len(pieces) - 1) + [ends_para])
        else:
            spans.append((prev, cut))
            para_end.append(ends_para)
        prev = cut
    return spans, para_end


def _headings(text: str, spans: list[tuple[int, int]], para_end: list[bool]) -> list[bool]:
    """Which units are headings: a whole short paragraph, numbered or not closed like a sentence."""
    out = []
    for i, (a, b) in enumerate(spans):
        whole = para_end[i] and (i == 0 or para_end[i - 1])
        line = text[a:b].strip()
        out.append(
            whole
            and 0 < len(line) <= HEADING_MAX_CHARS
            and bool(_NUMBERED_RE.match(line) or not _CLOSED_RE.search(line))
        )
    return out


def _section_headings(sec: _Section) -> list[tuple[int, int]]:
    """(start, end) of the section's paragraphs that are numbered headings, in order."""
    text = sec.text
    starts = sorted({0, *sec.para_starts})
    out = []
    for a, b in zip(starts, [*starts[1:], len(text) + 1], strict=True):
        line = text[a : b - 1].strip() if b <= len(text) else text[a:].strip()
        if 0 < len(line) <= HEADING_MAX_CHARS and _names_section(line):
            lead = len(text[a:]) - len(text[a:].lstrip())
            out.append((a + lead, a + lead + len(line)))
    return out


def _names_section(line: str) -> bool:
    closed = _CLOSED_RE.search(line) and len(line.split()) > HEADING_MAX_WORDS
    return heading_level(line) is not None and not closed


def heading_level(line: str) -> int | None:
    """The depth of a numbered heading (1 outermost); None for anything else."""
    if m := _DECIMAL_RE.match(line):
        return m.group(1).count(".") + 1
    if m := _ZH_SECTION_RE.match(line):
        return 1 if m.group(1) in "章部分篇" else 2
    if _NUMBERED_RE.match(line) and not line.lstrip()[:1].isdigit():
        return 1
    return None


class SectionPath:
    """The numbered headings read so far, one per level: what a chunk sits under."""

    def __init__(self):
        self._open: list[tuple[int, str]] = []

    def read(self, line: str) -> None:
        level = heading_level(line)
        if level is None:
            return
        self._open = [(lv, text) for lv, text in self._open if lv < level]
        self._open.append((level, " ".join(line.split()).rstrip(".:：")))

    def __str__(self) -> str:
        parts = [text for _, text in self._open]
        while len(parts) > 1 and len(SECTION_JOIN.join(parts)) > SECTION_MAX_CHARS:
            parts.pop(0)
        return SECTION_JOIN.join(parts)[:SECTION_MAX_CHARS]


def _pack(
    weights: list[int], para_end: list[bool], cfg: ChunkSettings, headings: list[bool] | None = None
) -> list[tuple[int, int]]:
    """Greedy packing of units into [start, end) unit ranges, with tail-unit overlap; a chunk
    that would end with a heading ends before it, so the heading opens the next chunk."""
    headings = headings or [False] * len(weights)
    size, n = cfg.size, len(weights)
    P = [0, *accumulate(weights)]
    ranges: list[tuple[int, int]] = []
    start = new_from = 0
    while new_from < n:
        # Give up overlap units until the first new unit fits (every unit is <= size).
        while start < new_from and P[new_from + 1] - P[start] > size:
            start += 1
        end = bisect_right(P, P[start] + size, lo=new_from + 1) - 1
        if end < n:
            # Prefer to close at a paragraph break, if the chunk is at least half full there.
            for e in range(end, new_from, -1):
                if P[e] - P[start] < size / 2:
                    break
                if para_end[e - 1]:
                    end = e
                    break
            while headings[end - 1] and end - 1 > new_from:  # "2. Rent" then "2.1 Amount"
                end -= 1
        ranges.append((start, end))
        if end >= n:
            break
        # The next chunk repeats the previous chunk's tail units that fit in the overlap budget.
        start = bisect_left(P, P[end] - cfg.overlap, lo=start + 1, hi=end)
        new_from = end
    if len(ranges) >= 2:
        (s1, e1), (_, e2) = ranges[-2], ranges[-1]
        if P[e2] - P[e1] < _TAIL_FRACTION * size and P[e2] - P[s1] <= _MERGE_LIMIT * size:
            ranges[-2:] = [(s1, e2)]
    return ranges


def chunk_document(doc: ParsedDocument, settings: ChunkSettings | None = None) -> list[ChunkDraft]:
    """Chunks in reading order; ordinals run across the whole document."""
    cfg = settings or ChunkSettings()
    drafts: list[ChunkDraft] = []
    path = SectionPath()  # runs across pages: a section goes on over a page break
    for key, segs in _group(doc).items():
        sec = _build(key, segs)
        text = sec.text
        spans, para_end = _units(sec, cfg.size)
        if not spans:
            continue
        weights = [text_weight(text, a, b) for a, b in spans]
        headings = _headings(text, spans, para_end)
        titles = _section_headings(sec)  # (start, end) of each paragraph that names a section
        read = 0
        for us, ue in _pack(weights, para_end, cfg, headings):
            cs, ce = spans[us][0], spans[ue - 1][1]
            raw = text[cs:ce]
            stripped = raw.strip()
            if not stripped:
                continue
            cs += len(raw) - len(raw.lstrip())
            ce = cs + len(stripped)
            # The chunk sits under the headings before its first body text (its own opening
            # headings included).
            body = cs
            for a, b in titles[read:]:
                if a > body or a >= ce:
                    break
                body = max(body, b + 1)
            while read < len(titles) and titles[read][0] < min(body, ce):
                path.read(text[slice(*titles[read])])
                read += 1
            first = bisect_right(sec.seg_ends, cs)
            boxes: dict[BBox, None] = {}
            for i in range(first, len(sec.seg_starts)):
                if sec.seg_starts[i] >= ce:
                    break
                box = sec.boxes[i]
                if box is not None and sec.seg_ends[i] > cs:
                    boxes[box] = None
            drafts.append(
                ChunkDraft(
                    ordinal=len(drafts),
                    text=stripped,
                    page=key,
                    char_start=cs,
                    char_end=ce,
                    boxes=tuple(boxes),
                    section=str(path),
                )
            )
        for a, b in titles[read:]:  # headings inside the page's last chunk go on to the next page
            path.read(text[a:b])
    return drafts
