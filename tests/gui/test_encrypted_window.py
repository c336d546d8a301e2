"""Encrypted collections in the window: created from New collection with its recovery key shown
once, locked from the menu and after idle time, unlocked beside the lock, and never usable or
visible while locked (real SQLCipher, Argon2id and embedder)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from kbdesk.core.errors import CollectionLocked
from kbdesk.core.kb import KnowledgeBase
from kbdesk.gui import collection_dialogs, collection_keys
from kbdesk.gui.collection_dialogs import (
    ChangePassphraseDialog,
    NewCollectionDialog,
    RecoveryKeyDialog,
)
from kbdesk.gui.session import write_key
from tests.gui.test_main_window import drop, import_and_wait, statuses

PASSPHRASE = "harbor point lease files"
JOB_TIMEOUT = 30_000


def _create(window, qtbot, monkeypatch, name="Clinic") -> str:
    """Creates an encrypted collection as the New collection dialog does; its recovery key."""
    shown: list[str] = []
    monkeypatch.setattr(RecoveryKeyDialog, "exec", lambda self: shown.append(self.recovery) or 1)
    box = window.library.collections_box
    with qtbot.waitSignal(window.session.collections_changed, timeout=JOB_TIMEOUT):
        job = box.create_collection(name, PASSPHRASE)
        assert job is not None and not job.done  # the key derivation runs off the main thread
    qtbot.waitUntil(lambda: bool(shown), timeout=JOB_TIMEOUT)
    return shown[0]


def _finish(qtbot, job) -> BaseException | None:
    """Waits for `job`; the exception it failed with, or None."""
    failed: list[BaseException] = []
    job.failed.connect(failed.append)
    qtbot.waitUntil(lambda: job.done, timeout=JOB_TIMEOUT)
    return failed[0] if failed else None


def _unlock(window, qtbot, secret: str) -> BaseException | None:
    panel = window.library.unlock_panel
    panel.secret.setText(secret)
    return _finish(qtbot, panel.unlock())


def test_an_encrypted_collection_locks_hides_everything_and_unlocks(
    make_window, qtbot, monkeypatch, docs_dir
):
    window = make_window()
    session, library = window.session, window.library
    recovery = _create(window, qtbot, monkeypatch)
    assert session.collection == "Clinic" and session.encrypted()
    import_and_wait(qtbot, window, [docs_dir / "lease.pdf"])
    assert statuses(window) == {"lease.pdf": "ready"}
    box = library.collections_box.list
    item = box.findItems("Clinic", Qt.MatchFlag.MatchExactly)[0]
    assert item.toolTip() == "Encrypted, unlocked" and not item.icon().isNull()
    assert window.locks.lock_action.isEnabled()

    window.locks.lock_collection()
    assert session.is_locked()
    assert library.stack.currentWidget() is library.unlock_panel
    assert "'Clinic' is locked" in library.unlock_panel.title.text()
    assert library.model.rows == [] and not library.import_button.isEnabled()
    assert (
        not window.chat.input.isEnabled()
        and "encrypted and locked" in window.chat.view.toPlainText()
    )
    item = box.findItems("Clinic", Qt.MatchFlag.MatchExactly)[0]
    assert item.toolTip() == "Encrypted, locked"
    assert not window.locks.lock_action.isEnabled() and window.locks.passphrase_action.isEnabled()
    with pytest.raises(CollectionLocked):
        session.kb()
    drop(window, [docs_dir / "hypertension.pdf"])  # refused, nothing imported
    assert "Unlock 'Clinic' first" in window.status.text()

    assert _unlock(window, qtbot, "not the passphrase") is not None
    assert "does not unlock this collection" in library.unlock_panel.problem.text()
    assert session.is_locked()

    _unlock(window, qtbot, recovery)
    assert not session.is_locked()
    assert library.stack.currentWidget() is library.table
    assert statuses(window) == {"lease.pdf": "ready"}
    assert window.chat.input.isEnabled() and window.locks.lock_action.isEnabled()


def test_locking_waits_for_a_job_in_the_collection_and_idle_time_locks(
    make_window, qtbot, monkeypatch
):
    window = make_window()
    session = window.session
    _create(window, qtbot, monkeypatch)
    release = threading.Event()
    writer = session.runner.submit(
        "import", lambda ctx: release.wait(30), serial_key=write_key("Clinic")
    )
    try:
        window.locks.lock_collection()
        assert "cannot be locked while an import" in window.status.text()
        assert not session.is_locked()
        idle = window.locks.idle_lock
        assert idle.check(now=idle.last_use + 16 * 60) == []  # busy: not yet
    finally:
        release.set()
    qtbot.waitUntil(lambda: writer.done, timeout=JOB_TIMEOUT)
    idle = window.locks.idle_lock
    assert idle.check(now=idle.last_use + 14 * 60) == []  # the default is 15 minutes
    qtbot.keyClick(window.chat.input, Qt.Key.Key_A)  # use resets the clock
    assert idle.check(now=idle.last_use + 14 * 60) == []
    assert idle.check(now=idle.last_use + 15 * 60) == ["Clinic"]
    assert session.is_locked() and "after 15 minutes without use" in window.status.text()
    session.update_settings(lock_after_minutes=0)
    _unlock(window, qtbot, PASSPHRASE)
    assert idle.check(now=idle.last_use + 24 * 3600) == []  # 0: never


def test_a_window_opening_on_a_locked_collection_asks_for_it(make_window, qtbot, data_dir):
    kb, _recovery = KnowledgeBase.create_encrypted(data_dir, "Clinic", PASSPHRASE)
    kb.close()
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.settings import SettingsStore

    store = SettingsStore(AppPaths.resolve(data_dir).config_dir)
    from dataclasses import replace

    store.save(replace(store.load(), collection="Clinic", pending={"Clinic": ["/nowhere.pdf"]}))
    window = make_window(start=True)  # no warm-up, no resumed import: both wait for the key
    library = window.library
    assert library.stack.currentWidget() is library.unlock_panel
    assert not window.session.runner.busy(write_key("Clinic"))
    assert window.session.settings.pending == {"Clinic": ["/nowhere.pdf"]}
    library.unlock_panel.remember.setChecked(True)  # no key store in the tests: said plainly
    said: list[str] = []
    library.message.connect(said.append)
    _unlock(window, qtbot, PASSPHRASE)
    assert not window.session.is_locked()
    assert any("no key store" in line for line in said), said
    # the import cut short last time resumes now (its file is gone: reported, not imported)
    qtbot.waitUntil(lambda: window.session.settings.pending == {}, timeout=JOB_TIMEOUT)


def test_the_dialogs_check_what_is_typed(qtbot, monkeypatch):
    dialog = NewCollectionDialog()
    qtbot.addWidget(dialog)
    dialog.name.setText("Clinic")
    assert dialog.encrypt.isChecked()  # on by default
    dialog.passphrase.setText(PASSPHRASE)
    dialog.again.setText(PASSPHRASE + "!")
    dialog._accept()
    assert dialog.problem.text() == "The two passphrases differ." and not dialog.result()
    dialog.passphrase.setText("short")
    dialog.again.setText("short")
    dialog._accept()
    assert "at least 8 characters" in dialog.problem.text()
    dialog.encrypt.setChecked(False)
    assert not dialog.passphrase.isEnabled()
    assert dialog.values() == ("Clinic", None, False)

    recovery = RecoveryKeyDialog("Clinic", "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567")
    qtbot.addWidget(recovery)
    recovery.show()
    assert not recovery.close_button.isEnabled()
    recovery.reject()  # Esc before the key is stored: stays open
    assert recovery.isVisible()
    recovery.stored.setChecked(True)
    assert recovery.close_button.isEnabled()

    change = ChangePassphraseDialog("Clinic")
    qtbot.addWidget(change)
    change.current.setText(PASSPHRASE)
    change.new.setText("a new passphrase")
    change.again.setText("a new passphrase")
    change._accept()
    assert change.values() == (PASSPHRASE, "a new passphrase")
    assert collection_dialogs.PROTECTED_NOTE.startswith("Encrypted")


def test_changing_the_passphrase_from_the_window(make_window, qtbot, monkeypatch):
    window = make_window()
    session = window.session
    _create(window, qtbot, monkeypatch)
    wrong = _finish(
        qtbot, collection_keys.change_passphrase(session, "wrong passphrase", "a new passphrase")
    )
    assert "does not unlock" in str(wrong)
    assert (
        _finish(qtbot, collection_keys.change_passphrase(session, PASSPHRASE, "a new passphrase"))
        is None
    )
    window.locks.lock_collection()
    assert _unlock(window, qtbot, PASSPHRASE) is not None
    assert _unlock(window, qtbot, "a new passphrase") is None
    assert not session.is_locked()


def test_after_importing_asking_and_saving_a_chat_no_file_holds_the_documents_words(
    make_window, qtbot, monkeypatch, docs_dir, small_model_path, tmp_path
):
    """The whole app over an encrypted collection, its log file on (at the level the app runs
    with): the data folder, the log and the per-user folders hold none of the documents' words,
    not even the question that named them."""
    import logging

    from kbdesk.gui.app import setup_logging
    from tests.gui.test_main_window import ask
    from tests.helpers import leaks

    window = make_window(model=small_model_path)
    setup_logging(window.session.paths)
    added = logging.getLogger().handlers[-1]
    try:
        _create(window, qtbot, monkeypatch)
        window.session.update_settings(temperature=0.0)
        import_and_wait(qtbot, window, [docs_dir])
        answer, _pieces = ask(
            qtbot, window, "How much is the security deposit and when is it returned?"
        )
        assert answer.citations  # it answered from the documents, and the chat was saved
        assert window.chat.chat_id is not None
        window.close()
    finally:
        logging.getLogger().removeHandler(added)
        added.close()
    log_file = window.session.paths.log_dir / "kbdesk.log"
    assert log_file.is_file() and log_file.stat().st_size > 0
    assert leaks(tmp_path, skip=(docs_dir,)) == []


def test_encrypting_the_open_plain_collection_from_the_window(
    make_window, qtbot, monkeypatch, docs_dir
):
    window = make_window()
    session = window.session
    import_and_wait(qtbot, window, [docs_dir / "lease.pdf"])
    assert window.locks.encrypt_action.isEnabled() and not window.locks.lock_action.isEnabled()
    shown: list[str] = []
    monkeypatch.setattr(RecoveryKeyDialog, "exec", lambda self: shown.append(self.recovery) or 1)
    job = window.locks.start_encrypting(PASSPHRASE, remember=False)
    assert _finish(qtbot, job) is None
    qtbot.waitUntil(lambda: bool(shown), timeout=JOB_TIMEOUT)
    assert session.encrypted() and not session.is_locked()
    assert statuses(window) == {"lease.pdf": "ready"}
    assert not window.locks.encrypt_action.isEnabled() and window.locks.lock_action.isEnabled()
    assert "is encrypted" in window.status.text()
    window.locks.lock_collection()
    assert _unlock(window, qtbot, shown[0]) is None  # its recovery key opens it
    assert statuses(window) == {"lease.pdf": "ready"}


def test_help_says_what_is_and_is_not_protected(make_window, monkeypatch):
    window = make_window()
    said = []
    monkeypatch.setattr(
        "kbdesk.gui.main_window.QMessageBox.information", lambda *a: said.append(a[2])
    )
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    next(a for a in help_menu.actions() if a.text() == "&Encrypted collections").trigger()
    assert "Not protected" in said[0] and "unlocked" in said[0] and "SSD" in said[0]


def test_a_new_recovery_key_from_the_menu_and_an_interrupted_encryption_is_told(
    make_window, qtbot, monkeypatch, data_dir
):
    window = make_window()
    recovery = _create(window, qtbot, monkeypatch)
    shown: list[str] = []
    monkeypatch.setattr(RecoveryKeyDialog, "exec", lambda self: shown.append(self.recovery) or 1)
    monkeypatch.setattr("PySide6.QtWidgets.QInputDialog.getText", lambda *a, **k: (recovery, True))
    assert window.locks.recovery_action.isEnabled()
    assert _finish(qtbot, window.locks.new_recovery_key()) is None
    qtbot.waitUntil(lambda: bool(shown), timeout=JOB_TIMEOUT)
    assert shown[0] != recovery
    window.locks.lock_collection()
    assert _unlock(window, qtbot, recovery) is not None  # the old one no longer opens it
    assert _unlock(window, qtbot, shown[0]) is None

    from kbdesk.core.encrypt_existing import STAGE

    window.session.create_collection("papers")
    stage = window.session.paths.collection_dir("papers") / STAGE
    stage.mkdir()
    (stage / "keys.json").write_text("{}")  # what a run cut short leaves
    window.session.switch_collection("Clinic")
    window.session.switch_collection("papers")
    assert "Encrypting 'papers' was interrupted" in window.status.text()


def test_a_remembered_unlock_opens_at_start_until_the_user_locks(
    make_window, qtbot, monkeypatch, key_store
):
    window = make_window()
    _create(window, qtbot, monkeypatch)
    window.locks.lock_collection()
    window.library.unlock_panel.remember.setChecked(True)
    assert _unlock(window, qtbot, PASSPHRASE) is None
    assert key_store.entries  # the key store holds the unlock now
    window.close()

    again = make_window()  # a new start: the key store opens it without asking
    assert not again.session.is_locked()
    assert again.library.stack.currentWidget() is not again.library.unlock_panel
    again.locks.lock_collection()  # a lock means the passphrase, remembered or not
    assert again.session.is_locked()
    panel = again.library.unlock_panel
    assert again.library.stack.currentWidget() is panel
    assert panel.remember.isChecked()  # as it was chosen
    panel.remember.setChecked(False)
    assert _unlock(again, qtbot, PASSPHRASE) is None  # unticked: the remembered unlock goes
    assert not key_store.entries


def test_an_encrypted_collection_of_a_name_in_use_is_refused(make_window, qtbot, monkeypatch):
    window = make_window()
    _create(window, qtbot, monkeypatch)
    job = window.library.collections_box.create_collection("Clinic", PASSPHRASE)
    failure = _finish(qtbot, job)
    assert "A collection named 'Clinic' exists already." in str(failure)
    assert "exists already" in window.status.text()
