"""Administering a shared server: preparing it once (extension, schema, roles), its upgrade,
creating collections, granting and revoking access, and what a login may see (status)."""

from __future__ import annotations

import re
from contextlib import closing
from dataclasses import dataclass

import psycopg

from kbdesk.core.errors import AccessDenied, InvalidSetting, ServerError
from kbdesk.core.server import schema
from kbdesk.core.server.connection import ServerAddress, connect, scalar, server_errors

ACCESS_LEVELS = ("read", "write", "admin")  # what `grant` gives; each includes the ones before


@dataclass(frozen=True)
class SharedCollectionInfo:
    """A collection on the server as one login sees it."""

    id: int
    name: str
    embedder: str
    dim: int
    chunk_size: int
    chunk_overlap: int
    access: str  # read, write or admin
    documents: int
    passages: int
    words: str  # the text search configuration its keywords are counted by (schema.TS_CONFIG)
    graph: bool  # has its HNSW graph; a first large upload builds it only at its end


@dataclass(frozen=True)
class ServerStatus:
    address: str
    login: str
    server_version: str
    pgvector: str
    schema_version: int | None
    may_create: bool
    collections: list[SharedCollectionInfo]


def schema_version(con: psycopg.Connection) -> int | None:
    """The version the server's kbdesk schema records; None where init never ran."""
    if not scalar(con, "SELECT to_regclass('kbdesk.meta')"):
        return None
    row = con.execute("SELECT value FROM kbdesk.meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def init_server(address: ServerAddress, password: str | None = None) -> str:
    """Prepare a server for kbdesk (pgvector, the kbdesk schema, its roles), or upgrade its
    schema; safe to run again. Needs a superuser login, once. Returns what was done."""
    with closing(connect(address, password)) as con, server_errors(address):
        if not scalar(con, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            raise AccessDenied(
                f"Preparing the server needs a superuser login; '{address.login}' is not one.",
                hint="Run it once as the server's administrator (for example the postgres login).",
            )
        row = con.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
        ).fetchone()
        if row is None or _version(row[0]) < schema.MIN_PGVECTOR:
            have = f"pgvector {row[0]}" if row else "no pgvector"
            wanted = ".".join(map(str, schema.MIN_PGVECTOR))
            raise ServerError(
                f"The server {address.shown} has {have}; kbdesk needs pgvector {wanted} or newer.",
                hint="Install the PostgreSQL project's postgresql-NN-pgvector package "
                "(docs/shared-server.md), then run this again.",
            )
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(hashtext('kbdesk init'))")
            con.execute("SET LOCAL statement_timeout = 0")  # an upgrade rewrites every collection
            con.execute("CREATE EXTENSION IF NOT EXISTS vector")
            found = schema_version(con)
            if found is not None and found > schema.SCHEMA_VERSION:
                raise ServerError(
                    f"The server's kbdesk schema is version {found}, newer than this kbdesk "
                    f"({schema.SCHEMA_VERSION}).",
                    hint="Update kbdesk on this computer.",
                )
            if found is None:
                con.execute(schema.ROLES)
                con.execute(f"SET LOCAL ROLE {schema.OWNER}")
                vectors = scalar(
                    con,
                    "SELECT extnamespace::regnamespace::text FROM pg_extension"
                    " WHERE extname = 'vector'",
                )
                con.execute(schema.tables(vectors.strip('"')))
                for table in schema.PROTECTED:
                    con.execute(schema.policies(table))
                con.execute("INSERT INTO kbdesk.meta VALUES ('schema_version', '1')")
                _upgrade(con, 1)
                done = f"Prepared {address.shown} for kbdesk (schema {schema.SCHEMA_VERSION})."
            elif found < schema.SCHEMA_VERSION:
                con.execute(f"SET LOCAL ROLE {schema.OWNER}")
                _upgrade(con, found)
                done = (
                    f"Upgraded {address.shown}'s kbdesk schema {found} -> {schema.SCHEMA_VERSION}."
                )
            else:
                done = f"{address.shown} is already prepared for kbdesk (schema {found})."
        return done


def _upgrade(con: psycopg.Connection, found: int) -> None:
    """Run the schema's steps from version `found` to this kbdesk's, as the schema's owner, in
    the caller's transaction (all or nothing)."""
    for version in range(found + 1, schema.SCHEMA_VERSION + 1):
        for statement in schema.MIGRATIONS[version]:
            con.execute(statement)
    con.execute(
        "UPDATE kbdesk.meta SET value = %s WHERE key = 'schema_version'",
        (str(schema.SCHEMA_VERSION),),
    )


def require_schema(con: psycopg.Connection, address: ServerAddress) -> None:
    found = schema_version(con)
    if found is None:
        raise ServerError(
            f"{address.shown} has not been prepared for kbdesk.",
            hint="Its administrator prepares it once (kbdesk server init; docs/shared-server.md).",
        )
    if found != schema.SCHEMA_VERSION:
        side = "this kbdesk" if found > schema.SCHEMA_VERSION else "the server"
        raise ServerError(
            f"The server's kbdesk schema is version {found}; this kbdesk uses "
            f"{schema.SCHEMA_VERSION}.",
            hint=f"Update {side} (kbdesk server init upgrades the server).",
        )


def collections(con: psycopg.Connection) -> list[SharedCollectionInfo]:
    """The collections this login may read (row-level security hides the others)."""
    if not scalar(con, "SELECT has_table_privilege('kbdesk.collections', 'SELECT')"):
        return []  # a login never granted any collection
    rows = con.execute(
        """
        SELECT c.id, c.name, c.embedder, c.dim, c.chunk_size, c.chunk_overlap,
               CASE WHEN c.id IN (SELECT kbdesk.granted('admin')) THEN 'admin'
                    WHEN c.id IN (SELECT kbdesk.granted('write')) THEN 'write'
                    ELSE 'read' END,
               (SELECT count(*) FROM kbdesk.documents d WHERE d.collection_id = c.id),
               (SELECT coalesce(sum(d.chunks), 0) FROM kbdesk.documents d
                WHERE d.collection_id = c.id),
               c.words::text,
               kbdesk.graph_of(c.id) IS NOT NULL
        FROM kbdesk.collections c ORDER BY c.name
        """
    ).fetchall()
    return [
        SharedCollectionInfo(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], int(r[7]), int(r[8]), r[9], bool(r[10])
        )
        for r in rows
    ]


