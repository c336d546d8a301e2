"""Encrypting a plain collection where it is: everything kept, nothing plain left, and a kill -9
at any step either leaves the plain collection whole (a second run goes on) or is finished by
the next open. Real SQLCipher, FAISS, embedder and processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kbdesk.core import encryption
from kbdesk.core.encrypt_existing import STAGE, STEPS, finish_encrypting
from kbdesk.core.errors import CollectionBusy, CollectionError, CollectionLocked
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.types import Answer, AnswerOutcome
from tests.helpers import leaks

PASSPHRASE = "harbor point lease files"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plain(data_dir, docs_dir):
    """A plain collection 'clinic' with the three documents and two saved chats."""
    with KnowledgeBase.open(data_dir, "clinic") as kb:
        kb.import_paths([docs_dir])
        kb.search("security deposit", k=1)  # the vector index saved
        chats = kb.chats()
        for n in range(2):
            chats.append(
                chats.new() + str(n),
                Answer(
                    "What is the security deposit?",
                    f"25,200 dollars [{n}].",
                    AnswerOutcome.ANSWERED,
                ),
            )
    return kb.folder


def _whole(data_dir, **unlock) -> None:
    """The collection holds what `plain` put in it."""
    with KnowledgeBase.open(data_dir, "clinic", create=False, **unlock) as kb:
        assert sorted(d.name for d in kb.documents()) == [
            "hypertension.pdf",
            "lease.pdf",
            "术后护理须知.pdf",
        ]
        hit = kb.search("How much notice is needed to terminate the lease?", k=1)[0]
        assert (hit.document, hit.page) == ("lease.pdf", 3)
        assert kb.search("手术后多久可以洗澡", k=1)[0].document == "术后护理须知.pdf"
        assert len(kb.chats().list()) == 2


def test_a_plain_collection_is_encrypted_where_it_is_and_nothing_plain_is_left(data_dir, plain):
    assert leaks(plain)  # the check finds the words while it is plain
    seen = []
    key, recovery = encryption.encrypt_collection(
        data_dir, "clinic", PASSPHRASE, progress=seen.append
    )
    assert [p.message for p in seen if p.message] == list(STEPS)
    assert not (plain / STAGE).exists()
    assert leaks(plain) == []
    with pytest.raises(CollectionLocked):
        KnowledgeBase.open(data_dir, "clinic")
    _whole(data_dir, secret=PASSPHRASE)
    _whole(data_dir, secret=recovery)
    _whole(data_dir, key=key)
    with pytest.raises(CollectionError, match="is encrypted already"):
        encryption.encrypt_collection(data_dir, "clinic", PASSPHRASE)


_KILLER = """
import os, signal, sys
from kbdesk.core import encryption
at = int(sys.argv[3])
def progress(p):
    if p.message and p.done == at:
        os.kill(os.getpid(), signal.SIGKILL)
