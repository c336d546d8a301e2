"""Crash-safe writes and file hashing: the one place every writer and hasher in the core uses."""

from __future__ import annotations

import hashlib

import pytest

from kbdesk.core.store.fileio import atomic_path, atomic_write_bytes, atomic_write_text, sha256_file


def test_atomic_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "manifest.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "二 second\n")
    assert target.read_bytes() == "二 second\n".encode()
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in target.parent.iterdir()] == ["manifest.json"]


def test_a_writer_that_fails_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "vectors.faiss"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target, sync_dir=True) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"torn")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.faiss"]


def test_concurrent_writers_get_their_own_temp_file(tmp_path):
    target = tmp_path / "chat.json"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second
        first.write_text("a")
        second.write_text("b")
    assert target.read_text() == "a"  # the last rename wins, whole


def test_sha256_file_reads_in_blocks(tmp_path):
    data = bytes(range(256)) * 5000
    (tmp_path / "f.bin").write_bytes(data)
    assert sha256_file(tmp_path / "f.bin", block=4096) == hashlib.sha256(data).hexdigest()


def test_an_exclusive_writer_reuses_the_temp_file_a_killed_one_left(tmp_path):
    target = tmp_path / "vectors.faiss"
    (tmp_path / "vectors.faiss.tmp").write_bytes(b"left by a killed process")
    with atomic_path(target, exclusive=True) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.faiss"]
