"""The warm helper, client side: `kbdesk ask` hands its question to a background process that
keeps the answer model, the encoder and jieba loaded, one per data folder, started on first use.

A fresh `kbdesk ask` spends seconds loading before it evaluates the prompt (bench/RESULTS.md,
"Where the seconds of `kbdesk ask` go"); the helper pays that once and keeps the cached prompt
prefix. It can make an answer faster, never different or missing: whatever goes wrong with it
(it cannot start, it crashed or hangs, it runs other code) ends in None here and the caller
answers in its own process. POSIX only: a Unix socket in a folder only this user can enter.
KBDESK_HELPER=0 (or `kbdesk ask --no-helper`) turns it off; KBDESK_HELPER_IDLE sets how many
seconds a helper waits for the next question before it exits (default 300).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kbdesk
from kbdesk.cli.ask_request import AskRequest
from kbdesk.core.errors import KbdeskError
from kbdesk.core.types import Answer

log = logging.getLogger(__name__)

ENV_SWITCH = "KBDESK_HELPER"
ENV_IDLE = "KBDESK_HELPER_IDLE"
IDLE_S = 300.0
PROTOCOL = 1
EXIT_LOCKED = 3  # the helper's exit status when another helper holds the data folder's lock
# Starting: a fresh interpreter imports kbdesk and binds its socket in well under a second; a
# cold disk or a busy machine can take several. The helper's lock wait is short on purpose: a
# helper that is still finishing another version's answer makes this call answer in-process.
START_TIMEOUT_S = 30.0
LOCK_WAIT_S = 2.0
HELLO_TIMEOUT_S = 5.0  # a helper answers "hello" from its own thread, even while answering
HEARTBEAT_S = 2.0  # the helper says "alive" this often while it evaluates and decodes
SILENCE_S = 30.0  # no word from the helper for this long: it is hung, answer in-process
MAX_FRAME = 64 << 20
MAX_LOG = 1 << 20
_MAX_SOCKET_PATH = 100  # sun_path holds 104 (macOS) to 108 (Linux) bytes

_spawned: list[subprocess.Popen] = []  # kept referenced: a started helper outlives this call


@dataclass(frozen=True)
class HelperPlace:
    """Where the helper of one data folder listens, locks and logs."""

    data_dir: Path
    socket: Path
    lock: Path
    log: Path


def enabled() -> bool:
    off = os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "off", "no", "false")
    frozen = getattr(sys, "frozen", False)  # a frozen app has no `python -m` to start it with
    return not off and not frozen and hasattr(socket, "AF_UNIX") and hasattr(os, "getuid")


def idle_seconds() -> float:
    try:
        return max(1.0, float(os.environ.get(ENV_IDLE, IDLE_S)))
    except ValueError:
        return IDLE_S


def _private_dir() -> Path | None:
    """A folder only this user can enter (XDG_RUNTIME_DIR or the temp folder), or None."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / f"kbdesk-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    private = st.st_uid == os.getuid() and not st.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    return folder if stat.S_ISDIR(st.st_mode) and private else None


