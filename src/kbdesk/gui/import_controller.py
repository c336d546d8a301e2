"""Imports into a collection: start, resume and cancel them, with their progress under the table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from kbdesk.core.types import DocStatus, FileStatus, ImportReport, Progress, Stage
from kbdesk.gui.documents_model import DocumentsModel
from kbdesk.gui.session import Session
from kbdesk.gui.shared_collections import add_files as add_shared_files
from kbdesk.gui.shared_collections import is_shared
from kbdesk.gui.widgets import error_text
from kbdesk.gui.workers import Job

_FLUSH_MS = 100  # the table refreshes at most ten times a second during an import
_HIDE_MS = 6000  # the closing line stays this long


class ImportController(QWidget):
    """The progress box, and the one import job at a time that feeds the documents model.

    Paths being imported are kept in the settings until the import ends, so an import cut
    short by closing the window resumes at the next start.
    """

    started = Signal(object)  # Job
    finished = Signal(object)  # ImportReport
    file_failed = Signal(object)  # FileResult
    message = Signal(str)

    def __init__(self, session: Session, model: DocumentsModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.model = model
        self.job: Job | None = None
        self._collection = ""
        self._closing = False

        self.label = QLabel()
        self.label.setAccessibleName("Import status")
        self.doc_progress = QProgressBar()
        self.doc_progress.setRange(0, 100)
        self.doc_progress.setAccessibleName("Progress of the current document")
        self.doc_progress.setToolTip("How far the document being read is")
        self.doc_progress.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Import progress")
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the import; what is done so far is kept")
        self.cancel_button.setAccessibleName("Cancel import")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.doc_progress)
        layout.addLayout(row)
        self.setVisible(False)

        self._timer = QTimer(self)
        self._timer.setInterval(_FLUSH_MS)
        self._timer.timeout.connect(self.publish)

    @property
    def running(self) -> bool:
        return self.job is not None

    def showing_import(self) -> bool:
        """Whether the table shows the collection being imported into (the user may switch)."""
        return self._collection == self.session.collection

    # -- starting and stopping -----------------------------------------------------------------

    def import_paths(self, paths: list[str], again: bool = False) -> Job:
        paths = [str(Path(p)) for p in paths]
        collection = self.session.collection
        if is_shared(collection):
            return self._add_to_shared(paths)
        pending = dict(self.session.settings.pending)
        pending[collection] = list(dict.fromkeys([*pending.get(collection, []), *paths]))
        self.session.update_settings(pending=pending)
        job = self.session.import_paths(paths, again=again)
        self.model.plan([p for p in paths if Path(p).is_file()])
        job.item.connect(self._item)
        self._timer.start()
        return self._follow(job, self._done, "Looking at the files…")

    def _add_to_shared(self, paths: list[str]) -> Job:
        """Files dropped on a shared collection: read here, then uploaded. Nothing is kept to
        resume at the next start: what was read and not uploaded waits in the staging
        collection and goes with the next files added."""
        job = add_shared_files(self.session, paths)
        return self._follow(job, self._added, "Reading the files for the shared collection…")

    def _follow(self, job: Job, finished: Callable[..., None], first_line: str) -> Job:
        """Show `job`'s progress in the box until it ends; `finished` takes its result."""
        self.job, self._collection = job, self.session.collection
        job.progress.connect(self._progress)
        job.result.connect(finished)
        job.failed.connect(self._failed)
        job.cancelled.connect(lambda: self._done(ImportReport(cancelled=True)))
        self.setVisible(True)
        self.progress.setRange(0, 0)
        self.label.setText(first_line)
        self.cancel_button.setEnabled(True)
        self.started.emit(job)
        return job

    def _added(self, report) -> None:
        for failed in report.imported.failed:
            self.file_failed.emit(failed)
        self._done(report.imported, report.summary())

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def prepare_close(self) -> None:
        """The window is closing: a running import stops and resumes at the next start."""
        self._closing = True

    def resume_pending(self) -> None:
        paths = self.session.settings.pending.get(self.session.collection)
        if paths and self.job is None:
            self.message.emit("Resuming the import that was interrupted last time.")
            self.import_paths(paths)

    # -- while it runs -------------------------------------------------------------------------

    def publish(self) -> None:
        """Publish the model, and the progress of the document being read in its own bar.

        The bar is a plain widget under the table: a Python delegate drawing bars in the
        status cells would be called for every visible row on every repaint, each call
        competing with the import for the interpreter lock.
        """
        self.model.flush()
        rows = self.model.rows
        active = [
            i for i, r in enumerate(rows) if r.status in (DocStatus.EMBEDDING, DocStatus.PARSING)
        ]
        active.sort(key=lambda i: rows[i].status != DocStatus.EMBEDDING)
        if active and self.job is not None:
            i = active[0]
            self.doc_progress.setValue(int(100 * (self.model.progress_of(i) or 0)))
            self.doc_progress.setFormat(f"{rows[i].name}: %p%")
            self.doc_progress.setVisible(True)
        else:
            self.doc_progress.setVisible(False)

    def _item(self, item) -> None:
        kind, value = item
        failed = kind == "file" and value.status == FileStatus.FAILED
        if self.showing_import():
            if kind == "plan":
                self.model.plan(value)
            elif kind == "file":
                self.model.finished_file(value)
        if failed:
            self.file_failed.emit(value)

    def _progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
            self.progress.setFormat("%v of %m files")
        if progress.stage is Stage.UPLOADING:
            uploading = f"Uploading {progress.item}" if progress.item else "Uploading…"
            self.label.setText(progress.message or uploading)
            self.progress.setFormat("%v of %m documents")
        if progress.stage in (Stage.PARSING, Stage.EMBEDDING) and self.showing_import():
            embedded = progress.item_fraction if progress.stage is Stage.EMBEDDING else None
            self.model.working_on(progress.item, embedded)
            name = Path(progress.item).name if progress.item else ""
            verb = "Reading" if progress.stage is Stage.PARSING else "Embedding"
            extra = f" ({progress.message})" if progress.message else ""
            self.label.setText(f"{verb} {name}{extra}".strip())

    # -- when it ends --------------------------------------------------------------------------

    def _done(self, report: ImportReport, text: str = "") -> None:
        self.job = None
        if not self._closing:  # closing the window keeps the pending list: next start resumes
            pending = dict(self.session.settings.pending)
            pending.pop(self._collection, None)
            self.session.update_settings(pending=pending)
        self._timer.stop()
        self.model.end_import()
        done = len([r for r in report.results if r.status != FileStatus.FAILED])
        failed = len(report.failed)
        if report.cancelled:
            text = "Import cancelled; the documents finished so far are kept."
        elif not text:  # the caller's: why it failed, or what was added to a shared collection
            text = f"Import finished: {_files(done)} ready" + (
                f", {failed} could not be imported (see Problems)." if failed else "."
            )
        self.label.setText(text)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("")
        self.cancel_button.setEnabled(False)
        self.doc_progress.setVisible(False)
        QTimer.singleShot(_HIDE_MS, self, self._hide)
        self.message.emit(text)
        self.finished.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self._done(ImportReport(), error_text(exc))  # the last word, in the panel and the bar

    def _hide(self) -> None:
        if self.job is None:
            self.setVisible(False)


def _files(n: int) -> str:
    return f"{n:,} file" + ("" if n == 1 else "s")
