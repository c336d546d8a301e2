"""The citation pane with real files: highlighted PDF pages, text passages, find, errors."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pymupdf
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from kbdesk.core.ingest import ChunkSettings, chunk_document, load_document  # noqa: E402
from kbdesk.gui import citation_pane as cp  # noqa: E402
from kbdesk.gui.citation_pane import EMPTY_TEXT, CitationPane  # noqa: E402
from kbdesk.gui.find_bar import FindBar  # noqa: E402
from kbdesk.gui.page_controls import PageControls  # noqa: E402
from kbdesk.gui.workers import JobRunner  # noqa: E402
from tests.helpers import LEASE_PAGES, TERMS_PARAGRAPH, make_pdf  # noqa: E402

WAIT = 10000


@pytest.fixture
def runner(qtbot):
    r = JobRunner(max_threads=2)
    yield r
    assert r.shutdown(WAIT)
    assert r.pool.activeThreadCount() == 0


@pytest.fixture
def pane(qtbot, runner):
    p = CitationPane(runner)
    qtbot.addWidget(p)
    p.resize(700, 600)
    p.show()
    qtbot.waitExposed(p)
    return p


@pytest.fixture
def lease(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "docs" / "lease.pdf", LEASE_PAGES)


def _segment(path: Path, word: str):
    return next(s for s in load_document(path).segments if word in s.text)


def _show(qtbot, pane, signal, check=None, **kwargs):
    with qtbot.waitSignal(signal, timeout=WAIT, check_params_cb=check) as blocker:
        pane.show_citation(**kwargs)
    return blocker.args


def _yellow(color: QColor) -> bool:
    return color.red() > 230 and color.green() > 200 and color.blue() < 150


def _cite(path: Path, seg) -> dict:
    return dict(path=str(path), document=path.name, page=seg.page, boxes=(seg.bbox,), text=seg.text)


def test_empty_state(pane):
    assert pane.current_page is None and pane.current_path is None
    assert pane._stack.currentWidget() is pane._empty and pane._empty.text() == EMPTY_TEXT
    assert not pane.page_controls.next_button.isEnabled() and not pane.find_bar.edit.isEnabled()


def test_pdf_citation_opens_its_page_with_the_line_highlighted(qtbot, pane, lease):
    seg = _segment(lease, "deposit")
    assert seg.page == 3
    _show(qtbot, pane, pane.page_shown, lambda page: page == 3, **_cite(lease, seg))
    assert pane.current_page == 3 and pane.current_path == str(lease)
    assert pane._title.text() == "lease.pdf — page 3"
    nav = pane.page_controls
    assert nav.page_box.text() == "Page 3 of 3"
    assert nav.next_button.isEnabled() is False and nav.previous_button.isEnabled()
    image = pane.current_image
    assert image.devicePixelRatio() == pytest.approx(pane.devicePixelRatioF())
    [(x0, y0, x1, y1)] = pane.highlight_rects
    # the rect is where the line is, at the zoom shown
    zoom = image.width() / 595
    assert x0 == pytest.approx(seg.bbox[0] * zoom, abs=2)
    assert y0 == pytest.approx(seg.bbox[1] * zoom, abs=2)
    inside = [image.pixelColor(x, y) for y in range(y0, y1) for x in range(x0, x1)]
    assert sum(map(_yellow, inside)) > len(inside) / 2
    assert not _yellow(image.pixelColor(x0 + 2, y1 + (y1 - y0) * 3))  # the next lines are plain
    shown = pane._page_view.label.pixmap()
    assert shown.size() == image.size()  # the highlighted image is what is on screen


def test_navigation_and_zoom_rerender(qtbot, pane, lease):
    seg = _segment(lease, "deposit")
    _show(qtbot, pane, pane.page_shown, lambda page: page == 3, **_cite(lease, seg))
    width = pane.current_image.width()
    nav = pane.page_controls
    with qtbot.waitSignal(pane.page_shown, timeout=WAIT, check_params_cb=lambda p: p == 2):
        qtbot.mouseClick(nav.previous_button, Qt.MouseButton.LeftButton)
    assert pane.highlight_rects == ()  # the citation is on page 3, not 2
    assert pane._title.text() == "lease.pdf — page 2" and nav.page_box.text() == "Page 2 of 3"
    with qtbot.waitSignal(pane.page_shown, timeout=WAIT):
        qtbot.mouseClick(nav.zoom_in_button, Qt.MouseButton.LeftButton)
    assert pane.current_image.width() == pytest.approx(width * 1.25, rel=0.02)
    with qtbot.waitSignal(pane.page_shown, timeout=WAIT):
        nav.page_box.setValue(3)
    assert pane.current_page == 3 and len(pane.highlight_rects) == 1
    with qtbot.waitSignal(pane.page_shown, timeout=WAIT):
        qtbot.mouseClick(nav.fit_button, Qt.MouseButton.LeftButton)
    assert pane.current_image.width() / pane.current_image.devicePixelRatio() <= (
        pane._page_view.viewport().width()
    )


def test_stale_renders_are_dropped(qtbot, pane, lease, monkeypatch):
    """A render still running when the user moves on must not replace the newer page."""
    started, release = threading.Event(), threading.Event()
    real_render = cp.view.render_page

    def slow_render(path, page, zoom, boxes=(), faint=()):
        if page == 1:
            started.set()
            release.wait(WAIT / 1000)
        return real_render(path, page, zoom, boxes, faint)

    monkeypatch.setattr(cp.view, "render_page", slow_render)
    shown: list[int] = []
    pane.page_shown.connect(shown.append)
    pane.show_citation(**_cite(lease, _segment(lease, "Commercial")))
    assert started.wait(WAIT / 1000)  # page 1 is rendering now
    pane.show_citation(**_cite(lease, _segment(lease, "deposit")))
    release.set()
    qtbot.waitUntil(lambda: bool(shown) and not pane._runner.busy(), timeout=WAIT)
    qtbot.wait(50)  # let any queued result arrive
    assert shown == [3] and pane.current_page == 3 and len(pane.highlight_rects) == 1


def test_find_goes_to_the_matching_page(qtbot, pane, lease):
    first = _segment(lease, "Commercial")
    _show(qtbot, pane, pane.page_shown, lambda page: page == 1, **_cite(lease, first))
    pane.activateWindow()
    pane.focus_find()  # what the window's Ctrl+F does
    qtbot.waitUntil(pane.find_bar.edit.hasFocus, timeout=WAIT)
    pane.find_bar.edit.setText("deposit")
    with qtbot.waitSignals(
        [(pane.find_status, "status"), (pane.page_shown, "page")],
        timeout=WAIT,
        check_params_cbs=[lambda s: s == "1 of 1", lambda p: p == 3],
    ):
        qtbot.keyClick(pane.find_bar.edit, Qt.Key.Key_Return)
    assert pane.current_page == 3 and pane.find_bar.result_label.text() == "1 of 1"
    [(x0, y0, x1, y1)] = pane.highlight_rects
    assert _yellow(pane.current_image.pixelColor(x0 + 1, y0 + 1))
    pane.find_bar.edit.setText("zebra")
    with qtbot.waitSignal(pane.find_status, timeout=WAIT) as blocker:
        qtbot.keyClick(pane.find_bar.edit, Qt.Key.Key_Return)
    assert blocker.args == ["No matches"]


def test_find_cycles_through_matches(qtbot, pane, lease):
    first = _segment(lease, "Commercial")
    _show(qtbot, pane, pane.page_shown, lambda page: page == 1, **_cite(lease, first))
    pane.find_bar.edit.setText("month")
    statuses: list[str] = []
    pane.find_status.connect(statuses.append)
    with qtbot.waitSignal(pane.page_shown, timeout=WAIT, check_params_cb=lambda p: p == 2):
        pane.find_next()
    with qtbot.waitSignal(pane.page_shown, timeout=WAIT, check_params_cb=lambda p: p == 2):
        pane.find_next()
    assert statuses == ["1 of 3", "2 of 3"]  # "monthly", "month", "month" all on page 2


def test_text_document_highlights_the_passage(qtbot, pane, tmp_path):
    notes = tmp_path / "office notes.txt"
    paras = [
        f"Paragraph {i}. " + "Routine office matters are described here. " * 6 for i in range(40)
    ]
    paras[30] = "The spare key is kept in the blue box behind reception. Ask Dana for it."
    notes.write_text("\n\n".join(paras), encoding="utf-8")
    chunks = chunk_document(load_document(notes), ChunkSettings(size=300, overlap=30))
    chunk = next(c for c in chunks if "spare key" in c.text and "\n" in c.text)
    kwargs = dict(path=str(notes), document=notes.name, page=None, boxes=(), text=chunk.text)
    _show(qtbot, pane, pane.text_shown, **kwargs)
    view = pane._text_view
    assert pane._stack.currentWidget() is view and view.isReadOnly()
    assert pane.current_page is None and not pane.page_controls.next_button.isEnabled()
    [sel] = view.extraSelections()
    selected = sel.cursor.selectedText().replace("\u2029", "\n")
    assert selected.split() == chunk.text.split()
    assert sel.format.background().color() == cp._PASSAGE
    assert view.verticalScrollBar().value() > 0  # scrolled down to paragraph 30
    rect = view.cursorRect(sel.cursor)
    assert view.viewport().rect().intersects(rect)
    pane.find_bar.edit.setText("blue box")
    with qtbot.waitSignal(pane.find_status, timeout=WAIT) as blocker:
        qtbot.keyClick(pane.find_bar.edit, Qt.Key.Key_Return)
    assert blocker.args == ["1 of 1"] and len(view.extraSelections()) == 2


DEPOSIT = (
    "The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates "
    "the premises and hands back all keys."
)


def _quoted_citation(path: Path, quote: str) -> dict:
    """The real pipeline's passage for page 1, cited with `quote` as its supporting sentence."""
    [chunk] = chunk_document(load_document(path))
    start = chunk.text.index(quote)
    return dict(
        path=str(path),
        document=path.name,
        page=chunk.page,
        boxes=chunk.boxes,
        text=chunk.text,
        quote_spans=((start, start + len(quote)),),
    )


