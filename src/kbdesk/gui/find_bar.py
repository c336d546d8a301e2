"""The find-in-document bar: its box and result label, the search job, and stepping through hits."""

from __future__ import annotations

import re

from PySide6 import QtWidgets as W
from PySide6.QtCore import Qt, Signal

from kbdesk.core.view import pages as view
from kbdesk.gui.tagged_jobs import submit_tagged
from kbdesk.gui.workers import JobContext, JobRunner

MAX_TEXT_HITS = 1000


class FindBar(W.QWidget):
    """Searches what it was given: a PDF on the runner, or a document's text in memory.

    Hits are (page, boxes) for a PDF and (start, end) for text; the owner draws them.
    """

    # All hits and the one to show; index -1 with no hits: drop the previous query's marks.
    matches_changed = Signal(object, int)
    status_changed = Signal(str)  # "3 of 12" / "No matches" / "Search failed: ..."

    def __init__(self, runner: JobRunner, parent: W.QWidget | None = None):
        super().__init__(parent)
        self._runner = runner
        self._gen = 0  # bumped by every reset; a search result from an older one is dropped
        self._pdf: str | None = None
        self._text: str | None = None
        self._page: int | None = None
        self._hits: tuple = ()
        self._index = -1
        self._query: str | None = None  # what the hits are for
        self.edit = W.QLineEdit(self)
        self.edit.setPlaceholderText("Find in document")
        self.edit.setMinimumWidth(150)
        self.edit.setClearButtonEnabled(True)
        self.edit.setToolTip("Find text in this document (Ctrl+F); Enter goes to the next match")
        self.edit.setAccessibleName("Find in document")
        self.edit.returnPressed.connect(self.find_next)
        self.edit.textChanged.connect(self._text_changed)
        self.result_label = W.QLabel(self)
        self.result_label.setAccessibleName("Find result")
        self.result_label.setToolTip("Which match is shown, of how many")
        layout = W.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.result_label)

    # --- what to search -------------------------------------------------------------------------

    def reset(self) -> None:
        """Nothing to search until use_pdf/use_text; the box keeps its text for the next one."""
        self._pdf, self._text, self._page = None, None, None
        self._forget()

    def use_pdf(self, path: str) -> None:
        self.reset()
        self._pdf = path

    def use_text(self, text: str) -> None:
        self.reset()
        self._text = text

    def set_page(self, page: int) -> None:
        """The page being read: a new search starts at its first match on or after it."""
        self._page = page

    # --- searching ------------------------------------------------------------------------------

    def focus(self) -> None:
        """Put the cursor in the box with its text selected, ready to type over."""
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def find_next(self) -> None:
        """Go to the next match of the box's text, searching first if the text changed."""
        query = " ".join(self.edit.text().split())
        if not query or (self._pdf is None and self._text is None):
            return
        if query != self._query:
            self._start(query)
        elif self._hits:
            self._index = (self._index + 1) % len(self._hits)
            self._show()

    def _start(self, query: str) -> None:
        self._forget()
        self._query = query
        if self._text is not None:  # in memory: a regex over it takes milliseconds
            pattern = re.compile(r"\s+".join(map(re.escape, query.split())), re.IGNORECASE)
            self._hits = tuple(m.span() for m in pattern.finditer(self._text))[:MAX_TEXT_HITS]
            self._index = 0
            self._show()
            return
        path = self._pdf
        if path is None:  # find_next checked that there is a PDF or a text to search
            return

        def work(ctx: JobContext):
            return view.find_in_document(path, query, cancel=ctx.cancel)

        submit_tagged(self._runner, "find in document", work, self._found, self._gen)

    def _found(self, outcome: tuple) -> None:
        gen, hits, error = outcome
        if gen != self._gen:
            return
        if error is not None:
            self._set_status(f"Search failed: {error}")
            return
        self._hits = tuple(hits)
        here = self._page or 1
        self._index = next((i for i, h in enumerate(self._hits) if h[0] >= here), 0)
        self._show()

    def _show(self) -> None:
        if self._hits:
            self._set_status(f"{self._index + 1} of {len(self._hits)}")
            self.matches_changed.emit(self._hits, self._index)
        else:
            self._set_status("No matches")
            self.matches_changed.emit((), -1)

    def _forget(self) -> None:
        self._gen += 1
        self._hits, self._index, self._query = (), -1, None
        self._set_status(None)

    def _text_changed(self, text: str) -> None:
        if not text.strip() and self._query is not None:
            had = bool(self._hits)
            self._forget()
            if had:
                self.matches_changed.emit((), -1)

    def _set_status(self, status: str | None) -> None:
        self.result_label.setText(status or "")
        if status:
            self.status_changed.emit(status)
