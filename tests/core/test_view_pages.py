"""The viewer's Qt-free side: page rendering with visible highlights, search, passage lookup."""

from __future__ import annotations

import threading
from pathlib import Path

import pymupdf
import pytest

from kbdesk.core.errors import DocumentEncrypted, DocumentUnreadable
from kbdesk.core.ingest import ChunkSettings, chunk_document, load_document
from kbdesk.core.view import (
    document_text,
    find_in_document,
    find_passage,
    page_count,
    page_size,
    quote_boxes,
    render_page,
)
from tests.helpers import LEASE_PAGES, TERMS_PARAGRAPH, TERMS_PARAGRAPH_ZH, ZH_PAGES, make_pdf


@pytest.fixture
def lease(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "lease.pdf", LEASE_PAGES)


def _line(path: Path, word: str):
    """The real pipeline's segment (page, bbox) for the line containing `word`."""
    return next(s for s in load_document(path).segments if word in s.text)


def _rgb(rp, x: int, y: int) -> tuple[int, int, int]:
    o = y * rp.stride + x * 3
    return tuple(rp.samples[o : o + 3])


def _is_yellow(rgb) -> bool:
    r, g, b = rgb
    return r > 230 and g > 200 and b < 150


def test_page_count_and_size(lease):
    assert page_count(lease) == 3
    w, h = page_size(lease, 99)  # clamped to the last page
    assert (round(w), round(h)) == (595, 842)


def test_render_highlights_the_cited_line(lease):
    seg = _line(lease, "deposit")
    assert seg.page == 3
    rp = render_page(lease, 3, 2.0, [seg.bbox])
    assert (rp.page, rp.page_count) == (3, 3)
    assert (rp.width, rp.height) == (1190, 1684) and rp.stride >= rp.width * 3
    assert len(rp.samples) == rp.stride * rp.height
    (x0, y0, x1, y1) = rp.highlight_rects[0]
    assert (x0, y0) == pytest.approx((seg.bbox[0] * 2, seg.bbox[1] * 2), abs=2)
    inside = [_rgb(rp, x, y) for y in range(y0, y1) for x in range(x0, x1)]
    # The tint is on paper (yellow) and leaves the cited words' ink dark, so they stay legible.
    assert sum(map(_is_yellow, inside)) > 0.5 * len(inside)
    assert any(max(px) < 90 for px in inside)
    # Outside the box the page is untouched: white margin above it, plain text below it.
    assert _rgb(rp, x0 + 5, y0 - 20) == (255, 255, 255)
    assert not any(_is_yellow(_rgb(rp, x, y1 + 40)) for x in range(x0, x1))
    plain = render_page(lease, 3, 2.0)
    assert plain.highlight_rects == () and not _is_yellow(_rgb(plain, x0 + 3, y0 + 3))


def test_overlapping_boxes_are_tinted_once(lease):
    seg = _line(lease, "deposit")
    once = render_page(lease, 3, 1.0, [seg.bbox])
    twice = render_page(lease, 3, 1.0, [seg.bbox, seg.bbox])
    assert once.samples == twice.samples


def test_rotated_page_highlight_lands_on_the_text(tmp_path, lease):
    doc = pymupdf.open(lease)
    doc[2].set_rotation(90)
    rotated = tmp_path / "rotated.pdf"
    doc.save(rotated)
    doc.close()
    [(page, boxes)] = find_in_document(rotated, "deposit")
    rp = render_page(rotated, page, 1.5, boxes)
    assert rp.width > rp.height  # landscape after rotation
    x0, y0, x1, y1 = rp.highlight_rects[0]
    assert y1 - y0 > x1 - x0  # the word now runs vertically
    assert any(max(_rgb(rp, x, y)) < 90 for y in range(y0, y1) for x in range(x0, x1))


def test_page_and_zoom_are_clamped(lease):
    assert render_page(lease, 0, 1.0).page == 1
    assert render_page(lease, 42, 1.0).page == 3
    tiny = render_page(lease, 1, 0.0001)
    assert tiny.zoom == pytest.approx(0.1) and tiny.width == round(595 * 0.1)
    assert render_page(lease, 1, float("nan")).zoom == 1.0


