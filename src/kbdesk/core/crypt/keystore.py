"""The system key store (Secret Service, Windows Credential Manager, macOS Keychain) remembering
a collection's data key, or a shared server's password, for this user; optional: where no key
store answers, the passphrase (the password) still works and nothing else changes."""

from __future__ import annotations

import base64
import logging

log = logging.getLogger(__name__)

SERVICE = "kbdesk collection key"
SERVER_SERVICE = "kbdesk shared server"


def _store(service: str, account: str, text: str) -> bool:
    try:
        import keyring

        keyring.set_password(service, account, text)
        return True
    except Exception as err:  # any backend failure means "not available", never a crash
        log.info("key store unavailable: %s", err)
        return False


def _read(service: str, account: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(service, account)
    except Exception as err:
        log.info("key store unavailable: %s", err)
        return None


def _delete(service: str, account: str) -> None:
    try:
        import keyring

        keyring.delete_password(service, account)
    except Exception as err:
        log.info("nothing forgotten in the key store: %s", err)


def remember(collection_id: str, key: bytes) -> bool:
    """Store the key for this user; False where no key store is available."""
    return _store(SERVICE, collection_id, base64.b64encode(key).decode())


def recall(collection_id: str) -> bytes | None:
    """The remembered key, or None (none remembered, or no key store)."""
    text = _read(SERVICE, collection_id)
    try:
        return base64.b64decode(text) if text else None
    except ValueError:
        return None


def forget(collection_id: str) -> None:
    _delete(SERVICE, collection_id)


def remember_password(account: str, password: str) -> bool:
    """Keep a shared server login's password ("login@host:port/database"); False: no key store."""
    return _store(SERVER_SERVICE, account, password)


def recall_password(account: str) -> str | None:
    return _read(SERVER_SERVICE, account)


def forget_password(account: str) -> None:
    _delete(SERVER_SERVICE, account)
