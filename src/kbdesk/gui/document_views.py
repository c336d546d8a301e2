"""The citation pane's two views of a document: a page image and plain text, each with marks."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtWidgets as W
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap, QTextCharFormat
from PySide6.QtGui import QTextCursor as QTC

Span = tuple[int, int]


class PageView(W.QScrollArea):
    """A rendered page (highlights already painted in) that scrolls to what it is asked to show."""

    def __init__(self, parent: W.QWidget | None = None):
        super().__init__(parent)
        self.label = W.QLabel()
        self.label.setAccessibleName("Page image")
        self.setWidget(self.label)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        # A scroll bar appearing would narrow the viewport and re-trigger fit-width.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setAccessibleName("Cited page")

    def show_image(self, image: QImage, target: Sequence, *, new_page: bool) -> None:
        """Show `image`, with `target` (device-pixel rects) in view if given.

        Without a target a new page starts at its top and a re-render stays where the reader was.
        """
        bar = self.verticalScrollBar()
        fraction = bar.value() / max(bar.maximum(), 1)
        pixmap = QPixmap.fromImage(image)
        self.label.setPixmap(pixmap)
        self.label.resize(pixmap.deviceIndependentSize().toSize())
        if target:
            dpr = image.devicePixelRatio()
            x0, y0 = min(r[0] for r in target) / dpr, min(r[1] for r in target) / dpr
            x1, y1 = max(r[2] for r in target) / dpr, max(r[3] for r in target) / dpr
            cx, cy, mx, my = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 + 24, (y1 - y0) / 2 + 48
            self.ensureVisible(int(cx), int(cy), int(mx), int(my))
        else:
            bar.setValue(0 if new_page else round(fraction * bar.maximum()))

    def page_width(self, outer: int) -> int:
        """The image width that fits when the view is `outer` pixels wide: its chrome comes off."""
        chrome = self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return max(outer - chrome - 16, 100)


class MarkedTextView(W.QTextBrowser):
    """A document's text with coloured ranges, scrolled so a given range sits near the top."""

    def mark(self, ranges: Sequence[tuple[Span, QColor]], focus: Span | None) -> None:
        selections = []
        for (a, b), color in ranges:
            # Assigned whole: PySide hands out copies of a selection's cursor and format.
            cursor = QTC(self.document())
            cursor.setPosition(a)
            cursor.setPosition(b, QTC.MoveMode.KeepAnchor)
            fmt = QTextCharFormat()
            fmt.setBackground(color)
            sel = W.QTextEdit.ExtraSelection()
            sel.cursor, sel.format = cursor, fmt
            selections.append(sel)
        self.setExtraSelections(selections)
        if focus:  # via the end of the text, so the range lands at the top of the view
            for pos in (self.document().characterCount() - 1, focus[0]):
                cursor = self.textCursor()
                cursor.setPosition(pos)
                self.setTextCursor(cursor)
                self.ensureCursorVisible()
            bar = self.verticalScrollBar()  # two lines of context above it
            bar.setValue(bar.value() - 2 * self.fontMetrics().lineSpacing())
