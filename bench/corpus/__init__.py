"""Bilingual (English + Simplified Chinese) retrieval benchmark corpus; see build.py."""

from .build import (
    CORPUS_DIR,
    DOCS_DIR,
    QUESTIONS_PATH,
    build,
    is_pdf,
    load_docs,
    load_questions,
    page_text,
    text_file_content,
)

__all__ = [
    "CORPUS_DIR",
    "DOCS_DIR",
    "QUESTIONS_PATH",
    "build",
    "is_pdf",
    "load_docs",
    "load_questions",
    "page_text",
    "text_file_content",
]
