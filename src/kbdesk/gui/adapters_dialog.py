"""The Adapters dialog: train an adapter (in its own process), follow, stop and resume it, evaluate
it four ways, read the report, choose it for the chat, rename or remove it."""

from __future__ import annotations

import subprocess

from PySide6.QtCore import QByteArray, QTimer, QUrl
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from kbdesk.core.adapters import list_adapters, read_evaluation, remove_adapter, rename_adapter
from kbdesk.core.errors import KbdeskError
from kbdesk.core.messages import Audience, explain
from kbdesk.core.tune import training
from kbdesk.core.tune.jobdir import JobFolder, JobState, format_duration
from kbdesk.core.tune.settings import TuneSettings

POLL_MS = 1000
CHART = "chart.png"
COLUMNS = ("Name", "For model", "Collection", "Trained on", "Final loss", "Evaluation")


class AdaptersDialog(QDialog):
    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Adapters")
        self.resize(980, 720)
        self.session = session
        self.paths = session.paths
        self.process: subprocess.Popen | None = None
        self.job: JobFolder | None = None
        self.evaluation = None  # the running evaluation Job
        self.model_ok = False  # an answer model to train for is set up

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setAccessibleName("Adapters")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.use_button = QPushButton("Use for the chat")
        self.evaluate_button = QPushButton("Evaluate…")
        self.evaluate_button.setToolTip(
            "Answer the held-out questions four ways: model alone, documents, adapter, both"
        )
        self.rename_button = QPushButton("Rename…")
        self.remove_button = QPushButton("Remove…")
        self.use_button.clicked.connect(self.use_selected)
        self.evaluate_button.clicked.connect(self.evaluate_selected)
        self.rename_button.clicked.connect(self.rename_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        row = QHBoxLayout()
        for b in (self.use_button, self.evaluate_button, self.rename_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)

        self.report = QTextBrowser()
        self.report.setAccessibleName("Evaluation report")
        self.report.setOpenExternalLinks(False)

        self.name = QLineEdit()
        self.name.setPlaceholderText(f"{session.collection}-adapter")
        self.passages = QSpinBox()
        self.passages.setRange(1, 100_000)
        self.passages.setValue(training.DEFAULT_PASSAGES)
        self.passages.setToolTip(
            "Passages of the collection the model writes practice questions for"
        )
        self.steps = QSpinBox()
        self.steps.setRange(0, 100_000)
        self.steps.setSpecialValueText("automatic (two passes)")
        self.estimate = QLabel()
        self.passages.valueChanged.connect(self._update_estimate)
        self.steps.valueChanged.connect(self._update_estimate)
        self.train_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume")
        self.train_button.clicked.connect(self.train)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Training progress")
        self.progress.setVisible(False)  # shown while a training is followed
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.state.setAccessibleName("Training state")
        form = QFormLayout()
        form.addRow("Adapter name:", self.name)
        form.addRow("Passages to learn from:", self.passages)
        form.addRow("Training steps:", self.steps)
        form.addRow("Expected duration:", self.estimate)
        buttons = QHBoxLayout()
        for b in (self.train_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        group = QGroupBox(f"Train a new adapter on “{session.collection}”")
        box = QVBoxLayout(group)
        box.addLayout(form)
        box.addLayout(buttons)
        box.addWidget(self.progress)
        box.addWidget(self.state)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 2)
        layout.addLayout(row)
        layout.addWidget(self.report, 3)
        layout.addWidget(group)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self.refresh()
        self._update_estimate()
        self._show_unfinished()

    # -- the list ------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.entries = list_adapters(self.paths.adapters_dir)
        self.table.setRowCount(len(self.entries))
        chosen = self.session.settings.adapter
        for r, e in enumerate(self.entries):
            meta = e.meta
            loss = meta.final_loss
            cells = (
                e.name + ("  (in use)" if e.name == chosen else ""),
                meta.base_name,
                meta.collection or "—",
                f"{meta.counts.get('training_conversations', '?')} conversations, "
                f"{meta.training.get('steps', '?')} steps",
                f"{loss:.3f}" if isinstance(loss, float) else "—",
                meta.recommendation or "not evaluated yet",
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        if self.entries and not self.table.selectedItems():
            self.table.selectRow(0)
        self._selection_changed()

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def _selection_changed(self) -> None:
        entry = self.selected()
        busy = self.evaluation is not None
        for b in (self.use_button, self.rename_button, self.remove_button):
            b.setEnabled(entry is not None)
        self.evaluate_button.setEnabled(entry is not None and not busy)
        self.show_report(entry)

    def show_report(self, entry) -> None:
        if entry is None:
            self.report.setHtml("<p>No adapters yet. Train one below.</p>")
            return
        result = read_evaluation(entry.path, self._key_of(entry.meta.collection))
        if result is None and entry.meta.sealed and entry.meta.evaluation:
            self.report.setHtml(
                f"<p>The report of “{entry.name}” is encrypted with the collection "
                f"“{entry.meta.collection}”: open and unlock it to read the report.</p>"
            )
            return
        if result is None:
            self.report.setHtml(
                f"<p>“{entry.name}” has not been evaluated yet. <b>Evaluate…</b> answers its "
                "held-out questions four ways and recommends one for this collection.</p>"
            )
            return
        from kbdesk.core.evaluate.report import chart_png, html_report

        image = QImage.fromData(QByteArray(chart_png(result)))
        document = self.report.document()
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(CHART), image)
        self.report.setHtml(html_report(result, image_src=CHART))

    # -- actions on an adapter -----------------------------------------------------------------

    def use_selected(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.session.update_settings(adapter=entry.name)
            self.refresh()

    def rename_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        new, ok = QInputDialog.getText(self, "Rename adapter", "New name:", text=entry.name)
        if ok and new.strip() and new.strip() != entry.name:
            # the core renames and makes the chosen adapter follow; a refusal changes nothing
            if self._try(lambda: rename_adapter(self.paths, entry.name, new.strip())):
                self.session.reload_settings()
            self.refresh()

    def remove_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        answer = QMessageBox.question(
            self, "Remove adapter", f"Remove the adapter “{entry.name}” and its evaluation?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            if self._try(lambda: remove_adapter(self.paths, entry.name)):
                self.session.reload_settings()
            self.refresh()

    def evaluate_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        job = self.session.evaluate(entry.name)
        self.evaluation = job
        self._selection_changed()
        self.state.setText(f"Evaluating “{entry.name}”: loading the answer model…")
        job.progress.connect(
            lambda p: self.state.setText(
                f"Evaluating “{entry.name}”: {p.item}, {p.done} of {p.total}"
            )
        )
        job.result.connect(lambda _r: self.state.setText(f"Evaluation of “{entry.name}” done."))
        job.failed.connect(lambda exc: self.state.setText(explain(exc, Audience.WINDOW)))
        job.finished.connect(self._evaluation_finished)

    def _evaluation_finished(self) -> None:
        self.evaluation = None
        self.refresh()

    def _try(self, fn) -> bool:
        try:
            fn()
            return True
        except KbdeskError as exc:
            QMessageBox.warning(self, "Adapters", explain(exc, Audience.WINDOW))
            return False

    # -- training ------------------------------------------------------------------------------

    def _model(self):
        from kbdesk.core.generate.models import ModelRegistry

        return ModelRegistry(self.paths.model_dirs).chosen(self.session.settings.model)

    def _update_estimate(self) -> None:
        try:
            model = self._model()
        except KbdeskError as exc:
            self.estimate.setText(explain(exc, Audience.WINDOW))
            self.model_ok = False
            self._buttons()
            return
        self.model_ok = True
        seconds = training.estimate_seconds(
            model.path, self.passages.value(), self.steps.value() or None, TuneSettings().batch
        )
        self.estimate.setText(
            f"about {format_duration(seconds)} for {model.name} on this computer; "
            "the window stays usable, and a stopped training resumes where it was"
        )

    def train(self) -> None:
        if self._running():
            return
        name = self.name.text().strip() or self.name.placeholderText()

        def create():
            request = training.training_request(
                self.paths,
                self.session.collection,
                model=self.session.settings.model,
                name=name,
                steps=self.steps.value() or None,
                passages=self.passages.value(),
            )
            key = self.session.kb().key
            job = training.create_job(self.paths, request, key)
            self.job, self.process = job, training.start(job, key)

        if self._try(create):
            self._follow()

    def resume(self) -> None:
        waiting = training.unfinished_jobs(self.paths)
        if self._running() or not waiting:
            return

        def start():
            job = training.job_folder(self.paths, waiting[0].name)
            key = self.session.kb(job.spec().collection).key if job.spec().encrypted else None
            self.job, self.process = training.resume(self.paths, waiting[0].name, key)

        if self._try(start):
            self._follow()

    def _key_of(self, collection: str | None) -> bytes | None:
        """The key of `collection` if it is encrypted and open (unlocked) in this window."""
        if not collection or collection not in self.session.unlocked():
            return None
        return self.session.kb(collection).key

    def _follow(self) -> None:
        self.timer.start()
        self._poll()

    def _running(self) -> bool:
        if self.process is not None and self.process.poll() is None:
            return True
        return self.job is not None and self.job.running_pid() is not None

    def stop(self) -> None:
        if self.job is not None and self.job.request_stop():
            self.state.setText("Stopping at the next safe point…")

    def _poll(self) -> None:
        if self.job is None:
            return
        running = self._running()
        status = self.job.status(running=running)
        self.state.setText(status.describe())
        self.progress.setVisible(True)
        self.progress.setRange(0, max(status.total, 1))
        self.progress.setValue(status.done)
        self.progress.setFormat(
            {"examples": "writing questions %v/%m", "train": "step %v/%m"}.get(status.stage, "%p%")
        )
        if not running:
            self.timer.stop()
            if self.process is not None:
                self.process.wait()  # reaped: no zombie left behind
            self.process = None
            if status.state == JobState.DONE:
                self.refresh()
        self._buttons()

    def _show_unfinished(self) -> None:
        """A training started earlier (still running, or stopped) shows when the dialog opens."""
        running = training.running_jobs(self.paths)
        if running:
            self.job = running[0]
            self._follow()
            return
        waiting = training.unfinished_jobs(self.paths)
        if waiting:
            self.job = JobFolder(waiting[0].folder)
            self.state.setText(waiting[0].describe())
        self._buttons()

    def _buttons(self) -> None:
        running = self._running()
        self.train_button.setEnabled(not running and self.model_ok)
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running and bool(training.unfinished_jobs(self.paths)))

    def closeEvent(self, event) -> None:
        # Training goes on in its own process; the next time the dialog opens it shows the job.
        self.timer.stop()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.timer.stop()
        super().done(result)
