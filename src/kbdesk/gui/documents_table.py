"""The documents table view: the name takes the spare width, and a narrow pane drops minor columns."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
)

from kbdesk.gui.documents_model import DocumentsModel

NAME, STATUS, PAGES, PASSAGES, ADDED = range(5)
# Passages and Added show only while the name keeps this share of the width. At the default
# 1280-pixel window the library pane is about 350 pixels wide (300 with a page open): Status,
# Pages, Passages and Added there took 330 and left the name 26 pixels, shown as "…".
NAME_SHARE = 0.45
OPTIONAL = (PASSAGES, ADDED)  # shown in this order as the pane widens
_STATUS_SAMPLE = "embedding 100%"  # the longest status without a reason; reasons elide


class MiddleElide(QStyledItemDelegate):
    """Names keep their start and their extension ("Commercial le…final.pdf"), not just "…"."""

    def initStyleOption(  # noqa: N802 - Qt's name
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class DocumentsTable(QTableView):
    """A read-only table over a DocumentsModel; double-click opens a document."""

    def __init__(self, model: DocumentsModel, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self.setAccessibleName("Documents")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.verticalHeader().setVisible(False)
        self.setSortingEnabled(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)  # "failed: the file is dam…"
        self.name_delegate = MiddleElide(self)  # one Python call per painted name, no more
        self.setItemDelegateForColumn(NAME, self.name_delegate)
        header = self.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Interactive)
        margin = 2 * self.style().pixelMetric(self.style().PixelMetric.PM_HeaderMargin) + 8
        status = self.fontMetrics().horizontalAdvance(_STATUS_SAMPLE) + margin
        header.resizeSection(STATUS, max(status, header.sectionSizeHint(STATUS)))
        for col in (PAGES, PASSAGES, ADDED):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        # What an optional column would take, measured once: a hidden column measures as 0.
        self._needs = {
            col: max(header.sectionSizeHint(col), self.fontMetrics().horizontalAdvance(sample) + 12)
            for col, sample in ((PASSAGES, "99999"), (ADDED, "2026-12-01"))
        }
        model.rowsInserted.connect(self.fit_columns)
        model.modelReset.connect(self.fit_columns)

    def fit_columns(self, *_args) -> None:
        """Show Passages and Added only where the name keeps NAME_SHARE of the width."""
        header = self.horizontalHeader()
        width = self.viewport().width()
        used = header.sectionSize(STATUS) + header.sectionSize(PAGES)
        for col in OPTIONAL:
            need = self._needs[col]
            show = width - used - need >= NAME_SHARE * width
            if header.isSectionHidden(col) == show:
                header.setSectionHidden(col, not show)
            if show:
                used += need
            else:
                for rest in OPTIONAL[OPTIONAL.index(col) + 1 :]:  # keep the order
                    header.setSectionHidden(rest, True)
                break

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit_columns()
