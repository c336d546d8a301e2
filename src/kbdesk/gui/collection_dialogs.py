"""The dialogs of encrypted collections: a new collection (encrypted by default), encrypting an
existing one, its recovery key shown once, and a new passphrase."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kbdesk.core.encryption import MIN_PASSPHRASE, check_passphrase
from kbdesk.core.errors import KbdeskError

PROTECTED_NOTE = (
    "Encrypted: the documents' text, passages, search index and chats are stored encrypted, "
    "so a lost laptop or another user of this computer cannot read them. While kbdesk has the "
    "collection unlocked it is as readable as any open file, and your original files are not "
    "changed: full-disk encryption is still advised. Adapters trained on it are encrypted "
    "with it."
)


def _password_field(name: str) -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setAccessibleName(name)
    return field


def _problem_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("QLabel { color: #b00020; }")
    return label


def new_passphrase(first: QLineEdit, again: QLineEdit) -> str:
    """The new passphrase typed twice, or a KbdeskError that says what is wrong with it."""
    if first.text() != again.text():
        raise KbdeskError("The two passphrases differ.")
    check_passphrase(first.text())
    return first.text()


ENCRYPTION_HELP = (
    "<h3>Encrypted collections</h3>"
    "<p><b>Protected</b> on this computer's disk, readable only with the passphrase or the "
    "recovery key: the documents' text and passages, the keyword and vector indexes, and the "
    "saved chats (questions and answers). A lost laptop, a stolen backup or another user of "
    "this computer sees only encrypted files.</p>"
    "<p><b>Not protected</b>: a collection while kbdesk has it unlocked (it locks after the "
    "idle time set in Settings, or with Library › Lock collection); your original documents, "
    "which stay where they were; the names of collections and adapters. Full-disk encryption "
    "is still advised, also because a deleted file can survive on an SSD.</p>"
    "<p><b>Adapters</b> trained on an encrypted collection are encrypted with it (the training's "
    "files, the adapter, its evaluation): such an adapter answers only in its own collection, "
    "while it is unlocked.</p>"
    "<p><b>Keys</b>: the passphrase unlocks the collection; the recovery key, shown once when "
    "it is made, opens it if the passphrase is forgotten. Without either, nobody can open it. "
    "Remember on this computer keeps the unlock in your account's key store, so anyone who can "
    "sign in as you can open it.</p>"
)

REMOVED_NOTE = (
    " Encrypting takes a while for a large collection; it goes on in the background and picks up "
    "where it stopped if kbdesk is closed. The plain files are deleted only after the encrypted "
    "copy is checked; on an SSD a deleted file can survive until the drive reuses its space. "
    "Its adapters are encrypted with it, and unfinished trainings on it start again."
)


class NewCollectionDialog(QDialog):
    """A name, and a passphrase unless the user turns encryption off; with `existing`, only the
    passphrase, to encrypt that collection."""

    def __init__(self, parent: QWidget | None = None, existing: str | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Encrypt '{existing}'" if existing else "New collection")
        self.name = QLineEdit(existing or "")
        self.name.setAccessibleName("Name of the new collection")
        self.encrypt = QCheckBox("Encrypt this collection")
        self.encrypt.setChecked(True)
        self.encrypt.toggled.connect(self._encrypt_toggled)
        self.note = QLabel(PROTECTED_NOTE + (REMOVED_NOTE if existing else ""))
        self.note.setWordWrap(True)
        self.note.setStyleSheet("QLabel { color: #444; }")
        self.passphrase = _password_field("Passphrase")
        self.passphrase.setPlaceholderText(f"at least {MIN_PASSPHRASE} characters; a few words")
        self.again = _password_field("Passphrase again")
        self.remember = QCheckBox("Remember on this computer")
        self.remember.setToolTip(
            "Keep the unlock in this computer's key store for your user account, so kbdesk opens "
            "the collection without asking."
        )
        self.problem = _problem_label()
        form = QFormLayout()
        form.addRow("Name:", self.name)
        form.addRow("", self.encrypt)
        form.addRow("Passphrase:", self.passphrase)
        form.addRow("Again:", self.again)
        form.addRow("", self.remember)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(
            "Encrypt" if existing else "Create"
        )
        if existing:
            form.setRowVisible(self.name, False)
            form.setRowVisible(self.encrypt, False)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(520, self.sizeHint().height())

    def _encrypt_toggled(self, on: bool) -> None:
        for w in (self.passphrase, self.again, self.remember, self.note):
            w.setEnabled(on)

    def _accept(self) -> None:
        try:
            if not self.name.text().strip():
                raise KbdeskError("Type a name for the collection.")
            if self.encrypt.isChecked():
                new_passphrase(self.passphrase, self.again)
        except KbdeskError as exc:
            self.problem.setText(str(exc))
            return
        self.accept()

    def values(self) -> tuple[str, str | None, bool]:
        """The name, the passphrase (None: not encrypted), and whether to remember the unlock."""
        if not self.encrypt.isChecked():
            return self.name.text().strip(), None, False
        return self.name.text().strip(), self.passphrase.text(), self.remember.isChecked()


class RecoveryKeyDialog(QDialog):
    """The recovery key, shown once: it closes only after the user says it is stored."""

    def __init__(self, name: str, recovery: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Recovery key of '{name}'")
        self.recovery = recovery
        intro = QLabel(
            f"<b>Store this recovery key somewhere safe, away from this computer.</b><br>"
            f"It opens '{escape(name)}' if the passphrase is forgotten. kbdesk shows it only "
            "now and cannot show it again; without the passphrase and this key nobody, "
            "including kbdesk's makers, can open the collection."
        )
        intro.setWordWrap(True)
        key = QLabel(recovery)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(15)
        key.setFont(font)
        key.setAccessibleName("Recovery key")
        key.setTextInteractionFlags(
            key.textInteractionFlags() | Qt.TextInteractionFlag.TextSelectableByMouse
        )
        key.setStyleSheet("QLabel { padding: 12px; background: #f4f1e8; border: 1px solid #ccc; }")
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(recovery))
        save = QPushButton("Save as a file…")
        save.setToolTip("Save it on a USB stick or another place apart from this computer")
        save.clicked.connect(self.save)
        self.stored = QCheckBox("I have stored the recovery key")
        self.close_button = QPushButton("Close")
        self.close_button.setEnabled(False)
        self.stored.toggled.connect(self.close_button.setEnabled)
        self.close_button.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addWidget(copy)
        row.addWidget(save)
        row.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.stored)
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(key)
        layout.addLayout(row)
        layout.addLayout(bottom)
        self.resize(560, self.sizeHint().height())

    def save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the recovery key", str(Path.home() / "kbdesk recovery key.txt")
        )
        if path:
            Path(path).write_text(f"kbdesk recovery key\n{self.recovery}\n", encoding="utf-8")

    def reject(self) -> None:  # Esc: closes only once the key is stored
        if self.stored.isChecked():
            super().reject()


class ChangePassphraseDialog(QDialog):
    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Change the passphrase of '{name}'")
        self.current = _password_field("Current passphrase or recovery key")
        self.new = _password_field("New passphrase")
        self.again = _password_field("New passphrase again")
        self.problem = _problem_label()
        note = QLabel(
            "Only the key that opens the collection is re-encrypted: this takes a moment, "
            "whatever the collection's size. The recovery key keeps working."
        )
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Current passphrase or recovery key:", self.current)
        form.addRow("New passphrase:", self.new)
        form.addRow("Again:", self.again)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _accept(self) -> None:
        try:
            new_passphrase(self.new, self.again)
        except KbdeskError as exc:
            self.problem.setText(str(exc))
            return
        self.accept()

    def values(self) -> tuple[str, str]:
        return self.current.text(), self.new.text()
