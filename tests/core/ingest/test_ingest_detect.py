"""Format detection, error conversion in load_document, and the file walker."""

from __future__ import annotations

import builtins
import os
import zipfile
from pathlib import Path

import pymupdf
import pytest

from kbdesk.core.errors import DocumentUnreadable, EmptyDocument, UnsupportedFile
from kbdesk.core.ingest import (
    SUPPORTED_SUFFIXES,
    detect_kind,
    iter_supported_files,
    load_document,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def test_supported_suffixes():
    assert {".pdf", ".docx", ".txt", ".md", ".markdown", ".html", ".htm", ".epub"} == set(
        SUPPORTED_SUFFIXES
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.txt", "txt"), ("b.MD", "md"), ("c.markdown", "md"), ("d.htm", "html"), ("e.HTML", "html")],
)
def test_text_kinds_by_extension(tmp_path, name, kind):
    path = tmp_path / name
    path.write_text("hello")
    assert detect_kind(path) == kind


def test_pdf_header_may_follow_junk(tmp_path, make_pdf):
    path = make_pdf("real.pdf", [[(72, 72, "x")]])
    assert detect_kind(path) == "pdf"
    shifted = tmp_path / "shifted.pdf"
    shifted.write_bytes(b"\r\n" * 100 + path.read_bytes())
    assert detect_kind(shifted) == "pdf"


@pytest.mark.parametrize(
    ("content", "what"),
    [(PNG, "PNG image"), (JPEG, "JPEG image"), (b"PK\x03\x04" + b"\x00" * 40, "ZIP archive")],
)
def test_renamed_file_is_not_a_pdf(tmp_path, content, what):
    path = tmp_path / "photo.pdf"
    path.write_bytes(content)
    with pytest.raises(DocumentUnreadable) as err:
        load_document(path)
    assert str(err.value).startswith("photo.pdf is not a PDF")
    assert what in str(err.value)


def test_text_renamed_pdf(tmp_path):
    path = tmp_path / "notes.pdf"
    path.write_text("just some notes " * 100)
    with pytest.raises(DocumentUnreadable, match="notes.pdf is not a PDF"):
        load_document(path)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "data.xyz"
    path.write_text("x")
    with pytest.raises(UnsupportedFile) as err:
        load_document(path)
    msg = str(err.value)
    assert "'.xyz'" in msg and "data.xyz" in msg
    for suffix in (".pdf", ".docx", ".epub", ".md"):
        assert suffix in msg


def test_no_extension_is_unsupported(tmp_path):
    path = tmp_path / "README"
    path.write_text("x")
    with pytest.raises(UnsupportedFile, match="without an extension"):
        detect_kind(path)


def test_docx_and_epub_must_be_zip(tmp_path):
    for name in ("doc.docx", "book.epub"):
        path = tmp_path / name
        path.write_bytes(PNG)
        with pytest.raises(DocumentUnreadable, match="PNG image"):
            load_document(path)


def test_ole_docx_is_explained(tmp_path):
    path = tmp_path / "old.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(DocumentUnreadable, match="password-protected or an old-style"):
        load_document(path)


def test_epub_with_wrong_mimetype(tmp_path):
    path = tmp_path / "fake.epub"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    with pytest.raises(DocumentUnreadable, match="not an EPUB"):
        load_document(path)


def test_empty_file(tmp_path):
    path = tmp_path / "nothing.txt"
    path.write_bytes(b"")
    with pytest.raises(EmptyDocument, match="nothing.txt is empty"):
        load_document(path)


def test_missing_file(tmp_path):
    with pytest.raises(DocumentUnreadable, match="does not exist"):
        load_document(tmp_path / "gone.pdf")


def test_directory_named_like_a_pdf(tmp_path):
    (tmp_path / "x.pdf").mkdir()
    with pytest.raises(DocumentUnreadable, match="x.pdf.*folder"):
        load_document(tmp_path / "x.pdf")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file_chmod(tmp_path, make_pdf):
    path = make_pdf("locked.pdf", [[(72, 72, "x")]])
    path.chmod(0)
    try:
        with pytest.raises(DocumentUnreadable, match="cannot read locked.pdf: permission denied"):
            load_document(path)
    finally:
        path.chmod(0o600)


def test_unreadable_file_simulated(tmp_path, monkeypatch):
    path = tmp_path / "locked.txt"
    path.write_text("secret")
    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(DocumentUnreadable) as err:
        load_document(path)
    assert str(err.value) == "cannot read locked.txt: permission denied"


def test_parser_crash_becomes_unreadable(tmp_path, monkeypatch, make_pdf):
    path = make_pdf("boom.pdf", [[(72, 72, "x")]])

    def explode(*args, **kwargs):
        raise ValueError("internal parser state\nwith a second line")

    monkeypatch.setattr(pymupdf.Page, "get_text", explode)
    monkeypatch.setattr("kbdesk.core.ingest.pdf.lines_from_dict", explode)
    with pytest.raises(DocumentUnreadable) as err:
        load_document(path)
    assert "boom.pdf" in str(err.value) and "\n" not in str(err.value)


def test_unexpected_library_error_is_wrapped(tmp_path, monkeypatch):
    path = tmp_path / "page.html"
    path.write_text("<p>hi</p>")

    def explode(*args, **kwargs):
        raise AssertionError("lxml went sideways\nTraceback (most recent call last)")

    monkeypatch.setattr("kbdesk.core.ingest.html.html_to_paragraphs", explode)
    with pytest.raises(DocumentUnreadable) as err:
        load_document(path)
    msg = str(err.value)
    assert msg == "page.html could not be read (AssertionError: lxml went sideways)."


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    return path


def test_iter_supported_files(tmp_path):
    root = tmp_path / "lib"
    _touch(root / "b.pdf")
    _touch(root / "a.txt")
    _touch(root / "sub" / "c.DOCX")
    _touch(root / "sub" / "~$c.docx")
    _touch(root / ".hidden.md")
    _touch(root / ".git" / "d.md")
    _touch(root / "notes.xyz")
    _touch(root / "sub" / "deeper" / "e.epub")
    loose = _touch(tmp_path / "loose.xyz")
    found = list(iter_supported_files([root, loose, root / "a.txt", tmp_path / "missing.pdf"]))
    rel = [p.relative_to(tmp_path).as_posix() for p in found]
    assert rel == [
        "lib/a.txt",
        "lib/b.pdf",
        "lib/sub/c.DOCX",
        "lib/sub/deeper/e.epub",
        "loose.xyz",
        "missing.pdf",
    ]
