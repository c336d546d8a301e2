"""The library pane: collections, the documents table, imports with progress, problems, watching."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kbdesk.core.errors import KbdeskError
from kbdesk.core.ingest import SUPPORTED_SUFFIXES
from kbdesk.core.types import DocStatus, FileResult, FileStatus, ImportReport, Progress
from kbdesk.gui.documents_model import PATH_ROLE, DocumentsModel
from kbdesk.gui.session import Session, write_key
from kbdesk.gui.widgets import tool_button
from kbdesk.gui.workers import Job

log = logging.getLogger(__name__)

EMPTY_LIBRARY = (
    "<h3>Your library is empty</h3>"
    "<p>Drag PDF, Word, text, Markdown or HTML files &mdash; or whole folders &mdash; onto this "
    "window to add them.</p><p>Or use <b>File &rsaquo; Import files…</b> (Ctrl+O).</p>"
    "<p>Everything stays on this computer.</p>"
)
_FLUSH_MS = 100  # table and problem list refresh at most ten times a second
_WATCH_SETTLE_MS = 2000  # a folder that changes is re-imported once it has been quiet this long


class LibraryPane(QWidget):
    import_started = Signal(object)  # Job
    import_finished = Signal(object)  # ImportReport
    problems_changed = Signal(int)

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.job: Job | None = None
        self._job_collection = ""
        self._closing = False
        self.problems: list[FileResult] = []

        # collections
        self.collections = QListWidget()
        self.collections.setAccessibleName("Collections")
        self.collections.setToolTip("Collections: each has its own documents and chats")
        self.collections.currentTextChanged.connect(self._collection_picked)
        self.new_collection_button = self._tool("New", "Create a collection", self.new_collection)
        self.rename_button = self._tool("Rename", "Rename this collection", self.rename_collection)
        self.delete_button = self._tool(
            "Delete", "Delete this collection and its index", self.delete_collection
        )
        coll_buttons = QHBoxLayout()
        coll_buttons.addWidget(QLabel("<b>Collections</b>"))
        coll_buttons.addStretch(1)
        for b in (self.new_collection_button, self.rename_button, self.delete_button):
            coll_buttons.addWidget(b)
        coll_box = QWidget()
        coll_layout = QVBoxLayout(coll_box)
        coll_layout.setContentsMargins(0, 0, 0, 0)
        coll_layout.addLayout(coll_buttons)
        coll_layout.addWidget(self.collections)

        # documents
        self.model = DocumentsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Documents")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 118)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)  # "failed: the file is dam…"
        for col in (2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(self._open_document)
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
        self.stack = QStackedWidget()
        self.stack.addWidget(empty_box)
        self.stack.addWidget(self.table)

        # One "Add" button with a menu keeps the header narrow enough for a side pane.
        self.add_menu = QMenu(self)
        self.add_menu.addAction("Files…", self.choose_files)
        self.add_menu.addAction("Folder…", self.choose_folder)
        self.add_menu.addAction("Watch a folder…", self.choose_watch)
        self.import_button = self._tool(
            "Add", "Import files or a folder (Ctrl+O)", self.choose_files
        )
        self.import_button.setMenu(self.add_menu)
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.remove_button = self._tool(
            "Remove", "Remove the selected documents (Delete)", self.remove_selected
        )
        self.reindex_button = self._tool(
            "Re-index", "Read the selected documents again", self.reindex_selected
        )
        doc_buttons = QHBoxLayout()
        doc_buttons.addWidget(QLabel("<b>Documents</b>"))
        doc_buttons.addStretch(1)
        for b in (self.import_button, self.remove_button, self.reindex_button):
            doc_buttons.addWidget(b)

        # progress
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Import progress")
        self.progress.setTextVisible(True)
        self.progress_label = QLabel()
        self.progress_label.setAccessibleName("Import status")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the import; what is done so far is kept")
        self.cancel_button.setAccessibleName("Cancel import")
        self.cancel_button.clicked.connect(self.cancel_import)
        self.doc_progress = QProgressBar()
        self.doc_progress.setRange(0, 100)
        self.doc_progress.setAccessibleName("Progress of the current document")
        self.doc_progress.setToolTip("How far the document being read is")
        self.doc_progress.setVisible(False)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        pb = QVBoxLayout(self.progress_box)
        pb.setContentsMargins(0, 0, 0, 0)
        pb.addWidget(self.progress_label)
        pb.addWidget(self.doc_progress)
        pb.addLayout(progress_row)
        self.progress_box.setVisible(False)

        # problems (failures are listed here, never in a modal dialog)
        self.problem_title = QLabel()
        self.problem_list = QListWidget()
        self.problem_list.setAccessibleName("Import problems")
        self.problem_list.setWordWrap(True)
        self.problem_list.setMaximumHeight(130)
        self.clear_problems_button = self._tool("Clear", "Clear the list", self.clear_problems)
        prob_head = QHBoxLayout()
        prob_head.addWidget(self.problem_title, 1)
        prob_head.addWidget(self.clear_problems_button)
        self.problem_box = QWidget()
        pl = QVBoxLayout(self.problem_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addLayout(prob_head)
        pl.addWidget(self.problem_list)
        self.problem_box.setVisible(False)

        docs_box = QWidget()
        docs_layout = QVBoxLayout(docs_box)
        docs_layout.setContentsMargins(0, 0, 0, 0)
        docs_layout.addLayout(doc_buttons)
        docs_layout.addWidget(self.stack, 1)
        docs_layout.addWidget(self.progress_box)
        docs_layout.addWidget(self.problem_box)
        self.watch_label = QLabel()
        self.watch_label.setWordWrap(True)
        self.watch_label.setStyleSheet("QLabel { color: #555; }")
        docs_layout.addWidget(self.watch_label)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(coll_box)
        self.splitter.addWidget(docs_box)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setSizes([120, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(_FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._folder_changed)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(_WATCH_SETTLE_MS)
        self._settle.timeout.connect(self._import_watched)
        self._changed_folders: set[str] = set()

        session.collection_changed.connect(self._collection_changed)
        self.reload_collections()
        self._collection_changed(session.collection)

    def _tool(self, text: str, tip: str, slot) -> QToolButton:
        return tool_button(self, text, tip, slot)

    # -- collections ---------------------------------------------------------------------------

    def reload_collections(self) -> None:
        names = self.session.collections() or [self.session.collection]
        if self.session.collection not in names:
            names.append(self.session.collection)
        self.collections.blockSignals(True)
        self.collections.clear()
        self.collections.addItems(sorted(names))
        matches = self.collections.findItems(self.session.collection, Qt.MatchFlag.MatchExactly)
        if matches:
            self.collections.setCurrentItem(matches[0])
        self.collections.blockSignals(False)

    def _collection_picked(self, name: str) -> None:
        if name and name != self.session.collection:
            self._run(lambda: self.session.switch_collection(name))

    def _collection_changed(self, name: str) -> None:
        self.model.end_import()
        if self.job is None:
            self.clear_problems()
        self.refresh()  # an import still running elsewhere keeps going; its rows return with it
        self._rewatch()
        self.reload_collections()

    def new_collection(self) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name of the new collection:")
        if ok and name.strip():
            self._run(lambda: self.session.create_collection(name.strip()))
            self.reload_collections()

    def rename_collection(self) -> None:
        old = self.session.collection
        if self.session.runner.busy(write_key(old)):
            self.show_message("Wait for the import to finish before renaming the collection.")
            return
        name, ok = QInputDialog.getText(self, "Rename collection", "New name:", text=old)
        name = name.strip()
        if not ok or not name or name == old:
            return

        def rename() -> None:
            from kbdesk.core.paths import validate_collection_name

            validate_collection_name(name)
            target = self.session.paths.collection_dir(name)
            if target.exists():
                raise KbdeskError(f"A collection named '{name}' already exists.")
            self.session.forget(old)
            self.session.paths.collection_dir(old).rename(target)
            watched = dict(self.session.settings.watched)
            if old in watched:
                watched[name] = watched.pop(old)
            self.session.update_settings(watched=watched)
            self.session.switch_collection(name)

        self._run(rename)

    def delete_collection(self) -> None:
        name = self.session.collection
        count = len(self.model.rows)
        answer = QMessageBox.question(
            self,
            "Delete collection",
            f"Delete the collection '{name}' and its index of {count} document(s)?\n\n"
            "Your original files are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        def delete() -> None:
            from kbdesk.core.kb import KnowledgeBase

            self.session.forget(name)
            KnowledgeBase.delete_collection(self.session.paths.data_dir, name)
            rest = self.session.collections()
            self.session.switch_collection(rest[0] if rest else "default")

        self._run(delete)

    def _run(self, action) -> None:
        try:
            action()
        except (KbdeskError, OSError) as exc:
            self.show_message(str(exc))

    def show_message(self, text: str) -> None:
        window = self.window()
        if hasattr(window, "notify"):
            window.notify(text)
        else:
            log.warning(text)

    # -- documents -----------------------------------------------------------------------------

    def refresh(self) -> None:
        try:
            documents = self.session.kb().documents()
        except KbdeskError as exc:
            self.show_message(str(exc))
            documents = []
        self.model.set_documents(documents)
        self._publish_rows()
        self._update_empty()

    def _publish_rows(self) -> None:
        """Publish the model, and the progress of the document being read in its own bar.

        The bar is a plain widget under the table: a Python delegate drawing bars in the
        status cells would be called for every visible row on every repaint, each call
        competing with the import for the interpreter lock.
        """
        self.model.flush()
        active = [
            i
            for i, r in enumerate(self.model.rows)
            if r.status in (DocStatus.EMBEDDING, DocStatus.PARSING)
        ]
        active.sort(key=lambda i: self.model.rows[i].status != DocStatus.EMBEDDING)
        if active and self.job is not None:
            i = active[0]
            self.doc_progress.setValue(int(100 * (self.model.progress_of(i) or 0)))
            self.doc_progress.setFormat(f"{self.model.rows[i].name}: %p%")
            self.doc_progress.setVisible(True)
        else:
            self.doc_progress.setVisible(False)

    def _update_empty(self) -> None:
        self.stack.setCurrentIndex(1 if self.model.rows else 0)

    def selected_paths(self) -> list[str]:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.rows[r].path for r in sorted(rows) if r < len(self.model.rows)]

    def _open_document(self, index: QModelIndex) -> None:
        window = self.window()
        path = index.data(PATH_ROLE)
        if path and hasattr(window, "open_document"):
            window.open_document(path)

    def remove_selected(self) -> None:
        paths = self.selected_paths()
        if not paths:
            return
        job = self.session.remove_documents(paths)
        job.result.connect(self._removed)
        job.failed.connect(lambda exc: self.show_message(_message(exc)))

    def _removed(self, results: list[FileResult]) -> None:
        for result in results:
            if result.status == FileStatus.FAILED:
                self.show_message(result.reason or "A document could not be removed.")
        self.refresh()

    def reindex_selected(self) -> None:
        paths = self.selected_paths()
        if not paths:
            return
        job = self.session.remove_documents(paths)
        job.finished.connect(lambda: self.import_paths(paths))

    # -- importing -----------------------------------------------------------------------------

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

    def import_samples(self) -> None:
        from kbdesk.resources import samples_dir

        self.import_paths([str(samples_dir())])

    def import_paths(self, paths: list[str]) -> Job:
        paths = [str(Path(p)) for p in paths]
        collection = self.session.collection
        pending = dict(self.session.settings.pending)
        pending[collection] = list(dict.fromkeys([*pending.get(collection, []), *paths]))
        self.session.update_settings(pending=pending)
        job = self.session.import_paths(paths)
        self.job = job
        self._job_collection = collection
        self.model.plan([p for p in paths if Path(p).is_file()])
        job.item.connect(self._import_item)
        job.progress.connect(self._import_progress)
        job.result.connect(self._import_done)
        job.failed.connect(self._import_failed)
        job.cancelled.connect(lambda: self._import_done(ImportReport(cancelled=True)))
        self.progress_box.setVisible(True)
        self.progress.setRange(0, 0)
        self.progress_label.setText("Looking at the files…")
        self.cancel_button.setEnabled(True)
        self._flush_timer.start()
        self._update_empty()
        self.stack.setCurrentIndex(1)
        self.import_started.emit(job)
        return job

    def _showing_import(self) -> bool:
        """Whether the table shows the collection being imported into (the user may switch)."""
        return self._job_collection == self.session.collection

    def _import_item(self, item) -> None:
        kind, value = item
        if not self._showing_import():
            if kind == "file" and value.status == FileStatus.FAILED:
                self.problems.append(value)
                self._problems_dirty = True
            return
        if kind == "plan":
            self.model.plan(value)
        elif kind == "file":
            self.model.finished_file(value)
            if value.status == FileStatus.FAILED:
                self.problems.append(value)
                self._problems_dirty = True

    def _import_progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
            self.progress.setFormat("%v of %m files")
        if progress.stage in ("parsing", "embedding") and self._showing_import():
            embedded = progress.item_fraction if progress.stage == "embedding" else None
            self.model.working_on(progress.item, embedded)
            name = Path(progress.item).name if progress.item else ""
            verb = "Reading" if progress.stage == "parsing" else "Embedding"
            extra = f" ({progress.message})" if progress.message else ""
            self.progress_label.setText(f"{verb} {name}{extra}".strip())

    def _import_done(self, report: ImportReport) -> None:
        self.job = None
        collection = self._job_collection
        if not self._closing:  # closing the window keeps the pending list: next start resumes
            pending = dict(self.session.settings.pending)
            pending.pop(collection, None)
            self.session.update_settings(pending=pending)
        self._flush_timer.stop()
        self.model.end_import()
        self.refresh()
        self._flush_problems()
        done = len([r for r in report.results if r.status != FileStatus.FAILED])
        failed = len(report.failed)
        if report.cancelled:
            text = "Import cancelled; the documents finished so far are kept."
        else:
            text = f"Import finished: {_files(done)} ready" + (
                f", {failed} could not be imported (see Problems)." if failed else "."
            )
        self.progress_label.setText(text)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("")
        self.cancel_button.setEnabled(False)
        QTimer.singleShot(6000, self, self._hide_progress)
        self.show_message(text)
        self.import_finished.emit(report)

    def _hide_progress(self) -> None:
        if self.job is None:
            self.progress_box.setVisible(False)

    def _import_failed(self, exc: BaseException) -> None:
        self.show_message(_message(exc))
        self._import_done(ImportReport())

    def cancel_import(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.progress_label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def prepare_close(self) -> None:
        """The window is closing: a running import stops and resumes at the next start."""
        self._closing = True

    def resume_pending(self) -> None:
        paths = self.session.settings.pending.get(self.session.collection)
        if paths and self.job is None:
            self.show_message("Resuming the import that was interrupted last time.")
            self.import_paths(paths)

    def _flush(self) -> None:
        self._publish_rows()
        if getattr(self, "_problems_dirty", False):
            self._flush_problems()

    # -- problems ------------------------------------------------------------------------------

    def _flush_problems(self) -> None:
        self._problems_dirty = False
        shown = self.problem_list.count()
        for result in self.problems[shown:]:
            self.problem_list.addItem(_problem_line(Path(result.path).name, result.reason or ""))
            self.problem_list.item(self.problem_list.count() - 1).setToolTip(result.path)
        n = len(self.problems)
        self.problem_title.setText(f"<b>Problems ({n})</b>: these files were not imported")
        self.problem_box.setVisible(n > 0)
        self.problems_changed.emit(n)

    def clear_problems(self) -> None:
        self.problems.clear()
        self.problem_list.clear()
        self._flush_problems()

    # -- watching ------------------------------------------------------------------------------

    def watch_folder(self, folder: str) -> None:
        collection = self.session.collection
        watched = dict(self.session.settings.watched)
        folders = list(dict.fromkeys([*watched.get(collection, []), str(Path(folder))]))
        watched[collection] = folders
        self.session.update_settings(watched=watched)
        self._rewatch()
        self.import_paths([folder])

    def _rewatch(self) -> None:
        if self.watcher.directories():
            self.watcher.removePaths(self.watcher.directories())
        folders = self.session.settings.watched.get(self.session.collection, [])
        present = [f for f in folders if Path(f).is_dir()]
        dirs: list[str] = []
        for folder in present:
            dirs.append(folder)
            # QFileSystemWatcher sees one level; subfolders are added (bounded for huge trees)
            dirs += [str(p) for p in list(Path(folder).rglob("*"))[:5000] if p.is_dir()][:500]
        if dirs:
            self.watcher.addPaths(dirs)
        missing = [f for f in folders if f not in present]
        text = ""
        if present:
            text = "Watching: " + ", ".join(present)
        if missing:
            text += (" · " if text else "") + "Watched folder missing: " + ", ".join(missing)
        self.watch_label.setText(text)
        self.watch_label.setVisible(bool(text))

    def _folder_changed(self, folder: str) -> None:
        self._changed_folders.add(folder)
        self._settle.start()

    def _import_watched(self) -> None:
        if self.job is not None:
            self._settle.start()  # one import at a time; try again when it is quiet
            return
        roots = self.session.settings.watched.get(self.session.collection, [])
        changed = {
            r for r in roots if any(Path(c).is_relative_to(r) for c in self._changed_folders)
        }
        self._changed_folders.clear()
        if changed:
            self.import_paths(sorted(changed))
            self._rewatch()


def _message(exc: BaseException) -> str:
    if isinstance(exc, KbdeskError):
        return str(exc)
    return "Something went wrong; the details are in the log file."


def _files(n: int) -> str:
    return f"{n:,} file" + ("" if n == 1 else "s")


def _problem_line(name: str, reason: str) -> str:
    """One line of the problems list; reasons usually open with the file name already."""
    return reason if reason.startswith(name) else f"{name} — {reason}"
