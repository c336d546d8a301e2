"""A collection's data key: passphrase, recovery key, passphrase change, wrong secrets, key store."""

from __future__ import annotations

import json
import time

import pytest

from kbdesk.core.crypt import keys, keystore
from kbdesk.core.errors import InvalidSetting, SealBroken, WrongKey

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def made():
    key = keys.new_data_key()
    recovery = keys.new_recovery_key()
    return key, recovery, keys.new_key_file("c-1", key, PASSPHRASE, recovery)


def test_the_passphrase_and_the_recovery_key_each_unlock_the_same_key(made, tmp_path):
    key, recovery, keyfile = made
    keyfile.save(tmp_path)
    loaded = keys.KeyFile.load(tmp_path)
    assert loaded == keyfile and loaded.kinds() == {keys.PASSPHRASE, keys.RECOVERY}
    assert keys.unlock(loaded, PASSPHRASE) == key
    typed = recovery.lower().replace("-", " ").replace("O", "0")
    assert keys.unlock(loaded, typed, keys.RECOVERY) == key
    text = (tmp_path / keys.KEYS_FILE).read_text()
    assert key.hex() not in text and PASSPHRASE not in text and recovery not in text


def test_a_wrong_secret_is_refused_and_changes_nothing(made, tmp_path):
    key, recovery, keyfile = made
    keyfile.save(tmp_path)
    before = (tmp_path / keys.KEYS_FILE).read_bytes()
    with pytest.raises(WrongKey, match="That passphrase does not unlock this collection"):
        keys.unlock(keyfile, "correct horse battery stapler")
    with pytest.raises(WrongKey, match="That recovery key does not unlock"):
        keys.unlock(keyfile, keys.new_recovery_key(), keys.RECOVERY)
    with pytest.raises(WrongKey, match="not a kbdesk recovery key"):
        keys.unlock(keyfile, "ABCD-EFGH", keys.RECOVERY)
    assert (tmp_path / keys.KEYS_FILE).read_bytes() == before


def test_a_wrap_cannot_be_moved_to_another_collection(made):
    _key, _recovery, keyfile = made
    moved = keys.KeyFile("c-2", keyfile.check, keyfile.wraps)
    with pytest.raises(WrongKey):
        keys.unlock(moved, PASSPHRASE)


def test_changing_the_passphrase_rewraps_the_key_only(made):
    key, recovery, keyfile = made
    changed = keys.with_passphrase(keyfile, key, "a new and longer passphrase")
    assert keys.unlock(changed, "a new and longer passphrase") == key
    with pytest.raises(WrongKey):
        keys.unlock(changed, PASSPHRASE)
    assert keys.unlock(changed, recovery, keys.RECOVERY) == key, "the recovery key still works"
    assert changed.check == keyfile.check
    with pytest.raises(InvalidSetting, match="at least 8 characters"):
        keys.with_passphrase(keyfile, key, "short")
    with pytest.raises(WrongKey):
        keys.with_passphrase(keyfile, keys.new_data_key(), "a new and longer passphrase")


def test_a_damaged_key_file_is_a_clear_error(made, tmp_path):
    made[2].save(tmp_path)
    data = json.loads((tmp_path / keys.KEYS_FILE).read_text())
    del data["wraps"]
    (tmp_path / keys.KEYS_FILE).write_text(json.dumps(data))
    with pytest.raises(SealBroken, match="key file .* cannot be read"):
        keys.KeyFile.load(tmp_path)


def test_one_passphrase_try_costs_argon2id_time(made):
    # Not a timing goal (bench/bench_crypt.py measures that): the derivation is the slow kind.
    _key, _recovery, keyfile = made
    wrap = next(w for w in keyfile.wraps if w.kind == keys.PASSPHRASE)
    assert wrap.kdf == keys.ARGON2 and wrap.kdf["memory_cost"] >= 64 * 1024
    start = time.perf_counter()
    with pytest.raises(WrongKey):
        keys.unlock(keyfile, "not the passphrase at all")
    assert time.perf_counter() - start > 0.01


def test_without_a_key_store_remembering_fails_quietly_and_the_passphrase_still_works(made):
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        key, _recovery, keyfile = made
        assert keystore.remember("c-1", key) is False
        assert keystore.recall("c-1") is None
        keystore.forget("c-1")
        assert keys.unlock(keyfile, PASSPHRASE) == key
    finally:
        keyring.set_keyring(previous)


def test_a_key_store_remembers_and_forgets_the_key(made):
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):  # the system's store is not what this test is about
        priority = 1
        store: dict = {}

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def get_password(self, service, username):
            return self.store.get((service, username))

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        key = made[0]
        assert keystore.remember("c-1", key) is True and keystore.recall("c-1") == key
        keystore.forget("c-1")
        assert keystore.recall("c-1") is None
    finally:
        keyring.set_keyring(previous)
