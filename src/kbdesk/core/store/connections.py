"""SQLite connections for a file shared by threads: one per thread, all closable at once; an
encrypted collection's file through SQLCipher 4 (sqlcipher3), with the collection's raw data key."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from kbdesk.core.errors import CollectionError, WrongKey

try:  # SQLCipher's errors are their own classes, not sqlite3's: catch either
    from sqlcipher3 import dbapi2 as _sqlcipher

    DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.DatabaseError, _sqlcipher.DatabaseError)
    OPERATIONAL_ERRORS: tuple[type[Exception], ...] = (
        sqlite3.OperationalError,
        _sqlcipher.OperationalError,
    )
except ImportError:  # pragma: no cover - sqlcipher3 is a locked dependency
    _sqlcipher = None
    DATABASE_ERRORS, OPERATIONAL_ERRORS = (sqlite3.DatabaseError,), (sqlite3.OperationalError,)


class ThreadConnections:
    """One connection per thread to one SQLite file (WAL, foreign keys on, patient on locks).

    Every connection opened is kept by the thread it serves, so close() reaches all of them.
    """

    def __init__(self, path: Path, key: bytes | None = None):
        self.path = Path(path)
        self.key = key  # the collection's data key: the file is SQLCipher's, not plain SQLite
        self._cons: dict[threading.Thread, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        """The calling thread's connection, opened on first use (again after close())."""
        con = self._cons.get(threading.current_thread())
        return con if con is not None else self._connect()

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False only so that close() and the sweep below may close a
        # connection from another thread; each connection is otherwise used by its own thread.
        con = open_connection(self.path, self.key)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            # Threads that ended (a worker pool retiring one) no longer need theirs.
            for thread in [t for t in self._cons if not t.is_alive()]:
                self._cons.pop(thread).close()
            self._cons[threading.current_thread()] = con
        return con

    def close(self) -> None:
        """Close every connection, whichever thread opened it.

        Call it when no other thread is using the file (the collection is being closed,
        renamed or deleted); a thread that uses it afterwards opens a fresh connection.
        """
        with self._lock:
            cons, self._cons = list(self._cons.values()), {}
        for con in cons:
            con.close()


def open_connection(path: Path, key: bytes | None = None) -> sqlite3.Connection:
    """A connection in autocommit mode; with `key`, to an SQLCipher file under that raw key.

    :raises WrongKey: the key does not open the file (it was left untouched).
    """
    if key is None:
        return sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    cipher = _cipher(path)
    con = cipher.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    con.execute(f"PRAGMA key = {_raw(key)}")
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except cipher.DatabaseError as err:
        con.close()
        raise WrongKey(
            f"The collection's key does not open {Path(path).name} ({err}).",
            hint="Unlock it with its passphrase or recovery key.",
        ) from err
    return con


def export_encrypted(plain: Path, target: Path, key: bytes) -> None:
    """Copy the plain SQLite file `plain` into a new SQLCipher file `target` under `key`
    (sqlcipher_export: tables, indexes and full-text tables, in one pass)."""
    con = _cipher(target).connect(str(plain), timeout=30.0, isolation_level=None)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        version = con.execute("PRAGMA user_version").fetchone()[0]
        quoted = str(target).replace("'", "''")
        con.execute(f"ATTACH DATABASE '{quoted}' AS encrypted KEY {_raw(key)}")
        con.execute("SELECT sqlcipher_export('encrypted')")
        con.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        con.execute("DETACH DATABASE encrypted")
    finally:
        con.close()


def _cipher(path: Path):
    """The SQLCipher module, or a sentence saying the installation lacks it."""
    if _sqlcipher is None:
        raise CollectionError(
            f"{Path(path).name} is encrypted, and this installation of kbdesk lacks SQLCipher.",
            hint="Reinstall kbdesk.",
        )
    return _sqlcipher


def _raw(key: bytes) -> str:
    """A raw 256-bit key as SQLCipher takes it: no key derivation on every open, the key is
    random already."""
    return f"\"x'{key.hex()}'\""
