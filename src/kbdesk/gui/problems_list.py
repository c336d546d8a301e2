"""The problems list: files an import could not read, each with its reason, never in a dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QVBoxLayout, QWidget

from kbdesk.core.types import FileResult
from kbdesk.gui.widgets import tool_button

_FLUSH_MS = 100  # a thousand failures cost a few repaints, not a thousand


class ProblemsList(QWidget):
    """Hidden while empty. `add` may be called per file; the list catches up on a short timer."""

    changed = Signal(int)  # how many problems are listed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.results: list[FileResult] = []
        self.title = QLabel()
        self.list = QListWidget()
        self.list.setAccessibleName("Import problems")
        self.list.setWordWrap(True)
        self.list.setMaximumHeight(130)
        self.clear_button = tool_button(self, "Clear", "Clear the list", self.clear)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.list)
        self.setVisible(False)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(_FLUSH_MS)
        self._timer.timeout.connect(self.flush)

    def add(self, result: FileResult) -> None:
        self.results.append(result)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        self._timer.stop()
        for result in self.results[self.list.count() :]:
            self.list.addItem(_line(Path(result.path).name, result.reason or ""))
            self.list.item(self.list.count() - 1).setToolTip(result.path)
        n = len(self.results)
        self.title.setText(f"<b>Problems ({n})</b>: these files were not imported")
        self.setVisible(n > 0)
        self.changed.emit(n)

    def clear(self) -> None:
        self.results.clear()
        self.list.clear()
        self.flush()


def _line(name: str, reason: str) -> str:
    """One line of the list; reasons usually open with the file name already."""
    return reason if reason.startswith(name) else f"{name} — {reason}"
