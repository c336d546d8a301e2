"""The library pane: composes the collections list, documents table, imports, problems and watching."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kbdesk.core.errors import KbdeskError
from kbdesk.core.ingest import SUPPORTED_SUFFIXES
from kbdesk.core.types import FileResult, FileStatus
from kbdesk.gui.collections_box import CollectionsBox
from kbdesk.gui.documents_model import PATH_ROLE, DocumentsModel
from kbdesk.gui.documents_table import DocumentsTable
from kbdesk.gui.folder_watcher import FolderWatcher
from kbdesk.gui.import_controller import ImportController
from kbdesk.gui.problems_list import ProblemsList
from kbdesk.gui.session import Session
from kbdesk.gui.shared_collections import DOCUMENTS_REFRESH_MS, is_shared, refresh_documents
from kbdesk.gui.unlock_panel import UnlockPanel
from kbdesk.gui.widgets import error_text, tool_button
from kbdesk.gui.workers import Job

EMPTY_LIBRARY = (
    "<h3>Your library is empty</h3>"
    "<p>Drag PDF, Word, text, Markdown or HTML files &mdash; or whole folders &mdash; onto this "
    "window to add them.</p><p>Or use <b>File &rsaquo; Import files…</b> (Ctrl+O).</p>"
    "<p>Everything stays on this computer.</p>"
)


class LibraryPane(QWidget):
    """Talks to the window only through its signals; the window connects them."""

    import_started = Signal(object)  # Job
    import_finished = Signal(object)  # ImportReport
    problems_changed = Signal(int)
    message = Signal(str)  # a line for the status bar
    document_requested = Signal(str)  # a document's path, to show in the source pane

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.collections_box = CollectionsBox(session)
        self.collections = self.collections_box.list
        self.model = DocumentsModel(self)
        self.table = DocumentsTable(self.model)
        self.table.doubleClicked.connect(self._open_document)
        self.imports = ImportController(session, self.model)
        self.problems = ProblemsList()
        self.watcher = FolderWatcher(session, lambda: self.imports.running, self)
        # the parts tests and tools reach for by their old names
        self.progress, self.doc_progress = self.imports.progress, self.imports.doc_progress
        self.problem_box, self.problem_list = self.problems, self.problems.list

        self.empty = QLabel(EMPTY_LIBRARY)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setAccessibleName("Empty library help")
        self.empty.setStyleSheet("QLabel { color: #444; padding: 16px; }")
        self.sample_button = QPushButton("Try the sample documents")
        self.sample_button.setToolTip("Import two small bundled documents (English and Chinese)")
        self.sample_button.setAccessibleName("Import sample documents")
        self.sample_button.clicked.connect(self.import_samples)
        empty_box = QWidget()
        empty_layout = QVBoxLayout(empty_box)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty)
        empty_layout.addWidget(self.sample_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(1)
        self.unlock_panel = UnlockPanel(session)
        self.stack = QStackedWidget()
        self.stack.addWidget(empty_box)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.unlock_panel)

        # One "Add" button with a menu keeps the header narrow enough for a side pane.
        self.add_menu = QMenu(self)
        self.add_menu.addAction("Files…", self.choose_files)
        self.add_menu.addAction("Folder…", self.choose_folder)
        self.watch_action = self.add_menu.addAction("Watch a folder…", self.choose_watch)
        self.import_button = tool_button(
            self, "Add", "Import files or a folder (Ctrl+O)", self.choose_files
        )
        self.import_button.setMenu(self.add_menu)
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.remove_button = tool_button(
            self, "Remove", "Remove the selected documents (Delete)", self.remove_selected
        )
        self.reindex_button = tool_button(
            self, "Re-index", "Read the selected documents again", self.reindex_selected
        )
        doc_buttons = QHBoxLayout()
        doc_buttons.addWidget(QLabel("<b>Documents</b>"))
        doc_buttons.addStretch(1)
        for b in (self.import_button, self.remove_button, self.reindex_button):
            doc_buttons.addWidget(b)
        # Documents an earlier kbdesk cut into passages: one click reads them again, each
        # replaced in one transaction (nothing is removed first).
        self.stale_label = QLabel()
        self.stale_label.setWordWrap(True)
        self.stale_button = QPushButton("Read them again")
        self.stale_button.setToolTip(
            "Read these documents again with this version's passages and section paths; "
            "they stay searchable meanwhile"
        )
        self.stale_button.clicked.connect(self.reread_stale)
        self.stale_bar = QWidget()
        stale_layout = QHBoxLayout(self.stale_bar)
        stale_layout.setContentsMargins(0, 0, 0, 0)
        stale_layout.addWidget(self.stale_label, 1)
        stale_layout.addWidget(self.stale_button)
        self.stale_bar.hide()
        self._stale: list[str] = []
        self.watch_label = QLabel()
        self.watch_label.setWordWrap(True)
        self.watch_label.setStyleSheet("QLabel { color: #555; }")

        docs_box = QWidget()
        docs_layout = QVBoxLayout(docs_box)
        docs_layout.setContentsMargins(0, 0, 0, 0)
        docs_layout.addLayout(doc_buttons)
        docs_layout.addWidget(self.stack, 1)
        for part in (self.imports, self.stale_bar, self.problems, self.watch_label):
            docs_layout.addWidget(part)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.collections_box)
        self.splitter.addWidget(docs_box)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setSizes([120, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

        self.collections_box.message.connect(self.message)
        self.unlock_panel.message.connect(self.message)
        self.imports.message.connect(self.message)
        self.imports.started.connect(self._import_started)
        self.imports.finished.connect(self._import_finished)
        self.imports.file_failed.connect(self.problems.add)
        self.problems.changed.connect(self.problems_changed)
        self.watcher.import_requested.connect(self.import_paths)
        self.watcher.status_changed.connect(self._show_watching)
        # A shared collection's documents change on the server, from other PCs.
        self.shared_timer = QTimer(self)
        self.shared_timer.setInterval(DOCUMENTS_REFRESH_MS)
        self.shared_timer.timeout.connect(self.refresh_shared_documents)
        session.collection_changed.connect(self._collection_changed)
        self._collection_changed(session.collection)

    # -- collections (the list itself is CollectionsBox) ---------------------------------------

    def reload_collections(self) -> None:
        self.collections_box.reload()

    def new_collection(self) -> None:
        self.collections_box.new_collection()

    def rename_collection(self) -> None:
        self.collections_box.ask_rename()

    def delete_collection(self) -> None:
        self.collections_box.ask_delete()

    def _collection_changed(self, _name: str) -> None:
        self.model.end_import()
        if not self.imports.running:
            self.problems.clear()
        self.refresh()  # an import still running elsewhere keeps going; its rows return with it
        self.watcher.rewatch()
        if is_shared(self.session.collection):
            self.shared_timer.start()
        else:
            self.shared_timer.stop()

    def refresh_shared_documents(self) -> None:
        """Read the open shared collection's document list again, in a job; an unreachable
        server says so in the status bar and leaves the list as it was."""
        key = self.session.collection
        if not is_shared(key) or not self.session.is_open(key):
            return
        job = refresh_documents(self.session)
        job.result.connect(lambda _: self.refresh() if self.session.collection == key else None)
        job.failed.connect(lambda exc: self.message.emit(error_text(exc)))

    # -- documents -----------------------------------------------------------------------------

    def refresh(self) -> None:
        locked = self.session.is_locked()
        on_server = is_shared(self.session.collection)  # its documents change on the server
        may_change = not locked and (not on_server or self._may_write())
        self.import_button.setEnabled(may_change)  # a shared collection's: read here, uploaded
        self.remove_button.setEnabled(may_change)
        self.reindex_button.setEnabled(not locked and not on_server)
        self.watch_action.setEnabled(not on_server)
        if locked:
            self.model.set_documents([])
            self.model.flush()
            self.stale_bar.hide()
            self.unlock_panel.show_collection(self.session.collection)
            self.stack.setCurrentWidget(self.unlock_panel)
            return
        try:
            documents = self.session.kb().documents()
        except KbdeskError as exc:
            self.message.emit(str(exc))
            documents = []
        self.model.set_documents(documents)
        self.imports.publish()
        self.stack.setCurrentIndex(1 if self.model.rows else 0)
        self._show_stale(documents)

    def _may_write(self) -> bool:
        """Whether this login may change the open shared collection (add or remove documents)."""
        key = self.session.collection
        return self.session.is_open(key) and self.session.kb().writable

    def _show_stale(self, documents: list) -> None:
        """The offer to re-read the documents an earlier version read, from the list just read."""
        # no documents: nothing to offer, and a collection that could not be read is not asked again
        found = self.session.kb().stale_documents(documents) if documents else []
        stale = [d.path for d in found if Path(d.path).is_file()]
        self._stale = stale
        count = f"{len(stale)} documents were" if len(stale) != 1 else "1 document was"
        self.stale_label.setText(
            f"{count} read by an earlier version of kbdesk, without section paths."
        )
        self.stale_bar.setVisible(bool(stale) and not self.imports.running)

    def reread_stale(self) -> None:
        if self._stale:
            self.stale_bar.hide()
            self.import_paths(list(self._stale))

    def selected_paths(self) -> list[str]:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.rows[r].path for r in sorted(rows) if r < len(self.model.rows)]

    def _open_document(self, index: QModelIndex) -> None:
        path = index.data(PATH_ROLE)
        if path:
            self.document_requested.emit(path)

    def remove_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            job = self.session.remove_documents(paths)
            job.result.connect(self._removed)
            job.failed.connect(lambda exc: self.message.emit(error_text(exc)))

    def _removed(self, results: list[FileResult]) -> None:
        for result in results:
            if result.status == FileStatus.FAILED:
                self.message.emit(result.reason or "A document could not be removed.")
        self.refresh()

    def reindex_selected(self) -> None:
        # Read again in place: each document's old version stays searchable until its new one
        # is saved, so a cancelled or failed re-index loses nothing.
        paths = self.selected_paths()
        if paths:
            self.import_paths(paths, again=True)

    # -- importing (the job and its progress are ImportController) -----------------------------

    def choose_files(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import documents", str(Path.home()), f"Documents ({patterns});;All files (*)"
        )
        if files:
            self.import_paths(files)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder", str(Path.home()))
        if folder:
            self.import_paths([folder])

    def choose_watch(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Watch a folder", str(Path.home()))
        if folder:
            self.watch_folder(folder)

    def watch_folder(self, folder: str) -> None:
        self.watcher.watch(folder)

    def import_samples(self) -> None:
        from kbdesk.resources import samples_dir

        self.import_paths([str(samples_dir())])

    def import_paths(self, paths: list[str], again: bool = False) -> Job | None:
        if self.session.is_locked():  # a drop, a watched folder or a menu while it is locked
            self.message.emit(f"Unlock '{self.session.collection}' first, then add documents.")
            return None
        return self.imports.import_paths(paths, again=again)

    def cancel_import(self) -> None:
        self.imports.cancel()

    def prepare_close(self) -> None:
        self.imports.prepare_close()

    def resume_pending(self) -> None:
        """An import cut short last time; a locked collection's waits for its unlock."""
        if not self.session.is_locked():
            self.imports.resume_pending()

    def _import_started(self, job: Job) -> None:
        self.stack.setCurrentIndex(1)
        self.import_started.emit(job)

    def _import_finished(self, report) -> None:
        if is_shared(self.session.collection):  # files added to it: read its list again
            self.refresh_shared_documents()
        self.refresh()
        self.problems.flush()
        self.import_finished.emit(report)

    def _show_watching(self, text: str) -> None:
        self.watch_label.setText(text)
        self.watch_label.setVisible(bool(text))
