"""The chat pane: ask, watch the answer stream in, stop it, follow its citations, reopen old chats."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from kbdesk.core.assistant import Reply
from kbdesk.core.errors import ErrorCode, KbdeskError
from kbdesk.core.messages import Audience, explain
from kbdesk.core.types import Citation, Hit, Progress, Stage
from kbdesk.gui.session import Session
from kbdesk.gui.transcript import Turn, plain_with_sources, transcript_html
from kbdesk.gui.workers import Job

log = logging.getLogger(__name__)

EMPTY_HINT = (
    "Ask a question about the documents in this collection.<br>"
    "Answers cite their sources like <b>[1]</b>: click one to see the passage on its page.<br>"
    "Press <b>Ctrl+Enter</b> to send and <b>Esc</b> to stop."
)
LOCKED_HINT = (
    "This collection is encrypted and locked.<br>"
    "Unlock it in the library to ask questions and to see its saved chats."
)
_RENDER_MS = 50  # streamed text is redrawn at most 20 times a second
SEARCHING_NOTE = "Searching your documents…"
LOADING_NOTE = "Loading the answer model…"


def busy_note(progress: Progress) -> str | None:
    """What the answer line says while a job works, by its progress stage."""
    if progress.stage is Stage.LOADING_MODEL:
        share = f" {100 * progress.done // progress.total}%" if progress.total else ""
        return f"{LOADING_NOTE}{share}"
    if progress.stage is Stage.SEARCHING:
        return SEARCHING_NOTE
    if progress.stage is Stage.SUMMARISING and progress.total:
        return f"Reading the whole document… {progress.done}/{progress.total}"
    return None


class ChatPane(QWidget):
    citation_clicked = Signal(object)  # Citation or Hit
    answer_finished = Signal(object)  # Answer
    model_problem = Signal(object)  # the KbdeskError from loading the model

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.turns: list[Turn] = []
        self.chat_id: str | None = None
        self.job: Job | None = None

        self.history_box = QComboBox()
        self.history_box.setAccessibleName("Saved chats")
        self.history_box.setToolTip("Open a saved chat of this collection")
        self.history_box.setMinimumContentsLength(24)
        self.history_box.activated.connect(self._open_selected_chat)
        self.new_button = QPushButton("New chat")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.setAccessibleName("New chat")
        self.new_button.clicked.connect(self.new_chat)
        top = QHBoxLayout()
        top.addWidget(QLabel("Chat:"))
        top.addWidget(self.history_box, 1)
        top.addWidget(self.new_button)

        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.view.setAccessibleName("Conversation")
        self.view.anchorClicked.connect(self._link)

        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Ask about your documents…  (Ctrl+Enter to send)")
        self.input.setAccessibleName("Question")
        self.input.setToolTip("Type a question; Ctrl+Enter sends it")
        self.input.setFixedHeight(72)
        self.send_button = QPushButton("Send")
        self.send_button.setToolTip("Send the question (Ctrl+Enter)")
        self.send_button.setAccessibleName("Send question")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.setAccessibleName("Stop answer")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.input, 1)
        bottom.addLayout(buttons)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)

        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(
                QKeySequence(keys), self.input, self.send, context=Qt.ShortcutContext.WidgetShortcut
            )
        QShortcut(
            QKeySequence("Esc"),
            self,
            self.stop,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )

        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(_RENDER_MS)
        self._render_timer.timeout.connect(self._render)
        session.collection_changed.connect(lambda _name: self.reload_history(new=True))
        self.reload_history(new=True)

    # -- history -------------------------------------------------------------------------------

    def _store(self):
        return self.session.kb().chats()

    def reload_history(self, new: bool = False) -> None:
        if new:
            self.stop()
            self.chat_id = None
            self.turns = []
        locked = self.session.is_locked()
        for w in (self.input, self.send_button, self.history_box, self.new_button):
            w.setEnabled(not locked and (w is not self.send_button or not self.busy))
        self.history_box.blockSignals(True)
        self.history_box.clear()
        self.history_box.addItem("New chat", None)
        try:
            chats = [] if locked else self._store().list()
        except (KbdeskError, OSError) as exc:
            log.warning("chats could not be listed: %s", exc)
            chats = []
        for chat in chats:
            self.history_box.addItem(f"{chat.title}  ({chat.turns})", chat.id)
        index = self.history_box.findData(self.chat_id) if self.chat_id else 0
        self.history_box.setCurrentIndex(max(index, 0))
        self.history_box.blockSignals(False)
        self._render()

    def _open_selected_chat(self, index: int) -> None:
        chat_id = self.history_box.itemData(index)
        if chat_id is None:
            self.new_chat()
            return
        self.stop()
        try:
            answers = self._store().answers(chat_id)
        except KbdeskError as exc:
            self.session_error(str(exc))
            return
        self.chat_id = chat_id
        self.turns = [Turn(a.question, answer=a) for a in answers]
        self._render()

    def new_chat(self) -> None:
        self.reload_history(new=True)
        self.input.setFocus()

    def session_error(self, message: str) -> None:
        self.turns.append(Turn("", error=message))
        self._render()

    # -- asking --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.job is not None

    def ask(self, question: str) -> Job | None:
        question = question.strip()
        if not question or self.busy:
            return None
        loading = self.session.model_loading
        turn = Turn(question, busy_note=LOADING_NOTE if loading is not None else SEARCHING_NOTE)
        self.turns.append(turn)
        try:
            job = self.session.ask(question, self.chat_id)
        except KbdeskError as exc:  # e.g. the collection is being renamed right now
            turn.error = explain(exc, Audience.WINDOW)
            self._render()
            return None
        self.job = job
        if loading is not None:  # this question waits for the start-up load: show its progress
            loading.progress.connect(lambda progress: self._progress(turn, progress))
        job.progress.connect(lambda progress: self._progress(turn, progress))
        job.item.connect(lambda piece: self._token(turn, piece))
        job.result.connect(lambda reply: self._done(turn, reply))
        job.failed.connect(lambda exc: self._failed(turn, exc))
        job.cancelled.connect(lambda: self._stopped(turn))
        job.finished.connect(self._finished)
        self._set_busy(True)
        self._render()
        return job

    def send(self) -> None:
        text = self.input.toPlainText()
        if text.strip() and not self.busy:
            self.input.clear()
            self.ask(text)

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _progress(self, turn: Turn, progress: Progress) -> None:
        if turn.streamed:
            return
        note = busy_note(progress)
        if note and note != turn.busy_note:
            turn.busy_note = note
            self._render()

    def _token(self, turn: Turn, piece: str) -> None:
        turn.streamed += piece
        turn.busy_note = ""
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _done(self, turn: Turn, reply: Reply) -> None:
        turn.answer = reply.answer
        if reply.chat_id is not None:  # None: not saved, so the chat so far stays current
            self.chat_id = reply.chat_id
        self.answer_finished.emit(reply.answer)

    def _failed(self, turn: Turn, exc: BaseException) -> None:
        if isinstance(exc, KbdeskError):
            turn.error = explain(exc, Audience.WINDOW)
            if exc.code in (ErrorCode.MODEL_MISSING, ErrorCode.UNSUPPORTED_CPU):
                self.model_problem.emit(exc)
        else:
            turn.error = "Something went wrong while answering; the details are in the log file."

    def _stopped(self, turn: Turn) -> None:
        turn.stopped = True

    def _finished(self) -> None:
        self.job = None
        self._set_busy(False)
        self.reload_history()

    def _set_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)

    # -- view ----------------------------------------------------------------------------------

    def _render(self) -> None:
        bar = self.view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        hint = LOCKED_HINT if self.session.is_locked() else EMPTY_HINT
        self.view.setHtml(transcript_html(self.turns, hint))
        if at_end or self.busy:
            bar.setValue(bar.maximum())

    def _link(self, url: QUrl) -> None:
        scheme, _, rest = url.toString().partition(":")
        try:
            parts = [int(p) for p in rest.split(":")]
            answer = self.turns[parts[0]].answer
        except (ValueError, IndexError):
            return
        if answer is None:
            return
        if scheme == "cite":
            found = [c for c in answer.citations if c.n == parts[1]]
            if found:
                self.citation_clicked.emit(found[0])
        elif scheme == "near" and parts[1] < len(answer.nearest):
            self.citation_clicked.emit(answer.nearest[parts[1]])
        elif scheme == "copy":
            QGuiApplication.clipboard().setText(plain_with_sources(answer))

    def citation(self, turn: int, n: int) -> Citation | Hit | None:
        answer = self.turns[turn].answer
        return next((c for c in answer.citations if c.n == n), None) if answer else None
