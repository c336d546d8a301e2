"""The citation pane's page and zoom controls: previous/next, the page box, zoom in/out, fit width."""

from __future__ import annotations

from PySide6 import QtWidgets as W
from PySide6.QtCore import Signal

from kbdesk.gui.widgets import tool_button


class PageControls(W.QWidget):
    """Shows the page it is told (show_page) and asks for changes by signal; hidden without a page."""

    page_requested = Signal(int)  # 1-based; may be out of range, the owner clamps
    zoom_in_requested = Signal()
    zoom_out_requested = Signal()
    fit_width_requested = Signal()

    def __init__(self, parent: W.QWidget | None = None):
        super().__init__(parent)
        self._page: int | None = None
        self.previous_button = tool_button(self, "‹", "Previous page", self._previous)
        self.page_box = W.QSpinBox(self)
        self.page_box.setPrefix("Page ")
        self.page_box.setKeyboardTracking(False)  # render when typing is done, not per digit
        # Sized for the longest label: the suffix changes after Qt has measured the box.
        width = self.page_box.fontMetrics().horizontalAdvance("Page 0000 of 0000")
        self.page_box.setMinimumWidth(width + 36)
        self.page_box.setToolTip("Page shown; type a number and press Enter to go there")
        self.page_box.setAccessibleName("Page number")
        self.page_box.valueChanged.connect(self._page_box_changed)
        self.next_button = tool_button(self, "›", "Next page", self._next)
        self.zoom_out_button = tool_button(
            self, "−", "Zoom out (Ctrl+-)", self.zoom_out_requested.emit
        )
        self.zoom_in_button = tool_button(
            self, "+", "Zoom in (Ctrl++)", self.zoom_in_requested.emit
        )
        self.fit_button = tool_button(
            self, "Fit width", "Fit the page to the pane's width", self.fit_width_requested.emit
        )
        layout = W.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in self._controls():
            layout.addWidget(w)

    def _controls(self) -> tuple[W.QWidget, ...]:
        return (
            self.previous_button,
            self.page_box,
            self.next_button,
            self.zoom_out_button,
            self.zoom_in_button,
            self.fit_button,
        )

    def show_page(self, page: int | None, count: int) -> None:
        """Page `page` of `count` is on screen; None: no PDF page, so the controls mean nothing."""
        self._page = page
        pdf = page is not None
        self.page_box.blockSignals(True)  # a programmatic update is not a user's request
        self.page_box.setRange(1 if pdf else 0, max(count, 1) if pdf else 0)
        self.page_box.setValue(page or 0)
        self.page_box.setSuffix(f" of {count}" if pdf else "")
        self.page_box.blockSignals(False)
        for w in self._controls():
            w.setEnabled(pdf)
        self.previous_button.setEnabled(pdf and (page or 0) > 1)
        self.next_button.setEnabled(pdf and (page or 0) < count)
        self.setVisible(pdf)

    def _previous(self) -> None:
        if self._page is not None:
            self.page_requested.emit(self._page - 1)

    def _next(self) -> None:
        if self._page is not None:
            self.page_requested.emit(self._page + 1)

    def _page_box_changed(self, value: int) -> None:
        if value != self._page:
            self.page_requested.emit(value)
