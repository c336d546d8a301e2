"""HTML loading with BeautifulSoup/lxml: visible block-level text as paragraphs (also used by EPUB)."""

from __future__ import annotations

import codecs
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.dammit import EncodingDetector
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from kbdesk.core.errors import DocumentUnreadable, EmptyDocument
from kbdesk.core.ingest.text import decode_text, is_binary
from kbdesk.core.ingest.textutil import collapse_whitespace
from kbdesk.core.types import ParsedDocument, Segment

_DROP = frozenset(
    "script style noscript template svg canvas head nav select iframe object embed".split()  # noqa: SIM905
)
# Page chrome; but an <article>'s own <header> usually holds its headline, so keep those.
_CHROME = frozenset(("header", "footer"))
_CONTENT_ANCESTORS = frozenset(("article", "main", "section"))
_BLOCK = frozenset(
    """address article aside blockquote body caption dd details dialog div dl dt fieldset
    figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr html legend li main ol p
    section summary table tbody td tfoot th thead tr ul""".split()  # noqa: SIM905
)
_SKIP_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_BR = "\ue000"  # private-use marker for <br>, so it survives whitespace collapsing


def decode_markup(data: bytes, name: str) -> str:
    if data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return decode_text(data, name)[0]
    if is_binary(data):
        raise DocumentUnreadable(f"{name} looks like a binary file, not HTML.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    if declared:
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    return decode_text(data, name)[0]


def _is_chrome(tag: Tag) -> bool:
    return tag.name in _CHROME and not any(p.name in _CONTENT_ANCESTORS for p in tag.parents)


def _finish(pieces: list[str], out: list[str]) -> None:
    if not pieces:
        return
    lines = (collapse_whitespace(part) for part in "".join(pieces).split(_BR))
    text = "\n".join(line for line in lines if line)
    if text:
        out.append(text)
    pieces.clear()


def html_to_paragraphs(markup: str) -> tuple[str | None, list[str]]:
    """(title, paragraphs) of an HTML/XHTML string."""
    soup = BeautifulSoup(markup, "lxml")
    title = None
    if soup.title is not None:
        title = collapse_whitespace(soup.title.get_text()) or None
    out: list[str] = []
    pieces: list[str] = []
    # An explicit stack instead of recursion: real-world HTML can nest deeper than Python allows.
    stack: list[tuple[object, bool]] = [(soup, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            _finish(pieces, out)
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, _SKIP_STRINGS):
                pieces.append(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name in _DROP or node.has_attr("hidden") or _is_chrome(node):
            continue
        if name == "br":
            pieces.append(_BR)
            continue
        if name == "pre":
            _finish(pieces, out)
            text = node.get_text().strip("\n").rstrip()
            if text.strip():
                out.append(text)
            continue
        if name in _BLOCK:
            _finish(pieces, out)
            stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    _finish(pieces, out)
    return title, out


def load_html(path: Path) -> ParsedDocument:
    name = path.name
    markup = decode_markup(path.read_bytes(), name)
    title, paras = html_to_paragraphs(markup)
    if not paras:
        raise EmptyDocument(f"{name} contains no visible text.")
    return ParsedDocument(
        path=str(path),
        kind="html",
        segments=tuple(Segment(text=p) for p in paras),
        title=title,
    )