def place(data_dir: str | os.PathLike) -> HelperPlace | None:
    """The helper's files for a data folder (one helper per folder), or None where it cannot
    have them safely."""
    folder = _private_dir()
    if folder is None:
        return None
    data = Path(data_dir)
    key = hashlib.sha256(str(data).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    where = HelperPlace(
        data, folder / f"ask-{key}.sock", folder / f"ask-{key}.lock", folder / f"ask-{key}.log"
    )
    return where if len(os.fsencode(where.socket)) <= _MAX_SOCKET_PATH else None


def fingerprint() -> str:
    """Which code answers: a helper started before any kbdesk source changed is not asked."""
    package = Path(kbdesk.__file__).parent
    digest = hashlib.sha256(f"{PROTOCOL} {kbdesk.__version__} {sys.executable}".encode())
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        digest.update(f"{path.relative_to(package)} {st.st_mtime_ns} {st.st_size}\n".encode())
    return digest.hexdigest()[:16]


# -- wire: length-prefixed pickles between two processes of the same user -------------------


def send(sock: socket.socket, message: tuple) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(struct.pack(">I", len(data)) + data)


def receive(sock: socket.socket) -> tuple:
    (size,) = struct.unpack(">I", _exactly(sock, 4))
    if size > MAX_FRAME:
        raise ConnectionError(f"a {size:,}-byte message from the helper")
    data = _exactly(sock, size)
    try:
        message = pickle.loads(data)
    except Exception as exc:  # a class this side lacks, a truncated pickle: no use either way
        raise ConnectionError(f"an unreadable message from the helper ({exc!r})") from exc
    if not isinstance(message, tuple) or not message:
        raise ConnectionError("a malformed message from the helper")
    return message


def _exactly(sock: socket.socket, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = sock.recv(min(left, 1 << 20))
        if not part:
            raise ConnectionError("the helper closed the connection")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def same_user(sock: socket.socket) -> bool:
    """Whether the other end runs as this user (Linux says; elsewhere the folder's mode does)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    creds = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


# -- client ---------------------------------------------------------------------------------


def ask(
    request: AskRequest, on_token: Callable[[str], None] | None = None
) -> tuple[Answer, str | None] | None:
    """The warm helper's answer, starting the helper if none runs; None: answer in-process.

    A KbdeskError the helper met (a missing model, an unknown collection) is raised here, as
    the same question in this process would have raised it.
    """
    if not enabled():
        return None
    where = place(request.data_dir)
    if where is None:
        return None
    try:
        sock = _connect(where) or _start(where)
    except OSError as exc:
        log.info("no warm helper (%s); answering in this process", exc)
        return None
    if sock is None:
        return None
    with sock:
        return _exchange(sock, request, on_token)


def stop(data_dir: str | os.PathLike) -> bool:
    """Asks the data folder's helper to exit once its answers are given; whether one ran."""
    where = place(data_dir) if enabled() else None
    sock = _connect(where) if where is not None else None
    if sock is None:
        return False
    with sock:
        try:
            send(sock, ("stop",))
            receive(sock)
        except (OSError, struct.error):
            pass
    return True


def _connect(where: HelperPlace) -> socket.socket | None:
    """A connection to a running helper of the same code, or None (none, stale, other code)."""
    if not where.socket.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(HELLO_TIMEOUT_S)
        sock.connect(os.fspath(where.socket))
        if not same_user(sock):
            raise ConnectionError("the helper's socket belongs to another user")
        send(sock, ("hello", PROTOCOL, fingerprint()))
        reply = receive(sock)
    except (OSError, struct.error) as exc:
        # Refused: a helper died and left its socket file; the next helper replaces it.
        log.info("the helper at %s did not answer (%s)", where.socket, exc)
        sock.close()
        return None
    if reply[0] != "welcome":  # another version: it stops once its answers are given
        log.info("the helper runs other code; starting a new one")
        sock.close()
        return None
    return sock


def _start(where: HelperPlace) -> socket.socket | None:
    """Start the data folder's helper and connect to it; None if it did not come up in time."""
    with contextlib.suppress(OSError):
        if where.log.stat().st_size > MAX_LOG:  # each start appends; keep the last ones only
            where.log.unlink()
    with open(where.log, "ab") as log_file:
        process = subprocess.Popen(
            spawn_command(where),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            start_new_session=True,  # the terminal's Ctrl-C stops this call, not the helper
            close_fds=True,
        )
    _spawned.append(process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        sock = _connect(where)
        if sock is not None:
            return sock
        code = process.poll()
        if code == EXIT_LOCKED:
            # Another helper holds the folder: one a concurrent call started binds its socket
            # at once; one still finishing another version's answer does not, and is not waited
            # for (this call answers in-process).
            deadline = min(deadline, time.monotonic() + LOCK_WAIT_S)
        elif code is not None:
            log.info("the helper exited (%s); see %s", code, where.log)
            return None
        time.sleep(0.05)
    log.info("the helper did not start within %.0f s; see %s", START_TIMEOUT_S, where.log)
    return None


def spawn_command(where: HelperPlace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "kbdesk.cli.helper_server",
        os.fspath(where.data_dir),
        str(idle_seconds()),
    ]


def _exchange(
    sock: socket.socket, request: AskRequest, on_token: Callable[[str], None] | None
) -> tuple[Answer, str | None] | None:
    try:
        send(sock, ("ask", request, on_token is not None))
        sock.settimeout(SILENCE_S)
        while True:
            message: tuple[Any, ...] = receive(sock)
            kind = message[0]
            if kind == "alive":
                continue
            if kind == "token" and on_token is not None:
                on_token(message[1])
            elif kind == "reply" and isinstance(message[1], Answer):
                return message[1], message[2]
            elif kind == "error" and isinstance(message[1], KbdeskError):
                raise message[1]
            else:  # "crash" (a bug in the helper) or nonsense: this process shows what happens
                log.warning("the warm helper failed; answering in this process: %s", message)
                return None
    except (OSError, struct.error) as exc:
        log.warning("the warm helper stopped answering (%s); answering in this process", exc)
        return None
