"""The window's Library-menu actions for encrypted collections (lock now, change passphrase, new
recovery key, encrypt this collection), when each is enabled, and what the window does when a
collection is locked or unlocked (idle locking included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMenu

from kbdesk.core.errors import KbdeskError
from kbdesk.gui import collection_keys
from kbdesk.gui.idle_lock import IdleLock
from kbdesk.gui.workers import Job

if TYPE_CHECKING:
    from kbdesk.gui.main_window import MainWindow

MakeAction = Callable[..., QAction]  # MainWindow's (menu, text, slot, shortcut, tip) -> QAction


class LockActions(QObject):
    def __init__(self, window: MainWindow, menu: QMenu, make_action: MakeAction):
        super().__init__(window)
        self.window = window
        self.session = session = window.session
        self.lock_action = make_action(
            menu,
            "&Lock collection",
            self.lock_collection,
            "Ctrl+L",
            "Forget the key of this encrypted collection: its passphrase is asked again",
        )
        self.passphrase_action = make_action(menu, "Change &passphrase…", self.change_passphrase)
        self.recovery_action = make_action(
            menu,
            "New &recovery key…",
            self.new_recovery_key,
            None,
            "Make a new recovery key for this encrypted collection; the old one stops working",
        )
        self.encrypt_action = make_action(
            menu,
            "&Encrypt this collection…",
            self.encrypt_collection,
            None,
            "Encrypt this collection's documents, index and chats on this computer",
        )
        self.idle_lock = IdleLock(session, lambda text: window.notify(text, ms=0), self)
        session.collection_changed.connect(lambda _name: self.refresh())
        session.collection_changed.connect(lambda _name: self.tell_interrupted_encryption())
        session.locks_changed.connect(self._locks_changed)
        self.refresh()
        self.tell_interrupted_encryption()

    def refresh(self) -> None:
        encrypted = self.session.encrypted()
        self.lock_action.setEnabled(encrypted and not self.session.is_locked())
        self.passphrase_action.setEnabled(encrypted)
        self.recovery_action.setEnabled(encrypted)
        self.encrypt_action.setEnabled(not encrypted)

    def tell_interrupted_encryption(self) -> None:
        name = self.session.collection
        if not self.session.encrypted() and self.session.encryption_interrupted():
            self.window.notify(
                f"Encrypting '{name}' was interrupted; it is still readable as it was. "
                "Library › Encrypt this collection… with the same passphrase finishes it.",
                ms=0,
            )

    def _locks_changed(self) -> None:
        self.refresh()
        if not self.session.is_locked():  # unlocked: what waited for the key can start
            self.session.warm_up()
            self.window.library.resume_pending()

    # -- the actions ---------------------------------------------------------------------------

    def lock_collection(self) -> None:
        if not self.session.encrypted() or self.session.is_locked():
            return
        try:
            self.session.lock()
        except KbdeskError as exc:
            self.window.notify(str(exc))
            return
        self.window.notify(f"'{self.session.collection}' is locked.")

    def encrypt_collection(self) -> None:
        from kbdesk.gui.collection_dialogs import NewCollectionDialog

        dialog = NewCollectionDialog(self.window, existing=self.session.collection)
        if dialog.exec():
            _name, passphrase, remember = dialog.values()
            if passphrase:
                self.start_encrypting(passphrase, remember)

    def start_encrypting(self, passphrase: str, remember: bool) -> Job:
        """Encrypt the open collection in a job; its recovery key is shown when it is done."""
        name, notify = self.session.collection, self.window.notify
        job = collection_keys.encrypt(self.session, passphrase, remember)
        notify(f"Encrypting '{name}'… other collections stay usable meanwhile.", ms=0)
        self.encrypt_action.setEnabled(False)
        job.result.connect(lambda done: self._encrypted(name, done[1]))
        job.failed.connect(lambda exc: notify(f"'{name}' was not encrypted: {exc}", ms=0))
        job.finished.connect(self.refresh)
        return job

    def _encrypted(self, name: str, recovery: str) -> None:
        self.window.notify(f"'{name}' is encrypted; its plain files were deleted.")
        self.window.library.collections_box.show_recovery_key(name, recovery)

    def new_recovery_key(self) -> Job | None:
        """Asks for the passphrase (or current recovery key), then shows the new recovery key."""
        name = self.session.collection
        secret, ok = QInputDialog.getText(
            self.window,
            "New recovery key",
            f"The passphrase or current recovery key of '{name}'.\n"
            "The current recovery key stops working once the new one is made.",
            QLineEdit.EchoMode.Password,
        )
        if not (ok and secret):
            return None
        job = collection_keys.new_recovery_key(self.session, secret)
        show = self.window.library.collections_box.show_recovery_key
        job.result.connect(lambda key: show(name, key))
        job.failed.connect(lambda exc: self.window.notify(f"No new recovery key: {exc}"))
        return job

    def change_passphrase(self) -> None:
        from kbdesk.gui.collection_dialogs import ChangePassphraseDialog

        name, notify = self.session.collection, self.window.notify
        dialog = ChangePassphraseDialog(name, self.window)
        if not dialog.exec():
            return
        job = collection_keys.change_passphrase(self.session, *dialog.values())
        job.result.connect(lambda _none: notify(f"The passphrase of '{name}' is changed."))
        job.failed.connect(lambda exc: notify(f"The passphrase was not changed: {exc}"))
