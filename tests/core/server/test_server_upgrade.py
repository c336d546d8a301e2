"""What an earlier kbdesk left on a shared server (tests/fixtures/shared-schema-*.sql, made by
make_shared_dump.py) is upgraded by `kbdesk server init` and searched as before; the upgraded
server takes new uploads."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pgserver
import psycopg
import pytest

from kbdesk.core.server import admin, schema
from kbdesk.core.server.collection import SharedCollection
from kbdesk.core.server.connection import ServerAddress
from kbdesk.core.server.push import push

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DUMPS = sorted(FIXTURES.glob("shared-schema-*.sql"))
QUESTIONS = ["When is the security deposit returned?", "术后多久可以洗澡？", "amlodipine dose"]


def test_a_dump_of_every_earlier_server_schema_exists():
    versions = {int(d.stem.rsplit("-", 1)[1]) for d in DUMPS}
    assert versions >= set(range(1, schema.SCHEMA_VERSION)), "make_shared_dump.py writes them"


@pytest.fixture(params=DUMPS, ids=lambda p: p.stem)
def restored(request, superuser) -> Iterator[ServerAddress]:
    """A database of the test server holding the dump, as that kbdesk left it."""
    name = "kbdesk_" + request.param.stem.replace("-", "_")
    with psycopg.connect(superuser.conninfo(), autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        con.execute(f"CREATE DATABASE {name}")
    address = ServerAddress(superuser.url.replace("/postgres?", f"/{name}?"))
    with psycopg.connect(address.conninfo(), autocommit=True) as con:
        con.execute("CREATE EXTENSION vector")
    psql = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    command = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", address.url]
    subprocess.run([*command, "-f", str(request.param)], check=True, capture_output=True)
    yield address
    with psycopg.connect(superuser.conninfo(), autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_an_earlier_servers_collection_is_upgraded_and_searched_as_before(
    restored, local_clinic, tmp_path
):
    with psycopg.connect(restored.conninfo()) as con:
        earlier = admin.schema_version(con)
    assert earlier is not None and earlier < schema.SCHEMA_VERSION
    assert f"-> {schema.SCHEMA_VERSION}." in admin.init_server(restored)
    with psycopg.connect(restored.conninfo(), autocommit=True) as con:
        [(lexemes, postings)] = con.execute(
            "SELECT (SELECT sum(length(keywords)) FROM kbdesk.chunks),"
            " (SELECT count(*) FROM kbdesk.postings)"
        ).fetchall()
        assert postings == lexemes > 0  # every word of every passage, once
        # collection ids are per database, their group roles per server: clear of the main
        # test database's
        con.execute("ALTER TABLE kbdesk.collections ALTER COLUMN id RESTART WITH 900001")

    def answers(shared: SharedCollection) -> list[tuple]:
        return [
            (h.document, h.page)
            for question in QUESTIONS
            for mode in ("keyword", "hybrid")
            for h in shared.search(question, 2, mode)
        ]

    local = [
        (h.document, h.page)
        for question in QUESTIONS
        for mode in ("keyword", "hybrid")
        for h in local_clinic.search(question, 2, mode)
    ]
    with SharedCollection.open(restored, "clinic", data_dir=tmp_path / "a") as shared:
        # its words were counted by the stemmer of its time (Porter's from schema 2)
        assert shared.info.words == (schema.TS_CONFIG if earlier == 1 else schema.PORTER_CONFIG)
        assert answers(shared) == local
    # a new upload on the upgraded server: Porter's stemmer, as the local keyword index
    push(local_clinic, restored, "after-upgrade")
    with SharedCollection.open(restored, "after-upgrade", data_dir=tmp_path / "b") as shared:
        assert shared.info.words == schema.PORTER_CONFIG
        assert answers(shared) == local
    admin.drop_collection(restored, "after-upgrade")  # its group roles are the server's
