"""`kbdesk ask`'s warm helper with the real 0.5B model: the same answers as in-process, one helper
per data folder, idle exit, and every way it can fail ends in an answer from the asking process."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kbdesk.cli import helper, main
from kbdesk.cli.ask_request import AskRequest, answer
from kbdesk.core.assistant import ModelCache
from kbdesk.core.settings import Settings
from tests.helpers import LEASE_PAGES, ZH_PAGES, make_pdf

QUESTION = "When is the security deposit returned?"


@pytest.fixture(scope="module")
def runtime():
    """A short private runtime folder (socket paths must stay under ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="kbh", dir="/tmp"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_RUNTIME_DIR", str(folder))
        mp.setenv(helper.ENV_SWITCH, "1")
        mp.setenv(helper.ENV_IDLE, "120")
        yield folder
    for lock in folder.glob("kbdesk-*/ask-*.lock"):
        _end(_pid(lock))
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def collection(tmp_path_factory, small_model, runtime):
    """A data folder with a lease and a Chinese leaflet, answering with the 0.5B model, greedy."""
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.settings import SettingsStore

    docs = tmp_path_factory.mktemp("docs")
    make_pdf(docs / "lease.pdf", LEASE_PAGES, title="Commercial Lease Agreement")
    make_pdf(docs / "术后护理须知.pdf", ZH_PAGES, cjk=True)
    data_dir = tmp_path_factory.mktemp("kbdata")
    store = SettingsStore(AppPaths.resolve(data_dir).config_dir)
    store.save(replace(store.load(), model=str(small_model), passages=2, temperature=0.0))
    assert main(["--data-dir", str(data_dir), "ingest", str(docs)]) == 0
    yield data_dir
    helper.stop(data_dir)


def _pid(lock: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(lock.read_text().strip())
    return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _end(pid: int | None, timeout: float = 20.0) -> None:
    """Wait for a helper this test started to exit; kill it only if it does not."""
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        assert pid is not None
        os.kill(pid, signal.SIGKILL)


def _helper_pid(data_dir: Path) -> int | None:
    where = helper.place(data_dir)
    assert where is not None
    pid = _pid(where.lock)
    return pid if _alive(pid) else None


def _ask_json(capsys, data_dir: Path, *extra: str) -> tuple[int, dict | None, str]:
    code = main(["--data-dir", str(data_dir), "ask", QUESTION, "--json", *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def _request(data_dir: Path, small_model: Path) -> AskRequest:
    settings = Settings(model=str(small_model), passages=2, temperature=0.0)
    return AskRequest(str(data_dir.resolve()), settings, QUESTION)


def test_the_helper_answers_as_this_process_does_and_serves_the_next_question_warm(
    capsys, collection
):
    code, here, _ = _ask_json(capsys, collection, "--no-helper")
    assert code == 0 and _helper_pid(collection) is None  # --no-helper starts none
    code, first, _ = _ask_json(capsys, collection)
    pid = _helper_pid(collection)
    assert code == 0 and pid is not None and first == here
    code, second, _ = _ask_json(capsys, collection)
    assert code == 0 and second == here and _helper_pid(collection) == pid  # the same one, warm
    code, chat, _ = _ask_json(capsys, collection, "--chat", "new")
    assert chat is not None and chat.pop("chat") and chat == here
    from kbdesk.core.generate.chats import ChatStore

    assert len(ChatStore(collection / "collections" / "default").list()) == 1


def test_errors_from_the_helper_read_as_in_this_process(capsys, collection, tmp_path):
    missing = ["--model", str(tmp_path / "nowhere.gguf")]
    code, _, here = _ask_json(capsys, collection, *missing, "--no-helper")
    code_helper, _, there = _ask_json(capsys, collection, *missing)
    assert code == code_helper == 1 and there == here and "nowhere.gguf" in here
    assert _helper_pid(collection) is not None


def test_streamed_text_is_the_same_and_a_client_that_hangs_up_cancels_only_its_answer(
    collection, small_model
):
    request = _request(collection, small_model)
    here: list[str] = []
    models = ModelCache(small_model.parent)
    try:
        expected = answer(request, models, on_token=here.append)
    finally:
        models.close()
    there: list[str] = []
    assert helper.ask(request, on_token=there.append) == expected
    assert "".join(there) == "".join(here) and there

    def hang_up(piece: str) -> None:
        raise KeyboardInterrupt  # Ctrl-C at the first token: the client closes its socket

    pid = _helper_pid(collection)
    with pytest.raises(KeyboardInterrupt):
        helper.ask(request, on_token=hang_up)
    assert helper.ask(request) == expected and _helper_pid(collection) == pid


def test_a_helper_killed_outright_leaves_a_socket_file_that_the_next_one_replaces(
    capsys, collection
):
    code, before, _ = _ask_json(capsys, collection)
    pid = _helper_pid(collection)
    assert code == 0 and pid is not None
    os.kill(pid, signal.SIGKILL)
    _end(pid)
    where = helper.place(collection)
    assert where is not None and where.socket.exists()  # stale: nobody listens
    code, after, _ = _ask_json(capsys, collection)
    assert code == 0 and after == before
    assert _helper_pid(collection) not in (None, pid)


def _spawn(data_dir: Path, idle: float = 60.0, *code: str) -> subprocess.Popen:
    where = helper.place(data_dir)
    assert where is not None
    command = [*helper.spawn_command(where)[:-1], str(idle), *code]
    return subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_one_helper_per_data_folder(runtime, tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir(), second.mkdir()
    a, b, c = _spawn(first), _spawn(first), _spawn(second)
    try:
        assert _wait_for(lambda: a.poll() is not None or b.poll() is not None)
        ended, running = (a, b) if a.poll() is not None else (b, a)
        assert ended.returncode == helper.EXIT_LOCKED
        one, two = helper.place(first), helper.place(second)
        assert one is not None and two is not None and one.socket != two.socket
        assert _wait_for(one.socket.exists) and _wait_for(two.socket.exists)
        assert running.poll() is None and c.poll() is None
        assert helper.stop(first) and helper.stop(second)
        assert running.wait(timeout=30) == 0 and c.wait(timeout=30) == 0
    finally:
        for p in (a, b, c):
            if p.poll() is None:
                p.kill()


@pytest.mark.parametrize("why", ["idle", "data folder deleted"])
def test_a_helper_exits_when_idle_or_its_folder_is_gone_and_leaves_nothing_held(
    runtime, tmp_path, why
):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    process = _spawn(data_dir, 1.0 if why == "idle" else 600.0)
    where = helper.place(data_dir)
    assert where is not None and _wait_for(where.socket.exists)
    if why != "idle":
        data_dir.rmdir()
    assert process.wait(timeout=60) == 0
    assert not where.socket.exists()
    with open(where.lock) as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # free


def test_a_helper_running_other_code_is_not_asked_and_stops(runtime, tmp_path):
    process = _spawn(tmp_path, 60.0, "0123456789abcdef")
    where = helper.place(tmp_path)
    assert where is not None and _wait_for(where.socket.exists)
    assert helper._connect(where) is None  # noqa: SLF001 - the hello a client sends
    assert process.wait(timeout=30) == 0 and not where.socket.exists()


class FakeHelper:
    """Something listening at the helper's socket that welcomes a client and then misbehaves."""

    def __init__(self, where: helper.HelperPlace, then: str):
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(os.fspath(where.socket))
        self.server.listen(4)
        self.then = then
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        sock, _ = self.server.accept()
        with sock:
            helper.receive(sock)  # hello
            helper.send(sock, ("welcome", 0))
            helper.receive(sock)  # the question
            if self.then == "crash":
                helper.send(sock, ("crash", "Traceback: a bug"))
            elif self.then == "silent":
                time.sleep(3)
        self.server.close()


@pytest.mark.parametrize("then", ["close", "silent", "crash"])
def test_a_broken_or_hung_helper_means_an_answer_from_this_process(
    capsys, monkeypatch, collection, small_model, then
):
    helper.stop(collection)
    _end(_helper_pid(collection))
    where = helper.place(collection)
    assert where is not None
    with contextlib.suppress(FileNotFoundError):
        os.unlink(where.socket)
    monkeypatch.setattr(helper, "SILENCE_S", 0.5)
    fake = FakeHelper(where, then)
    assert helper.ask(_request(collection, small_model)) is None
    fake.thread.join(timeout=10)
    os.unlink(where.socket)
    if then == "close":  # the command itself then answers in-process
        fake = FakeHelper(where, then)
        code, got, _ = _ask_json(capsys, collection)
        assert code == 0 and got is not None and got["answer"]
        fake.thread.join(timeout=10)
        os.unlink(where.socket)


def test_no_helper_when_switched_off_unsafe_or_unable_to_start(
    monkeypatch, runtime, tmp_path, small_model
):
    request = _request(tmp_path, small_model)
    where = helper.place(tmp_path)
    assert where is not None
    monkeypatch.setenv(helper.ENV_SWITCH, "0")
    assert helper.ask(request) is None and not where.log.exists()  # nothing was started
    monkeypatch.setenv(helper.ENV_SWITCH, "1")
    monkeypatch.setattr(helper, "spawn_command", lambda _: [sys.executable, "-c", "exit(1)"])
    assert helper.ask(request) is None and not where.socket.exists()
    shared = runtime / f"kbdesk-{os.getuid()}"
    shared.chmod(0o777)  # anyone could plant a socket here: not used
    try:
        assert helper.place(tmp_path) is None and helper.ask(request) is None
    finally:
        shared.chmod(0o700)
