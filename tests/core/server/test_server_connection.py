"""Reaching the shared server: TLS checked by default, the password from the key store, clear
messages (never a hang) when the server is unreachable, goes away mid-search, is not prepared or
the login may not prepare it."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from contextlib import closing
from pathlib import Path

import pytest

from kbdesk.core.errors import AccessDenied, InvalidSetting, ServerError, ServerUnreachable
from kbdesk.core.server import admin
from kbdesk.core.server.collection import SharedCollection
from kbdesk.core.server.connection import (
    CONNECT_TIMEOUT_S,
    ServerAddress,
    connect,
    server_errors,
)
from kbdesk.core.server.push import push
from tests.shared_server import address_of, start_server


def test_a_network_address_checks_the_servers_certificate_unless_told_otherwise():
    assert ServerAddress("postgresql://ana@db.firm.example/kb").params()["sslmode"] == "verify-full"
    told = ServerAddress("postgresql://ana@db.firm.example/kb?sslmode=require")
    assert told.params()["sslmode"] == "require"
    assert "sslmode" not in ServerAddress("postgresql://ana@/kb?host=/run/postgresql").params()
    assert (
        ServerAddress("host=db.firm.example user=ana dbname=kb").account
        == "ana@db.firm.example:5432/kb"
    )
    with pytest.raises(InvalidSetting, match="is not a server address"):
        ServerAddress("db.firm.example kb").params()


def test_the_password_comes_from_the_key_store(key_store):
    address = ServerAddress("postgresql://ana@db.firm.example/kb")
    assert "password" not in address.conninfo()
    assert address.remember("s3cret pass")
    assert "password='s3cret pass'" in address.conninfo()
    assert "password=typed" in address.conninfo("typed")


@pytest.mark.parametrize(
    ("typed", "kept", "password"),
    [
        (
            "postgresql://ana:s3cr%40t@db.firm.example:5433/kb?sslmode=require",
            "postgresql://ana@db.firm.example:5433/kb?sslmode=require",
            "s3cr@t",
        ),
        (
            "postgresql://ana@db/kb?password=x&sslmode=verify-ca",
            "postgresql://ana@db/kb?sslmode=verify-ca",
            "x",
        ),
        ("host=db user=ana password='a b' dbname=kb", "user=ana dbname=kb host=db", "a b"),
        ("postgresql://ana@db/kb", "postgresql://ana@db/kb", None),
    ],
)
def test_a_password_written_into_the_address_is_taken_out_of_it(typed, kept, password):
    address, taken = ServerAddress(typed).without_password()
    assert (address.url, taken) == (kept, password)
    assert "password" not in address.params()
    assert address.account == ServerAddress(typed).account  # the same key store entry


def test_an_unreachable_server_fails_fast_with_a_plain_message():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = ServerAddress(f"postgresql://ana@127.0.0.1:{port}/kb?sslmode=disable")
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match="did not answer.*Local collections are unaffected"):
        admin.status(address)
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 5


def test_preparing_needs_a_superuser_and_an_unprepared_server_says_so(new_login, tmp_path):
    with pytest.raises(AccessDenied, match="needs a superuser login"):
        admin.init_server(new_login())
    folder = Path(tempfile.mkdtemp(prefix="kbdesk-pg-"))
    server = start_server(folder)
    try:
        bare = address_of(folder)
        assert admin.status(bare).schema_version is None
        with pytest.raises(ServerError, match="has not been prepared for kbdesk"):
            SharedCollection.open(bare, "anything", data_dir=tmp_path)
        assert "Prepared" in admin.init_server(bare)
        assert "already prepared" in admin.init_server(bare)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def test_the_server_going_away_mid_session_is_a_clear_error(local_clinic, tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="kbdesk-pg-"))
    server = start_server(folder)
    try:
        address = address_of(folder)
        admin.init_server(address)
        push(local_clinic, address, "going")
        shared = SharedCollection.open(address, "going", data_dir=tmp_path)
        assert shared.search("security deposit", 1)[0].document == "lease.pdf"
        server.cleanup()  # the server stops
        started = time.monotonic()
        with pytest.raises(ServerUnreachable, match="Local collections are unaffected"):
            shared.search("security deposit", 1)
        assert time.monotonic() - started < 30
        shared.close()
        # the local collection is untouched
        assert local_clinic.search("security deposit", 1)[0].document == "lease.pdf"
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_request_the_server_stops_for_time_says_so_not_that_the_server_is_gone(superuser):
    with closing(connect(superuser)) as con:
        con.execute("SET statement_timeout = 50")
        stopped = pytest.raises(ServerError, match="stopped a request that took longer than")
        with stopped as err, server_errors(superuser):
            con.execute("SELECT pg_sleep(2)")
    assert not isinstance(err.value, ServerUnreachable)
