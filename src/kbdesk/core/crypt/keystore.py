"""The system key store (Secret Service, Windows Credential Manager, macOS Keychain) remembering
a collection's data key for this user, so that an unlock can be remembered; optional: where no
key store answers, the passphrase still works and nothing else changes."""

from __future__ import annotations

import base64
import logging

log = logging.getLogger(__name__)

SERVICE = "kbdesk collection key"


def remember(collection_id: str, key: bytes) -> bool:
    """Store the key for this user; False where no key store is available."""
    try:
        import keyring

        keyring.set_password(SERVICE, collection_id, base64.b64encode(key).decode())
        return True
    except Exception as err:  # any backend failure means "not available", never a crash
        log.info("key store unavailable: %s", err)
        return False


def recall(collection_id: str) -> bytes | None:
    """The remembered key, or None (none remembered, or no key store)."""
    try:
        import keyring

        text = keyring.get_password(SERVICE, collection_id)
    except Exception as err:
        log.info("key store unavailable: %s", err)
        return None
    try:
        return base64.b64decode(text) if text else None
    except ValueError:
        return None


def forget(collection_id: str) -> None:
    try:
        import keyring

        keyring.delete_password(SERVICE, collection_id)
    except Exception as err:
        log.info("nothing forgotten in the key store: %s", err)
