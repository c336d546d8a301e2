"""The documents table: catalog rows merged with the live state of files an import is working on."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel

from kbdesk.core.errors import ErrorCode
from kbdesk.core.types import DocStatus, Document, FileResult, FileStatus

COLUMNS = ("Name", "Status", "Pages", "Passages", "Added")
STATUS_LABELS = {
    DocStatus.QUEUED: "queued",
    DocStatus.PARSING: "parsing",
    DocStatus.EMBEDDING: "embedding",
    DocStatus.READY: "ready",
    DocStatus.NEEDS_OCR: "needs OCR",
    DocStatus.FAILED: "failed",
}
# how far along a document is, for its status cell and the current document's bar
STAGE_FRACTION = {
    DocStatus.QUEUED: 0.0,
    DocStatus.PARSING: 0.1,
    DocStatus.EMBEDDING: 0.4,  # parsing is quick next to embedding
}
_COLOURS = {
    DocStatus.READY: QColor("#1b7f3b"),
    DocStatus.FAILED: QColor("#b3261e"),
    DocStatus.NEEDS_OCR: QColor("#9a6700"),
}
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass
class Row:
    path: str
    name: str
    status: DocStatus
    pages: int = 0
    chunks: int = 0
    added_at: float = 0.0
    reason: str | None = None
    embedded: float | None = None  # share of its passages embedded so far, while embedding

    @classmethod
    def from_document(cls, doc: Document) -> Row:
        return cls(doc.path, doc.name, doc.status, doc.pages, doc.chunks, doc.added_at, doc.error)


class DocumentsModel(QStandardItemModel):
    """Rows keyed by path: catalog rows, overlaid by live rows while an import works on them.

    Mutations only mark the model dirty; `flush()` (the pane calls it on a timer) publishes
    them, so a thousand-file import costs a few repaints a second, not one per event.
    The cells live in Qt's own item storage rather than in a Python `data()`: painting a table
    calls `data()` a few hundred times, and each Python call has to win the interpreter lock
    from the import thread, which made the window stall for up to 200 ms during an import
    (bench/bench_gui_stall.py).
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.rows: list[Row] = []
        self._shown: list[tuple] = []  # what each published row displays, to skip unchanged ones
        self._catalog: dict[str, Row] = {}
        self._live: dict[str, Row] = {}
        self._dirty = False

    # -- feeding -------------------------------------------------------------------------------

    def set_documents(self, documents: list[Document]) -> None:
        self._catalog = {d.path: Row.from_document(d) for d in documents}
        self._dirty = True

    def plan(self, paths: list[str]) -> None:
        now = time.time()
        for path in paths:
            self._live[path] = Row(path, Path(path).name, DocStatus.QUEUED, added_at=now)
        self._dirty = True

    def working_on(self, path: str | None, embedded: float | None = None) -> None:
        """The importer has parsed `path` (now embedding it) and reads the next queued file."""
        if path in self._live:
            self._live[path].status = DocStatus.EMBEDDING
            if embedded is not None:
                self._live[path].embedded = embedded
        if not any(r.status == DocStatus.PARSING for r in self._live.values()):
            nxt = next((r for r in self._live.values() if r.status == DocStatus.QUEUED), None)
            if nxt is not None:
                nxt.status = DocStatus.PARSING
        self._dirty = True

    def finished_file(self, result: FileResult) -> None:
        live = self._live.pop(result.path, None)
        row = self._catalog.get(result.path) or live
        if row is None:
            row = Row(result.path, Path(result.path).name, DocStatus.QUEUED, added_at=time.time())
        if result.status == FileStatus.REMOVED:
            self._catalog.pop(result.path, None)
        elif result.status == FileStatus.FAILED:
            if result.code == ErrorCode.NOT_FOUND:
                return
            row.status = (
                DocStatus.NEEDS_OCR if result.code == ErrorCode.NEEDS_OCR else DocStatus.FAILED
            )
            row.reason = result.reason
            self._catalog[result.path] = row
        elif result.status == FileStatus.DUPLICATE:
            pass  # not stored; the import report names it
        else:
            row.status = DocStatus.READY
            row.pages, row.chunks, row.reason = result.pages, result.chunks, result.reason
            row.embedded = None
            self._catalog[result.path] = row
        self._dirty = True

    def end_import(self) -> None:
        """Files the import never reached (cancelled) leave the table until imported again."""
        self._live.clear()
        self._dirty = True

    def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        merged = dict(self._catalog)
        merged.update(self._live)
        rows = sorted(merged.values(), key=lambda r: (r.name.lower(), r.path))
        shown = [_cells(r) for r in rows]
        if [r.path for r in rows] != [r.path for r in self.rows]:
            self.setRowCount(0)
            self._shown = [()] * len(rows)
            self.setRowCount(len(rows))
        for i, cells in enumerate(shown):
            if cells != self._shown[i]:
                self._publish(i, rows[i], cells)
        self.rows, self._shown = rows, shown

    def progress_of(self, row: int) -> float | None:
        """How far along the document in `row` is, while an import works on it."""
        return self.index(row, 1).data(PROGRESS_ROLE)

    def _publish(self, i: int, row: Row, cells: tuple) -> None:
        tip = row.path
        if row.added_at:
            tip += "\nAdded " + time.strftime("%Y-%m-%d %H:%M", time.localtime(row.added_at))
        if row.chunks:  # a narrow table hides the Passages and Added columns
            tip += f"\n{row.pages or '?'} page(s), {row.chunks} passage(s)"
        if row.reason:
            tip += f"\n{row.reason}"
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for col, text in enumerate(cells[:5]):
            item = QStandardItem(text)
            item.setEditable(False)
            item.setToolTip(tip)
            item.setData(row.path, PATH_ROLE)
            if col in (2, 3):
                item.setTextAlignment(right)
            if col == 1:
                colour = _COLOURS.get(row.status)
                if colour is not None:
                    item.setForeground(colour)
                item.setData(cells[5], PROGRESS_ROLE)
            self.setItem(i, col, item)


def _cells(row: Row) -> tuple:
    """What a row shows: five texts and the progress fraction of its status cell."""
    label = STATUS_LABELS.get(row.status, row.status)
    status = (
        f"{label}: {_short_reason(row)}" if row.reason and row.status != DocStatus.READY else label
    )
    fraction = STAGE_FRACTION.get(row.status)
    if row.status == DocStatus.EMBEDDING and row.embedded is not None:
        start = STAGE_FRACTION[DocStatus.EMBEDDING]
        fraction = start + (1 - start) * row.embedded
    if row.status in (DocStatus.PARSING, DocStatus.EMBEDDING):
        status = f"{label} {fraction:.0%}"
    return (
        row.name,
        status,
        str(row.pages or ""),
        str(row.chunks or ""),
        _date(row.added_at),
        None if fraction is None else round(fraction, 2),
    )


def _date(seconds: float) -> str:
    """Today's imports by time, older ones by date: short enough for a narrow pane."""
    if not seconds:
        return ""
    when = time.localtime(seconds)
    if time.strftime("%Y-%m-%d", when) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", when)
    return time.strftime("%Y-%m-%d", when)


def _short_reason(row: Row) -> str:
    """The reason without the file name it usually opens with: the row already names the file."""
    reason = row.reason or ""
    if reason.startswith(row.name):
        reason = reason[len(row.name) :].strip()
        reason = reason[3:] if reason.startswith("is ") else reason
    return reason
