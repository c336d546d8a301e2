"""The collections list: switch, create, rename and delete collections (renames and deletes are jobs),
and the shared server's collections this login may read, marked (listed and opened in jobs)."""

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

from kbdesk.core.errors import AccessDenied, KbdeskError
from kbdesk.gui import shared_collections
from kbdesk.gui.session import Session
from kbdesk.gui.shared_collections import MARK, is_shared, key_of, name_of
from kbdesk.gui.widgets import error_text, lock_icon, tool_button
from kbdesk.gui.workers import Job

KEY_ROLE = Qt.ItemDataRole.UserRole  # a row's collection: a local name or a shared key


class CollectionsBox(QWidget):
    """Follows the session: its list changes when the session's collections or choice change."""

    message = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.list = QListWidget()
        self.list.setAccessibleName("Collections")
        self.list.setToolTip("Collections: each has its own documents and chats")
        self.list.currentItemChanged.connect(
            lambda item, _previous: self._picked(item.data(KEY_ROLE) if item else "")
        )
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
        session.settings_changed.connect(self._settings_changed)
        self._server = session.settings.shared_server
        self.reload()
        self.refresh_shared()

    def reload(self) -> None:
        names = self.session.collections() or [self.session.collection]
        if self.session.collection not in names:
            names.append(self.session.collection)
        self.list.blockSignals(True)
        self.list.clear()
        unlocked = set(self.session.unlocked())
        for name in sorted(n for n in names if not is_shared(n)):
            item = QListWidgetItem(name)
            item.setData(KEY_ROLE, name)
            if self.session.encrypted(name):
                state = "unlocked" if name in unlocked else "locked"
                item.setIcon(lock_icon(closed=name not in unlocked))
                item.setToolTip(f"Encrypted, {state}")
            self.list.addItem(item)
        shared = list(self.session.shared)
        if is_shared(self.session.collection) and name_of(self.session.collection) not in shared:
            shared.append(name_of(self.session.collection))
        for name in sorted(shared):
            item = QListWidgetItem(name + MARK)
            item.setData(KEY_ROLE, key_of(name))
            item.setToolTip(
                "On the practice's shared server: searched and answered here; its documents "
                "are added there by its importers"
            )
            self.list.addItem(item)
        for row in range(self.list.count()):
            if self.list.item(row).data(KEY_ROLE) == self.session.collection:
                self.list.setCurrentRow(row)
        self.list.blockSignals(False)
        on_server = is_shared(self.session.collection)
        for b in (self.rename_button, self.delete_button):
            b.setEnabled(not on_server)

    def _picked(self, key: str) -> None:
        if not key or key == self.session.collection:
            return
        if is_shared(key) and not self.session.is_open(key):
            self.connect_shared(key)
            return
        self._try(lambda: self.session.switch_collection(key))

    # -- shared collections: listed and opened in jobs ---------------------------------------

    def _settings_changed(self, settings) -> None:
        if settings.shared_server != self._server:
            self._server = settings.shared_server
            self.refresh_shared()

    def refresh_shared(self, *, quiet: bool = False) -> Job | None:
        """List the shared server's collections this login may read (none without a server);
        `quiet`: a failure empties the list without a message (one was just shown)."""
        if not self.session.settings.shared_server:
            self.session.shared = []
            self.reload()
            return None
        job = shared_collections.list_collections(self.session)
        job.result.connect(self._listed)
        job.failed.connect(lambda exc: self._listed([]) if quiet else self._not_listed(exc))
        return job

    def _listed(self, names: list[str]) -> None:
        self.session.shared = names
        self.reload()

    def _not_listed(self, exc: BaseException) -> None:
        self.session.shared = []
        self.reload()
        self.message.emit(error_text(exc))

    def connect_shared(self, key: str) -> Job:
        name = name_of(key)
        self.message.emit(f"Connecting to the shared collection '{name}'…")
        job = shared_collections.connect(self.session, key)
        job.result.connect(lambda _shared: self.message.emit(f"Connected to '{name}'."))
        job.failed.connect(self._not_connected)
        return job

    def _not_connected(self, exc: BaseException) -> None:
        self.message.emit(error_text(exc))
        self.reload()  # the current collection stays chosen
        if isinstance(exc, AccessDenied):  # access taken back since the list was read
            self.refresh_shared(quiet=True)

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
