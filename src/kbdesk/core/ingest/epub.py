"""EPUB loading from the ZIP itself: container.xml -> OPF -> spine order -> XHTML paragraphs."""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET

from kbdesk.core.errors import DocumentEncrypted, DocumentUnreadable, EmptyDocument
from kbdesk.core.ingest.html import decode_markup, html_to_paragraphs
from kbdesk.core.types import ParsedDocument, Segment

_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
_HTML_TYPES = ("application/xhtml+xml", "text/html", "application/x-dtbook+xml")
# Font obfuscation also lives in encryption.xml but does not hide any text.
_FONT_OBFUSCATION = ("http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find_all(root: ET.Element, local: str) -> list[ET.Element]:
    return [el for el in root.iter() if _local(el.tag) == local]


def _parse_xml(zf: zipfile.ZipFile, member: str, name: str) -> ET.Element:
    try:
        return ET.fromstring(zf.read(member))
    except KeyError:
        raise DocumentUnreadable(f"{name} is a damaged EPUB: {member} is missing.") from None
    except ET.ParseError as exc:
        raise DocumentUnreadable(
            f"{name} is a damaged EPUB: {member} is not valid XML ({exc})."
        ) from None


def _opf_path(zf: zipfile.ZipFile, names: list[str], name: str) -> str:
    if _CONTAINER in names:
        for rootfile in _find_all(_parse_xml(zf, _CONTAINER, name), "rootfile"):
            full = rootfile.get("full-path")
            if full and full in names:
                return full
    # Tolerate books with a broken container.xml when the package file is still there.
    opfs = sorted(n for n in names if n.lower().endswith(".opf"))
    if opfs:
        return opfs[0]
    raise DocumentUnreadable(f"{name} is a damaged EPUB: no package (.opf) file was found.")


def _encrypted_members(zf: zipfile.ZipFile, names: list[str], name: str) -> set[str]:
    if _ENCRYPTION not in names:
        return set()
    hidden: set[str] = set()
    for data in _find_all(_parse_xml(zf, _ENCRYPTION, name), "EncryptedData"):
        methods = [m.get("Algorithm", "") for m in _find_all(data, "EncryptionMethod")]
        if any(m in _FONT_OBFUSCATION for m in methods):
            continue
        for ref in _find_all(data, "CipherReference"):
            uri = ref.get("URI")
            if uri:
                hidden.add(unquote(uri))
    return hidden


def load_epub(path: Path) -> ParsedDocument:
    name = path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DocumentUnreadable(f"{name} is a damaged EPUB (ZIP) file: {exc}.") from None
    with zf:
        names = zf.namelist()
        opf_path = _opf_path(zf, names, name)
        opf = _parse_xml(zf, opf_path, name)
        base = posixpath.dirname(opf_path)
        manifest: dict[str, tuple[str, str]] = {}
        for item in _find_all(opf, "item"):
            href, item_id = item.get("href"), item.get("id")
            if href and item_id:
                member = posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0])))
                manifest[item_id] = (member, item.get("media-type", ""))
        spine = [ref.get("idref") for ref in _find_all(opf, "itemref")]
        in_order = [manifest[i] for i in spine if i in manifest]
        docs = [
            m
            for m, mt in in_order
            if mt in _HTML_TYPES or m.lower().endswith((".xhtml", ".html", ".htm"))
        ]
        if not docs:
            raise DocumentUnreadable(
                f"{name} is a damaged EPUB: its reading order (spine) is empty."
            )
        if _encrypted_members(zf, names, name) & set(docs):
            raise DocumentEncrypted(
                f"{name} is DRM-protected, so its text cannot be read.",
                hint="Import a DRM-free copy of the book.",
            )
        titles = [el.text.strip() for el in _find_all(opf, "title") if el.text and el.text.strip()]
        segments: list[Segment] = []
        missing: list[str] = []
        for member in docs:
            try:
                data = zf.read(member)
            except KeyError:
                missing.append(member)
                continue
            # zlib.error (corrupt deflate data) is not an OSError, so it is listed explicitly.
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
                raise DocumentUnreadable(
                    f"{name} is a damaged EPUB: {member} cannot be read ({exc})."
                ) from None
            _, paras = html_to_paragraphs(decode_markup(data, f"{name}:{member}"))
            segments.extend(Segment(text=p) for p in paras)
    if not segments:
        raise EmptyDocument(f"{name} contains no text.")
    warnings: tuple[str, ...] = ()
    if missing:
        warnings = (
            f"{name} is incomplete: {len(missing)} chapter file(s) are missing and were skipped.",
        )
    return ParsedDocument(
        path=str(path),
        kind="epub",
        segments=tuple(segments),
        title=titles[0] if titles else None,
        warnings=warnings,
    )
