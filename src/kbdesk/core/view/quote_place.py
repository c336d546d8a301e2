"""Where a citation's quote is on its PDF page: per line of the passage, the box of the quoted part.

A passage's stored boxes are whole PDF lines, and a quoted sentence may start or end mid-line,
so the page's characters are read again (PyMuPDF "rawdict") and matched to the passage text
with whitespace ignored, as the loader joined those very lines into it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from kbdesk.core.mupdf_lock import MUPDF_LOCK
from kbdesk.core.types import BBox
from kbdesk.core.view.pages import _fitz, _open_pdf

_SAME_BOX = 0.2  # points: the loader rounds line boxes to 0.1
Char = tuple[int, float, float]  # line index, x0, x1


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _passage_chars(page_dict: dict, boxes: Sequence[BBox]) -> tuple[str, list[Char], list[BBox]]:
    """The non-space characters of the passage's lines, in reading order, with where each is."""
    wanted = [tuple(b) for b in boxes]
    text: list[str] = []
    chars: list[Char] = []
    lines: list[BBox] = []
    for block in page_dict.get("blocks", ()):
        for line in block.get("lines", ()):
            bbox = tuple(line["bbox"])
            same = [
                w
                for w in wanted
                if all(abs(a - b) <= _SAME_BOX for a, b in zip(bbox, w, strict=True))
            ]
            if not same:
                continue
            for span in line.get("spans", ()):
                for ch in span.get("chars", ()):
                    if ch["c"].isspace():
                        continue
                    text.append(ch["c"])
                    chars.append((len(lines), ch["bbox"][0], ch["bbox"][2]))
            x0, y0, x1, y1 = same[0]  # the stored box, so quote boxes lie inside the passage's
            lines.append((x0, y0, x1, y1))
    return "".join(text), chars, lines


def _locate(found: str, passage: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each span as a range of `found` (the squeezed page lines); unfound spans are left out."""
    base = found.find(_squeezed(passage))
    ranges: list[tuple[int, int]] = []
    for a, b in spans:
        piece = _squeezed(passage[a:b])
        if not piece:
            continue
        start = base + len(_squeezed(passage[:a])) if base >= 0 else -1
        if found[start : start + len(piece)] != piece:  # the passage changed around the quote
            start = found.find(piece)
        if start >= 0:
            ranges.append((start, start + len(piece)))
    return ranges


def quote_boxes(
    path: str | os.PathLike[str],
    page: int,
    boxes: Sequence[BBox],
    passage: str,
    spans: Sequence[tuple[int, int]],
) -> tuple[BBox, ...]:
    """Boxes of `passage[a:b]` for each span, one per line they cross, within the passage's boxes.

    Empty when the quote is not on the page as its text layer reads now (an OCR'd page, a file
    changed since import): the caller then highlights the whole passage.
    """
    if not boxes or not spans:
        return ()
    fitz = _fitz()
    flags = fitz.TEXTFLAGS_DICT & ~fitz.TEXT_PRESERVE_IMAGES  # as the PDF loader reads lines
    with _open_pdf(path) as (doc, count):
        if not 1 <= page <= count:
            return ()
        try:
            with MUPDF_LOCK:
                page_dict = doc.load_page(page - 1).get_text("rawdict", flags=flags)
        except Exception:
            return ()  # a damaged page: the render reports it
    found, chars, lines = _passage_chars(page_dict, boxes)
    out: dict[BBox, None] = {}
    for start, end in _locate(found, passage, spans):
        per_line: dict[int, list[float]] = {}
        for line, x0, x1 in chars[start:end]:
            lo, hi = per_line.setdefault(line, [x0, x1])
            per_line[line] = [min(lo, x0), max(hi, x1)]
        for line, (x0, x1) in per_line.items():
            lx0, ly0, lx1, ly1 = lines[line]
            out[(max(x0, lx0), ly0, min(x1, lx1), ly1)] = None
    return tuple(out)
