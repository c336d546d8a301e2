"""The citation pane: the cited passage highlighted on its PDF page or in the document's text."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import QtWidgets as W
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QImage,
    QKeySequence,
    QPixmap,
    QShortcut,
    QTextCharFormat,
)
from PySide6.QtGui import QTextCursor as QTC

from kbdesk.core.errors import Cancelled, KbdeskError
from kbdesk.core.view import pages as view
from kbdesk.gui.widgets import tool_button
from kbdesk.gui.workers import Job, JobContext, JobRunner

log = logging.getLogger(__name__)

EMPTY_TEXT = "Click a citation like [1] in an answer to see the passage here."
ZOOM_STEP, MIN_ZOOM, MAX_ZOOM = 1.25, 0.25, 6.0
_PASSAGE, _MATCH = QColor(255, 226, 90), QColor(150, 200, 255)
Marks = dict[int, tuple[tuple[float, float, float, float], ...]]


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
        self._find_gen = 0
        self._render_job: Job | None = None
        self._path: str | None = None
        self._document = ""
        self._passage = ""
        self._is_pdf = False
        self._page: int | None = None
        self._count = 0
        self._zoom: float | None = None  # None: fit width
        self._shown_zoom = 1.0
        self._cite_page: int | None = None
        self._cite_boxes: tuple = ()
        self._hits: list[tuple[int, tuple]] = []
        self._hit_index = -1
        self._hits_for: str | None = None
        self._rects: tuple = ()
        self._image: QImage | None = None
        self._text = ""
        self._text_range: tuple[int, int] | None = None
        self._rendered_width = 0
        self._build()
        self.clear()

    # --- construction ---------------------------------------------------------------------------

    def _button(self, text: str, tip: str, slot: Callable[[], Any]) -> W.QToolButton:
        return tool_button(self, text, tip, slot)

    def _build(self) -> None:
        self._title = W.QLabel(self)
        self._title.setAccessibleName("Cited document")
        self._title.setToolTip("The document and page of the citation shown below")
        self._title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._prev = self._button("‹", "Previous page", self.previous_page)
        self._page_box = W.QSpinBox(self)
        self._page_box.setPrefix("Page ")
        self._page_box.setKeyboardTracking(False)  # render when typing is done, not per digit
        # Sized for the longest label: the suffix changes after Qt has measured the box.
        width = self._page_box.fontMetrics().horizontalAdvance("Page 0000 of 0000")
        self._page_box.setMinimumWidth(width + 36)
        self._page_box.setToolTip("Page shown; type a number and press Enter to go there")
        self._page_box.setAccessibleName("Page number")
        self._page_box.valueChanged.connect(self._page_box_changed)
        self._next = self._button("›", "Next page", self.next_page)
        self._zoom_out = self._button("−", "Zoom out (Ctrl+-)", self.zoom_out)
        self._zoom_in = self._button("+", "Zoom in (Ctrl++)", self.zoom_in)
        self._fit = self._button("Fit width", "Fit the page to the pane's width", self.fit_width)
        self._find = W.QLineEdit(self)
        self._find.setPlaceholderText("Find in document")
        self._find.setMinimumWidth(150)
        self._find.setClearButtonEnabled(True)
        self._find.setToolTip("Find text in this document (Ctrl+F); Enter goes to the next match")
        self._find.setAccessibleName("Find in document")
        self._find.returnPressed.connect(self.find_next)
        self._find.textChanged.connect(self._find_text_changed)
        self._find_label = W.QLabel(self)
        self._find_label.setAccessibleName("Find result")
        self._find_label.setToolTip("Which match is shown, of how many")
        self._open = self._button(
            "Open…", "Open the document in the system viewer", self.open_external
        )
        bar = W.QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self._prev, self._page_box, self._next, self._zoom_out, self._zoom_in):
            bar.addWidget(w)
        bar.addWidget(self._fit)
        bar.addStretch(1)
        bar.addWidget(self._find, 2)
        for w in (self._find_label, self._open):
            bar.addWidget(w)

        self._notice = W.QLabel(self)
        self._notice.setWordWrap(True)
        self._notice.setAccessibleName("Notice")
        self._empty = W.QLabel(EMPTY_TEXT, self)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setEnabled(False)  # drawn greyed: a hint, not content
        self._empty.setAccessibleName("No citation shown")
        self._page_label = W.QLabel()
        self._page_label.setAccessibleName("Page image")
        self._scroll = W.QScrollArea(self)
        self._scroll.setWidget(self._page_label)
        self._scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        # A scroll bar appearing would narrow the viewport and re-trigger fit-width.
        self._scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self._scroll.setAccessibleName("Cited page")
        self._text_view = W.QTextBrowser(self)
        self._text_view.setAccessibleName("Cited document text")
        self._message = W.QTextBrowser(self)
        self._message.setAccessibleName("Citation unavailable")
        self._stack = W.QStackedWidget(self)
        for w in (self._empty, self._scroll, self._text_view, self._message):
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
        """Highlighted boxes in the shown image's device pixels (PDF only)."""
        return self._rects

    @property
    def current_image(self) -> QImage | None:
        return self._image

    @property
    def highlight_range(self) -> tuple[int, int] | None:
        """(start, end) of the highlighted passage in the shown text (non-PDF only)."""
        return self._text_range

    def clear(self) -> None:
        """Back to the empty state."""
        self._gen += 1
        self._find_gen += 1
        self._path, self._page, self._count, self._is_pdf = None, None, 0, False
        self._rects, self._image, self._text_range = (), None, None
        self._reset_find()
        self._title.setText("No citation selected")
        self._notice.hide()
        self._stack.setCurrentWidget(self._empty)
        self._update_controls()

    def show_citation(
        self, *, path: str, document: str, page: int | None, boxes: tuple, text: str
    ) -> None:
        self.clear()
        self._path, self._passage = path, text
        self._document = document or Path(path).name
        self._is_pdf = path.lower().endswith(".pdf")
        self._cite_page = page if self._is_pdf else None
        self._cite_boxes = tuple(tuple(b) for b in boxes)
        self._title.setText(f"{self._document} — loading…")
        if self._is_pdf:
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
        query = " ".join(self._find.text().split())
        if not query or self._path is None:
            return
        if query != self._hits_for:
            self._start_find(query)
        elif self._hits:
            self._hit_index = (self._hit_index + 1) % len(self._hits)
            self._show_hit()

    # --- PDF ------------------------------------------------------------------------------------

    def _marks(self) -> tuple[Marks, Marks]:
        """Boxes to highlight per page, and per page the boxes to scroll to."""
        marks: dict[int, list] = {}
        focus: dict[int, tuple] = {}
        if self._cite_page is not None and self._cite_boxes:
            marks[self._cite_page] = list(self._cite_boxes)
            focus[self._cite_page] = self._cite_boxes
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
        avail = self._available_width()
        marks, targets = self._marks()

        def work(ctx: JobContext):
            z = zoom if zoom is not None else avail / view.page_size(path, page)[0]
            target = targets.get(page, ()) if focus else ()
            # Scroll targets go first, so the first rects returned are the ones to bring in view.
            boxes = target + tuple(b for b in marks.get(page, ()) if b not in target)
            rp = view.render_page(path, page, z * dpr, boxes)
            if rp.page != page:  # clamped: the boxes belonged to a page that does not exist
                rp = view.render_page(path, rp.page, z * dpr, marks.get(rp.page, ()))
                target = ()
            img = QImage(rp.samples, rp.width, rp.height, rp.stride, QImage.Format.Format_RGB888)
            img = img.copy()  # own the pixels: the bytes object goes away with this thread
            img.setDevicePixelRatio(dpr)
            return rp, img, rp.zoom / dpr, rp.highlight_rects[: len(target)], avail

        self._gen += 1
        self._render_job = self._submit("render page", work, self._on_rendered, self._serial)

    def _on_rendered(self, outcome: tuple) -> None:
        value = self._accept(outcome)
        if value is None:
            return
        rp, img, zoom, target, avail = value
        new_page = rp.page != self._page
        bar = self._scroll.verticalScrollBar()
        fraction = bar.value() / max(bar.maximum(), 1)
        self._page, self._count, self._shown_zoom = rp.page, rp.page_count, zoom
        self._image, self._rects, self._rendered_width = img, rp.highlight_rects, avail
        pixmap = QPixmap.fromImage(img)
        self._page_label.setPixmap(pixmap)
        self._page_label.resize(pixmap.deviceIndependentSize().toSize())
        self._stack.setCurrentWidget(self._scroll)
        self._title.setText(f"{self._document} — page {rp.page}")
        self._update_controls()
        if target:
            dpr = img.devicePixelRatio()
            x0, y0 = min(r[0] for r in target) / dpr, min(r[1] for r in target) / dpr
            x1, y1 = max(r[2] for r in target) / dpr, max(r[3] for r in target) / dpr
            cx, cy, mx, my = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 + 24, (y1 - y0) / 2 + 48
            self._scroll.ensureVisible(int(cx), int(cy), int(mx), int(my))
        else:  # a new page starts at its top; a re-render stays where the reader was
            bar.setValue(0 if new_page else round(fraction * bar.maximum()))
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
        scroll = self._scroll
        chrome = scroll.verticalScrollBar().sizeHint().width() + 2 * scroll.frameWidth()
        return max(self._stack.contentsRect().width() - chrome - 16, 100)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self._is_pdf and self._zoom is None:
            self._resize_timer.start()  # debounced: re-render once the user stops dragging

    # --- text -----------------------------------------------------------------------------------

    def _load_text(self) -> None:
        path, passage = self._path, self._passage

        def work(ctx: JobContext):
            text = view.document_text(path, cancel=ctx.cancel)
            return text, view.find_passage(text, passage)

        self._gen += 1
        self._submit("load document text", work, self._on_text, None)

    def _on_text(self, outcome: tuple) -> None:
        value = self._accept(outcome)
        if value is None:
            return
        self._text, self._text_range = value
        self._text_view.setPlainText(self._text)
        self._stack.setCurrentWidget(self._text_view)
        self._title.setText(self._document)
        if self._text_range is None:
            self._show_notice(
                "The cited passage is not in the file as it is now: it changed after import."
            )
        self._paint_text(self._text_range)
        self._update_controls()
        self.text_shown.emit()

    def _paint_text(self, focus: tuple[int, int] | None) -> None:
        """Passage and find matches as extra selections; scroll so `focus` is in view."""
        selections = []
        ranges = [(self._text_range, _PASSAGE)] if self._text_range else []
        ranges += [(hit, _MATCH) for hit in self._hits]
        for (a, b), color in ranges:
            # Assigned whole: PySide hands out copies of a selection's cursor and format.
            cursor = QTC(self._text_view.document())
            cursor.setPosition(a)
            cursor.setPosition(b, QTC.MoveMode.KeepAnchor)
            fmt = QTextCharFormat()
            fmt.setBackground(color)
            sel = W.QTextEdit.ExtraSelection()
            sel.cursor, sel.format = cursor, fmt
            selections.append(sel)
        self._text_view.setExtraSelections(selections)
        if focus:  # via the end of the text, so the passage lands at the top of the view
            for pos in (len(self._text), focus[0]):
                cursor = self._text_view.textCursor()
                cursor.setPosition(pos)
                self._text_view.setTextCursor(cursor)
                self._text_view.ensureCursorVisible()
            bar = self._text_view.verticalScrollBar()  # two lines of context above it
            bar.setValue(bar.value() - 2 * self._text_view.fontMetrics().lineSpacing())

    # --- find -----------------------------------------------------------------------------------

    def _start_find(self, query: str) -> None:
        self._reset_find()
        self._hits_for = query
        if not self._is_pdf:  # the text is in memory: a regex over it takes milliseconds
            pattern = re.compile(r"\s+".join(map(re.escape, query.split())), re.IGNORECASE)
            self._hits = [m.span() for m in pattern.finditer(self._text)][:1000]
            self._hit_index = 0
            self._show_hit()
            return
        path = self._path

        def work(ctx: JobContext):
            return view.find_in_document(path, query, cancel=ctx.cancel)

        self._submit("find in document", work, self._on_found, None, self._find_gen)

    def _on_found(self, outcome: tuple) -> None:
        gen, hits, error = outcome
        if gen != self._find_gen:
            return
        if error is not None:
            self._set_find_status(f"Search failed: {error}")
            return
        self._hits = hits
        # Start at the first match on or after the page being read.
        here = self._page or 1
        self._hit_index = next((i for i, h in enumerate(self._hits) if h[0] >= here), 0)
        self._show_hit()

    def _show_hit(self) -> None:
        if not self._hits:
            self._set_find_status("No matches")
            if self._is_pdf and self._page is not None:
                self._render(self._page, focus=False)  # drop the previous query's marks
            else:
                self._paint_text(None)
            return
        self._set_find_status(f"{self._hit_index + 1} of {len(self._hits)}")
        hit = self._hits[self._hit_index]
        if self._is_pdf:
            self._render(hit[0], focus=True)
        else:
            self._paint_text(hit)

    def _reset_find(self) -> None:
        self._find_gen += 1
        self._hits, self._hit_index, self._hits_for = [], -1, None
        self._set_find_status(None)

    def _find_text_changed(self, text: str) -> None:
        if not text.strip() and self._hits_for is not None:
            had = bool(self._hits)
            self._reset_find()
            if had and self._is_pdf and self._page is not None:
                self._render(self._page, focus=False)
            elif had:
                self._paint_text(None)

    def _set_find_status(self, status: str | None) -> None:
        self._find_label.setText(status or "")
        if status:
            self.find_status.emit(status)

    def focus_find(self) -> None:
        """Put the cursor in the find box: the window's Ctrl+F action calls this."""
        self._find.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self._find.selectAll()

    # --- plumbing -------------------------------------------------------------------------------

    def _submit(
        self, name: str, fn: Callable, slot: Callable, serial: str | None, gen: int | None = None
    ) -> Job:
        """Run fn on the runner; slot gets (generation, value, error) on the main thread."""
        gen = self._gen if gen is None else gen

        def guarded(ctx: JobContext):
            try:
                return gen, fn(ctx), None
            except Cancelled:
                raise
            except Exception as exc:  # shown in the pane; unexpected ones also logged
                if not isinstance(exc, KbdeskError):
                    log.exception("citation pane: %s failed", name)
                return gen, None, exc

        # Outcomes reach the Job through a queued hop to the main thread, so connecting right
        # after submit() never misses a fast result.
        job = self._runner.submit(name, guarded, serial_key=serial)
        job.result.connect(slot)
        return job

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
        self._title.setText(self._document)
        self._stack.setCurrentWidget(self._message)
        self._update_controls()
        self.message_shown.emit(msg)

    def _show_notice(self, text: str) -> None:
        self._notice.setText(text)
        self._notice.show()

    def _page_box_changed(self, value: int) -> None:
        if value != self._page:
            self.go_to_page(value)

    def _update_controls(self) -> None:
        pdf = self._is_pdf and self._page is not None
        shown = self._stack.currentWidget() in (self._scroll, self._text_view)
        self._page_box.blockSignals(True)  # a programmatic update is not a user's request
        self._page_box.setRange(1 if pdf else 0, max(self._count, 1) if pdf else 0)
        self._page_box.setValue(self._page or 0)
        self._page_box.setSuffix(f" of {self._count}" if pdf else "")
        self._page_box.blockSignals(False)
        for w in (self._prev, self._page_box, self._next, self._zoom_in, self._zoom_out, self._fit):
            w.setEnabled(pdf)
            w.setVisible(pdf)  # page controls mean nothing for text, errors or the empty state
        self._prev.setEnabled(pdf and (self._page or 0) > 1)
        self._next.setEnabled(pdf and (self._page or 0) < self._count)
        self._find.setEnabled(shown)
        # After an error the file may still open elsewhere (damaged, password), unless it is gone.
        self._open.setEnabled(bool(self._path) and (shown or Path(self._path).exists()))
