"""Unlocking, remembering and re-wrapping an encrypted collection's key (core/encryption.py),
with the real key file, Argon2id and the keyring package's own backends."""

from __future__ import annotations

import pytest

from kbdesk.core import encryption
from kbdesk.core.crypt import keys
from kbdesk.core.errors import CollectionLocked, InvalidSetting, WrongKey
from kbdesk.core.kb import KnowledgeBase

PASSPHRASE = "harbor point lease files"


@pytest.fixture
def locked(data_dir):
    kb, recovery = KnowledgeBase.create_encrypted(data_dir, "clinic", PASSPHRASE)
    kb.close()
    return kb.folder, kb.key, recovery


def test_a_passphrase_or_the_recovery_key_unlocks_and_nothing_else(locked, data_dir):
    folder, key, recovery = locked
    assert encryption.encrypted(data_dir, "clinic") and encryption.is_encrypted(folder)
    assert encryption.unlock_with(folder, PASSPHRASE) == key
    assert encryption.unlock_with(folder, recovery) == key
    before = (folder / keys.KEYS_FILE).read_bytes()
    for wrong in (
        "harbor point lease file",
        recovery.replace(recovery[0], "Z" if recovery[0] != "Z" else "Y", 1),
    ):
        with pytest.raises(WrongKey, match="That passphrase or recovery key does not unlock"):
            encryption.unlock_with(folder, wrong)
    assert (folder / keys.KEYS_FILE).read_bytes() == before


def test_changing_the_passphrase_rewraps_the_key_only(locked, data_dir, docs_dir):
    folder, key, recovery = locked
    with KnowledgeBase.open(data_dir, "clinic", key=key) as kb:
        kb.import_paths([docs_dir / "lease.pdf"])
    catalog = (folder / "catalog.sqlite3").read_bytes()
    with pytest.raises(WrongKey):
        encryption.change_passphrase(folder, "not the passphrase", "a new passphrase")
    with pytest.raises(InvalidSetting, match="at least 8 characters"):
        encryption.change_passphrase(folder, PASSPHRASE, "short")
    assert encryption.unlock_with(folder, PASSPHRASE) == key
    encryption.change_passphrase(folder, recovery, "a new passphrase for the clinic")
    with pytest.raises(WrongKey):
        encryption.unlock_with(folder, PASSPHRASE)
    assert encryption.unlock_with(folder, "a new passphrase for the clinic") == key
    assert encryption.unlock_with(folder, recovery) == key
    assert (folder / "catalog.sqlite3").read_bytes() == catalog
    with KnowledgeBase.open(data_dir, "clinic", secret="a new passphrase for the clinic") as kb:
        assert [d.name for d in kb.documents()] == ["lease.pdf"]


def test_a_remembered_unlock_opens_until_it_is_forgotten(locked, data_dir, key_store):
    folder, key, _recovery = locked
    assert not encryption.remembered(folder)
    assert encryption.remember(folder, key)
    assert encryption.remembered(folder)
    with KnowledgeBase.open(data_dir, "clinic") as kb:
        assert kb.key == key
    assert all(key.hex() not in v and PASSPHRASE not in v for v in key_store.entries.values())
    encryption.forget(folder)
    assert not encryption.remembered(folder)
    with pytest.raises(CollectionLocked, match="encrypted and locked"):
        KnowledgeBase.open(data_dir, "clinic")


def test_without_a_key_store_the_passphrase_still_works(locked, data_dir):
    folder, key, _recovery = locked  # the tests' default: no key store (conftest.no_key_store)
    assert encryption.remember(folder, key) is False
    assert not encryption.remembered(folder)
    encryption.forget(folder)  # nothing to forget, and no error
    with pytest.raises(CollectionLocked):
        KnowledgeBase.open(data_dir, "clinic")
    with KnowledgeBase.open(data_dir, "clinic", secret=PASSPHRASE) as kb:
        assert kb.key == key


def test_a_new_recovery_key_replaces_the_old_one_and_nothing_else(locked, data_dir):
    folder, key, recovery = locked
    with pytest.raises(WrongKey):
        encryption.new_recovery_key(folder, "not the passphrase")
    assert encryption.unlock_with(folder, recovery) == key
    fresh = encryption.new_recovery_key(folder, PASSPHRASE)
    assert fresh != recovery
    assert encryption.unlock_with(folder, fresh) == key
    assert encryption.unlock_with(folder, PASSPHRASE) == key
    with pytest.raises(WrongKey):
        encryption.unlock_with(folder, recovery)
