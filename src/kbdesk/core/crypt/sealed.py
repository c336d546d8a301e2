"""Sealed files: bytes encrypted with AES-256-GCM in segments, each segment's number and "last"
flag authenticated, so a flipped byte, a cut-off end or swapped segments are all detected.

Layout: header (magic, format, segment size, random file id) then, per segment, a random 96-bit
nonce and the ciphertext with its 16-byte tag. Each segment's associated data is the header, the
file's purpose ("vectors", "chat", ...: a sealed file cannot pass for another kind), the segment
number and whether it is the last, so truncation at a segment boundary fails the last segment's
missing flag, and reordering fails the numbers.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kbdesk.core.errors import SealBroken
from kbdesk.core.store.fileio import atomic_path, atomic_write_bytes

MAGIC = b"KBDSEAL"
FORMAT = 1
SEGMENT = 1 << 20  # plaintext bytes per segment: large files stream, small ones are one segment
NONCE = 12
TAG = 16
_HEADER = struct.Struct(">7sBI16s")  # magic, format, segment size, file id
_POSITION = struct.Struct(">Q?")  # segment number, last


def seal(key: bytes, data: bytes, purpose: str, segment: int = SEGMENT) -> bytes:
    """`data` encrypted under `key` for `purpose`."""
    header = _HEADER.pack(MAGIC, FORMAT, segment, os.urandom(16))
    aead = AESGCM(key)
    parts = [header]
    count = max(1, -(-len(data) // segment))
    for n in range(count):
        nonce = os.urandom(NONCE)
        plain = data[n * segment : (n + 1) * segment]
        parts += [nonce, aead.encrypt(nonce, plain, _aad(header, purpose, n, n == count - 1))]
    return b"".join(parts)


def unseal(key: bytes, blob: bytes, purpose: str, name: str = "a sealed file") -> bytes:
    """The bytes `seal` encrypted.

    :raises SealBroken: not a sealed file, sealed under another key or for another purpose,
        changed, cut short or extended.
    """
    if len(blob) < _HEADER.size:
        raise _broken(name, "it is shorter than its header")
    header = blob[: _HEADER.size]
    magic, version, segment, _file_id = _HEADER.unpack(header)
    if magic != MAGIC:
        raise _broken(name, "it is not a kbdesk sealed file")
    if version != FORMAT or segment <= 0:
        raise _broken(name, f"its format ({version}) is not one this kbdesk reads")
    aead = AESGCM(key)
    out, pos, n = [], _HEADER.size, 0
    step = NONCE + segment + TAG
    while True:
        chunk = blob[pos : pos + step]
        last = pos + step >= len(blob)
        if len(chunk) < NONCE + TAG:
            raise _broken(name, "it is cut short")
        try:
            out.append(aead.decrypt(chunk[:NONCE], chunk[NONCE:], _aad(header, purpose, n, last)))
        except InvalidTag:
            raise _broken(name, "its contents do not match the key or were changed") from None
        if last:
            return b"".join(out)
        pos, n = pos + step, n + 1


def write_sealed(path: str | os.PathLike, key: bytes, data: bytes, purpose: str) -> None:
    """Seal `data` into `path`, crash-safely (the old file or the new one, never a torn one)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(seal(key, data, purpose))


def read_sealed(path: str | os.PathLike, key: bytes, purpose: str) -> bytes:
    path = Path(path)
    return unseal(key, path.read_bytes(), purpose, name=path.name)


def write_file(path: str | os.PathLike, data: bytes, key: bytes | None, purpose: str) -> None:
    """`data` into `path` crash-safely: sealed under `key` (an encrypted collection's), as it is
    where there is none (a plain collection's)."""
    if key is None:
        atomic_write_bytes(path, data)
    else:
        write_sealed(path, key, data, purpose)


def read_file(path: str | os.PathLike, key: bytes | None, purpose: str) -> bytes:
    """What `write_file` wrote with the same key."""
    return Path(path).read_bytes() if key is None else read_sealed(path, key, purpose)


def is_sealed(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _aad(header: bytes, purpose: str, n: int, last: bool) -> bytes:
    return header + purpose.encode() + _POSITION.pack(n, last)


def _broken(name: str, why: str) -> SealBroken:
    return SealBroken(
        f"{name} cannot be opened: {why}.",
        hint="If the collection was copied, copy it again; otherwise restore it from a backup.",
    )