encryption.encrypt_collection(sys.argv[1], sys.argv[2], {passphrase!r}, progress=progress)
"""


def _killed_at(data_dir, step: int) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLER.format(passphrase=PASSPHRASE),
            str(data_dir),
            "clinic",
            str(step),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert run.returncode == -signal.SIGKILL, run.stderr


@pytest.mark.parametrize("step", [1, 2, 3])
def test_a_kill_before_the_check_leaves_the_plain_collection_whole_and_a_second_run_goes_on(
    data_dir, plain, step
):
    _killed_at(data_dir, step)
    assert encryption.interrupted(plain)
    _whole(data_dir)  # still plain, still all there
    staged_catalog = plain / STAGE / "catalog.sqlite3"
    before = staged_catalog.stat().st_ino if staged_catalog.exists() else None
    _key, recovery = encryption.encrypt_collection(data_dir, "clinic", PASSPHRASE)
    assert not encryption.interrupted(plain)
    if before is not None:  # the catalog exported before the kill was kept, not redone
        assert (plain / "catalog.sqlite3").stat().st_ino == before
    _whole(data_dir, secret=recovery)
    assert leaks(plain) == []


def test_a_kill_after_the_check_is_finished_by_the_next_open(data_dir, plain):
    _killed_at(data_dir, 4)
    assert (plain / STAGE / "verified").is_file()
    with pytest.raises(CollectionLocked):  # the open finished the move: now it needs its key
        KnowledgeBase.open(data_dir, "clinic")
    assert not (plain / STAGE).exists()
    _whole(data_dir, secret=PASSPHRASE)
    assert leaks(plain) == []


def test_a_move_cut_short_anywhere_is_finished_by_running_it_again(data_dir, plain, monkeypatch):
    _killed_at(data_dir, 4)
    real = os.replace
    for allowed in range(6):  # the catalog, the index and its meta, two chats, the key file
        calls = {"n": 0}

        def flaky(src, dst, calls=calls, allowed=allowed):
            if calls["n"] >= allowed:
                raise OSError("killed")
            calls["n"] += 1
            real(src, dst)

        monkeypatch.setattr(os, "replace", flaky)
        with contextlib.suppress(OSError):
            finish_encrypting(plain)
        monkeypatch.setattr(os, "replace", real)
        if not (plain / STAGE).exists():
            break
    finish_encrypting(plain)
    _whole(data_dir, secret=PASSPHRASE)


def test_another_passphrase_starts_over_and_a_writer_holds_it_off(data_dir, plain):
    _killed_at(data_dir, 2)
    _key, _recovery = encryption.encrypt_collection(data_dir, "clinic", "another passphrase here")
    with pytest.raises(Exception, match="does not unlock"):
        KnowledgeBase.open(data_dir, "clinic", secret=PASSPHRASE)
    _whole(data_dir, secret="another passphrase here")

    from kbdesk.core.collection import writer_lock

    KnowledgeBase.open(data_dir, "second").close()
    with writer_lock(data_dir / "collections" / "second", "second"), pytest.raises(CollectionBusy):
        encryption.encrypt_collection(data_dir, "second", PASSPHRASE)


def test_killed_after_the_key_file_moved_in_it_is_encrypted_already(data_dir, plain):
    _killed_at(data_dir, 4)
    stage = plain / STAGE
    for name in ("catalog.sqlite3", "vectors.faiss", "vectors.json", "keys.json"):
        if (stage / name).is_file():
            os.replace(stage / name, plain / name)
    for chat in (stage / "chats").iterdir():
        os.replace(chat, plain / "chats" / chat.name)
    assert (stage / "verified").is_file()  # the kill came before the tidy-up
    with pytest.raises(CollectionError, match="is encrypted already"):
        encryption.encrypt_collection(data_dir, "clinic", PASSPHRASE)
    assert not stage.exists()
    _whole(data_dir, secret=PASSPHRASE)


def test_its_adapters_are_sealed_with_it_and_its_training_folders_removed(data_dir, plain):
    from kbdesk.core.adapters import (
        EVALUATION_FILE,
        REPORT_FILE,
        SPLIT_FILE,
        adapter_split,
        read_evaluation,
        read_meta,
    )
    from kbdesk.core.crypt.sealed import MAGIC
    from kbdesk.core.paths import AppPaths
    from tests.core.tune.test_adapter_files import fake_adapter

    paths = AppPaths.resolve(data_dir)
    ours = fake_adapter(paths.adapters_dir, "clinic-lora")
    theirs = fake_adapter(paths.adapters_dir, "other-lora")
    split = {"held_out": [{"question": "What is the security deposit?", "chunk_id": 3}]}
    for adapter, collection in ((ours, "clinic"), (theirs, "other")):
        meta = json.loads(adapter.with_name("meta.json").read_text())
        meta.update(collection=collection, split=split)
        adapter.with_name("meta.json").write_text(json.dumps(meta))
    ours.with_name(EVALUATION_FILE).write_text(json.dumps({"questions": 1, "arms": {}}))
    ours.with_name(REPORT_FILE).write_text("<p>What is the security deposit?</p>")
    job = paths.data_dir / "tuning" / "clinic-lora"
    job.mkdir(parents=True)
    spec = {
        "name": "clinic-lora",
        "collection": "clinic",
        "data_dir": str(data_dir),
        "adapters_dir": str(paths.adapters_dir),
        "base_model": "/m.gguf",
        "base": {"name": "m"},
        "settings": {},
        "passages": 2,
        "held_out_share": 0.2,
    }
    (job / "job.json").write_text(json.dumps(spec))
    (job / "written.jsonl").write_text('{"question": "What is the security deposit?"}\n')

    key, _recovery = encryption.encrypt_collection(data_dir, "clinic", PASSPHRASE)
    assert not job.exists()  # its plain examples went with it
    meta = read_meta(ours)
    assert meta.sealed and meta.split == {}
    assert ours.read_bytes().startswith(MAGIC)
    assert ours.with_name(SPLIT_FILE).read_bytes().startswith(MAGIC)
    assert not ours.with_name(REPORT_FILE).exists()
    assert adapter_split(ours, key) == split
    assert read_evaluation(ours, key) == {"questions": 1, "arms": {}}
    assert not read_meta(theirs).sealed and read_meta(theirs).split == split  # not its adapter
    assert leaks(paths.adapters_dir / "clinic-lora") == [] and leaks(plain) == []
