"""Plain text and Markdown loading: encoding detection and paragraph segments."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from kbdesk.core.errors import DocumentUnreadable, EmptyDocument
from kbdesk.core.ingest.detect import describe_content
from kbdesk.core.ingest.textutil import join_lines
from kbdesk.core.types import ParsedDocument, Segment

_SNIFF_BYTES = 8192
# Tried in order after the BOM checks; strict decoding so a wrong guess fails instead of
# producing mojibake. gb18030 before cp1252 because it rejects most Latin-1 byte patterns.
_FALLBACK_ENCODINGS = ("utf-8", "gb18030", "cp1252")

_HEADING_RE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT_RE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")
# Lines whose line break is meaningful: list items, table rows, quotes.
_STRUCTURED_RE = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|\||>)")


def is_binary(data: bytes) -> bool:
    head = data[:_SNIFF_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in head


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """Decode file bytes; returns (text, encoding used)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise DocumentUnreadable(
                f"{name} starts with a UTF-16 marker but is not valid UTF-16 text."
            ) from None
    if is_binary(data):
        desc = describe_content(data[:64])
        extra = f" (its content is {desc})" if desc else ""
        raise DocumentUnreadable(f"{name} looks like a binary file, not text{extra}.")
    for enc in _FALLBACK_ENCODINGS:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise DocumentUnreadable(
        f"{name} is not valid text in any encoding tried "
        f"(UTF-8, UTF-16 with BOM, GB18030, Windows-1252).",
        hint="Save it as UTF-8 and import it again.",
    )


def _flush(buf: list[str], *, verbatim: bool, out: list[str]) -> None:
    if not buf:
        return
    if verbatim or any(_STRUCTURED_RE.match(line) for line in buf):
        text = "\n".join(line.rstrip() for line in buf).strip("\n")
    else:
        text = join_lines(buf)
    if text.strip():
        out.append(text)
    buf.clear()


def paragraphs(text: str, *, markdown: bool) -> tuple[list[str], str | None]:
    """Split into paragraphs at blank lines; for Markdown also at headings and code fences."""
    out: list[str] = []
    title: str | None = None
    buf: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if markdown and _FENCE_RE.match(line):
            # Code keeps its line breaks and may contain blank lines: one paragraph per block.
            _flush(buf, verbatim=in_fence, out=out)
            in_fence = not in_fence
            continue
        if in_fence:
            buf.append(line)
            continue
        if not line.strip():
            _flush(buf, verbatim=False, out=out)
            continue
        if markdown:
            m = _HEADING_RE.match(line)
            if m and m.group(2):
                _flush(buf, verbatim=False, out=out)
                out.append(m.group(2))
                if title is None and len(m.group(1)) == 1:
                    title = m.group(2)
                continue
            if buf and _SETEXT_RE.match(line) and not _STRUCTURED_RE.match(buf[-1]):
                heading = buf.pop().strip()
                _flush(buf, verbatim=False, out=out)
                out.append(heading)
                if title is None and line.strip().startswith("="):
                    title = heading
                continue
        buf.append(line)
    _flush(buf, verbatim=in_fence, out=out)
    return out, title


def load_text(path: Path, kind: str) -> ParsedDocument:
    name = path.name
    data = path.read_bytes()
    text, encoding = decode_text(data, name)
    # Form feeds separate pages in some exports; treat them as paragraph breaks.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    paras, title = paragraphs(text, markdown=kind == "md")
    if not paras:
        raise EmptyDocument(f"{name} contains no text.")
    warnings: tuple[str, ...] = ()
    if encoding not in ("utf-8",):
        shown = {"utf-16": "UTF-16", "gb18030": "GB18030", "cp1252": "Windows-1252"}[encoding]
        warnings = (f"{name} is not UTF-8; it was read as {shown}.",)
    return ParsedDocument(
        path=str(path),
        kind=kind,
        segments=tuple(Segment(text=p) for p in paras),
        title=title,
        warnings=warnings,
    )
