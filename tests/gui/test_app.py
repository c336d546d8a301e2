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
