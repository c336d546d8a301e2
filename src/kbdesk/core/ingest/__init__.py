"""Public entry of ingestion: load any supported file into a ParsedDocument, find files, chunk."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from kbdesk.core.errors import DocumentUnreadable, KbdeskError
from kbdesk.core.ingest.chunking import ChunkSettings, chunk_document, section_texts
from kbdesk.core.ingest.detect import SUPPORTED_SUFFIXES, detect_kind, unreadable_os_error
from kbdesk.core.ingest.ocr import OcrStatus, ocr_status
from kbdesk.core.ingest.textutil import text_weight
from kbdesk.core.jobs import CancelToken
from kbdesk.core.types import ParsedDocument

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ChunkSettings",
    "OcrStatus",
    "chunk_document",
    "detect_kind",
    "iter_supported_files",
    "load_document",
    "ocr_status",
    "section_texts",
    "text_weight",
]


def _short_reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    first = lines[0].strip()[:200] if lines else ""
    return first or type(exc).__name__


def load_document(
    path: str | os.PathLike[str], *, ocr: bool = True, cancel: CancelToken | None = None
) -> ParsedDocument:
    """Parse one file. Every failure is a KbdeskError whose message names the file."""
    p = Path(path)
    kind = detect_kind(p)
    # Loaders are imported on use: PyMuPDF, python-docx and bs4 are slow to import, and
    # listing or chunking should not pay for them.
    try:
        if kind == "pdf":
            from kbdesk.core.ingest.pdf import load_pdf

            return load_pdf(p, ocr=ocr, cancel=cancel)
        if kind in ("txt", "md"):
            from kbdesk.core.ingest.text import load_text

            return load_text(p, kind)
        if kind == "docx":
            from kbdesk.core.ingest.docx import load_docx

            return load_docx(p)
        if kind == "html":
            from kbdesk.core.ingest.html import load_html

            return load_html(p)
        from kbdesk.core.ingest.epub import load_epub

        return load_epub(p)
    except KbdeskError:  # includes Cancelled
        raise
    except OSError as exc:
        raise unreadable_os_error(p, exc) from None
    except MemoryError:
        raise DocumentUnreadable(f"{p.name} is too large to load into memory.") from None
    except Exception as exc:
        # Parser libraries raise anything on malformed input; users get one line, not a traceback.
        raise DocumentUnreadable(
            f"{p.name} could not be read ({type(exc).__name__}: {_short_reason(exc)})."
        ) from None


def _skipped_name(name: str) -> bool:
    # Hidden files and editors' lock/temp files (~$report.docx, ~draft.txt).
    return name.startswith((".", "~"))


def iter_supported_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files to import, in order. Folders are walked recursively (sorted, hidden entries and
    unsupported types skipped silently); explicitly named files are always yielded, so the
    caller can report the unsupported or missing ones."""
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        if not p.is_dir():
            key = p.absolute()
            if key not in seen:
                seen.add(key)
                yield p
            continue
        found: list[Path] = []
        for root, dirs, files in os.walk(p):
            dirs[:] = sorted(d for d in dirs if not _skipped_name(d))
            for name in files:
                if _skipped_name(name) or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                    continue
                found.append(Path(root) / name)
        for f in sorted(found):
            key = f.absolute()
            if key not in seen:
                seen.add(key)
                yield f
