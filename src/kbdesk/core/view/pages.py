"""Viewer data for the citation pane: PDF pages rendered with highlights, search, passage lookup.

Every PyMuPDF call holds MUPDF_LOCK, one page at a time, so a render waits at most one page of a
running import. Nothing is cached: each call opens the file, which keeps this module safe to call
from any thread and always shows the file as it is now.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbdesk.core.errors import DocumentEncrypted, DocumentUnreadable, KbdeskError
from kbdesk.core.jobs import CancelToken
from kbdesk.core.mupdf_lock import MUPDF_LOCK
from kbdesk.core.types import BBox

PixelRect = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels, x1/y1 exclusive

MIN_ZOOM, MAX_ZOOM = 0.1, 8.0
# A render larger than this (~120 MB of RGB) is scaled down rather than exhausting memory.
MAX_PIXELS = 40_000_000
# Marker-style highlight: each channel is multiplied, so paper turns yellow and ink stays dark
# (an opaque overlay would hide the very text being cited). The faint tint marks the rest of a
# passage around its quoted sentence: paper turns cream (255, 246, 204), visibly apart from both
# the page's white and the quote's yellow (255, 237, 115).
_TINT, _FAINT_TINT = (1.0, 0.93, 0.45), (1.0, 0.965, 0.80)


def _tables(tint: tuple[float, float, float]) -> tuple[bytes, ...]:
    return tuple(bytes(min(255, round(v * f)) for v in range(256)) for f in tint)


_TINT_TABLES, _FAINT_TABLES = _tables(_TINT), _tables(_FAINT_TINT)


@dataclass(frozen=True)
class RenderedPage:
    """One rendered page: RGB888 rows of `stride` bytes, with the highlight already drawn in.

    `highlight_rects` are the highlighted boxes in image pixels, in the order of the boxes
    given (boxes entirely off the page are dropped), `faint_rects` those of the faint boxes;
    `zoom` is the zoom actually used.
    """

    width: int
    height: int
    stride: int
    samples: bytes
    page: int  # 1-based, after clamping
    page_count: int
    highlight_rects: tuple[PixelRect, ...] = ()
    zoom: float = 1.0
    faint_rects: tuple[PixelRect, ...] = ()


def _fitz() -> Any:
    # Imported on use: PyMuPDF is slow to import and the GUI should start without paying for it.
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    return pymupdf


def _existing(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.is_dir():
        raise DocumentUnreadable(f"{p.name} cannot be shown: {p} is a folder, not a file.")
    if not p.is_file():
        raise DocumentUnreadable(
            f"{p.name} is no longer at {p}.", hint="Re-import it or restore the file."
        )
    return p


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0].strip().rstrip(".")[:200] if lines else "") or type(exc).__name__


@contextlib.contextmanager
def _open_pdf(path: str | os.PathLike[str]) -> Iterator[tuple[Any, int]]:
    """The open document and its page count; always closed, every MuPDF call under the lock."""
    p = _existing(path)
    fitz = _fitz()
    try:
        with MUPDF_LOCK:
            doc = fitz.open(str(p), filetype="pdf")
    except Exception as exc:
        raise DocumentUnreadable(
            f"{p.name} could not be opened: it is damaged or not a real PDF ({_reason(exc)}).",
            hint="Open it in another viewer to check it, or re-import a good copy.",
        ) from None
    try:
        try:
            with MUPDF_LOCK:
                needs_pass = doc.needs_pass
                count = doc.page_count
        except Exception as exc:
            raise DocumentUnreadable(f"{p.name} is damaged ({_reason(exc)}).") from None
        if needs_pass:
            raise DocumentEncrypted(
                f"{p.name} is password-protected, so it cannot be shown here.",
                hint="Open it in the system viewer, or save an unprotected copy and re-import it.",
            )
        if count == 0:
            raise DocumentUnreadable(f"{p.name} has no pages to show.")
        yield doc, count
    finally:
        with MUPDF_LOCK:
            doc.close()


def _clamp_page(page: int | None, count: int) -> int:
    return min(max(int(page or 1), 1), count)


def _page_failed(name: str, page: int, exc: BaseException) -> DocumentUnreadable:
    return DocumentUnreadable(
        f"Page {page} of {name} could not be shown ({_reason(exc)}).",
        hint="Open it in the system viewer instead.",
    )


def page_count(path: str | os.PathLike[str]) -> int:
    with _open_pdf(path) as (_doc, count):
        return count


def page_size(path: str | os.PathLike[str], page: int) -> tuple[float, float]:
    """Width and height in points of the page as displayed (rotation applied); page clamped."""
    with _open_pdf(path) as (doc, count):
        pno = _clamp_page(page, count)
        try:
            with MUPDF_LOCK:
                rect = doc.load_page(pno - 1).rect
        except Exception as exc:
            raise _page_failed(Path(path).name, pno, exc) from None
        return float(rect.width), float(rect.height)


def _pixel_rects(boxes: Sequence[BBox], matrix: Any, width: int, height: int, fitz: Any):
    rects: list[PixelRect] = []
    for box in boxes:
        r = fitz.Rect(*box) * matrix  # a rotation can swap corners; Rect * Matrix normalises
        x0, y0 = max(0, math.floor(r.x0)), max(0, math.floor(r.y0))
        x1, y1 = min(width, math.ceil(r.x1)), min(height, math.ceil(r.y1))
        if x1 > x0 and y1 > y0:
            rects.append((x0, y0, x1, y1))
    return tuple(rects)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _minus(spans: list[tuple[int, int]], taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of merged `spans` that no merged span of `taken` covers."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        for c, d in taken:
            if c < b and d > a:
                if c > a:
                    out.append((a, c))
                a = max(a, d)
        if a < b:
            out.append((a, b))
    return out


def _tint(
    samples: bytes, stride: int, layers: Sequence[tuple[Sequence[PixelRect], Sequence[bytes]]]
) -> bytes:
    """Tint each layer's union of rects once (adjacent line boxes overlap; tinting twice would
    band); where layers overlap, the earlier one's tint is the one applied."""
    buf = bytearray(samples)
    every = [r for rects, _ in layers for r in rects]
    for y in range(min(r[1] for r in every), max(r[3] for r in every)):
        taken: list[tuple[int, int]] = []
        for rects, tables in layers:
            spans = _minus(_merge([(r[0], r[2]) for r in rects if r[1] <= y < r[3]]), taken)
            taken = _merge(taken + spans)
            for x0, x1 in spans:
                a, b = y * stride + x0 * 3, y * stride + x1 * 3
                row = buf[a:b]
                for c, table in enumerate(tables):
                    row[c::3] = row[c::3].translate(table)
                buf[a:b] = row
    return bytes(buf)


