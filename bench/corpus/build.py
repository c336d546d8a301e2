"""Render the bilingual retrieval corpus into real files.

The corpus lives in ``bench/corpus/docs/*.json`` (one document per file) and the questions in
``bench/corpus/questions.jsonl``. This module turns every document into the file a user would
drag into kbdesk: a PDF (one corpus page = one PDF page, built with PyMuPDF; English text in the
built-in Helvetica, Chinese text in the built-in ``china-s`` CJK font, so nothing is embedded),
or, for the two non-PDF documents, a UTF-8 ``.md`` / ``.txt`` file.

Usage::

    .venv/bin/python bench/corpus/build.py OUT_DIR

From Python (bench scripts, tests)::

    from bench.corpus import build, load_docs, load_questions
    paths = build(tmp_path)          # list[Path], one per document, in load_docs() order
    docs = load_docs()               # list[dict]: id, title, language, filename, pages
    questions = load_questions()     # list[dict]: id, question, language, doc, page, ...

Output is deterministic: the same JSON gives byte-identical files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
DOCS_DIR = CORPUS_DIR / "docs"
QUESTIONS_PATH = CORPUS_DIR / "questions.jsonl"

PAGE_WIDTH, PAGE_HEIGHT = 595.0, 842.0  # A4 in points
MARGIN_LEFT = MARGIN_RIGHT = 64.0
MARGIN_TOP = 64.0
MARGIN_BOTTOM = 72.0
FONT = {"en": "helv", "zh": "china-s"}
START_SIZE = {"en": 11.0, "zh": 10.5}
MIN_SIZE = 7.0
SIZE_STEP = 0.25
TEXT_SUFFIXES = {".md", ".txt"}


def load_docs(docs_dir: Path | str = DOCS_DIR) -> list[dict]:
    """All corpus documents, sorted by id."""
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in Path(docs_dir).glob("*.json")]
    return sorted(docs, key=lambda d: d["id"])


def load_questions(path: Path | str = QUESTIONS_PATH) -> list[dict]:
    """All benchmark questions, in file order."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
    return out


def page_text(page: list[str]) -> str:
    """The text of one corpus page as it is rendered: paragraphs separated by a blank line."""
    return "\n\n".join(page)


def is_pdf(doc: dict) -> bool:
    return Path(doc["filename"]).suffix.lower() == ".pdf"


def text_file_content(doc: dict) -> str:
    """Content of a .md/.txt document: all sections, blank-line separated, trailing newline."""
    return "\n\n".join(page_text(p) for p in doc["pages"]) + "\n"


def _footer(lang: str, number: int, total: int) -> str:
    return f"第 {number} 页 / 共 {total} 页" if lang == "zh" else f"Page {number} of {total}"


def _fit_size(text: str, rect, fontname: str, start: float) -> float:
    """Largest font size (start, start-0.25, ...) at which text fits rect entirely."""
    import pymupdf

    size = start
    while size >= MIN_SIZE:
        scratch = pymupdf.open()
        page = scratch.new_page(width=PAGE_WIDTH, height=PAGE_HEIGHT)
        rc = page.insert_textbox(rect, text, fontsize=size, fontname=fontname)
        scratch.close()
        if rc >= 0:
            return size
        size -= SIZE_STEP
    raise ValueError(f"text does not fit on a page even at {MIN_SIZE}pt: {text[:60]!r}...")


def render_pdf(doc: dict, path: Path) -> Path:
    """Write one document as a PDF, one corpus page per PDF page."""
    import pymupdf

    lang = doc["language"]
    fontname = FONT[lang]
    rect = pymupdf.Rect(
        MARGIN_LEFT, MARGIN_TOP, PAGE_WIDTH - MARGIN_RIGHT, PAGE_HEIGHT - MARGIN_BOTTOM
    )
    pdf = pymupdf.open()
    total = len(doc["pages"])
    for number, paras in enumerate(doc["pages"], start=1):
        text = page_text(paras)
        size = _fit_size(text, rect, fontname, START_SIZE[lang])
        page = pdf.new_page(width=PAGE_WIDTH, height=PAGE_HEIGHT)
        rc = page.insert_textbox(rect, text, fontsize=size, fontname=fontname)
        if rc < 0:  # cannot happen after _fit_size, but never lose text silently
            raise RuntimeError(f"{doc['id']} page {number}: text overflow ({rc})")
        page.insert_text(
            (MARGIN_LEFT, PAGE_HEIGHT - 40),
            _footer(lang, number, total),
            fontsize=8,
            fontname=fontname,
            color=(0.4, 0.4, 0.4),
        )
    pdf.set_metadata(
        {
            "title": doc["title"],
            "author": "kbdesk benchmark corpus (fictional document)",
            "subject": f"kbdesk retrieval benchmark document {doc['id']}",
            "creator": "kbdesk bench/corpus/build.py",
            "producer": "PyMuPDF",
        }
    )
    pdf.set_language("zh-CN" if lang == "zh" else "en-US")
    path.write_bytes(pdf.tobytes(garbage=4, deflate=True, no_new_id=True))
    pdf.close()
    return path


def render(doc: dict, out_dir: Path) -> Path:
    path = Path(out_dir) / doc["filename"]
    if is_pdf(doc):
        return render_pdf(doc, path)
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise ValueError(f"unsupported corpus file type: {doc['filename']}")
    path.write_text(text_file_content(doc), encoding="utf-8", newline="\n")
    return path


def build(out_dir: Path | str, docs: list[dict] | None = None) -> list[Path]:
    """Render every corpus document (or the given subset) into out_dir; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [render(doc, out) for doc in (load_docs() if docs is None else docs)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: build.py OUT_DIR", file=sys.stderr)
        return 2
    paths = build(args[0])
    for p in paths:
        print(f"{p.stat().st_size:8d}  {p}")
    print(f"{len(paths)} documents written to {args[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
