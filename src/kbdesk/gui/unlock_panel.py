"""What the library shows in place of a locked collection's documents: a lock, what is
protected, and a field for its passphrase or recovery key."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kbdesk.gui import collection_keys
from kbdesk.gui.session import Session
from kbdesk.gui.widgets import error_text, lock_icon
from kbdesk.gui.workers import Job

LOCKED_TITLE = "<h3>'{name}' is locked</h3>"
LOCKED_TEXT = (
    "Its documents, passages and chats are encrypted on this computer. Type its passphrase or "
    "its recovery key to open it."
)


class UnlockPanel(QWidget):
    message = Signal(str)  # a line for the status bar

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.job: Job | None = None
        icon = QLabel()
        icon.setPixmap(lock_icon(closed=True, size=64).pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        icon.setAccessibleName("Locked")
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(LOCKED_TEXT)
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("Passphrase or recovery key")
        self.secret.setAccessibleName("Passphrase or recovery key")
        self.secret.returnPressed.connect(self.unlock)
        self.remember = QCheckBox("Remember on this computer")
        self.remember.setToolTip(
            "Keep the unlock in this computer's key store for your user account, so kbdesk opens "
            "this collection without asking. Anyone who can sign in as you can then open it."
        )
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self.unlock)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName("Unlock problem")
        self.problem.setStyleSheet("QLabel { color: #b00020; }")
        self.problem.hide()
        row = QHBoxLayout()
        row.addWidget(self.secret, 1)
        row.addWidget(self.unlock_button)
        # Full width with margins, not a centred box: a word-wrapped label in a centred widget
        # gets the height of one line and is cut off.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 0, 24, 0)
        layout.addStretch(1)
        for part in (icon, self.title, text):
            layout.addWidget(part)
        layout.addLayout(row)
        layout.addWidget(self.remember)
        layout.addWidget(self.problem)
        layout.addStretch(2)

    def show_collection(self, name: str) -> None:
        self.title.setText(LOCKED_TITLE.format(name=escape(name)))
        self.remember.setChecked(self.session.remembered(name))  # unticking forgets it
        self.secret.clear()
        self.problem.hide()
        self.secret.setFocus()

    def unlock(self) -> Job | None:
        secret = self.secret.text()
        if not secret or self.job is not None:
            return None
        self.unlock_button.setEnabled(False)
        self.problem.setText("Unlocking…")
        self.problem.setStyleSheet("QLabel { color: #444; }")
        self.problem.show()
        job = collection_keys.unlock(self.session, secret, self.remember.isChecked())
        self.job = job
        job.result.connect(self._unlocked)
        job.failed.connect(self._failed)
        job.finished.connect(self._settled)
        return job

    def _unlocked(self, opened) -> None:
        _kb, remembered = opened
        self.secret.clear()
        if self.remember.isChecked() and not remembered:
            self.message.emit(
                "Unlocked. This computer has no key store, so the passphrase is asked each time."
            )
        else:
            self.message.emit("Unlocked.")

    def _failed(self, exc: BaseException) -> None:
        self.problem.setStyleSheet("QLabel { color: #b00020; }")
        self.problem.setText(error_text(exc))
        self.secret.selectAll()
        self.secret.setFocus()

    def _settled(self) -> None:
        self.job = None
        self.unlock_button.setEnabled(True)
