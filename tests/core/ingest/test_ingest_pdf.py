"""PDF loading: lines with pages and boxes, Chinese, encryption, damage, empty and scanned files."""

from __future__ import annotations

import pymupdf
import pytest

from kbdesk.core.errors import (
    DocumentEncrypted,
    DocumentUnreadable,
    EmptyDocument,
    KbdeskError,
    NeedsOCR,
)
from kbdesk.core.ingest import (
    ChunkSettings,
    chunk_document,
    load_document,
    ocr_status,
    section_texts,
)
from kbdesk.core.ingest.pdf import page_ranges


def _contains(bbox, x, y) -> bool:
    x0, y0, x1, y1 = bbox
    return x0 <= x <= x1 and y0 <= y <= y1


def test_lines_carry_page_and_bbox(make_pdf):
    path = make_pdf(
        "two.pdf",
        [
            [(72, 100, "Alpha line on page one."), (72, 300, "Beta line lower down.")],
            [(200, 500, "Gamma on page two.")],
        ],
    )
    doc = load_document(path)
    assert doc.kind == "pdf" and doc.pages == 2 and doc.warnings == ()
    by_text = {s.text: s for s in doc.segments}
    assert set(by_text) == {
        "Alpha line on page one.",
        "Beta line lower down.",
        "Gamma on page two.",
    }
    alpha, beta, gamma = (by_text[t] for t in sorted(by_text))
    assert (alpha.page, beta.page, gamma.page) == (1, 1, 2)
    # insert_text places the baseline at the point; a point just above it lies inside the box
    assert _contains(alpha.bbox, 73, 98)
    assert _contains(beta.bbox, 73, 298)
    assert _contains(gamma.bbox, 201, 498)
    assert not _contains(alpha.bbox, 73, 298)
    assert all(v == round(v, 1) for s in doc.segments for v in s.bbox)


def test_block_lines_and_paragraph_ends(make_textbox_pdf):
    text = "word " * 300  # wraps onto several lines of one block
    doc = load_document(make_textbox_pdf("box.pdf", [text.strip()]))
    assert len(doc.segments) > 3
    assert [s.para_end for s in doc.segments] == [False] * (len(doc.segments) - 1) + [True]
    tops = [s.bbox[1] for s in doc.segments]
    assert tops == sorted(tops)


def test_multipage_chunks_have_the_right_page(make_textbox_pdf):
    pages = [
        " ".join(f"Page {p} sentence number {i} talks about topic {p}." for i in range(40))
        for p in (1, 2, 3)
    ]
    doc = load_document(make_textbox_pdf("three.pdf", pages))
    chunks = chunk_document(doc, ChunkSettings(size=400, overlap=60))
    sections = section_texts(doc)
    assert set(sections) == {1, 2, 3}
    assert {c.page for c in chunks} == {1, 2, 3}
    for c in chunks:
        assert f"Page {c.page} sentence" in c.text
        assert all(f"Page {p} " not in c.text for p in (1, 2, 3) if p != c.page)
        assert sections[c.page][c.char_start : c.char_end] == c.text
        assert c.boxes, "PDF chunks carry the boxes of their lines"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)


def test_chinese_pdf_extracts_and_splits_at_full_stop(make_textbox_pdf):
    stems, branches = "甲乙丙丁戊己庚辛壬癸", "子丑寅卯辰巳"
    # Digits would be Latin text: a line wrapped inside "12" rightly gets a space when joined.
    sentences = [f"第{s}{b}句话说明知识库的检索功能。" for s in stems for b in branches]
    doc = load_document(make_textbox_pdf("zh.pdf", ["".join(sentences)], fontname="china-s"))
    section = section_texts(doc)[1]
    # Lines wrapped inside Chinese text are joined without spaces, so sentences survive whole.
    assert "".join(sentences) == section
    chunks = chunk_document(doc, ChunkSettings(size=200, overlap=40))
    assert len(chunks) > 3
    for c in chunks:
        assert section[c.char_start : c.char_end] == c.text
        assert c.text.endswith("。")
        assert c.text.startswith("第")


def test_encrypted_pdf(make_pdf):
    path = make_pdf(
        "secret.pdf",
        [[(72, 72, "classified")]],
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        user_pw="pw",
        owner_pw="owner",
    )
    with pytest.raises(DocumentEncrypted, match="password-protected") as err:
        load_document(path)
    assert "secret.pdf" in str(err.value) and "remove the password" in str(err.value).lower()


def test_owner_password_only_pdf_opens(make_pdf):
    path = make_pdf(
        "perm.pdf",
        [[(72, 72, "readable text")]],
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        owner_pw="owner",
        permissions=int(pymupdf.PDF_PERM_ACCESSIBILITY),
    )
    assert load_document(path).segments[0].text == "readable text"


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.3, 0.5, 0.6, 0.8, 0.95])
def test_truncated_pdf_is_unreadable_or_partial(make_textbox_pdf, fraction):
    path = make_textbox_pdf("cut.pdf", [f"Page {p} has some text." for p in range(1, 6)])
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    try:
        doc = load_document(path)
    except DocumentUnreadable as exc:
        assert "cut.pdf" in str(exc)
        assert "Traceback" not in str(exc)
    else:
        assert doc.segments
        assert any("damaged" in w for w in doc.warnings)


