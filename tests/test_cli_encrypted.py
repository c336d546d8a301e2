"""Encrypted collections from the command line: create, a passphrase from a file or standard
input (never an argument), a clear refusal without one, unlock --remember, lock, passphrase."""

from __future__ import annotations

import io
import json
import os
import re

import pytest

from kbdesk.cli import main

PASSPHRASE = "harbor point lease files"


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def secret_file(tmp_path):
    def write(text: str, name: str = "pass.txt", mode: int = 0o600):
        path = tmp_path / name
        path.write_text(text + "\n")
        os.chmod(path, mode)
        return str(path)

    return write


@pytest.fixture
def clinic(capsys, data_dir, docs_dir, secret_file):
    """An encrypted collection 'clinic' holding the lease; its recovery key."""
    pw = secret_file(PASSPHRASE)
    base = ("--data-dir", str(data_dir), "--collection", "clinic", "--passphrase-file", pw)
    code, out, _err = run(
        capsys, "--data-dir", str(data_dir), "--passphrase-file", pw, "create", "clinic"
    )
    assert code == 0 and "Created encrypted collection 'clinic'" in out
    recovery = re.search(r"\n    ([A-Z2-7]{4}(?:-[A-Z2-7]{4}){7})\n", out).group(1)
    code, _out, err = run(capsys, *base, "ingest", str(docs_dir / "lease.pdf"))
    assert code == 0, err
    return recovery


def test_an_encrypted_collection_is_used_with_a_passphrase_file_and_refused_without(
    capsys, data_dir, secret_file, clinic
):
    where = ("--data-dir", str(data_dir), "--collection", "clinic")
    code, out, _err = run(
        capsys,
        *where,
        "--passphrase-file",
        secret_file(PASSPHRASE),
        "search",
        "security deposit",
        "--json",
        "-k",
        "1",
    )
    assert code == 0 and json.loads(out)[0]["document"] == "lease.pdf"
    # no terminal to ask in (pytest's stdin), no file: one clear line, nothing opened
    code, out, err = run(capsys, *where, "list")
    assert code == 1 and out == ""
    assert "no terminal to ask for it" in err and "--passphrase-file FILE" in err
    assert "Traceback" not in err
    code, _out, err = run(
        capsys, *where, "--passphrase-file", secret_file("wrong passphrase"), "list"
    )
    assert code == 1 and "does not unlock this collection" in err
    # the recovery key opens it too, typed as people type it
    recovery = secret_file(clinic.lower().replace("-", " "), "recovery.txt")
    code, out, _err = run(capsys, *where, "--passphrase-file", recovery, "list")
    assert code == 0 and "lease.pdf" in out
    code, out, _err = run(capsys, "--data-dir", str(data_dir), "collections")
    assert "clinic  (encrypted)" in out


def test_a_passphrase_from_standard_input_and_a_warning_for_a_file_others_can_read(
    capsys, data_dir, secret_file, clinic, monkeypatch
):
    where = ("--data-dir", str(data_dir), "--collection", "clinic")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSPHRASE + "\n"))
    code, out, _err = run(capsys, *where, "--passphrase-file", "-", "list")
    assert code == 0 and "lease.pdf" in out
    shared = secret_file(PASSPHRASE, "shared.txt", mode=0o644)
    code, _out, err = run(capsys, *where, "--passphrase-file", shared, "list")
    assert code == 0 and "other users can read" in err and "chmod 600" in err
    code, _out, err = run(capsys, *where, "--passphrase-file", str(data_dir / "none"), "list")
    assert code == 1 and "cannot be read" in err


def test_unlock_remember_and_lock(capsys, data_dir, secret_file, clinic, key_store):
    where = ("--data-dir", str(data_dir), "--collection", "clinic")
    code, out, _err = run(
        capsys, *where, "--passphrase-file", secret_file(PASSPHRASE), "unlock", "--remember"
    )
    assert code == 0 and "key store remembers the unlock" in out
    code, out, _err = run(capsys, *where, "list")  # no passphrase asked
    assert code == 0 and "lease.pdf" in out
    code, out, _err = run(capsys, *where, "lock")
    assert code == 0 and "locked" in out
    code, _out, err = run(capsys, *where, "list")
    assert code == 1 and "--passphrase-file" in err


