"""Access is enforced by the database: a login granted one collection reaches no other one by any
route (the app, plain SQL with its own login, the partition table directly), a reader cannot
write, and only a collection's administrator grants access."""

from __future__ import annotations

import psycopg
import pytest

from kbdesk.core.errors import AccessDenied, InvalidSetting, ServerError
from kbdesk.core.server import admin
from kbdesk.core.server.collection import SharedCollection
from kbdesk.core.server.push import push


def _sql(address, query: str, params=()) -> list[tuple]:
    """A statement as that login would type it in psql."""
    with psycopg.connect(address.conninfo(), autocommit=True) as con:
        return con.execute(query, params).fetchall()


@pytest.fixture
def two_collections(local_clinic, new_login):
    """The same documents in two shared collections, "open-<name>" and "partners-<name>"."""
    owner = new_login("owner", may_create=True)
    names = (f"open-{local_clinic.name}", f"partners-{local_clinic.name}")
    for name in names:
        push(local_clinic, owner, name)
    return owner, names


def test_a_login_reaches_only_the_collection_it_was_granted(two_collections, new_login, tmp_path):
    owner, (granted, withheld) = two_collections
    junior = new_login("junior")
    admin.set_access(owner, granted, junior.login, "read")

    # the app
    assert [c.name for c in admin.status(junior).collections] == [granted]
    with pytest.raises(AccessDenied, match="may not read a shared collection named"):
        SharedCollection.open(junior, withheld, data_dir=tmp_path)
    with SharedCollection.open(junior, granted, data_dir=tmp_path) as shared:
        assert shared.search("security deposit", 1)[0].document == "lease.pdf"
        assert not shared.writable
        with pytest.raises(AccessDenied, match="may read the shared collection .* but not remove"):
            shared.remove(["lease.pdf"])
        assert "lease.pdf" in {d.name for d in shared.refresh()}

    # plain SQL with the junior's own login: only the granted collection's rows, in every table
    [(withheld_id,)] = _sql(owner, "SELECT id FROM kbdesk.collections WHERE name = %s", (withheld,))
    [(granted_id,)] = _sql(owner, "SELECT id FROM kbdesk.collections WHERE name = %s", (granted,))
    for table in ("collections", "documents", "files", "chunks", "postings"):
        column = "id" if table == "collections" else "collection_id"
        seen = {r[0] for r in _sql(junior, f"SELECT DISTINCT {column} FROM kbdesk.{table}")}
        assert seen == {granted_id}, table
    assert _sql(junior, "SELECT count(*) FROM kbdesk.audit") == [(0,)]  # administrators only

    # the partitions directly: refused, the granted one too
    for collection_id in (withheld_id, granted_id):
        for partition in ("chunks", "postings"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                _sql(junior, f"SELECT count(*) FROM kbdesk.{partition}_{collection_id}")

    # a reader writes nothing, not even into the collection it reads
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        _sql(
            junior,
            "INSERT INTO kbdesk.documents (collection_id, source, name, sha256)"
            " VALUES (%s, 'x', 'x.pdf', 'x') RETURNING id",
            (granted_id,),
        )
    assert _sql(junior, "DELETE FROM kbdesk.documents RETURNING id") == []
    assert _sql(junior, "UPDATE kbdesk.chunks SET text = 'changed' RETURNING id") == []

    # and grants nothing
    with pytest.raises(AccessDenied, match="does not administer a collection named"):
        admin.set_access(junior, granted, junior.login, "admin")
    with pytest.raises(AccessDenied, match="does not administer a collection named"):
        admin.set_access(junior, withheld, junior.login, "read")

    # revoking takes effect at once
    admin.set_access(owner, granted, junior.login, "none")
    assert admin.status(junior).collections == []
    assert _sql(junior, "SELECT count(*) FROM kbdesk.chunks") == [(0,)]
    assert _sql(junior, "SELECT count(*) FROM kbdesk.postings") == [(0,)]


def test_a_writer_writes_only_its_own_collection(two_collections, new_login):
    owner, (granted, withheld) = two_collections
    clerk = new_login("clerk")
    admin.set_access(owner, granted, clerk.login, "write")
    [(withheld_id,)] = _sql(owner, "SELECT id FROM kbdesk.collections WHERE name = %s", (withheld,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        _sql(
            clerk,
            "INSERT INTO kbdesk.documents (collection_id, source, name, sha256)"
            " VALUES (%s, 'x', 'x.pdf', 'x') RETURNING id",
            (withheld_id,),
        )
    [(chunk_id, doc_id)] = _sql(
        owner,
        "SELECT chunk_id, doc_id FROM kbdesk.postings WHERE collection_id = %s LIMIT 1",
        (withheld_id,),
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        _sql(  # a word slipped into another collection's keyword postings
            clerk,
            "INSERT INTO kbdesk.postings (collection_id, lexeme, chunk_id, doc_id, tf, length)"
            " VALUES (%s, 'forged', %s, %s, 9, 9)",
            (withheld_id, chunk_id, doc_id),
        )
    removed = _sql(clerk, "DELETE FROM kbdesk.documents RETURNING collection_id")
    assert removed and {r[0] for r in removed} != {withheld_id}  # only the granted ones
    assert _sql(
        owner, "SELECT count(*) FROM kbdesk.documents WHERE collection_id = %s", (withheld_id,)
    ) == [(3,)]
    # the removals are in the audit, with who did them
    audit = _sql(owner, "SELECT who, action FROM kbdesk.audit WHERE action = 'remove'")
    assert (clerk.login, "remove") in audit


def test_grants_need_an_existing_login_and_a_known_level(two_collections):
    owner, (granted, _withheld) = two_collections
    with pytest.raises(ServerError, match="there is no login named nobody_here"):
        admin.set_access(owner, granted, "nobody_here", "read")
    with pytest.raises(InvalidSetting, match="Unknown access level"):
        admin.set_access(owner, granted, "postgres", "owner")


def test_dropping_a_collection_removes_its_passages_partition_and_roles(two_collections):
    owner, (_granted, withheld) = two_collections
    [(withheld_id,)] = _sql(owner, "SELECT id FROM kbdesk.collections WHERE name = %s", (withheld,))
    admin.drop_collection(owner, withheld)
    for partition in ("chunks", "postings"):
        found = _sql(owner, "SELECT to_regclass(%s)", (f"kbdesk.{partition}_{withheld_id}",))
        assert found == [(None,)], partition
    assert _sql(
        owner, "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", (f"kbdesk_{withheld_id}_%",)
    ) == [(0,)]
    assert _sql(
        owner, "SELECT count(*) FROM kbdesk.documents WHERE collection_id = %s", (withheld_id,)
    ) == [(0,)]
