"""The documents table: catalog rows merged with the live state of files an import is working on."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

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
# how far along a document is, for the per-document bar the status column draws
STAGE_FRACTION = {
    DocStatus.QUEUED: 0.0,
    DocStatus.PARSING: 0.33,
    DocStatus.EMBEDDING: 0.66,
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
    status: str
    pages: int = 0
    chunks: int = 0
    added_at: float = 0.0
    reason: str | None = None

    @classmethod
    def from_document(cls, doc: Document) -> Row:
        return cls(doc.path, doc.name, doc.status, doc.pages, doc.chunks, doc.added_at, doc.error)


class DocumentsModel(QAbstractTableModel):
    """Rows keyed by path: catalog rows, overlaid by live rows while an import works on them.

    Mutations only mark the model dirty; `flush()` (the pane calls it on a timer) publishes
    them, so a thousand-file import costs a few repaints a second, not one per event.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[Row] = []
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

    def working_on(self, path: str | None) -> None:
        """The importer has parsed `path` (now embedding it) and reads the next queued file."""
        if path in self._live:
            self._live[path].status = DocStatus.EMBEDDING
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
            if result.code == "not_found":
                return
            row.status = DocStatus.NEEDS_OCR if result.code == "needs_ocr" else DocStatus.FAILED
            row.reason = result.reason
            self._catalog[result.path] = row
        elif result.status == FileStatus.DUPLICATE:
            pass  # not stored; the import report names it
        else:
            row.status = DocStatus.READY
            row.pages, row.chunks, row.reason = result.pages, result.chunks, result.reason
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
        if [r.path for r in rows] == [r.path for r in self.rows]:
            self.rows = rows
            if rows:
                last = self.index(len(rows) - 1, len(COLUMNS) - 1)
                self.dataChanged.emit(self.index(0, 0), last)
            return
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts

    # -- Qt model ------------------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.name
            if col == 1:
                label = STATUS_LABELS.get(row.status, row.status)
                return f"{label}: {row.reason}" if row.reason and row.status != "ready" else label
            if col == 2:
                return row.pages or ""
            if col == 3:
                return row.chunks or ""
            if col == 4:
                return _date(row.added_at)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = row.path
            if row.added_at:
                tip += "\nAdded " + time.strftime("%Y-%m-%d %H:%M", time.localtime(row.added_at))
            if row.reason:
                tip += f"\n{row.reason}"
            return tip
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return _COLOURS.get(row.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == PROGRESS_ROLE and col == 1:
            return STAGE_FRACTION.get(row.status)
        if role == PATH_ROLE:
            return row.path
        return None


def _date(seconds: float) -> str:
    """Today's imports by time, older ones by date: short enough for a narrow pane."""
    if not seconds:
        return ""
    when = time.localtime(seconds)
    if time.strftime("%Y-%m-%d", when) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", when)
    return time.strftime("%Y-%m-%d", when)
