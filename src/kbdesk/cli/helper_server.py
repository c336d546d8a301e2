"""The warm helper process: answers `kbdesk ask` questions for one data folder with a model,
encoder and jieba it keeps loaded, one question at a time, and exits after some idle minutes.

Started by cli/helper.py as `python -m kbdesk.cli.helper_server DATA_DIR IDLE_SECONDS`. It holds
an exclusive lock on the folder's lock file for its whole life, so there is never a second one;
a socket file left by a helper that died is removed by the next one, which only does so while
holding the lock. Each question opens the collection afresh (see ask_request.answer), so an
import made meanwhile is seen; nothing is written but what `kbdesk ask` itself writes (chats).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO

from kbdesk.cli.ask_request import AskRequest, answer
from kbdesk.cli.helper import (
    EXIT_LOCKED,
    HEARTBEAT_S,
    HELLO_TIMEOUT_S,
    LOCK_WAIT_S,
    PROTOCOL,
    HelperPlace,
    fingerprint,
    place,
    receive,
    same_user,
    send,
)
from kbdesk.core.errors import KbdeskError
from kbdesk.core.jobs import CancelToken

log = logging.getLogger("kbdesk.helper")


class Connection:
    """One client: sends from two threads; its answer is cancelled when the client goes away."""

    def __init__(self, sock: socket.socket, cancel: CancelToken):
        self.sock = sock
        self.cancel = cancel
        self.lock = threading.Lock()

    def send(self, message: tuple) -> None:
        with self.lock:
            if self.cancel.cancelled:
                return
            try:
                send(self.sock, message)
            except OSError:
                self.cancel.cancel()

    def hung_up(self) -> bool:
        readable, _, _ = select.select([self.sock], [], [], 0)
        if not readable:
            return False
        try:
            return not self.sock.recv(1, socket.MSG_PEEK)
        except OSError:
            return True


class Helper:
    def __init__(self, where: HelperPlace, idle_s: float, code: str):
        from kbdesk.core.assistant import ModelCache
        from kbdesk.core.paths import AppPaths

        self.where = where
        self.idle_s = idle_s
        self.code = code  # the fingerprint of the code this process runs
        self.models = ModelCache(AppPaths.resolve(where.data_dir).model_dirs)
        self.answering = threading.Lock()  # one question at a time: they share the model
        self.busy = 0  # connections open now
        self.last_active = time.monotonic()
        self.state = threading.Lock()
        self.stopping = threading.Event()
        self.bound: tuple[int, int] | None = None  # (device, inode) of the socket file it made

    def serve(self, server: socket.socket) -> None:
        server.settimeout(0.5)
        while not self.stopping.is_set():
            try:
                sock, _ = server.accept()
            except TimeoutError:
                with self.state:
                    idle = not self.busy and time.monotonic() - self.last_active > self.idle_s
                if idle:
                    log.info("idle for %.0f s; exiting", self.idle_s)
                    return
                if not self.busy and not self.where.data_dir.is_dir():
                    log.info("%s is gone; exiting", self.where.data_dir)
                    return
                continue
            with self.state:
                self.busy += 1
            threading.Thread(target=self.handle, args=(sock,), daemon=True).start()

    def handle(self, sock: socket.socket) -> None:
        try:
            with sock:
                self._converse(sock)
        except Exception:  # one client's trouble never ends the helper
            log.exception("a connection failed")
        finally:
            with self.state:
                self.busy -= 1
                self.last_active = time.monotonic()

    def _converse(self, sock: socket.socket) -> None:
        if not same_user(sock):
            return
        sock.settimeout(HELLO_TIMEOUT_S)
        hello = receive(sock)
        if hello[:1] != ("hello",):
            return
        if tuple(hello[1:3]) != (PROTOCOL, self.code):
            send(sock, ("other code", PROTOCOL, self.code))
            self.stop("a client runs other code")
            return
        send(sock, ("welcome", os.getpid()))
        message = receive(sock)
        if message[0] == "stop":
            self.stop("asked to")
            send(sock, ("stopping",))
        elif message[0] == "ask" and isinstance(message[1], AskRequest):
            sock.settimeout(None)
            self._answer(Connection(sock, CancelToken()), message[1], bool(message[2]))

    def _answer(self, conn: Connection, request: AskRequest, stream: bool) -> None:
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(conn, done), daemon=True)
        watcher.start()
        try:
            if Path(request.data_dir) != self.where.data_dir:
                raise RuntimeError(f"a question for {request.data_dir}, not this helper's folder")
            with self.answering:
                conn.cancel.raise_if_cancelled()
                on_token = (lambda piece: conn.send(("token", piece))) if stream else None
                result = answer(request, self.models, on_token=on_token, cancel=conn.cancel)
            conn.send(("reply", *result))
        except KbdeskError as exc:
            conn.send(("error", _portable(exc)))
        except Exception:
            log.exception("answering failed")
            conn.send(("crash", traceback.format_exc()))
        finally:
            done.set()
            watcher.join()

    @staticmethod
    def _watch(conn: Connection, done: threading.Event) -> None:
        """Says "alive" every few seconds; cancels the answer when the client hangs up."""
        while not done.wait(HEARTBEAT_S):
            if conn.hung_up():
                conn.cancel.cancel()
                return
            conn.send(("alive",))

    def stop(self, why: str) -> None:
        """Take no more questions (the socket goes at once); answers under way still finish."""
        if not self.stopping.is_set():
            log.info("stopping: %s", why)
            self.stopping.set()
            _remove_socket(self.where.socket, self.bound)

    def wait_for_answers(self) -> None:
        """Until no connection is open: answers under way finish before the model closes."""
        while True:
            with self.state:
                if not self.busy:
                    return
            time.sleep(0.1)


def _portable(exc: KbdeskError) -> KbdeskError:
    """The error itself if the client can rebuild it, or a KbdeskError that reads the same."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return KbdeskError(exc.message, hint=exc.hint, remedy=exc.remedy)


def _remove_socket(path: Path, bound: tuple[int, int] | None) -> None:
    """Unlink the socket file if it is still the one this helper bound."""
    with contextlib.suppress(OSError):
        st = os.lstat(path)
        if bound is not None and (st.st_dev, st.st_ino) == bound:
            os.unlink(path)


def _lock(where: HelperPlace) -> IO[str] | None:
    """The data folder's helper lock, held until this process exits; None if another holds it."""
    import fcntl

    fh = open(where.lock, "a+")  # noqa: SIM115 - held open for the process's life
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() > deadline:
                fh.close()
                return None
            time.sleep(0.05)
            continue
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        return fh


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    data_dir, idle_s = Path(args[0]), float(args[1])
    code = args[2] if len(args) > 2 else fingerprint()  # a third argument: tests of a mismatch
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s"
    )
    log.setLevel(logging.INFO)  # its own comings and goings; the libraries' chatter is not news
    where = place(data_dir)
    if where is None:
        return 1
    lock = _lock(where)
    if lock is None:
        return EXIT_LOCKED
    # Holding the lock, no other helper uses the socket path: a file there is a dead one's.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(where.socket)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)  # the socket file is this user's only
    try:
        server.bind(os.fspath(where.socket))
    finally:
        os.umask(old_mask)
    server.listen(16)
    st = os.lstat(where.socket)
    helper = Helper(where, idle_s, code)
    helper.bound = (st.st_dev, st.st_ino)
    log.info("pid %d serving %s (idle exit after %.0f s)", os.getpid(), data_dir, idle_s)
    try:
        helper.serve(server)
    finally:
        helper.stop("exiting")
        server.close()
        helper.wait_for_answers()
        helper.models.close()
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