def test_find_in_document_reports_pages_and_boxes(lease):
    hits = find_in_document(lease, "DEPOSIT")
    assert [p for p, _ in hits] == [3]
    (x0, y0, x1, y1) = hits[0][1][0]
    seg = _line(lease, "deposit")
    assert seg.bbox[0] <= x0 < x1 <= seg.bbox[2] and seg.bbox[1] - 1 <= y0 < y1 <= seg.bbox[3] + 1
    assert [p for p, _ in find_in_document(lease, "the")][:1] == [1]
    assert len(find_in_document(lease, "the", max_hits=2)) == 2
    assert find_in_document(lease, "zebra crossing") == []
    assert find_in_document(lease, "   ") == []


def test_missing_file_says_where_it_was_and_what_to_do(tmp_path):
    gone = tmp_path / "moved" / "report.pdf"
    for call in (lambda: page_count(gone), lambda: render_page(gone, 1, 1.0)):
        with pytest.raises(DocumentUnreadable) as err:
            call()
        assert (
            str(err.value)
            == f"report.pdf is no longer at {gone}. Re-import it or restore the file."
        )
    with pytest.raises(DocumentUnreadable, match="no longer at"):
        document_text(tmp_path / "notes.txt")


def test_damaged_and_encrypted_files_are_clear_errors(tmp_path, lease):
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"this is not a pdf at all")
    with pytest.raises(DocumentUnreadable, match="junk.pdf could not be opened"):
        render_page(junk, 1, 1.0)
    doc = pymupdf.open(lease)
    locked = tmp_path / "locked.pdf"
    doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="pw")
    doc.close()
    with pytest.raises(DocumentEncrypted, match="password-protected"):
        page_count(locked)


def test_concurrent_renders_while_importing_agree(lease):
    """PyMuPDF is not thread-safe; under MUPDF_LOCK parallel renders and parses stay correct."""
    seg = _line(lease, "deposit")
    expected = render_page(lease, 3, 1.0, [seg.bbox]).samples
    results, errors = [], []

    def render():
        try:
            for _ in range(5):
                results.append(render_page(lease, 3, 1.0, [seg.bbox]).samples)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def parse():
        try:
            for _ in range(5):
                load_document(lease)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (render, render, parse, parse)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 10
    assert all(r == expected for r in results)


def test_document_text_and_passage_lookup(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "Kitchen rules.\n\nWash your cup after use.\nLabel food in the fridge.\n\n"
        "The fridge is emptied every Friday at five.\n",
        encoding="utf-8",
    )
    text = document_text(notes)
    assert text == (
        "Kitchen rules.\n\nWash your cup after use. Label food in the fridge.\n\n"
        "The fridge is emptied every Friday at five."
    )
    # A stored chunk joins paragraphs with one newline; the view uses a blank line.
    [chunk] = chunk_document(load_document(notes), ChunkSettings(size=500, overlap=50))
    assert "\n" in chunk.text and chunk.text not in text
    start, end = find_passage(text, chunk.text)
    assert (start, end) == (0, len(text))
    exact = find_passage(text, "Label food")
    assert exact is not None and text[exact[0] : exact[1]] == "Label food"
    assert find_passage(text, "Label   food\nin the") == (
        exact[0],
        exact[0] + len("Label food in the"),
    )
    assert find_passage(text, "not in there") is None
    assert find_passage(text, "  ") is None


def test_chinese_passage_found_across_line_joins(tmp_path):
    zh = make_pdf(tmp_path / "zh.pdf", ZH_PAGES, cjk=True)
    text = document_text(zh)
    passage = "伤口护理：手术后十四天内不要洗澡，\n保持伤口干燥。"
    span = find_passage(text, passage)
    assert span is not None
    assert "".join(text[span[0] : span[1]].split()) == "".join(passage.split())


def _passage(path: Path, page: int):
    """The real pipeline's chunk for `page` (the whole page here) and its line boxes."""
    [chunk] = [c for c in chunk_document(load_document(path)) if c.page == page]
    return chunk


