"""The window's operations on encrypted collections (as Anki's are): each wraps one core call in a
background job, since deriving or checking a key takes a moment, and hands what it opened to the
session: create encrypted, unlock, encrypt an existing collection, change the passphrase, and a
new recovery key."""

from __future__ import annotations

from kbdesk.gui.session import Session, write_key
from kbdesk.gui.workers import Job, JobContext


def create(session: Session, name: str, passphrase: str, remember: bool) -> Job:
    """A new encrypted collection; the job's result is (its KnowledgeBase, its recovery key),
    and it becomes the current collection, unlocked. A name in use fails the job (the core
    refuses it before deriving any key)."""
    from kbdesk.core import encryption
    from kbdesk.core.kb import KnowledgeBase

    data_dir, embedder = session.paths.data_dir, session.settings.embedder

    def run(ctx: JobContext):
        kb, recovery = KnowledgeBase.create_encrypted(data_dir, name, passphrase, embedder=embedder)
        if remember and kb.key is not None:
            encryption.remember(kb.folder, kb.key)
        return kb, recovery

    job = session.runner.submit("create", run, serial_key=write_key(name))
    job.result.connect(lambda made: session.created(made[0].name, made[0]))
    return job


def unlock(session: Session, secret: str, remember: bool, name: str | None = None) -> Job:
    """Unlock with the passphrase or recovery key; `remember`: keep the unlock in the system key
    store, else forget one kept before. The result is (the KnowledgeBase, whether the key store
    took the unlock)."""
    from kbdesk.core import encryption
    from kbdesk.core.kb import KnowledgeBase

    name = name or session.collection
    data_dir = session.paths.data_dir

    def run(ctx: JobContext):
        kb = KnowledgeBase.open(data_dir, name, create=False, secret=secret)
        if not remember:
            encryption.forget(kb.folder)
            return kb, False
        return kb, bool(kb.key and encryption.remember(kb.folder, kb.key))

    job = session.runner.submit("unlock", run)
    job.result.connect(lambda opened: session.unlocked_with(name, opened[0]))
    return job


def encrypt(session: Session, passphrase: str, remember: bool) -> Job:
    """Encrypt the open plain collection where it is (closed meanwhile, like a rename); the
    result is (its KnowledgeBase, its recovery key), and it opens unlocked after it."""
    from kbdesk.core import encryption
    from kbdesk.core.kb import KnowledgeBase

    name, data_dir = session.collection, session.paths.data_dir

    def run():
        key, recovery = encryption.encrypt_collection(data_dir, name, passphrase)
        kb = KnowledgeBase.open(data_dir, name, create=False, key=key)
        if remember:
            encryption.remember(kb.folder, key)
        return kb, recovery

    job = session.move_job("encrypt", name, "encrypted", run)
    job.result.connect(lambda done: session.unlocked_with(name, done[0]))
    job.failed.connect(lambda _exc: session.switch_collection(name))
    return job


def change_passphrase(session: Session, current: str, new: str) -> Job:
    """Re-wrap the open collection's key under a new passphrase."""
    from kbdesk.core import encryption

    folder = session.paths.collection_dir(session.collection)
    return session.runner.submit(
        "passphrase", lambda ctx: encryption.change_passphrase(folder, current, new)
    )


def new_recovery_key(session: Session, secret: str) -> Job:
    """A new recovery key for the open collection; the job's result is the key."""
    from kbdesk.core import encryption

    folder = session.paths.collection_dir(session.collection)
    return session.runner.submit(
        "recovery-key", lambda ctx: encryption.new_recovery_key(folder, secret)
    )