def test_the_quoted_sentence_is_highlighted_strongly_and_the_rest_of_the_passage_faintly(
    qtbot, pane, tmp_path
):
    pdf = make_pdf(tmp_path / "terms.pdf", ["\n" * 36 + TERMS_PARAGRAPH])  # low on the page
    cite = _quoted_citation(pdf, DEPOSIT)
    assert len(cite["boxes"]) == 4
    _show(qtbot, pane, pane.page_shown, lambda page: page == 1, **cite)
    image, strong, faint = pane.current_image, pane.highlight_rects, pane.faint_rects
    assert len(faint) == 4  # the passage's lines
    # the quote's stretch of each of its two lines, as MuPDF's own search finds the sentence
    with pymupdf.open(pdf) as doc:
        found = doc[0].search_for(DEPOSIT)
    zoom = image.width() / 595
    assert len(strong) == len(found) == 2
    for (x0, y0, x1, y1), r in zip(strong, found, strict=True):
        assert (x0, x1) == (pytest.approx(r.x0 * zoom, abs=2), pytest.approx(r.x1 * zoom, abs=2))
        assert (y0 + y1) / 2 == pytest.approx((r.y0 + r.y1) / 2 * zoom, abs=2)
    for x0, y0, x1, y1 in strong:  # inside the passage's line boxes
        assert any(f[0] <= x0 < x1 <= f[2] and (f[1], f[3]) == (y0, y1) for f in faint)
    # lines 1 and 4 are not quoted: faint only
    assert {(y0, y1) for _, y0, _, y1 in strong} == {(f[1], f[3]) for f in faint[1:3]}
    fx0, fy0, fx1, fy1 = faint[0]
    first_line = [image.pixelColor(x, y) for y in range(fy0, fy1) for x in range(fx0, fx1, 3)]
    assert not any(map(_yellow, first_line))
    assert sum(c.blue() < 235 and c.red() > 250 for c in first_line) > len(first_line) / 2
    x0, y0, x1, y1 = strong[1]
    quoted = [image.pixelColor(x, y) for y in range(y0, y1) for x in range(x0, x1, 3)]
    assert sum(map(_yellow, quoted)) > len(quoted) / 2
    # the quote is scrolled into view
    top = pane._page_view.verticalScrollBar().value() * image.devicePixelRatio()
    assert top > 0
    height = pane._page_view.viewport().height() * image.devicePixelRatio()
    assert top <= strong[0][1] and strong[-1][3] <= top + height