def _span_of(text: str, sentence: str) -> tuple[int, int]:
    start = text.index(sentence)
    return start, start + len(sentence)


@pytest.mark.parametrize(
    ("text", "cjk", "sentence"),
    [
        (
            TERMS_PARAGRAPH,
            False,
            "The security deposit of 25,200 dollars is returned within 30 days",
        ),
        (TERMS_PARAGRAPH_ZH, True, "每两天更换一次敷料，更换前后都要洗手"),
    ],
)
def test_quote_boxes_cover_the_quoted_part_of_each_line_only(tmp_path, text, cjk, sentence):
    pdf = make_pdf(tmp_path / "terms.pdf", ["Cover page.", text], cjk=cjk)
    chunk = _passage(pdf, 2)
    assert len(chunk.boxes) >= 3  # a multi-line passage
    start = chunk.text.index(sentence)
    end = chunk.text.index("。" if cjk else ".", start) + 1
    quote = chunk.text[start:end]
    boxes = quote_boxes(pdf, 2, chunk.boxes, chunk.text, [(start, end)])
    # MuPDF's own search for the sentence finds the same stretch of each line
    with pymupdf.open(pdf) as doc:
        expected = doc[1].search_for(quote)
    assert len(boxes) == len(expected) < len(chunk.boxes)
    for box, rect in zip(boxes, expected, strict=True):
        assert box == pytest.approx((rect.x0, rect.y0, rect.x1, rect.y1), abs=0.2)
    for x0, y0, x1, y1 in boxes:  # each inside one of the passage's line boxes
        assert any(b[0] <= x0 < x1 <= b[2] and (b[1], b[3]) == (y0, y1) for b in chunk.boxes), (
            x0,
            y0,
            x1,
            y1,
        )


def test_quote_boxes_are_empty_when_the_quote_is_not_on_the_page(tmp_path):
    pdf = make_pdf(tmp_path / "terms.pdf", ["Cover page.", TERMS_PARAGRAPH])
    chunk = _passage(pdf, 2)
    span = _span_of(chunk.text, "Keys are handed back at the building office")
    assert quote_boxes(pdf, 2, chunk.boxes, chunk.text, [span])  # there as imported
    changed = chunk.text.replace("building office", "front desk")
    gone = _span_of(changed, "Keys are handed back at the front desk")
    assert quote_boxes(pdf, 2, chunk.boxes, changed, [gone]) == ()
    assert quote_boxes(pdf, 1, chunk.boxes, chunk.text, [span]) == ()  # another page's lines
    assert quote_boxes(pdf, 2, (), chunk.text, [span]) == ()


def test_faint_boxes_are_tinted_lightly_and_the_strong_ones_win(tmp_path):
    pdf = make_pdf(tmp_path / "terms.pdf", ["Cover page.", TERMS_PARAGRAPH])
    chunk = _passage(pdf, 2)
    quote = quote_boxes(pdf, 2, chunk.boxes, chunk.text, [_span_of(chunk.text, "Keys are")])
    rp = render_page(pdf, 2, 2.0, quote, chunk.boxes)
    assert len(rp.highlight_rects) == 1 and len(rp.faint_rects) == len(chunk.boxes)
    x0, y0, x1, y1 = rp.highlight_rects[0]
    strong = [_rgb(rp, x, y) for y in range(y0, y1) for x in range(x0, x1)]
    assert sum(map(_is_yellow, strong)) > 0.5 * len(strong)
    assert strong.count((255, 237, 115)) > 0.5 * len(strong)  # paper tinted once, not twice
    fx0, fy0, fx1, fy1 = rp.faint_rects[0]  # the first line: faint only
    faint = [_rgb(rp, x, y) for y in range(fy0, fy1) for x in range(fx0, fx1)]
    cream = [px for px in faint if px[0] == 255 and 235 <= px[1] < 255 and 180 <= px[2] < 230]
    assert len(cream) > 0.5 * len(faint) and not any(map(_is_yellow, faint))
    assert any(max(px) < 90 for px in faint)  # the ink stays dark
    assert _rgb(rp, fx0 + 5, fy0 - 20) == (255, 255, 255)  # and the page around stays white
