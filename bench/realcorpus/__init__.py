"""A development corpus of real, public documents (English + Simplified Chinese); see README.md.

The documents are not in the repository: ``fetch.py`` downloads the pinned Debian packages,
checks their hashes and writes the PDFs into ``bench/out/realcorpus/docs``. ``check.py``
validates the hand-written questions against the pages as kbdesk's own PDF loader reads them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
REPO_ROOT = CORPUS_DIR.parents[1]
DOCUMENTS_PATH = CORPUS_DIR / "documents.json"
QUESTIONS_PATH = CORPUS_DIR / "questions.json"
DEFAULT_OUT = REPO_ROOT / "bench" / "out" / "realcorpus" / "docs"
DEFAULT_CACHE = REPO_ROOT / "bench" / "out" / "realcorpus" / "cache"


def load_manifest(path: Path | str = DOCUMENTS_PATH) -> dict:
    """documents.json: {"packages": {key: {...}}, "documents": [{...}, ...]}."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_documents(path: Path | str = DOCUMENTS_PATH) -> list[dict]:
    """The documents, in file order (each has id, filename, language, pages, ...)."""
    return load_manifest(path)["documents"]


def load_questions(path: Path | str = QUESTIONS_PATH) -> list[dict]:
    """The hand-written questions, in file order."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["questions"]


def norm(text: str, lang: str) -> str:
    """Whitespace normalisation for comparisons: Chinese drops all whitespace (lines wrap
    anywhere), English collapses runs of whitespace to one space."""
    if lang == "zh":
        return re.sub(r"\s+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def page_texts(path: Path | str) -> list[str]:
    """Text of each page (1-based page i is element i-1) exactly as kbdesk indexes it: the
    segments of kbdesk's PDF loader (src/kbdesk/core/ingest/pdf.py), one line each."""
    src = str(REPO_ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    from kbdesk.core.ingest.pdf import load_pdf

    parsed = load_pdf(Path(path), ocr=False)
    pages: list[list[str]] = [[] for _ in range(parsed.pages)]
    for seg in parsed.segments:
        pages[seg.page - 1].append(seg.text)
    return ["\n".join(lines) for lines in pages]
