"""PDF loading with PyMuPDF: one Segment per text line with its page and bbox, OCR for scans."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from kbdesk.core.errors import DocumentEncrypted, DocumentUnreadable, EmptyDocument, NeedsOCR
from kbdesk.core.ingest import ocr as ocr_mod
from kbdesk.core.jobs import CancelToken
from kbdesk.core.mupdf_lock import MUPDF_LOCK
from kbdesk.core.types import ParsedDocument, Segment

# The "dict" defaults minus TEXT_PRESERVE_IMAGES: image bytes would be copied into every dict.
_TEXT_FLAGS = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES


def page_ranges(pages: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    out: list[str] = []
    run: list[int] = []
    for p in sorted(pages):
        if run and p == run[-1] + 1:
            run.append(p)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [p]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(out)


def _pages_word(pages: list[int]) -> str:
    return f"{'Page' if len(pages) == 1 else 'Pages'} {page_ranges(pages)}"


def _pages_are(pages: list[int], singular: str, plural: str) -> str:
    """ "Page 2 is a scanned image" / "Pages 2-4 are scanned images"."""
    return f"{_pages_word(pages)} {singular if len(pages) == 1 else plural}"


def _ocr_fix(ocr: bool, status: ocr_mod.OcrStatus | None, it: str) -> str:
    if ocr:
        return ocr_mod.INSTALL_HINT
    if (status or ocr_mod.ocr_status()).available:
        return f"Turn OCR on to read {it}."
    return f"Turn OCR on and install {ocr_mod.TESSERACT} to read {it}."


def _damaged(name: str, exc: BaseException) -> DocumentUnreadable:
    lines = str(exc).strip().splitlines()
    reason = lines[0].strip().rstrip(".")[:200] if lines else ""
    # MuPDF's "Failed to open file ..." only repeats what the message already says.
    detail = f" ({reason})" if reason and not reason.startswith("Failed to open") else ""
    return DocumentUnreadable(
        f"{name} could not be opened: it is damaged or not a real PDF{detail}."
    )


def lines_from_dict(page_dict: dict, page_no: int) -> list[Segment]:
    """Text lines of a PyMuPDF "dict" extraction; the last line of each block ends a paragraph."""
    segments: list[Segment] = []
    for block in page_dict.get("blocks", ()):
        if block.get("type") != 0:
            continue
        start = len(segments)
        for line in block.get("lines", ()):
            text = "".join(span.get("text", "") for span in line.get("spans", ())).strip()
            if not text:
                continue
            x0, y0, x1, y1 = line["bbox"]
            bbox = (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1))
            segments.append(Segment(text=text, page=page_no, bbox=bbox, para_end=False))
        if len(segments) > start:
            last = segments[-1]
            segments[-1] = Segment(last.text, last.page, last.bbox, para_end=True)
    return segments


def load_pdf(path: Path, *, ocr: bool = True, cancel: CancelToken | None = None) -> ParsedDocument:
    name = path.name
    # MuPDF otherwise prints repair chatter on stderr; we report damage as a warning instead.
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    try:
        with MUPDF_LOCK:
            doc = pymupdf.open(str(path), filetype="pdf")
    except Exception as exc:
        raise _damaged(name, exc) from None
    with doc:
        if doc.needs_pass:
            raise DocumentEncrypted(
                f"{name} is password-protected.",
                hint="Remove the password (e.g. save an unprotected copy) and import it again.",
            )
        try:
            # A badly truncated file can open yet fail when its page tree is first read.
            repaired = bool(getattr(doc, "is_repaired", False))
            page_count = doc.page_count
        except Exception as exc:
            raise _damaged(name, exc) from None
        if page_count == 0:
            if repaired:
                raise DocumentUnreadable(f"{name} is damaged: no pages could be recovered.")
            raise EmptyDocument(f"{name} has no pages.")
        return _extract(doc, path, ocr=ocr, repaired=repaired, cancel=cancel)


def _extract(doc, path: Path, *, ocr: bool, repaired: bool, cancel: CancelToken | None):
    name = path.name
    per_page: dict[int, list[Segment]] = {}
    failed: list[int] = []
    image_pages: list[int] = []
    blank: list[int] = []
    for pno in range(doc.page_count):
        if cancel is not None:
            cancel.raise_if_cancelled()
        page_no = pno + 1
        try:
            with MUPDF_LOCK:
                page = doc.load_page(pno)
                page_dict = page.get_text("dict", flags=_TEXT_FLAGS)
                has_images = bool(page.get_image_info())
            lines = lines_from_dict(page_dict, page_no)
            if not lines:
                (image_pages if has_images else blank).append(page_no)
        except Exception:
            failed.append(page_no)
            continue
        per_page[page_no] = lines

    warnings: list[str] = []
    status = ocr_mod.ocr_status() if ocr and image_pages else None
    ocr_pages = 0
    ocr_failed: list[int] = []
    if status is not None and status.available:
        for page_no in image_pages:
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                with MUPDF_LOCK:
                    page = doc.load_page(page_no - 1)
                    tp = ocr_mod.textpage_ocr(page, status, _TEXT_FLAGS)
                    page_dict = page.get_text("dict", flags=_TEXT_FLAGS, textpage=tp)
                lines = lines_from_dict(page_dict, page_no)
            except Exception:
                ocr_failed.append(page_no)
                continue
            if lines:
                per_page[page_no] = lines
                ocr_pages += 1
        if ocr_pages and status.reason:
            warnings.append(f"OCR ran with {status.language} only ({status.reason}).")
    not_ocred = [p for p in image_pages if not per_page.get(p) and p not in ocr_failed]
    segments = [seg for p in sorted(per_page) for seg in per_page[p]]

    if not segments:
        if failed and len(failed) == doc.page_count:
            raise DocumentUnreadable(f"{name} is damaged: none of its pages could be read.")
        if image_pages and (status is None or not status.available):
            raise NeedsOCR(
                f"{name} is scanned images with no text layer, so it has no text to import.",
                hint=_ocr_fix(ocr, status, "it"),
            )
        if repaired:
            raise DocumentUnreadable(
                f"{name} is damaged (possibly truncated) and no text could be recovered from it."
            )
        if image_pages:
            raise EmptyDocument(
                f"{name} has no readable text, even after OCR of its scanned pages."
            )
        raise EmptyDocument(f"{name} contains no text.")

    if repaired:
        lost = f" Nothing could be read from {_pages_word(blank).lower()}." if blank else ""
        warnings.append(
            f"{name} is damaged (possibly truncated); it was repaired and only the readable "
            f"part was imported.{lost}"
        )
    if failed:
        warnings.append(
            _pages_are(failed, "could not be read and was", "could not be read and were")
            + " skipped."
        )
    if ocr_failed:
        skipped = "it was" if len(ocr_failed) == 1 else "they were"
        warnings.append(f"OCR failed on {_pages_word(ocr_failed).lower()}; {skipped} skipped.")
    if not_ocred and (status is None or not status.available):
        what = _pages_are(not_ocred, "is a scanned image", "are scanned images")
        fix = _ocr_fix(ocr, status, "it" if len(not_ocred) == 1 else "them")
        warnings.append(f"{what} without a text layer, so skipped. {fix}")
    title = (doc.metadata or {}).get("title") or ""
    return ParsedDocument(
        path=str(path),
        kind="pdf",
        segments=tuple(segments),
        pages=doc.page_count,
        title=title.strip() or None,
        ocr_pages=ocr_pages,
        warnings=tuple(warnings),
    )