def test_a_quote_not_on_the_page_highlights_the_whole_passage(qtbot, pane, tmp_path):
    pdf = make_pdf(tmp_path / "terms.pdf", [TERMS_PARAGRAPH])
    cite = _quoted_citation(pdf, DEPOSIT)
    cite["text"] = cite["text"].replace("security deposit", "damage deposit")  # changed since
    _show(qtbot, pane, pane.page_shown, lambda page: page == 1, **cite)
    assert len(pane.highlight_rects) == 4 and pane.faint_rects == ()


def test_text_document_highlights_the_quote_strongly_and_its_passage_faintly(qtbot, pane, tmp_path):
    notes = tmp_path / "office notes.txt"
    paras = [
        f"Paragraph {i}. " + "Routine office matters are described here. " * 6 for i in range(40)
    ]
    paras[30] = "The spare key is kept in the blue box behind reception. Ask Dana for it."
    notes.write_text("\n\n".join(paras), encoding="utf-8")
    chunks = chunk_document(load_document(notes), ChunkSettings(size=300, overlap=30))
    chunk = next(c for c in chunks if "spare key" in c.text and "\n" in c.text)
    start = chunk.text.index("Ask Dana for it.")
    kwargs = dict(
        path=str(notes),
        document=notes.name,
        page=None,
        boxes=(),
        text=chunk.text,
        quote_spans=((start, start + len("Ask Dana for it.")),),
    )
    _show(qtbot, pane, pane.text_shown, **kwargs)
    view = pane._text_view
    text = view.toPlainText()
    [(q0, q1)] = pane.quote_ranges
    assert text[q0:q1] == "Ask Dana for it."
    p0, p1 = pane.highlight_range
    assert p0 < q0 < q1 <= p1
    passage, quote = view.extraSelections()
    assert (passage.cursor.selectionStart(), passage.cursor.selectionEnd()) == (p0, p1)
    assert (quote.cursor.selectionStart(), quote.cursor.selectionEnd()) == (q0, q1)
    assert passage.format.background().color() == cp._FAINT
    assert quote.format.background().color() == cp._PASSAGE
    assert view.viewport().rect().intersects(view.cursorRect(quote.cursor))


