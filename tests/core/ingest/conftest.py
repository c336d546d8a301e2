"""Factories that write real PDF, DOCX, EPUB and HTML files into tmp_path for the ingest tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pymupdf
import pytest


@pytest.fixture
def make_pdf(tmp_path: Path):
    """make_pdf(name, pages) where each page is a list of (x, y, text[, fontname])."""

    def make(name: str, pages: list[list[tuple]], **save_kwargs) -> Path:
        doc = pymupdf.open()
        for items in pages:
            page = doc.new_page()
            for x, y, text, *font in items:
                page.insert_text((x, y), text, fontsize=11, fontname=font[0] if font else "helv")
        path = tmp_path / name
        doc.save(path, **save_kwargs)
        doc.close()
        return path

    return make


@pytest.fixture
def make_textbox_pdf(tmp_path: Path):
    """make_textbox_pdf(name, page_texts): each text flows into a box filling its page."""

    def make(name: str, page_texts: list[str], fontname: str = "helv") -> Path:
        doc = pymupdf.open()
        for text in page_texts:
            page = doc.new_page()
            rc = page.insert_textbox(
                pymupdf.Rect(50, 50, 550, 800), text, fontsize=10, fontname=fontname
            )
            assert rc >= 0, "test text does not fit on the page"
        path = tmp_path / name
        doc.save(path)
        doc.close()
        return path

    return make


@pytest.fixture
def make_image_pdf(tmp_path: Path):
    """A PDF whose single page is a picture of rendered text, with no text layer."""

    def make(name: str, lines: list[str]) -> Path:
        src = pymupdf.open()
        page = src.new_page(width=500, height=300)
        for i, line in enumerate(lines):
            page.insert_text((30, 60 + 40 * i), line, fontsize=22)
        pix = page.get_pixmap(dpi=150)
        src.close()
        doc = pymupdf.open()
        out = doc.new_page(width=500, height=300)
        out.insert_image(out.rect, pixmap=pix)
        path = tmp_path / name
        doc.save(path)
        doc.close()
        return path

    return make


@pytest.fixture
def make_epub(tmp_path: Path):
    """make_epub(name, chapters) with chapters as (file name, xhtml body) in spine order."""

    def make(name: str, chapters: list[tuple[str, str]], title: str = "A Book") -> Path:
        manifest = "".join(
            f'<item id="c{i}" href="text/{fn}" media-type="application/xhtml+xml"/>'
            for i, (fn, _) in reversed(list(enumerate(chapters)))
        )
        # The manifest is written in reverse, so only the spine gives the right order.
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        opf = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{title}</dc:title><dc:identifier id='id'>x</dc:identifier></metadata>"
            f"<manifest>{manifest}</manifest><spine>{spine}</spine></package>"
        )
        container = (
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"
        )
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
            zf.writestr("META-INF/container.xml", container)
            zf.writestr("OEBPS/content.opf", opf)
            for fn, body in chapters:
                zf.writestr(
                    f"OEBPS/text/{fn}",
                    '<?xml version="1.0" encoding="utf-8"?>'
                    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head>'
                    f"<body>{body}</body></html>",
                    compress_type=zipfile.ZIP_DEFLATED,
                )
        return path

    return make