def test_unlock_remember_without_a_key_store_says_so(capsys, data_dir, secret_file, clinic):
    code, out, _err = run(
        capsys,
        "--data-dir",
        str(data_dir),
        "--collection",
        "clinic",
        "--passphrase-file",
        secret_file(PASSPHRASE),
        "unlock",
        "--remember",
    )
    assert code == 0 and "No key store is available" in out


def test_changing_the_passphrase(capsys, data_dir, secret_file, clinic):
    where = ("--data-dir", str(data_dir), "--collection", "clinic")
    new = secret_file("a new passphrase for the clinic", "new.txt")
    code, _out, err = run(
        capsys,
        *where,
        "--passphrase-file",
        secret_file("not it", "bad.txt"),
        "passphrase",
        "--new-passphrase-file",
        new,
    )
    assert code == 1 and "does not unlock" in err
    short = secret_file("short", "short.txt")
    code, _out, err = run(
        capsys,
        *where,
        "--passphrase-file",
        secret_file(PASSPHRASE),
        "passphrase",
        "--new-passphrase-file",
        short,
    )
    assert code == 1 and "at least 8 characters" in err
    code, out, _err = run(
        capsys,
        *where,
        "--passphrase-file",
        secret_file(PASSPHRASE),
        "passphrase",
        "--new-passphrase-file",
        new,
    )
    assert code == 0 and "recovery key still works" in out
    code, _out, _err = run(capsys, *where, "--passphrase-file", secret_file(PASSPHRASE), "list")
    assert code == 1
    code, out, _err = run(capsys, *where, "--passphrase-file", new, "list")
    assert code == 0 and "lease.pdf" in out


def test_create_refuses_a_short_passphrase_an_existing_name_and_makes_plain_on_request(
    capsys, data_dir, secret_file
):
    base = ("--data-dir", str(data_dir))
    code, _out, err = run(capsys, *base, "--passphrase-file", secret_file("short"), "create", "a")
    assert code == 1 and "at least 8 characters" in err
    assert not (data_dir / "collections" / "a").exists()
    code, out, _err = run(capsys, *base, "create", "open files", "--plain")
    assert code == 0 and "not encrypted" in out
    code, _out, err = run(capsys, *base, "create", "open files", "--plain")
    assert code == 1 and "exists already" in err
    code, _out, err = run(capsys, *base, "--collection", "open files", "lock")
    assert code == 1 and "is not encrypted" in err


def test_encrypting_an_existing_collection(capsys, data_dir, docs_dir, secret_file):
    where = ("--data-dir", str(data_dir), "--collection", "papers")
    code, _out, _err = run(capsys, *where, "ingest", str(docs_dir / "lease.pdf"))
    assert code == 0
    code, out, _err = run(capsys, *where, "--passphrase-file", secret_file(PASSPHRASE), "encrypt")
    assert code == 0 and "Encrypted collection 'papers'" in out and "SSD" in out
    assert "1/5 the catalog" in out and re.search(r"\n    [A-Z2-7]{4}(-[A-Z2-7]{4}){7}\n", out)
    code, _out, err = run(capsys, *where, "list")
    assert code == 1 and "--passphrase-file" in err
    code, out, _err = run(capsys, *where, "--passphrase-file", secret_file(PASSPHRASE), "list")
    assert code == 0 and "lease.pdf" in out
    code, _out, err = run(capsys, *where, "--passphrase-file", secret_file(PASSPHRASE), "encrypt")
    assert code == 1 and "encrypted already" in err


def test_a_new_recovery_key(capsys, data_dir, secret_file, clinic):
    where = ("--data-dir", str(data_dir), "--collection", "clinic")
    code, out, _err = run(
        capsys, *where, "--passphrase-file", secret_file(clinic, "old.txt"), "recovery-key"
    )
    assert code == 0 and "earlier one no longer opens it" in out
    fresh = re.search(r"\n    ([A-Z2-7]{4}(?:-[A-Z2-7]{4}){7})\n", out).group(1)
    code, _out, _err = run(
        capsys, *where, "--passphrase-file", secret_file(clinic, "old.txt"), "list"
    )
    assert code == 1
    code, out, _err = run(
        capsys, *where, "--passphrase-file", secret_file(fresh, "new.txt"), "list"
    )
    assert code == 0 and "lease.pdf" in out
