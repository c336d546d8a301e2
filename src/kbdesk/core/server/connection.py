"""Connecting to a practice's shared server: its address (TLS with the server's certificate and
name checked unless the address says otherwise), the login's password from the system key store,
and the server's failures as kbdesk's own errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import conninfo, errors
from psycopg_pool import ConnectionPool, PoolTimeout

from kbdesk.core.crypt import keystore
from kbdesk.core.errors import AccessDenied, InvalidSetting, ServerError, ServerUnreachable

DEFAULT_SSLMODE = "verify-full"  # a practice's server is reached over its network: check it
CONNECT_TIMEOUT_S = 5  # an unreachable server fails fast; the window never waits on it
STATEMENT_TIMEOUT_MS = 60_000  # no statement holds a reader's window for longer
UNREACHABLE_HINT = "Local collections are unaffected; check the address and the network, or ask IT."
# What libpq says when the login itself is refused (not a network failure).
_REFUSED_LOGIN = ("password authentication failed", 'role "', "no password supplied", "pg_hba")


@dataclass(frozen=True)
class ServerAddress:
    """A server as the user gave it (a libpq URL or key=value string), with kbdesk's defaults."""

    url: str

    def params(self) -> dict[str, str]:
        try:
            params = {k: str(v) for k, v in conninfo.conninfo_to_dict(self.url).items()}
        except psycopg.ProgrammingError as err:
            raise InvalidSetting(
                f"'{self.url}' is not a server address.",
                hint="Write it as postgresql://LOGIN@HOST:5432/DATABASE.",
            ) from err
        host = params.get("host", "")
        # A local socket (a folder) carries no TLS; everything else checks the certificate.
        if host and not host.startswith("/"):
            params.setdefault("sslmode", DEFAULT_SSLMODE)
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
        params.setdefault("application_name", "kbdesk")
        return params

    @property
    def login(self) -> str:
        return self.params().get("user", "")

    @property
    def account(self) -> str:
        """The key store's name for this login on this server: "login@host:port/database"."""
        p = self.params()
        return (
            f"{p.get('user', '')}@{p.get('host', '')}:{p.get('port', '5432')}/{p.get('dbname', '')}"
        )

    @property
    def shown(self) -> str:
        """The address without any password, for messages and logs."""
        p = self.params()
        return f"{p.get('host') or 'local socket'}/{p.get('dbname', p.get('user', ''))}"

    def without_password(self) -> tuple[ServerAddress, str | None]:
        """The address with the password it carries taken out, and that password: a password
        belongs in the key store, never in settings.json beside the address."""
        password = self.params().get("password")
        if password is None:
            return self, None
        if "://" not in self.url:  # key=value form
            params = conninfo.conninfo_to_dict(self.url)
            params.pop("password", None)
            return ServerAddress(conninfo.make_conninfo("", **params)), password
        parts = urlsplit(self.url)
        userinfo, at, hostport = parts.netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}{at}{hostport}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
        return ServerAddress(urlunsplit(parts._replace(netloc=netloc, query=query))), password

    def remember(self, password: str) -> bool:
        """Keep this login's password in the system key store; False where there is none."""
        return keystore.remember_password(self.account, password)

    def conninfo(self, password: str | None = None) -> str:
        params = self.params()
        if password is None and "password" not in params:
            password = keystore.recall_password(self.account)
        if password:
            params["password"] = password
        return conninfo.make_conninfo(**params)


def connect(address: ServerAddress, password: str | None = None) -> psycopg.Connection:
    """A connection in autocommit mode (each transaction is opened with `transaction()`), with
    pgvector's types registered when the server has them.

    :raises ServerUnreachable: no answer within CONNECT_TIMEOUT_S.
    :raises AccessDenied: the server refused this login.
    """
    try:
        con = psycopg.connect(address.conninfo(password), autocommit=True)
    except psycopg.OperationalError as err:
        text = str(err)
        if any(s in text for s in _REFUSED_LOGIN):
            raise AccessDenied(
                f"The shared server {address.shown} refused the login '{address.login}'.",
                hint="Check the login and its password, or ask IT to create the login.",
            ) from err
        raise ServerUnreachable(
            f"The shared server {address.shown} did not answer ({_first_line(text)}).",
            hint=UNREACHABLE_HINT,
        ) from err
    prepare(con)
    return con


def prepare(con: psycopg.Connection) -> None:
    """Every connection's settings: a statement time limit, pgvector's types where installed."""
    con.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    if con.execute("SELECT 1 FROM pg_type WHERE typname = 'vector'").fetchone():
        from pgvector.psycopg import register_vector

        register_vector(con)


def open_pool(address: ServerAddress, password: str | None = None, size: int = 4) -> ConnectionPool:
    """Connections for one open shared collection (searches from several threads at once).
    Callers connect once first (connect()), which says in words whether the server answers and
    takes the login; the pool itself only reports a timeout."""
    pool = ConnectionPool(
        address.conninfo(password),
        kwargs={"autocommit": True},
        configure=prepare,
        min_size=1,
        max_size=size,
        timeout=CONNECT_TIMEOUT_S,
        open=False,
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except PoolTimeout as err:
        pool.close()
        raise ServerUnreachable(
            f"The shared server {address.shown} did not answer.", hint=UNREACHABLE_HINT
        ) from err
    return pool


@contextmanager
def server_errors(address: ServerAddress) -> Iterator[None]:
    """Turns the server's failures during a request into kbdesk's errors."""
    try:
        yield
    except errors.InsufficientPrivilege as err:
        raise AccessDenied(
            f"The shared server {address.shown} does not let '{address.login}' do that "
            f"({_first_line(str(err))}).",
            hint="A collection's administrator can grant access.",
        ) from err
    except errors.QueryCanceled as err:  # an OperationalError, but the server is there
        raise ServerError(
            f"The shared server {address.shown} stopped a request that took longer than "
            f"{STATEMENT_TIMEOUT_MS // 1000} seconds.",
            hint="Try again; if it happens again, the server is overloaded: ask IT.",
        ) from err
    except (psycopg.OperationalError, PoolTimeout) as err:
        raise ServerUnreachable(
            f"The connection to the shared server {address.shown} was lost "
            f"({_first_line(str(err))}).",
            hint=UNREACHABLE_HINT,
        ) from err
    except psycopg.Error as err:
        raise ServerError(
            f"The shared server {address.shown} refused the request: {_first_line(str(err))}"
        ) from err


def scalar(con: psycopg.Connection, query: str, params: Any = None) -> Any:
    """The first column of the one row a query returns (a count, a flag, a name)."""
    row = con.execute(query, params).fetchone()
    if row is None:
        raise ServerError(f"The shared server returned nothing for: {query.split()[0]} ...")
    return row[0]


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["no details"])[0]
