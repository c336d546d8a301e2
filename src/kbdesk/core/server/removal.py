"""Removing documents from a shared collection: one transaction, recorded in the server's audit
table (who, when, what) by its own trigger; a login that may only read is refused in words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import closing

import psycopg

from kbdesk.core.server import admin
from kbdesk.core.server.admin import SharedCollectionInfo
from kbdesk.core.server.connection import ServerAddress, connect, server_errors


def delete(
    con: psycopg.Connection,
    target: SharedCollectionInfo,
    address: ServerAddress,
    doc_ids: Sequence[int],
) -> list[tuple[int, str]]:
    """Delete documents of `target` by id, with their passages and original files, all or none;
    returns (id, name) of those deleted (an id not there, or no longer writable, is skipped).

    :raises AccessDenied: the login may only read `target`."""
    admin.require_write(target, address, "remove documents from it")
    with con.transaction():
        rows = con.execute(
            "DELETE FROM kbdesk.documents WHERE collection_id = %s AND id = ANY(%s)"
            " RETURNING id, name",
            (target.id, list(doc_ids)),
        ).fetchall()
    return [(int(r[0]), r[1]) for r in rows]


def remove_documents(
    address: ServerAddress,
    collection: str,
    names: Iterable[str],
    *,
    password: str | None = None,
) -> list[str]:
    """Remove the documents named `names` (as the collection lists them); returns the names
    removed (a name not there is skipped).

    :raises AccessDenied: the login may not read the collection, or may only read it."""
    with closing(connect(address, password)) as con, server_errors(address):
        admin.require_schema(con, address)
        target = admin.readable(con, address, collection)
        ids = con.execute(
            "SELECT id FROM kbdesk.documents WHERE collection_id = %s AND name = ANY(%s)",
            (target.id, list(names)),
        ).fetchall()
        return sorted({name for _, name in delete(con, target, address, [r[0] for r in ids])})
