"""SQLite connections for a file shared by threads: one per thread, all closable at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadConnections:
    """One connection per thread to one SQLite file (WAL, foreign keys on, patient on locks).

    Every connection opened is kept by the thread it serves, so close() reaches all of them.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._cons: dict[threading.Thread, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        """The calling thread's connection, opened on first use (again after close())."""
        con = self._cons.get(threading.current_thread())
        return con if con is not None else self._connect()

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False only so that close() and the sweep below may close a
        # connection from another thread; each connection is otherwise used by its own thread.
        con = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
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