def test_garbage_after_header_is_unreadable(tmp_path):
    path = tmp_path / "junk.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    with pytest.raises(DocumentUnreadable) as err:
        load_document(path)
    assert "junk.pdf" in str(err.value)


def test_page_without_text_is_empty(make_pdf):
    with pytest.raises(EmptyDocument, match="no text"):
        load_document(make_pdf("blank.pdf", [[]]))


def test_zero_page_pdf_is_empty(tmp_path):
    # PyMuPDF refuses to save a page-less PDF, so write a minimal one by hand.
    body = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    xref = len(body)
    body += b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n"
    body += b"trailer<</Size 3/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % xref
    path = tmp_path / "nopages.pdf"
    path.write_bytes(body)
    with pytest.raises(EmptyDocument):
        load_document(path)


def test_image_only_pdf_needs_ocr_when_off(make_image_pdf):
    with pytest.raises(NeedsOCR) as err:
        load_document(make_image_pdf("scan.pdf", ["Scanned words here"]), ocr=False)
    msg = str(err.value)
    assert "scanned" in msg and "OCR" in msg


def test_image_only_pdf_needs_ocr_without_tesseract(make_image_pdf, monkeypatch):
    from kbdesk.core.ingest import ocr as ocr_mod

    monkeypatch.setattr(ocr_mod, "ocr_status", lambda: ocr_mod.OcrStatus(False, reason="none"))
    with pytest.raises(NeedsOCR) as err:
        load_document(make_image_pdf("scan.pdf", ["Scanned words here"]), ocr=True)
    assert "tesseract-ocr-chi-sim" in str(err.value)


def test_mixed_pdf_skips_scanned_pages_with_warning(make_image_pdf, tmp_path):
    scan = pymupdf.open(make_image_pdf("scan.pdf", ["Scanned"]))
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Typed page one")
    doc.insert_pdf(scan)
    doc.new_page().insert_text((72, 72), "Typed page three")
    path = tmp_path / "mixed.pdf"
    doc.save(path)
    parsed = load_document(path, ocr=False)
    assert [s.page for s in parsed.segments] == [1, 3]
    assert parsed.ocr_pages == 0
    assert any("Page 2 " in w and "scanned" in w for w in parsed.warnings)


@pytest.mark.skipif(not ocr_status().available, reason="Tesseract language data not installed")
def test_ocr_reads_image_of_text(make_image_pdf):
    doc = load_document(
        make_image_pdf("scan.pdf", ["The quick brown fox", "Invoice number 12345"]), ocr=True
    )
    assert doc.ocr_pages == 1
    text = " ".join(s.text for s in doc.segments)
    for word in ("quick", "brown", "fox", "Invoice", "12345"):
        assert word in text
    assert all(s.page == 1 and s.bbox is not None for s in doc.segments)


def test_page_ranges():
    assert page_ranges([7, 1, 2, 3, 5]) == "1-3, 5, 7"
    assert page_ranges([4]) == "4"


def test_errors_are_kbdesk_errors_with_file_name(tmp_path):
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(KbdeskError, match="empty.pdf"):
        load_document(path)


@pytest.mark.skipif(not ocr_status().available, reason="Tesseract language data not installed")
def test_mixed_pdf_ocrs_only_the_scanned_page(make_image_pdf, tmp_path):
    scan = pymupdf.open(make_image_pdf("scan.pdf", ["Scanned invoice total"]))
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Typed page one")
    doc.insert_pdf(scan)
    path = tmp_path / "mixed.pdf"
    doc.save(path)
    parsed = load_document(path)
    assert parsed.ocr_pages == 1 and parsed.warnings == ()
    assert parsed.segments[0].text == "Typed page one"
    assert {s.page for s in parsed.segments[1:]} == {2}
    assert "invoice" in " ".join(s.text for s in parsed.segments[1:])


def test_ocr_status_finds_language_data(tmp_path, monkeypatch):
    from kbdesk.core.ingest import ocr as ocr_mod

    full, partial = tmp_path / "full", tmp_path / "partial"
    for d, langs in ((full, ("eng", "chi_sim")), (partial, ("eng",))):
        d.mkdir()
        for lang in langs:
            (d / f"{lang}.traineddata").write_bytes(b"x")
    monkeypatch.setattr(ocr_mod, "_candidate_dirs", lambda: [tmp_path / "nope", partial, full])
    ocr_mod.ocr_status.cache_clear()
    try:
        status = ocr_mod.ocr_status()
        assert status.available and status.tessdata == str(full)
        assert status.language == "eng+chi_sim"
        monkeypatch.setattr(ocr_mod, "_candidate_dirs", lambda: [partial])
        ocr_mod.ocr_status.cache_clear()
        status = ocr_mod.ocr_status()
        assert status.available and status.language == "eng" and "chi_sim" in status.reason
        monkeypatch.setattr(ocr_mod, "_candidate_dirs", lambda: [tmp_path / "nope"])
        ocr_mod.ocr_status.cache_clear()
        assert not ocr_mod.ocr_status().available
    finally:
        ocr_mod.ocr_status.cache_clear()