def render_page(
    path: str | os.PathLike[str],
    page: int,
    zoom: float,
    boxes: Sequence[BBox] = (),
    faint: Sequence[BBox] = (),
) -> RenderedPage:
    """Render a 1-based page (clamped into range) at `zoom` pixels per point, `boxes` tinted,
    `faint` tinted lightly where `boxes` do not cover them."""
    zoom = float(zoom) if math.isfinite(zoom) else 1.0
    zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
    fitz = _fitz()
    with _open_pdf(path) as (doc, count):
        pno = _clamp_page(page, count)
        try:
            with MUPDF_LOCK:
                pg = doc.load_page(pno - 1)
                area = pg.rect.width * pg.rect.height * zoom * zoom
                if area > MAX_PIXELS:
                    zoom *= math.sqrt(MAX_PIXELS / area)
                matrix = fitz.Matrix(zoom, zoom)
                pix = pg.get_pixmap(matrix=matrix, colorspace=fitz.csRGB, alpha=False)
                # Text coordinates are on the unrotated page; the pixmap shows it rotated.
                to_pixels = pg.rotation_matrix * matrix * fitz.Matrix(1, 0, 0, 1, -pix.x, -pix.y)
                width, height, stride, samples = pix.width, pix.height, pix.stride, pix.samples
        except KbdeskError:
            raise
        except Exception as exc:
            raise _page_failed(Path(path).name, pno, exc) from None
    rects = _pixel_rects(boxes, to_pixels, width, height, fitz)
    faint_rects = _pixel_rects(faint, to_pixels, width, height, fitz)
    if rects or faint_rects:
        layers = ((rects, _TINT_TABLES), (faint_rects, _FAINT_TABLES))
        samples = _tint(samples, stride, layers)
    return RenderedPage(width, height, stride, samples, pno, count, rects, zoom, faint_rects)


def find_in_document(
    path: str | os.PathLike[str],
    text: str,
    max_hits: int = 200,
    *,
    cancel: CancelToken | None = None,
) -> list[tuple[int, tuple[BBox, ...]]]:
    """Case-insensitive matches of `text`, in page order: (1-based page, boxes of one match).

    A match broken across lines comes back as one entry per line: MuPDF does not group them.
    """
    needle = " ".join(text.split())
    if not needle or max_hits <= 0:
        return []
    hits: list[tuple[int, tuple[BBox, ...]]] = []
    with _open_pdf(path) as (doc, count):
        for pno in range(count):
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                with MUPDF_LOCK:
                    rects = doc.load_page(pno).search_for(needle)
            except Exception:
                continue  # a damaged page has nothing to find; the others still do
            for r in rects:
                hits.append((pno + 1, ((r.x0, r.y0, r.x1, r.y1),)))
                if len(hits) >= max_hits:
                    return hits
    return hits


def document_text(path: str | os.PathLike[str], *, cancel: CancelToken | None = None) -> str:
    """The document's text for reading: paragraphs separated by a blank line."""
    from kbdesk.core.ingest import load_document
    from kbdesk.core.ingest.textutil import join_separator

    doc = load_document(_existing(path), ocr=False, cancel=cancel)
    parts: list[str] = []
    prev = None
    for seg in doc.segments:
        if prev is not None:
            parts.append("\n\n" if prev.para_end else join_separator(prev.text, seg.text))
        parts.append(seg.text)
        prev = seg
    return "".join(parts)


def find_passage(haystack: str, passage: str) -> tuple[int, int] | None:
    """Where `passage` is in `haystack` as (start, end): exactly, or else ignoring whitespace.

    The fallback matters: a stored chunk joins paragraphs with one newline and the view with a
    blank line, and Chinese lines are joined without any space.
    """
    passage = passage.strip()
    if not passage:
        return None
    i = haystack.find(passage)
    if i >= 0:
        return i, i + len(passage)
    kept = [k for k, ch in enumerate(haystack) if not ch.isspace()]
    squeezed = "".join(haystack[k] for k in kept)
    needle = "".join(passage.split())
    j = squeezed.find(needle)
    if j < 0:
        return None
    return kept[j], kept[j + len(needle) - 1] + 1
