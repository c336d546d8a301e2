"""The citation pane: the cited passage highlighted on its PDF page or in the document's text."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import QtWidgets as W
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QImage, QKeySequence, QShortcut

from kbdesk.core.errors import KbdeskError
from kbdesk.core.view import pages as view
from kbdesk.core.view import quote_boxes
from kbdesk.gui.document_views import MarkedTextView, PageView
from kbdesk.gui.find_bar import FindBar
from kbdesk.gui.page_controls import PageControls
from kbdesk.gui.tagged_jobs import submit_tagged
from kbdesk.gui.widgets import tool_button
from kbdesk.gui.workers import Job, JobContext, JobRunner

EMPTY_TEXT = "Click a citation like [1] in an answer to see the passage here."
ZOOM_STEP, MIN_ZOOM, MAX_ZOOM = 1.25, 0.25, 6.0
# The quote (or a passage without one) strongly, the rest of its passage faintly: the text
# view's colours match the page's tints (core/view/pages.py).
_PASSAGE, _FAINT, _MATCH = QColor(255, 226, 90), QColor(255, 246, 204), QColor(150, 200, 255)
Boxes = tuple[tuple[float, float, float, float], ...]
Marks = dict[int, Boxes]


class CitationPane(W.QWidget):
    """Shows one citation. All file work runs on the JobRunner; only results touch widgets."""

    page_shown = Signal(int)  # a rendered PDF page is on screen (1-based)
    text_shown = Signal()  # a non-PDF document's text is on screen
    message_shown = Signal(str)  # the citation cannot be shown; the message says why
    find_status = Signal(str)  # "3 of 12" / "No matches"

    def __init__(self, runner: JobRunner, parent: W.QWidget | None = None):
        super().__init__(parent)
        self._runner = runner
        self._serial = f"citation-view-{id(self)}"  # renders run in order, stale ones skipped
        self._gen = 0  # bumped by every request; a result from an older one is dropped
        self._render_job: Job | None = None
        self._path: str | None = None
        self._document = ""
        self._section = ""  # the cited passage's section path
        self._passage = ""
        self._is_pdf = False
        self._page: int | None = None
        self._count = 0
        self._zoom: float | None = None  # None: fit width
        self._shown_zoom = 1.0
        self._cite_page: int | None = None
        self._cite_boxes: tuple = ()
        self._quote_spans: tuple[tuple[int, int], ...] = ()  # of the quote in the passage text
        self._quote_boxes: Boxes | None = None  # on the cited page; None: not looked up yet
        self._hits: tuple = ()  # the find bar's, as its last matches_changed said
        self._hit_index = -1
        self._rects: tuple = ()
        self._faint_rects: tuple = ()
        self._image: QImage | None = None
        self._text_range: tuple[int, int] | None = None
        self._quote_ranges: tuple[tuple[int, int], ...] = ()
        self._rendered_width = 0
        self._build()
        self.clear()

    # --- construction ---------------------------------------------------------------------------

    def _build(self) -> None:
        self._title = W.QLabel(self)
        self._title.setAccessibleName("Cited document")
        self._title.setToolTip("The document and page of the citation shown below")
        self._title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.page_controls = PageControls(self)
        self.page_controls.page_requested.connect(self.go_to_page)
        self.page_controls.zoom_in_requested.connect(self.zoom_in)
        self.page_controls.zoom_out_requested.connect(self.zoom_out)
        self.page_controls.fit_width_requested.connect(self.fit_width)
        self.find_bar = FindBar(self._runner, self)
        self.find_bar.matches_changed.connect(self._show_matches)
        self.find_bar.status_changed.connect(self.find_status)
        self.page_shown.connect(self.find_bar.set_page)
        self._open = tool_button(
            self, "Open…", "Open the document in the system viewer", self.open_external
        )
        bar = W.QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.page_controls)
        bar.addStretch(1)
        bar.addWidget(self.find_bar, 2)
        bar.addWidget(self._open)

        self._notice = W.QLabel(self)
        self._notice.setWordWrap(True)
        self._notice.setAccessibleName("Notice")
        self._empty = W.QLabel(EMPTY_TEXT, self)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setEnabled(False)  # drawn greyed: a hint, not content
        self._empty.setAccessibleName("No citation shown")
        self._page_view = PageView(self)
        self._text_view = MarkedTextView(self)
        self._text_view.setAccessibleName("Cited document text")
        self._message = W.QTextBrowser(self)
        self._message.setAccessibleName("Citation unavailable")
        self._stack = W.QStackedWidget(self)
        for w in (self._empty, self._page_view, self._text_view, self._message):
            self._stack.addWidget(w)

        lay = W.QVBoxLayout(self)
        lay.addWidget(self._title)
        lay.addLayout(bar)
        lay.addWidget(self._notice)
        lay.addWidget(self._stack, 1)

        # Ctrl+F is the main window's action (it calls focus_find); a second binding here would
        # make it ambiguous. Zoom keys act only while the pane has focus.
        ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (
            (QKeySequence.StandardKey.ZoomIn, self.zoom_in),
            (QKeySequence.StandardKey.ZoomOut, self.zoom_out),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(ctx)
            shortcut.activated.connect(slot)
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(150)
        self._resize_timer.timeout.connect(self._refit)

    # --- public API -----------------------------------------------------------------------------

    @property
    def current_page(self) -> int | None:
        return self._page

    @property
    def current_path(self) -> str | None:
        return self._path

    @property
    def page_count(self) -> int:
        return self._count

    @property
    def highlight_rects(self) -> tuple[tuple[int, int, int, int], ...]:
        """Strongly highlighted boxes in the shown image's device pixels (PDF only): the quote,
        or the whole passage when it has none, and find matches."""
        return self._rects

    @property
    def faint_rects(self) -> tuple[tuple[int, int, int, int], ...]:
        """The quoted passage's line boxes, faintly highlighted around the quote (PDF only)."""
        return self._faint_rects

    @property
    def current_image(self) -> QImage | None:
        return self._image

    @property
    def highlight_range(self) -> tuple[int, int] | None:
        """(start, end) of the highlighted passage in the shown text (non-PDF only)."""
        return self._text_range

    @property
    def quote_ranges(self) -> tuple[tuple[int, int], ...]:
        """(start, end) of each quoted sentence in the shown text, highlighted strongly."""
        return self._quote_ranges

    def clear(self) -> None:
        """Back to the empty state."""
        self._gen += 1
        self._path, self._page, self._count, self._is_pdf = None, None, 0, False
        self._rects, self._faint_rects, self._image = (), (), None
        self._text_range, self._quote_ranges = None, ()
        self._hits, self._hit_index = (), -1
        self.find_bar.reset()
        self._title.setText("No citation selected")
        self._notice.hide()
        self._stack.setCurrentWidget(self._empty)
        self._update_controls()

    def show_citation(
        self,
        *,
        path: str,
        document: str,
        page: int | None,
        boxes: tuple,
        text: str,
        quote_spans: tuple = (),
        section: str = "",
    ) -> None:
        """Show a passage; `quote_spans` ((start, end) in `text`) are highlighted strongly;
        `section` (its section path) is shown in the title on the cited page."""
        self.clear()
        self._section = section
        self._path, self._passage = path, text
        self._quote_spans = tuple((int(a), int(b)) for a, b in quote_spans)
        self._quote_boxes = None
        self._document = document or Path(path).name
        self._is_pdf = path.lower().endswith(".pdf")
        self._cite_page = page if self._is_pdf else None
        self._cite_boxes = tuple(tuple(b) for b in boxes)
        self._title.setText(f"{self._document} — loading…")
        if self._is_pdf:
            self.find_bar.use_pdf(path)
            self._render(page or 1)
        else:
            self._load_text()

    def go_to_page(self, page: int) -> None:
        if self._is_pdf and self._count:
            self._render(min(max(page, 1), self._count))

    def next_page(self) -> None:
        if self._page is not None:
            self.go_to_page(self._page + 1)

    def previous_page(self) -> None:
        if self._page is not None:
            self.go_to_page(self._page - 1)

    def zoom_in(self) -> None:
        self._set_zoom(self._shown_zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._set_zoom(self._shown_zoom / ZOOM_STEP)

    def fit_width(self) -> None:
        self._set_zoom(None)

    def open_external(self) -> None:
        if self._path and not QDesktopServices.openUrl(QUrl.fromLocalFile(self._path)):
            self._show_notice(f"No system viewer could open {Path(self._path).name}.")

    def find_next(self) -> None:
        """Go to the next match of the find box's text, searching first if the text changed."""
        self.find_bar.find_next()

    def focus_find(self) -> None:
        """Put the cursor in the find box: the window's Ctrl+F action calls this."""
        self.find_bar.focus()

    # --- PDF ------------------------------------------------------------------------------------

    def _marks(self) -> tuple[Marks, Marks]:
        """Find matches to highlight per page, and per page the current match to scroll to."""
        marks: dict[int, list] = {}
        focus: dict[int, tuple] = {}
        for i, (pg, boxes) in enumerate(self._hits):
            marks.setdefault(pg, []).extend(boxes)
            if i == self._hit_index:
                focus[pg] = boxes
        return {p: tuple(b) for p, b in marks.items()}, focus

    def _render(self, page: int, *, focus: bool = True) -> None:
        """Render `page` off the main thread; with `focus`, scroll its citation/match into view."""
        if self._render_job is not None:
            self._render_job.cancel()  # not started yet: skipped; running: its result is stale
        path, zoom, dpr = self._path, self._zoom, self.devicePixelRatioF()
        if path is None:  # no document (cleared): nothing to render
            return
        avail = self._available_width()
        marks, targets = self._marks()
        cite_page, cite_boxes, passage = self._cite_page, self._cite_boxes, self._passage
        spans, known = self._quote_spans, self._quote_boxes

        def layers(pg: int, quote: Boxes, focus: bool) -> tuple[Boxes, Boxes, Boxes]:
            """Strong boxes (scroll targets first), faint boxes, and the scroll targets."""
            strong: Boxes = marks.get(pg, ())
            faint: Boxes = ()
            target: Boxes = ()
            if pg == cite_page and cite_boxes:
                own = quote or cite_boxes
                strong, faint, target = own + strong, cite_boxes if quote else (), own
            target = targets.get(pg, target) if focus else ()
            return target + tuple(b for b in strong if b not in target), faint, target

        def work(ctx: JobContext):
            z = zoom if zoom is not None else avail / view.page_size(path, page)[0]
            quote = known
            if quote is None and page == cite_page:  # looked up once per citation
                quote = quote_boxes(path, page, cite_boxes, passage, spans)
            strong, faint, target = layers(page, quote or (), focus)
            rp = view.render_page(path, page, z * dpr, strong, faint)
            if rp.page != page:  # clamped: the boxes belonged to a page that does not exist
                strong, faint, target = layers(rp.page, (), False)
                rp = view.render_page(path, rp.page, z * dpr, strong, faint)
            img = QImage(rp.samples, rp.width, rp.height, rp.stride, QImage.Format.Format_RGB888)
            img = img.copy()  # own the pixels: the bytes object goes away with this thread
            img.setDevicePixelRatio(dpr)
            return rp, img, rp.zoom / dpr, rp.highlight_rects[: len(target)], avail, quote

        self._render_job = self._submit("render page", work, self._on_rendered, self._serial)

    def _on_rendered(self, outcome: tuple) -> None:
        value = self._accept(outcome)
        if value is None:
            return
        rp, img, zoom, target, avail, quote = value
        new_page = rp.page != self._page
        self._page, self._count, self._shown_zoom = rp.page, rp.page_count, zoom
        self._image, self._rects, self._rendered_width = img, rp.highlight_rects, avail
        self._faint_rects, self._quote_boxes = rp.faint_rects, quote
        # Shown before it scrolls: a hidden scroll area's viewport has a dummy size.
        self._stack.setCurrentWidget(self._page_view)
        title = f"{self._document} — page {rp.page}"
        if self._section and rp.page == self._cite_page:
            title += f" — {self._section}"
        self._title.setText(title)
        self._update_controls()
        self._page_view.show_image(img, target, new_page=new_page)
        self.page_shown.emit(rp.page)

    def _set_zoom(self, zoom: float | None) -> None:
        if not self._is_pdf or self._page is None:
            return
        self._zoom = None if zoom is None else min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self._render(self._page)

    def _refit(self) -> None:
        width = self._available_width()
        if self._zoom is None and self._page is not None and abs(width - self._rendered_width) > 4:
            self._render(self._page)

    def _available_width(self) -> int:
        # From the stack, not the viewport: a scroll area not yet on show has a dummy size.
        return self._page_view.page_width(self._stack.contentsRect().width())

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self._is_pdf and self._zoom is None:
            self._resize_timer.start()  # debounced: re-render once the user stops dragging

    # --- text -----------------------------------------------------------------------------------

    def _load_text(self) -> None:
        path, passage, spans = self._path, self._passage, self._quote_spans
        if path is None:  # no document (cleared): nothing to load
            return

        def work(ctx: JobContext):
            text = view.document_text(path, cancel=ctx.cancel)
            where = view.find_passage(text, passage)
            quotes = []
            start, end = where or (0, 0)
            for a, b in spans if where else ():  # each quoted sentence, within the passage
                found = view.find_passage(text[start:end], passage[a:b])
                if found:
                    quotes.append((start + found[0], start + found[1]))
            return text, where, tuple(quotes)

        self._submit("load document text", work, self._on_text, None)

    def _on_text(self, outcome: tuple) -> None:
        value = self._accept(outcome)
        if value is None:
            return
        text, self._text_range, self._quote_ranges = value
        self.find_bar.use_text(text)
        self._text_view.setPlainText(text)
        self._stack.setCurrentWidget(self._text_view)
        self._title.setText(" — ".join(t for t in (self._document, self._section) if t))
        if self._text_range is None:
            self._show_notice(
                "The cited passage is not in the file as it is now: it changed after import."
            )
        self._paint_text(self._quote_ranges[0] if self._quote_ranges else self._text_range)
        self._update_controls()
        self.text_shown.emit()

    def _paint_text(self, focus: tuple[int, int] | None) -> None:
        """The passage (its quote strongly, the rest faintly) and find matches marked in the
        text; scroll so `focus` is in view."""
        ranges = []
        if self._text_range:
            ranges.append((self._text_range, _FAINT if self._quote_ranges else _PASSAGE))
        ranges += [(q, _PASSAGE) for q in self._quote_ranges]
        ranges += [(hit, _MATCH) for hit in self._hits]
        self._text_view.mark(ranges, focus)

    # --- find matches ---------------------------------------------------------------------------

    def _show_matches(self, hits: tuple, index: int) -> None:
        """Marks for the find bar's hits; go to hit `index`, or with none redraw without focus."""
        self._hits, self._hit_index = hits, index
        hit = hits[index] if index >= 0 else None
        if self._is_pdf:
            if hit is not None:
                self._render(hit[0])
            elif self._page is not None:
                self._render(self._page, focus=False)  # drop the previous query's marks
        else:
            self._paint_text(hit)

    # --- plumbing -------------------------------------------------------------------------------

    def _submit(self, name: str, fn: Callable, slot: Callable, serial: str | None) -> Job:
        """A new request: results of the ones before it are dropped when they arrive."""
        self._gen += 1
        return submit_tagged(self._runner, name, fn, slot, self._gen, serial_key=serial)

    def _accept(self, outcome: tuple) -> Any:
        """The value of a current result; None for a stale one. Errors are shown here."""
        gen, value, error = outcome
        if gen != self._gen:
            return None
        if error is not None:
            self._show_message(error)
            return None
        return value

    def _show_message(self, error: BaseException) -> None:
        msg = str(error) if isinstance(error, KbdeskError) else (
            f"{self._document} could not be shown ({type(error).__name__}: {error})."
        )  # fmt: skip
        passage = html.escape(self._passage).replace("\n", "<br>")
        self._message.setHtml(
            f"<p><b>{html.escape(msg)}</b></p>"
            + (f"<p>The cited passage:</p><blockquote>{passage}</blockquote>" if passage else "")
        )
        self._page, self._count, self._rects, self._image = None, 0, (), None
        self._faint_rects = ()
        self._title.setText(self._document)
        self._stack.setCurrentWidget(self._message)
        self._update_controls()
        self.message_shown.emit(msg)

    def _show_notice(self, text: str) -> None:
        self._notice.setText(text)
        self._notice.show()

    def _update_controls(self) -> None:
        pdf = self._is_pdf and self._page is not None
        shown = self._stack.currentWidget() in (self._page_view, self._text_view)
        self.page_controls.show_page(self._page if pdf else None, self._count)
        self.find_bar.setEnabled(shown)
        # After an error the file may still open elsewhere (damaged, password), unless it is gone.
        path = self._path
        self._open.setEnabled(bool(path and (shown or Path(path).exists())))
