"""Sealed files: round trips, and every kind of damage detected with a clear message."""

from __future__ import annotations

import os

import pytest

from kbdesk.core.crypt import sealed
from kbdesk.core.errors import SealBroken

KEY = bytes(range(32))
TEXT = b"Section 9 Termination. Either party may end this lease with ninety days' notice."


def test_round_trip_small_empty_and_many_segments(tmp_path):
    assert sealed.unseal(KEY, sealed.seal(KEY, TEXT, "chat"), "chat") == TEXT
    assert sealed.unseal(KEY, sealed.seal(KEY, b"", "chat"), "chat") == b""
    big = os.urandom(10_000)
    blob = sealed.seal(KEY, big, "vectors", segment=1000)
    assert len(blob) > len(big) and sealed.unseal(KEY, blob, "vectors") == big
    sealed.write_sealed(tmp_path / "v.bin", KEY, big, "vectors")
    assert sealed.is_sealed(tmp_path / "v.bin") and not sealed.is_sealed(__file__)
    assert sealed.read_sealed(tmp_path / "v.bin", KEY, "vectors") == big
    assert TEXT not in sealed.seal(KEY, TEXT, "chat"), "no plaintext in the sealed bytes"


def test_the_same_bytes_seal_differently_each_time():
    assert sealed.seal(KEY, TEXT, "chat") != sealed.seal(KEY, TEXT, "chat")


@pytest.mark.parametrize(
    "damage",
    [
        "flip a byte",
        "cut the last segment",
        "cut inside a segment",
        "swap two segments",
        "append bytes",
        "another key",
        "another purpose",
        "not sealed",
    ],
)
def test_every_kind_of_damage_is_refused_with_a_clear_message(damage):
    data = os.urandom(3500)
    blob = bytearray(sealed.seal(KEY, data, "vectors", segment=1000))
    step = sealed.NONCE + 1000 + sealed.TAG
    head = sealed._HEADER.size
    key, purpose = KEY, "vectors"
    if damage == "flip a byte":
        blob[head + step + 40] ^= 0x01
    elif damage == "cut the last segment":
        blob = blob[: head + 3 * step]
    elif damage == "cut inside a segment":
        blob = blob[:-10]
    elif damage == "swap two segments":
        first, second = blob[head : head + step], blob[head + step : head + 2 * step]
        blob[head : head + 2 * step] = second + first
    elif damage == "append bytes":
        blob += os.urandom(64)
    elif damage == "another key":
        key = bytes(32)
    elif damage == "another purpose":
        purpose = "chat"
    else:
        blob = bytearray(TEXT)
    with pytest.raises(SealBroken) as err:
        sealed.unseal(key, bytes(blob), purpose, name="vectors.sealed")
    assert str(err.value).startswith("vectors.sealed cannot be opened: ")
    assert "backup" in str(err.value)
