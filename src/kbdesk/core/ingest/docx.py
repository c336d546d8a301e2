"""Word (.docx) loading with python-docx: body paragraphs and table cells in document order."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from kbdesk.core.errors import DocumentUnreadable, EmptyDocument
from kbdesk.core.types import ParsedDocument, Segment

_P = qn("w:p")
_TBL = qn("w:tbl")
_SDT = qn("w:sdt")
_SDT_CONTENT = qn("w:sdtContent")
_CUSTOM_XML = qn("w:customXml")


def _check_container(path: Path) -> None:
    name = path.name
    if not zipfile.is_zipfile(path):
        raise DocumentUnreadable(f"{name} is not a valid .docx file: it is not a ZIP container.")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DocumentUnreadable(f"{name} is a damaged .docx file: {exc}.") from None
    if "word/document.xml" not in names:
        raise DocumentUnreadable(
            f"{name} is not a Word document: it has no word/document.xml "
            "(it may be another Office format renamed to .docx)."
        )


def _block_texts(parent_el, parent) -> Iterator[str]:
    """Texts of paragraphs and table cells under a body-like element, in document order."""
    for child in parent_el.iterchildren():
        if child.tag == _P:
            yield Paragraph(child, parent).text
        elif child.tag == _TBL:
            yield from _table_texts(Table(child, parent))
        elif child.tag in (_SDT, _CUSTOM_XML):
            # Content controls and custom XML wrap ordinary paragraphs and tables.
            inner = child.find(_SDT_CONTENT) if child.tag == _SDT else child
            if inner is not None:
                yield from _block_texts(inner, parent)


def _table_texts(table: Table) -> Iterator[str]:
    seen: set = set()  # the cell elements themselves, kept alive so identity stays meaningful
    for row in table.rows:
        for cell in row.cells:
            # A merged cell is returned once per grid column (and row) it spans.
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            parts = [t.strip() for t in _block_texts(cell._tc, cell) if t.strip()]
            if parts:
                yield "\n".join(parts)


def load_docx(path: Path) -> ParsedDocument:
    name = path.name
    _check_container(path)
    try:
        document = docx.Document(str(path))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocumentUnreadable(f"{name} is a damaged Word document: {exc}.") from None
    segments = tuple(
        Segment(text=t.strip()) for t in _block_texts(document.element.body, document) if t.strip()
    )
    if not segments:
        raise EmptyDocument(f"{name} contains no text.")
    title = (document.core_properties.title or "").strip() or None
    return ParsedDocument(path=str(path), kind="docx", segments=segments, title=title)
