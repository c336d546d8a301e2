"""The collections list: switch, create, rename and delete collections (renames and deletes are jobs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from kbdesk.core.errors import KbdeskError
from kbdesk.gui.session import Session
from kbdesk.gui.widgets import error_text, lock_icon, tool_button
from kbdesk.gui.workers import Job


class CollectionsBox(QWidget):
    """Follows the session: its list changes when the session's collections or choice change."""

    message = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.list = QListWidget()
        self.list.setAccessibleName("Collections")
        self.list.setToolTip("Collections: each has its own documents and chats")
        self.list.currentTextChanged.connect(self._picked)
        self.new_button = tool_button(self, "New", "Create a collection", self.new_collection)
        self.rename_button = tool_button(self, "Rename", "Rename this collection", self.ask_rename)
        self.delete_button = tool_button(
            self, "Delete", "Delete this collection and its index", self.ask_delete
        )
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("<b>Collections</b>"))
        buttons.addStretch(1)
        for b in (self.new_button, self.rename_button, self.delete_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.list)
        session.collections_changed.connect(self.reload)
        session.locks_changed.connect(self.reload)
        session.collection_changed.connect(lambda _name: self.reload())
        self.reload()

    def reload(self) -> None:
        names = self.session.collections() or [self.session.collection]
        if self.session.collection not in names:
            names.append(self.session.collection)
        self.list.blockSignals(True)
        self.list.clear()
        unlocked = set(self.session.unlocked())
        for name in sorted(names):
            item = QListWidgetItem(name)
            if self.session.encrypted(name):
                state = "unlocked" if name in unlocked else "locked"
                item.setIcon(lock_icon(closed=name not in unlocked))
                item.setToolTip(f"Encrypted, {state}")
            self.list.addItem(item)
        matches = self.list.findItems(self.session.collection, Qt.MatchFlag.MatchExactly)
        if matches:
            self.list.setCurrentItem(matches[0])
        self.list.blockSignals(False)

    def _picked(self, name: str) -> None:
        if name and name != self.session.collection:
            self._try(lambda: self.session.switch_collection(name))

    def _try(self, action: Callable[[], object]) -> None:
        try:
            action()
        except (KbdeskError, OSError) as exc:
            self.message.emit(error_text(exc))
            self.reload()

    # -- create --------------------------------------------------------------------------------

    def new_collection(self) -> None:
        from kbdesk.gui.collection_dialogs import NewCollectionDialog

        dialog = NewCollectionDialog(self)
        if dialog.exec():
            self.create_collection(*dialog.values())

    def create_collection(
        self, name: str, passphrase: str | None, remember: bool = False
    ) -> Job | None:
        """Create a collection; an encrypted one in a job that ends by showing its recovery key."""
        from kbdesk.gui import collection_keys

        try:
            if passphrase is None:
                self.session.create_collection(name)
                return None
            job = collection_keys.create(self.session, name, passphrase, remember)
        except (KbdeskError, OSError) as exc:
            self.message.emit(error_text(exc))
            return None
        self.message.emit(f"Creating the encrypted collection '{name}'…")
        job.result.connect(lambda made: self._created(made[0].name, made[1]))
        job.failed.connect(lambda exc: self.message.emit(error_text(exc)))
        return job

    def _created(self, name: str, recovery: str) -> None:
        self.message.emit(f"Created the encrypted collection '{name}'.")
        self.show_recovery_key(name, recovery)

    def show_recovery_key(self, name: str, recovery: str) -> None:
        from kbdesk.gui.collection_dialogs import RecoveryKeyDialog

        RecoveryKeyDialog(name, recovery, self).exec()

    # -- rename and delete: the session runs them as jobs ------------------------------------

    def ask_rename(self) -> None:
        old = self.session.collection
        name, ok = QInputDialog.getText(self, "Rename collection", "New name:", text=old)
        if ok and name.strip() and name.strip() != old:
            self.rename(name.strip())

    def rename(self, new: str) -> Job:
        """Rename the open collection to `new`; the list follows when the job is done."""
        old = self.session.collection
        job = self.session.rename_collection(old, new)
        self._follow(job, lambda folder: f"Collection '{old}' is now '{folder.name}'.")
        return job

    def ask_delete(self) -> None:
        name = self.session.collection
        try:
            count = len(self.session.kb(name).documents())
        except KbdeskError as exc:  # being renamed or deleted already
            self.message.emit(error_text(exc))
            return
        answer = QMessageBox.question(
            self,
            "Delete collection",
            f"Delete the collection '{name}' and its index of {count} "
            "document(s)?\n\nYour original files are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(name)

    def delete(self, name: str) -> Job:
        job = self.session.delete_collection(name)
        self._follow(job, lambda _none: f"Collection '{name}' deleted.")
        return job

    def _follow(self, job: Job, done: Callable[[Any], str]) -> None:
        """`done` words the job's result (a Signal(object) payload, so untyped: Any)."""
        for b in (self.rename_button, self.delete_button):
            b.setEnabled(False)
        job.result.connect(lambda value: self.message.emit(done(value)))
        job.failed.connect(lambda exc: self.message.emit(error_text(exc)))
        job.finished.connect(self._settled)

    def _settled(self) -> None:
        for b in (self.rename_button, self.delete_button):
            b.setEnabled(True)
