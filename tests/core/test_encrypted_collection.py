"""An encrypted collection with the real embedder, SQLCipher and FAISS: it searches like a plain
one, no file of it holds the documents' words, and it opens only with its key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kbdesk.core.crypt import keys, keystore
from kbdesk.core.errors import CollectionLocked, KbdeskError, SealBroken, WrongKey
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.types import Answer, AnswerOutcome
from tests.helpers import SECRET_WORDS as SECRETS
from tests.helpers import leaks as _leaks

PASSPHRASE = "harbor point lease files"


def test_an_encrypted_collection_searches_alike_and_no_file_holds_its_text(data_dir, docs_dir):
    kb, recovery = KnowledgeBase.create_encrypted(data_dir, "clinic", PASSPHRASE)
    with kb:
        assert kb.encrypted
        report = kb.import_paths([docs_dir])
        assert report.ok and len(report.results) == 3
        for mode in ("hybrid", "dense", "keyword"):
            hit = kb.search("How much notice is needed to terminate the lease?", k=3, mode=mode)[0]
            assert (hit.document, hit.page) == ("lease.pdf", 3)
        assert kb.search("手术后多久可以洗澡", k=3)[0].document == "术后护理须知.pdf"
        kb.chats().append(
            kb.chats().new(),
            Answer("What is the security deposit?", "25,200 dollars [1].", AnswerOutcome.ANSWERED),
        )
    folder = kb.folder
    assert (folder / keys.KEYS_FILE).is_file()
    assert _leaks(folder) == []
    # the check itself finds the words in a plain collection
    with KnowledgeBase.open(data_dir, "plain") as plain:
        plain.import_paths([docs_dir])
    assert len(_leaks(plain.folder)) >= len(SECRETS) - 2

    with pytest.raises(CollectionLocked, match="Collection 'clinic' is encrypted"):
        KnowledgeBase.open(data_dir, "clinic")
    with pytest.raises(WrongKey, match="That passphrase or recovery key does not unlock"):
        KnowledgeBase.open(data_dir, "clinic", secret="harbor point lease file")
    with KnowledgeBase.open(data_dir, "clinic", secret=PASSPHRASE) as again:
        assert again.search("amlodipine dose", k=1)[0].document == "hypertension.pdf"
        [answer] = again.chats().answers(again.chats().list()[0].id)
        assert answer.answer == "25,200 dollars [1]."
        key = again.key
    with KnowledgeBase.open(data_dir, "clinic", secret=recovery.lower().replace("-", " ")) as kb:
        assert kb.key == key


def test_a_key_the_key_store_remembers_opens_the_collection(data_dir, monkeypatch):
    kb, _recovery = KnowledgeBase.create_encrypted(data_dir, "remembered", PASSPHRASE)
    kb.close()
    collection_id = keys.KeyFile.load(kb.folder).collection_id
    remembered = {collection_id: kb.key}
    monkeypatch.setattr(keystore, "recall", lambda cid: remembered.get(cid))
    with KnowledgeBase.open(data_dir, "remembered") as again:
        assert again.key == kb.key
    remembered[collection_id] = keys.new_data_key()  # a stale entry is not trusted
    with pytest.raises(CollectionLocked):
        KnowledgeBase.open(data_dir, "remembered")


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ENCRYPTED_RELEASES = sorted(FIXTURES.glob("encrypted-*"))


@pytest.mark.parametrize("release", ENCRYPTED_RELEASES, ids=lambda p: p.name)
def test_an_encrypted_collection_an_earlier_release_wrote_opens_with_its_secrets(release, tmp_path):
    # tests/fixtures/make_release_data.py --encrypted wrote it; every later release must open it
    data = tmp_path / release.name
    shutil.copytree(release, data)
    secrets = json.loads((data / "secrets.json").read_text())
    with pytest.raises(CollectionLocked):
        KnowledgeBase.open(data, "Case 12", create=False)
    with KnowledgeBase.open(data, "Case 12", create=False, secret=secrets["passphrase"]) as kb:
        assert sorted(d.name for d in kb.documents()) == ["lease.pdf", "术后护理须知.pdf"]
        hit = kb.search("When is the security deposit returned?", k=1)[0]
        assert (hit.document, hit.page) == ("lease.pdf", 3) and "30 days" in hit.text
        assert kb.search("术后多久可以洗澡？", k=1)[0].page == 2
        [chat] = kb.chats().list()
        [answer] = kb.chats().answers(chat.id)
        assert answer.citations[0].chunk_id == hit.chunk_id
        key = kb.key
    keyfile = keys.KeyFile.load(data / "collections" / "Case 12")
    assert keys.unlock(keyfile, secrets["recovery_key"], keys.RECOVERY) == key
    assert _leaks(data / "collections") == []


def test_an_encrypted_release_fixture_exists():
    assert ENCRYPTED_RELEASES, "tests/fixtures/make_release_data.py --encrypted writes one"


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_one_flipped_byte_in_each_kind_of_encrypted_file_is_caught(data_dir, docs_dir):
    kb, _recovery = KnowledgeBase.create_encrypted(data_dir, "clinic", PASSPHRASE)
    with kb:
        kb.import_paths([docs_dir / "lease.pdf"])
        chats = kb.chats()
        kept, damaged = chats.new(), chats.new()
        for chat in (kept, damaged):
            chats.append(chat, Answer("Deposit?", "25,200 dollars [1].", AnswerOutcome.ANSWERED))
    folder, key = kb.folder, kb.key
    backup = folder.parent / "backup"
    shutil.copytree(folder, backup)

    # the vector index: rebuilt from the catalog, search unchanged
    vectors = next(p for p in folder.iterdir() if p.name.startswith("vectors"))
    _flip(vectors, vectors.stat().st_size // 2)
    with KnowledgeBase.open(data_dir, "clinic", key=key) as again:
        assert again.search("security deposit", k=1)[0].page == 3
    # a chat: that one is reported by name, the others open
    chat_file = next((folder / "chats").glob(f"{damaged}*"))
    _flip(chat_file, chat_file.stat().st_size - 5)
    with KnowledgeBase.open(data_dir, "clinic", key=key) as again:
        with pytest.raises(SealBroken, match=f"{damaged}.json cannot be opened"):
            again.chats().answers(damaged)
        assert again.chats().answers(kept)[0].answer == "25,200 dollars [1]."
    # the catalog: a clear error, never wrong text
    shutil.rmtree(folder)
    shutil.copytree(backup, folder)
    catalog = folder / "catalog.sqlite3"
    _flip(catalog, 4096 + 200)  # inside the second page
    with (
        pytest.raises(KbdeskError) as caught,
        KnowledgeBase.open(data_dir, "clinic", key=key) as kb,
    ):
        kb.documents()
        kb.search("security deposit", k=1)
    assert "catalog.sqlite3 cannot be opened" in str(caught.value)
    # the key file: a clear error, the data untouched
    shutil.rmtree(folder)
    shutil.copytree(backup, folder)
    keyfile = folder / keys.KEYS_FILE
    text = keyfile.read_text()
    keyfile.write_text(text.replace('"check": "', '"check": "A', 1))
    with pytest.raises((SealBroken, WrongKey)):
        KnowledgeBase.open(data_dir, "clinic", secret=PASSPHRASE)
    # restored from the backup, everything opens with the right key, nothing lost
    shutil.rmtree(folder)
    shutil.copytree(backup, folder)
    with KnowledgeBase.open(data_dir, "clinic", secret=PASSPHRASE) as again:
        assert [d.name for d in again.documents()] == ["lease.pdf"]
        assert len(again.chats().list()) == 2
