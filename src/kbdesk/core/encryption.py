"""Encrypted collections as the window and the command line see them: which ones are encrypted,
unlocking one with its passphrase or recovery key, remembering an unlock in the system key
store, and changing the passphrase (the data key and every file stay as they are)."""

from __future__ import annotations

import os
from pathlib import Path

from kbdesk.core.crypt import keys, keystore
from kbdesk.core.encrypt_existing import encrypt_collection, interrupted
from kbdesk.core.errors import CollectionLocked, Remedy, WrongKey
from kbdesk.core.paths import AppPaths

MIN_PASSPHRASE = keys.MIN_PASSPHRASE
check_passphrase = keys.check_passphrase
__all__ = ["MIN_PASSPHRASE", "check_passphrase", "encrypt_collection", "interrupted"]


def is_encrypted(folder: Path) -> bool:
    """Whether the collection in `folder` is encrypted (it has a key file)."""
    return (Path(folder) / keys.KEYS_FILE).is_file()


def encrypted(data_dir: str | os.PathLike | None, name: str) -> bool:
    return is_encrypted(AppPaths.resolve(data_dir).collection_dir(name))


def unlock_with(folder: Path, secret: str) -> bytes:
    """The data key from a passphrase or a recovery key (told apart by their form; a passphrase
    shaped like a recovery key is tried both ways).

    :raises WrongKey: neither opens the collection; nothing was changed.
    """
    keyfile = keys.KeyFile.load(folder)
    if _looks_like_recovery_key(secret):
        try:
            return keys.unlock(keyfile, secret, keys.RECOVERY)
        except WrongKey:
            pass
    try:
        return keys.unlock(keyfile, secret, keys.PASSPHRASE)
    except WrongKey as exc:
        raise WrongKey(
            "That passphrase or recovery key does not unlock this collection.", hint=exc.hint
        ) from exc


def collection_key(
    folder: Path, name: str, key: bytes | None = None, secret: str | None = None
) -> bytes | None:
    """The data key the collection in `folder` opens with: the one given, the one `secret`
    unlocks, or the one the key store remembers; None for a plain collection.

    :raises CollectionLocked: encrypted, and none of those.
    :raises WrongKey: the key or the secret does not unlock it.
    """
    if not is_encrypted(folder):
        return None
    keyfile = keys.KeyFile.load(folder)
    if key is not None:
        if not keyfile.opens_with(key):
            raise WrongKey(f"That key does not unlock collection '{name}'.")
        return key
    if secret is not None:
        return unlock_with(folder, secret)
    remembered = _recalled(keyfile)
    if remembered is not None:
        return remembered
    raise locked_error(name)


def locked_error(name: str) -> CollectionLocked:
    return CollectionLocked(
        f"Collection '{name}' is encrypted and locked.", remedy=Remedy.UNLOCK_COLLECTION
    )


def remember(folder: Path, key: bytes) -> bool:
    """Remember the unlock for this user in the system key store; False where there is none."""
    return keystore.remember(keys.KeyFile.load(folder).collection_id, key)


def forget(folder: Path) -> None:
    """Forget a remembered unlock: the next open asks for the passphrase again."""
    keystore.forget(keys.KeyFile.load(folder).collection_id)


def remembered(folder: Path) -> bool:
    return _recalled(keys.KeyFile.load(folder)) is not None


def _recalled(keyfile: keys.KeyFile) -> bytes | None:
    """The key the key store remembers for the collection, if it is still its key (a stale
    entry is not trusted)."""
    found = keystore.recall(keyfile.collection_id)
    return found if found is not None and keyfile.opens_with(found) else None


def change_passphrase(folder: Path, secret: str, new: str) -> None:
    """Give the collection a new passphrase, unlocked by its current passphrase or recovery key.
    Only the key file changes (rewritten atomically), so nothing is re-encrypted; the recovery
    key keeps working.

    :raises WrongKey: `secret` does not unlock it (the key file is left untouched).
    :raises InvalidSetting: the new passphrase is too short.
    """
    keys.check_passphrase(new)  # before the slow unlock
    set_passphrase(folder, unlock_with(folder, secret), new)


def set_passphrase(folder: Path, key: bytes, new: str) -> None:
    """`change_passphrase` with the data key already at hand (unlocked once, not twice)."""
    keys.with_passphrase(keys.KeyFile.load(folder), key, new).save(folder)


def new_recovery_key(folder: Path, secret: str) -> str:
    """A new recovery key for the collection, unlocked by its passphrase or current recovery
    key; the earlier recovery key stops working. Only the key file changes.

    :raises WrongKey: `secret` does not unlock it (the key file is left untouched).
    """
    key = unlock_with(folder, secret)
    recovery = keys.new_recovery_key()
    keys.with_recovery_key(keys.KeyFile.load(folder), key, recovery).save(folder)
    return recovery


def _looks_like_recovery_key(text: str) -> bool:
    try:
        keys.normalise_recovery_key(text)
    except WrongKey:
        return False
    return True
