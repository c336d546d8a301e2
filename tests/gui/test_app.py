"""Starting the app: `kbdesk` with no command, and what happens where no window can open."""

from __future__ import annotations

import os
import subprocess
import sys

from kbdesk.gui.app import no_display_reason


def test_no_display_is_explained_instead_of_aborting(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    reason = no_display_reason()
    assert reason and "no display" in reason and "kbdesk --help" in reason

    monkeypatch.setenv("DISPLAY", ":99")
    assert no_display_reason() is None
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert no_display_reason() is None


def test_kbdesk_without_a_command_opens_the_window_path(tmp_path):
    """The real entry point, run headless: it reaches the GUI and says why no window opened."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(
        [sys.executable, "-m", "kbdesk", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if not sys.platform.startswith("linux"):
        return
    assert done.returncode == 2, done.stderr
    assert "no display found" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_window_opens_and_a_term_signal_closes_it_cleanly(tmp_path):
    """`kbdesk` with no command: the real window (offscreen) starts, logs, and closes on TERM."""
    import signal
    import time

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbdesk", "--data-dir", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = tmp_path / "logs" / "kbdesk.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and "window shown" in log.read_text(encoding="utf-8"):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[0]
    time.sleep(0.5)  # the event loop is running
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    text = log.read_text(encoding="utf-8")
    assert "closing on a signal" in text and "kbdesk closed" in text
    assert "Traceback" not in out
    assert (tmp_path / "config" / "settings.json").is_file()  # layout saved on the way out


def test_open_with_kbdesk_imports_the_files_and_the_smoke_probe_saves_the_window(tmp_path):
    """`kbdesk FILE` (a file manager's "Open with kbdesk") opens the window and imports FILE;
    the installer's smoke test variable makes it report when it painted, save itself and close."""
    import json

    from kbdesk.cli.main import files_to_open
    from tests.helpers import LEASE_PAGES, make_pdf

    pdf = make_pdf(tmp_path / "in" / "lease.pdf", LEASE_PAGES)
    assert files_to_open([str(pdf)]) == [str(pdf.resolve())]
    assert files_to_open(["ask", "x"]) == files_to_open(["--data-dir", str(tmp_path)]) == []
    assert files_to_open([str(pdf), str(tmp_path / "absent.pdf")]) == []
    shot = tmp_path / "window.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", KBDESK_SMOKE_SCREENSHOT=str(shot))
    env["KBDESK_HOME"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "kbdesk", str(pdf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kbdesk-window-ready " in done.stdout and shot.stat().st_size > 10_000
    from kbdesk.core.store.catalog import Catalog

    catalog = Catalog(tmp_path / "data" / "collections" / "default" / "catalog.sqlite3")
    imported = [d.path for d in catalog.documents()]
    catalog.close()
    settings = json.loads((tmp_path / "data" / "config" / "settings.json").read_text())
    pending = settings.get("pending", {}).get("default", [])
    assert str(pdf.resolve()) in imported + pending  # imported, or resumed at the next start