def test_missing_file_shows_where_it_was_and_the_passage(qtbot, pane, tmp_path):
    gone = tmp_path / "gone" / "lease.pdf"
    kwargs = dict(path=str(gone), document="lease.pdf", page=2, boxes=(), text="Section 4 Rent.")
    [msg] = _show(qtbot, pane, pane.message_shown, **kwargs)
    assert msg == f"lease.pdf is no longer at {gone}. Re-import it or restore the file."
    shown = pane._message.toPlainText()
    assert msg in shown and "Section 4 Rent." in shown
    assert pane.current_page is None and pane.highlight_rects == ()
    assert not pane._open.isEnabled() and not pane.page_controls.page_box.isVisible()
    missing_txt = dict(kwargs, path=str(tmp_path / "notes.md"), document="notes.md")
    [msg] = _show(qtbot, pane, pane.message_shown, **missing_txt)
    assert msg.startswith("notes.md is no longer at")


def test_open_in_system_viewer(qtbot, pane, lease, monkeypatch):
    opened = []

    class FakeServices:
        @staticmethod
        def openUrl(url):  # noqa: N802 (Qt's name)
            opened.append(url.toLocalFile())
            return True

    monkeypatch.setattr(cp, "QDesktopServices", FakeServices)
    seg = _segment(lease, "deposit")
    _show(qtbot, pane, pane.page_shown, **_cite(lease, seg))
    qtbot.mouseClick(pane._open, Qt.MouseButton.LeftButton)
    assert opened == [str(lease)]


def test_every_control_is_labelled(pane):
    nav, find = pane.page_controls, pane.find_bar
    controls = [nav.previous_button, nav.next_button, nav.page_box, nav.zoom_in_button]
    controls += [nav.zoom_out_button, nav.fit_button, find.edit, find.result_label, pane._open]
    for w in controls:
        assert w.toolTip() and w.accessibleName(), w


def test_page_controls_ask_by_signal(qtbot):
    nav = PageControls()
    qtbot.addWidget(nav)
    nav.show_page(2, 3)
    asked: list[int] = []
    nav.page_requested.connect(asked.append)
    qtbot.mouseClick(nav.next_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(nav.previous_button, Qt.MouseButton.LeftButton)
    nav.page_box.setValue(3)
    nav.show_page(3, 3)  # the owner's update is not a request
    assert asked == [3, 1, 3] and nav.page_box.text() == "Page 3 of 3"
    with qtbot.waitSignal(nav.zoom_in_requested, timeout=WAIT):
        qtbot.mouseClick(nav.zoom_in_button, Qt.MouseButton.LeftButton)
    nav.show_page(None, 0)
    assert nav.isHidden() and not nav.next_button.isEnabled()


def test_find_bar_reports_matches_by_signal(qtbot, runner):
    bar = FindBar(runner)
    qtbot.addWidget(bar)
    bar.use_text("One blue box, then a Blue\nBox, then nothing.")
    seen: list[tuple] = []
    bar.matches_changed.connect(lambda hits, index: seen.append((hits, index)))
    bar.edit.setText("blue  box")
    with qtbot.waitSignal(bar.status_changed, timeout=WAIT) as blocker:
        bar.find_next()
    assert blocker.args == ["1 of 2"]
    bar.find_next()
    assert seen == [(((4, 12), (21, 29)), 0), (((4, 12), (21, 29)), 1)]
    bar.edit.clear()  # the owner drops the marks
    assert seen[-1] == ((), -1) and bar.result_label.text() == ""
    bar.reset()
    bar.edit.setText("blue")
    bar.find_next()  # nothing to search after a reset
    assert len(seen) == 3
