"""A collection's data key and the ways to unlock it: a passphrase (Argon2id), a printable
recovery key, and the system key store (keystore.py).

The data key (256 random bits) encrypts the collection and is never derived from anything, so
opening a collection costs no key derivation once the key is at hand, and changing the
passphrase re-wraps the key only. Each way in is a *wrap*: the data key encrypted with AES-GCM
under a key derived from that way's secret, the collection's id and the wrap's kind bound in as
associated data (a wrap cannot be moved to another collection). `keys.json` holds the wraps and
a check value, never the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kbdesk.core.errors import InvalidSetting, SealBroken, WrongKey
from kbdesk.core.store.fileio import atomic_path

KEY_BYTES = 32
KEYS_FILE = "keys.json"
FORMAT = 1
PASSPHRASE, RECOVERY = "passphrase", "recovery"
# Argon2id: 128 MiB, 3 passes, 4 lanes: 0.44 s per try on the 2-core development machine
# (bench/bench_crypt.py; bench/RESULTS.md, "Encrypted collections"), so an office PC half as fast
# stays under a second, and a guessing attack pays that per guess while nobody is locked out.
ARGON2 = {"memory_cost": 128 * 1024, "iterations": 3, "lanes": 4}
MIN_PASSPHRASE = 8
# Recovery keys: 160 random bits as 32 base32 letters and digits in groups of four.
RECOVERY_BYTES = 20
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


@dataclass(frozen=True)
class Wrap:
    """The data key encrypted for one way in."""

    kind: str  # PASSPHRASE or RECOVERY
    salt: str  # base64
    nonce: str  # base64
    wrapped: str  # base64: the data key and its GCM tag
    kdf: dict = field(default_factory=dict)  # Argon2id's parameters, as used


@dataclass(frozen=True)
class KeyFile:
    collection_id: str
    check: str  # HMAC of a constant under the data key: tells a right key from a wrong one
    wraps: tuple[Wrap, ...]
    format: int = FORMAT

    def kinds(self) -> set[str]:
        return {w.kind for w in self.wraps}

    def opens_with(self, key: bytes) -> bool:
        """Whether `key` is this collection's data key."""
        return hmac.compare_digest(key_check(key), self.check)

    def save(self, folder: Path) -> None:
        data = asdict(self) | {"wraps": [asdict(w) for w in self.wraps]}
        with atomic_path(Path(folder) / KEYS_FILE, sync_dir=True) as tmp:
            tmp.write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, folder: Path) -> KeyFile:
        path = Path(folder) / KEYS_FILE
        try:
            data = json.loads(path.read_text())
            wraps = tuple(Wrap(**w) for w in data.pop("wraps"))
            found = cls(**data, wraps=wraps)
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise SealBroken(
                f"The collection's key file {path} cannot be read ({err}).",
                hint="Restore the collection folder from a backup.",
            ) from err
        if found.format != FORMAT:
            raise SealBroken(f"{path} is of a format ({found.format}) this kbdesk does not read.")
        return found


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def key_check(key: bytes) -> str:
    return _b64(hmac.new(key, b"kbdesk data key check", hashlib.sha256).digest()[:16])


def new_key_file(collection_id: str, key: bytes, passphrase: str, recovery: str) -> KeyFile:
    """The key file of a newly encrypted collection: its passphrase and its recovery key."""
    check_passphrase(passphrase)
    wraps = (
        wrap(key, PASSPHRASE, passphrase, collection_id),
        wrap(key, RECOVERY, recovery, collection_id),
    )
    return KeyFile(collection_id, key_check(key), wraps)


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidSetting(
            f"A passphrase needs at least {MIN_PASSPHRASE} characters.",
            hint="Several words are easier to remember than a short password and harder to guess.",
        )


def wrap(key: bytes, kind: str, secret: str, collection_id: str) -> Wrap:
    salt = os.urandom(16)
    kdf = dict(ARGON2) if kind == PASSPHRASE else {}
    nonce = os.urandom(12)
    sealed = AESGCM(_derive(kind, secret, salt, kdf)).encrypt(nonce, key, _aad(collection_id, kind))
    return Wrap(kind, _b64(salt), _b64(nonce), _b64(sealed), kdf)


def unlock(keys: KeyFile, secret: str, kind: str = PASSPHRASE) -> bytes:
    """The data key, from the passphrase or the recovery key.

    :raises WrongKey: the secret opens no wrap of that kind (the key file is left as it was).
    """
    for w in keys.wraps:
        if w.kind != kind:
            continue
        try:
            derived = _derive(kind, secret, _unb64(w.salt), w.kdf)
            key = AESGCM(derived).decrypt(
                _unb64(w.nonce), _unb64(w.wrapped), _aad(keys.collection_id, kind)
            )
        except (InvalidTag, ValueError):
            continue
        if keys.opens_with(key):
            return key
    what = "passphrase" if kind == PASSPHRASE else "recovery key"
    raise WrongKey(f"That {what} does not unlock this collection.", hint="Nothing was changed.")


def with_passphrase(keys: KeyFile, key: bytes, passphrase: str) -> KeyFile:
    """The key file with `passphrase` as its only passphrase (a change re-wraps the key only)."""
    check_passphrase(passphrase)
    return _rewrapped(keys, key, PASSPHRASE, passphrase)


def with_recovery_key(keys: KeyFile, key: bytes, recovery: str) -> KeyFile:
    """The key file with `recovery` as its only recovery key (an earlier one stops working)."""
    return _rewrapped(keys, key, RECOVERY, recovery)


def _rewrapped(keys: KeyFile, key: bytes, kind: str, secret: str) -> KeyFile:
    """The key file whose only wrap of `kind` is the data key under `secret`."""
    if not keys.opens_with(key):
        raise WrongKey("That key does not belong to this collection.")
    others = tuple(w for w in keys.wraps if w.kind != kind)
    return replace(keys, wraps=(*others, wrap(key, kind, secret, keys.collection_id)))


def new_recovery_key() -> str:
    """A printable recovery key: 32 letters and digits in groups of four."""
    text = base64.b32encode(secrets.token_bytes(RECOVERY_BYTES)).decode()
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_recovery_key(text: str) -> str:
    """As typed (any case, spaces or dashes, 0/1/8 for O/I/B) to the canonical form."""
    letters = "".join(text.upper().split()).replace("-", "").translate(_LOOKALIKES)
    if len(letters) != RECOVERY_BYTES * 8 // 5 or any(c not in _B32 for c in letters):
        raise WrongKey(
            "That is not a kbdesk recovery key.",
            hint="A recovery key is 32 letters and digits in groups of four, as it was shown.",
        )
    return "-".join(letters[i : i + 4] for i in range(0, len(letters), 4))


def _derive(kind: str, secret: str, salt: bytes, kdf: dict) -> bytes:
    if kind == PASSPHRASE:
        return Argon2id(salt=salt, length=KEY_BYTES, **kdf).derive(secret.encode("utf-8"))
    # A recovery key is already 160 random bits: no slow derivation needed.
    raw = normalise_recovery_key(secret).encode()
    return HKDF(hashes.SHA256(), KEY_BYTES, salt, b"kbdesk recovery key").derive(raw)


def _aad(collection_id: str, kind: str) -> bytes:
    return f"kbdesk data key/{collection_id}/{kind}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
