"""Upgrades keep data: what an earlier release wrote (tests/fixtures/release-*/) opens in this one,
and a schema change is applied step by step without losing a document."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from kbdesk.core import collection as collection_module
from kbdesk.core.errors import CollectionError
from kbdesk.core.generate.chats import ChatStore
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.paths import AppPaths
from kbdesk.core.settings import SettingsStore
from kbdesk.core.store import catalog as catalog_module
from kbdesk.core.store import schema
from kbdesk.core.types import FileStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RELEASES = sorted(FIXTURES.glob("release-*"))
COLLECTION = "Case 12"


def copy_release(release: Path, tmp_path: Path) -> Path:
    data = tmp_path / release.name
    shutil.copytree(release, data)
    return data


def catalog_of(data: Path) -> Path:
    return data / "collections" / COLLECTION / "catalog.sqlite3"


def test_a_release_fixture_exists():
    assert RELEASES, "tests/fixtures/make_release_data.py writes one per release"


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
def test_what_an_earlier_release_wrote_opens_and_answers_the_same(release, tmp_path):
    data = copy_release(release, tmp_path)
    settings = SettingsStore(AppPaths.resolve(data).config_dir)
    saved = settings.load()
    assert settings.problems == [] and (saved.collection, saved.passages) == (COLLECTION, 4)
    kb = KnowledgeBase.open(data, COLLECTION, create=False)
    try:
        assert sorted(d.name for d in kb.documents()) == ["lease.pdf", "术后护理须知.pdf"]
        assert all(d.status == "ready" for d in kb.documents())
        hit = kb.search("When is the security deposit returned?", k=1)[0]
        assert (hit.document, hit.page) == ("lease.pdf", 3) and "30 days" in hit.text
        zh = kb.search("术后多久可以洗澡？", k=1)[0]
        assert (zh.document, zh.page) == ("术后护理须知.pdf", 2)
        [chat] = ChatStore(kb.folder).list()
        [answer] = ChatStore(kb.folder).answers(chat.id)
        [citation] = answer.citations
        assert (citation.document, citation.page, citation.chunk_id) == (
            "lease.pdf",
            3,
            hit.chunk_id,
        )
    finally:
        kb.close()
    assert kb.manifest.schema_version == schema.SCHEMA_VERSION
    with sqlite3.connect(catalog_of(data)) as con:  # schema 2: section paths, none until re-read
        assert {r[0] for r in con.execute("SELECT DISTINCT section FROM chunks")} == {""}


@pytest.fixture
def next_schema(monkeypatch):
    """A next release whose schema adds a column, as a real schema change would."""
    step = ("ALTER TABLE documents ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0",)
    version = schema.SCHEMA_VERSION + 1
    for module in (schema, catalog_module, collection_module):
        monkeypatch.setattr(module, "SCHEMA_VERSION", version)
    monkeypatch.setitem(schema.MIGRATIONS, version, step)
    return version


def test_an_older_catalog_is_upgraded_step_by_step_and_keeps_every_document(next_schema, tmp_path):
    data = copy_release(RELEASES[-1], tmp_path)
    kb = KnowledgeBase.open(data, COLLECTION, create=False)
    try:
        assert len(kb.documents()) == 2 and kb.search("security deposit", k=1)[0].page == 3
        assert kb.manifest.schema_version == next_schema
    finally:
        kb.close()
    with sqlite3.connect(catalog_of(data)) as con:
        assert schema.catalog_version(con) == next_schema
        assert con.execute("SELECT count(*) FROM documents WHERE reviewed = 0").fetchone()[0] == 2
    manifest = json.loads((catalog_of(data).parent / "manifest.json").read_text())
    assert manifest["schema_version"] == next_schema
    KnowledgeBase.open(data, COLLECTION, create=False).close()  # a second open changes nothing


def test_a_failing_upgrade_step_leaves_the_catalog_as_it_was(next_schema, tmp_path, monkeypatch):
    data = copy_release(RELEASES[-1], tmp_path)
    monkeypatch.setitem(
        schema.MIGRATIONS,
        next_schema,
        ("ALTER TABLE documents ADD COLUMN reviewed INTEGER", "ALTER TABLE nowhere ADD COLUMN x"),
    )
    with pytest.raises(CollectionError, match="cannot be opened"):
        KnowledgeBase.open(data, COLLECTION, create=False)
    with sqlite3.connect(catalog_of(data)) as con:
        assert schema.catalog_version(con) == next_schema - 1
        columns = [row[1] for row in con.execute("PRAGMA table_info(documents)")]
        assert "reviewed" not in columns
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 2


def test_a_collection_from_a_newer_release_is_refused_untouched(tmp_path):
    data = copy_release(RELEASES[-1], tmp_path)
    with sqlite3.connect(catalog_of(data)) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(CollectionError, match="newer kbdesk") as err:
        KnowledgeBase.open(data, COLLECTION, create=False)
    assert "Update kbdesk" in err.value.hint
    manifest = catalog_of(data).parent / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"schema_version": 1', '"schema_version": 7'))
    with pytest.raises(CollectionError, match="schema 7; this one reads up to"):
        KnowledgeBase.open(data, COLLECTION, create=False)


def test_documents_an_earlier_release_cut_are_read_again_by_the_next_import(tmp_path):
    data = copy_release(RELEASES[-1], tmp_path)
    docs = data / "documents"
    with sqlite3.connect(catalog_of(data)) as con:  # the copied files are where it looks
        for (path,) in con.execute("SELECT path FROM documents").fetchall():
            moved = str(docs / Path(path).name)
            con.execute("UPDATE documents SET path = ? WHERE path = ?", (moved, path))
    kb = KnowledgeBase.open(data, COLLECTION, create=False)
    try:
        assert sorted(d.name for d in kb.stale_documents()) == ["lease.pdf", "术后护理须知.pdf"]
        before = kb.search("When is the security deposit returned?", k=1)[0]
        report = kb.import_paths([docs])
        assert report.ok and not report.by_status(FileStatus.UNCHANGED)
        assert kb.stale_documents() == [] and len(kb.documents()) == 2
        after = kb.search("When is the security deposit returned?", k=1)[0]
        assert (after.document, after.page, after.text) == (
            before.document,
            before.page,
            before.text,
        )
        again = kb.import_paths([docs])  # read by this release now: nothing to do
        assert len(again.by_status(FileStatus.UNCHANGED)) == 2
    finally:
        kb.close()


ENCRYPTED = sorted(FIXTURES.glob("encrypted-*"))


def test_an_encrypted_catalog_is_upgraded_like_a_plain_one(next_schema, tmp_path):
    data = copy_release(ENCRYPTED[-1], tmp_path)
    secret = json.loads((data / "secrets.json").read_text())["passphrase"]
    with KnowledgeBase.open(data, COLLECTION, create=False, secret=secret) as kb:
        assert len(kb.documents()) == 2 and kb.search("security deposit", k=1)[0].page == 3
        assert kb.manifest.schema_version == next_schema
        con = kb.catalog.con
        assert schema.catalog_version(con) == next_schema
        assert con.execute("SELECT count(*) FROM documents WHERE reviewed = 0").fetchone()[0] == 2


def test_an_earlier_release_encrypted_now_is_upgraded_under_its_key(tmp_path):
    from kbdesk.core.encryption import encrypt_collection

    data = copy_release(RELEASES[0], tmp_path)  # the oldest: schema 1
    with sqlite3.connect(catalog_of(data)) as con:
        assert schema.catalog_version(con) < schema.SCHEMA_VERSION
    _key, recovery = encrypt_collection(data, COLLECTION, "an older collection, encrypted")
    with KnowledgeBase.open(data, COLLECTION, create=False, secret=recovery) as kb:
        assert kb.manifest.schema_version == schema.SCHEMA_VERSION
        assert schema.catalog_version(kb.catalog.con) == schema.SCHEMA_VERSION
        hit = kb.search("When is the security deposit returned?", k=1)[0]
        assert (hit.document, hit.page) == ("lease.pdf", 3)
        [chat] = kb.chats().list()
        assert kb.chats().answers(chat.id)[0].citations[0].document == "lease.pdf"
