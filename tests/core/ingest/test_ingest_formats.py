"""Loaders for text, Markdown, Word, HTML and EPUB files."""

from __future__ import annotations

import zipfile

import docx
import pytest

from kbdesk.core.errors import DocumentEncrypted, DocumentUnreadable, EmptyDocument
from kbdesk.core.ingest import chunk_document, load_document, section_texts

ZH = "知识库可以离线回答问题。它会引用原文的页码！"


def texts(doc) -> list[str]:
    return [s.text for s in doc.segments]


# --- plain text and Markdown -------------------------------------------------------------


def test_utf8_text_paragraphs(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("First paragraph\nwraps here.\n\n\n  Second one.  \r\n\fThird\n", "utf-8")
    doc = load_document(path)
    assert texts(doc) == ["First paragraph wraps here.", "Second one.", "Third"]
    assert doc.warnings == () and doc.pages == 0
    assert all(s.page is None and s.bbox is None and s.para_end for s in doc.segments)


def test_gb18030_text_is_decoded_with_warning(tmp_path):
    path = tmp_path / "zh.txt"
    path.write_bytes((ZH + "\n\n第二段。").encode("gb18030"))
    doc = load_document(path)
    assert texts(doc) == [ZH, "第二段。"]
    assert any("GB18030" in w for w in doc.warnings)


def test_wrapped_chinese_lines_join_without_space(tmp_path):
    path = tmp_path / "zh.txt"
    path.write_text("知识库可以离线\n回答问题。", "utf-8")
    assert texts(load_document(path)) == ["知识库可以离线回答问题。"]


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes("Hello UTF-16 \u00e9\n\n".encode("utf-16") + ZH.encode("utf-16-le"))
    doc = load_document(path)
    assert texts(doc) == ["Hello UTF-16 \u00e9", ZH]
    assert any("UTF-16" in w for w in doc.warnings)


def test_utf8_bom_and_cp1252(tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbfcaf\xc3\xa9")
    assert texts(load_document(bom)) == ["café"] and load_document(bom).warnings == ()
    latin = tmp_path / "latin.txt"
    latin.write_bytes(
        "na\u00efve caf\u00e9 \u20ac5\x81".encode("cp1252", errors="ignore") + b" \xe9"
    )
    doc = load_document(latin)
    assert "€5" in texts(doc)[0]
    assert any("Windows-1252" in w for w in doc.warnings)


def test_binary_text_file_rejected(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DocumentUnreadable, match="blob.txt looks like a binary file, not text"):
        load_document(path)


def test_undecodable_text_names_encodings(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"abc \x81\x20 \x8d\xff")
    with pytest.raises(DocumentUnreadable) as err:
        load_document(path)
    for enc in ("UTF-8", "GB18030", "Windows-1252"):
        assert enc in str(err.value)


def test_whitespace_only_text_is_empty(tmp_path):
    path = tmp_path / "blank.md"
    path.write_text("\n   \n\t\n")
    with pytest.raises(EmptyDocument):
        load_document(path)


def test_markdown_structure(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text(
        "# The Title\n\nIntro line one\nline two.\n\n## Section *A*\n- item one\n- item two\n\n"
        "```python\nx = 1\n\ny = 2\n```\nSetext Heading\n--------------\nlast words\n",
        "utf-8",
    )
    doc = load_document(path)
    assert doc.kind == "md" and doc.title == "The Title"
    assert texts(doc) == [
        "The Title",
        "Intro line one line two.",
        "Section *A*",
        "- item one\n- item two",
        "x = 1\n\ny = 2",
        "Setext Heading",
        "last words",
    ]


# --- Word ----------------------------------------------------------------------------------


def test_docx_paragraphs_and_tables_in_order(tmp_path):
    d = docx.Document()
    d.core_properties.title = "Quarterly report"
    d.add_heading("Heading one", level=1)
    d.add_paragraph("Before the table.")
    d.add_paragraph("   ")
    table = d.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "Name"
    table.cell(0, 1).text = "Value"
    table.cell(1, 0).text = "Alpha"
    table.cell(1, 1).text = "42"
    merged = table.cell(0, 2).merge(table.cell(1, 2))
    merged.text = "Merged note"
    d.add_paragraph(ZH)
    path = tmp_path / "report.docx"
    d.save(path)
    doc = load_document(path)
    assert doc.kind == "docx" and doc.title == "Quarterly report"
    assert texts(doc) == [
        "Heading one",
        "Before the table.",
        "Name",
        "Value",
        "Merged note",
        "Alpha",
        "42",
        ZH,
    ]


def test_docx_without_document_xml(tmp_path):
    path = tmp_path / "odd.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("content.xml", "<x/>")
    with pytest.raises(DocumentUnreadable, match="word/document.xml"):
        load_document(path)


def test_truncated_docx(tmp_path):
    d = docx.Document()
    d.add_paragraph("text " * 1000)
    path = tmp_path / "cut.docx"
    d.save(path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DocumentUnreadable, match="cut.docx"):
        load_document(path)


def test_empty_docx(tmp_path):
    path = tmp_path / "empty.docx"
    docx.Document().save(path)
    with pytest.raises(EmptyDocument):
        load_document(path)


# --- HTML ----------------------------------------------------------------------------------


PAGE = """<!doctype html><html><head><title> My  Page </title><style>p{color:red}</style>
<script>var hidden = "do not index";</script></head>
<body><header>Site banner</header><nav><a href="/">Home</a> | <a href="/x">Menu</a></nav>
<main><article><header><h1>Article headline</h1></header>
<p>First   paragraph with <b>bold</b> and
<a href="#">a link</a>.</p><div>A div<br>with a break</div>
<ul><li>one</li><li>two</li></ul><pre>  code
   indented</pre><p hidden>invisible</p><!-- a comment -->
<p>中文段落
继续。</p><table><tr><td>cell A</td><td>cell B</td></tr></table></article></main>
<footer>Copyright footer</footer></body></html>"""


def test_html_blocks(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(PAGE, "utf-8")
    doc = load_document(path)
    assert doc.title == "My Page"
    assert texts(doc) == [
        "Article headline",
        "First paragraph with bold and a link.",
        "A div\nwith a break",
        "one",
        "two",
        "  code\n   indented",
        "中文段落继续。",
        "cell A",
        "cell B",
    ]


def test_html_declared_gbk(tmp_path):
    path = tmp_path / "gbk.htm"
    path.write_bytes(
        b'<html><head><meta charset="gbk"><title>t</title></head><body><p>'
        + ZH.encode("gbk")
        + b"</p></body></html>"
    )
    assert texts(load_document(path)) == [ZH]


def test_html_without_text(tmp_path):
    path = tmp_path / "empty.html"
    path.write_text("<html><body><script>x()</script><nav>menu</nav></body></html>")
    with pytest.raises(EmptyDocument, match="no visible text"):
        load_document(path)


def test_deeply_nested_html(tmp_path):
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 5000 + "deep text" + "</div>" * 5000)
    assert texts(load_document(path)) == ["deep text"]


# --- EPUB ----------------------------------------------------------------------------------


def test_epub_spine_order(make_epub):
    path = make_epub(
        "book.epub",
        [
            ("ch1.xhtml", "<h1>Chapter One</h1><p>It begins.</p>"),
            ("ch2.xhtml", f"<h1>Chapter Two</h1><p>{ZH}</p>"),
            ("ch3.xhtml", "<p>The end.</p>"),
        ],
        title="My Book",
    )
    doc = load_document(path)
    assert doc.kind == "epub" and doc.title == "My Book" and doc.pages == 0
    assert texts(doc) == ["Chapter One", "It begins.", "Chapter Two", ZH, "The end."]
    chunks = chunk_document(doc)
    assert len(chunks) == 1 and chunks[0].page is None
    assert section_texts(doc)[None][chunks[0].char_start : chunks[0].char_end] == chunks[0].text


def test_epub_missing_container_and_opf(tmp_path):
    path = tmp_path / "broken.epub"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip")
        zf.writestr("META-INF/container.xml", "<container><rootfiles>")
    with pytest.raises(DocumentUnreadable, match="broken.epub is a damaged EPUB"):
        load_document(path)


def test_epub_drm(make_epub):
    path = make_epub("drm.epub", [("ch1.xhtml", "<p>secret</p>")])
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(
            "META-INF/encryption.xml",
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
            '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
            '<enc:CipherData><enc:CipherReference URI="OEBPS/text/ch1.xhtml"/></enc:CipherData>'
            "</enc:EncryptedData></encryption>",
        )
    with pytest.raises(DocumentEncrypted, match="DRM"):
        load_document(path)


def test_epub_truncated(make_epub):
    path = make_epub("cut.epub", [("ch1.xhtml", "<p>" + "words " * 3000 + "</p>")])
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(DocumentUnreadable, match="cut.epub"):
        load_document(path)