def find_collection(con: psycopg.Connection, name: str) -> SharedCollectionInfo | None:
    return next((c for c in collections(con) if c.name == name), None)


def readable(con: psycopg.Connection, address: ServerAddress, name: str) -> SharedCollectionInfo:
    """The collection `name` as this login sees it.

    :raises AccessDenied: the login may not read a collection of that name (the server does
        not say whether one exists)."""
    info = find_collection(con, name)
    if info is None:
        raise AccessDenied(
            f"'{address.login}' may not read a shared collection named '{name}' on "
            f"{address.shown}.",
            hint="Its administrator can grant access.",
        )
    return info


def require_write(target: SharedCollectionInfo, address: ServerAddress, change: str) -> None:
    """Refuse a login that may only read `target`; `change` is what it tried ("add to it")."""
    if target.access == "read":
        raise AccessDenied(
            f"'{address.login}' may read the shared collection '{target.name}' but not {change}.",
            hint="Its administrator can grant write access.",
        )


def may_create(con: psycopg.Connection) -> bool:
    """Whether this login may create collections (a member of kbdesk_admins)."""
    return bool(
        scalar(
            con,
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)"
            " THEN pg_has_role(current_user, %s, 'MEMBER') ELSE false END",
            (schema.ADMINS, schema.ADMINS),
        )
    )


def create_collection(
    con: psycopg.Connection,
    name: str,
    embedder: str,
    dim: int,
    chunk_size: int,
    chunk_overlap: int,
) -> SharedCollectionInfo:
    """A new, empty collection whose administrator is this login (a member of kbdesk_admins)."""
    if not name.strip():
        raise InvalidSetting("A shared collection needs a name.")
    if not may_create(con):
        login = scalar(con, "SELECT current_user")
        raise AccessDenied(
            f"'{login}' may not create shared collections, and none named '{name}' is shared "
            "with it.",
            hint="Ask the server's administrator to create it and grant this login write access.",
        )
    try:
        with con.transaction():
            con.execute(
                "SELECT kbdesk.create_collection(%s, %s, %s, %s, %s)",
                (name, embedder, dim, chunk_size, chunk_overlap),
            )
    except psycopg.errors.UniqueViolation as err:  # there, but not readable by this login
        raise AccessDenied(
            f"A shared collection named '{name}' exists, and this login may not add to it.",
            hint="Its administrator can grant write access, or choose another name.",
        ) from err
    found = find_collection(con, name)
    if found is None:  # created in the transaction above; only a concurrent drop hides it
        raise ServerError(f"The shared collection '{name}' vanished as it was created.")
    return found


def set_access(
    address: ServerAddress, collection: str, login: str, level: str, password: str | None = None
) -> None:
    """Give `login` exactly `level` (ACCESS_LEVELS, or "none") on a collection; the caller must
    administer that collection."""
    if level not in (*ACCESS_LEVELS, "none"):
        raise InvalidSetting(f"Unknown access level '{level}'.", hint="Use read, write or admin.")
    with closing(connect(address, password)) as con, server_errors(address):
        require_schema(con, address)
        with con.transaction():
            con.execute("SELECT kbdesk.set_access(%s, %s, %s)", (collection, login, level))


def drop_collection(address: ServerAddress, collection: str, password: str | None = None) -> None:
    with closing(connect(address, password)) as con, server_errors(address):
        require_schema(con, address)
        with con.transaction():
            con.execute("SELECT kbdesk.drop_collection(%s)", (collection,))


def status(address: ServerAddress, password: str | None = None) -> ServerStatus:
    with closing(connect(address, password)) as con, server_errors(address):
        row = con.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        found = schema_version(con)
        return ServerStatus(
            address.shown,
            scalar(con, "SELECT current_user"),
            scalar(con, "SHOW server_version"),
            row[0] if row else "",
            found,
            may_create(con),
            collections(con) if found == schema.SCHEMA_VERSION else [],
        )
