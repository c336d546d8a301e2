"""Starts the desktop app: logging to the per-user log folder, the window first, heavy parts later."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence

from kbdesk import APP_NAME, __version__
from kbdesk.core.paths import AppPaths

log = logging.getLogger("kbdesk")
LOG_FILE = "kbdesk.log"


def setup_logging(paths: AppPaths) -> None:
    """Details go to a rotating log file; the user only ever sees plain sentences."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for existing in root.handlers:  # the terminal gets warnings and errors only
        existing.setLevel(max(existing.level, logging.WARNING))
    try:
        paths.log_dir.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            paths.log_dir / LOG_FILE, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)


def install_error_hooks(window_ref: list) -> None:
    """Unexpected errors are logged with their traceback and shown as one calm status line."""

    def report(kind, value, tb) -> None:
        log.error("unexpected error\n%s", "".join(traceback.format_exception(kind, value, tb)))
        if window_ref and window_ref[0] is not None:
            with contextlib.suppress(RuntimeError):
                window_ref[0].notify(
                    "Something went wrong; the details are in the log file (Help › Open the log folder).",
                    ms=0,
                )

    sys.excepthook = report
    threading.excepthook = lambda args: report(args.exc_type, args.exc_value, args.exc_traceback)


# Every Qt callback into Python (a slot, a timer, a paint) must first take the interpreter lock
# from whichever import thread holds it; Python hands it over only every "switch interval".
# At the default 5 ms a burst of callbacks could keep the window frozen for 100 ms and more
# during an import; at 1 ms the longest stall stays within the 50 ms goal (bench_gui_stall).
SWITCH_INTERVAL_S = 0.001


def tune_interpreter() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def no_display_reason() -> str | None:
    """Why a window cannot open here (Linux without a display), so we say so instead of aborting."""
    import os

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "kbdesk: no display found (DISPLAY and WAYLAND_DISPLAY are unset), so the window cannot "
        "open. Run it from a desktop session, or use the command line: kbdesk --help."
    )


# Set by the installer's smoke test (packaging/test_installed.py): the window says when it is
# ready, saves a screenshot to this path a few seconds later and closes.
SMOKE_SCREENSHOT_ENV = "KBDESK_SMOKE_SCREENSHOT"
SMOKE_DELAY_MS = 4000


def run_gui(
    data_dir: str | None = None, argv: list[str] | None = None, files: Sequence[str] = ()
) -> int:
    """The window; `files` (a file manager's "Open with kbdesk") are imported into the
    collection that opens."""
    reason = no_display_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    tune_interpreter()
    paths = AppPaths.resolve(data_dir)
    setup_logging(paths)
    log.info("%s %s starting; data in %s", APP_NAME, __version__, paths.data_dir)
    existing = QApplication.instance()  # a test's QApplication; typed as QCoreApplication
    if isinstance(existing, QApplication):
        app = existing
    else:  # none yet (Qt refuses a second one beside a plain QCoreApplication, and says so)
        app = QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    window_ref: list = [None]
    install_error_hooks(window_ref)

    from kbdesk.gui.main_window import MainWindow, app_icon
    from kbdesk.gui.session import Session

    app.setWindowIcon(app_icon())
    window = MainWindow(Session(paths))
    window_ref[0] = window
    window.show()
    QTimer.singleShot(0, window.start)  # heavy parts load after the window is on screen
    if files:
        QTimer.singleShot(0, lambda: window.library.import_paths(list(files)))
    if shot := os.environ.get(SMOKE_SCREENSHOT_ENV):
        _smoke_probe(window, shot)
    _close_on_terminal_signals(window)
    log.info("window shown")
    code = app.exec()
    log.info("%s closed", APP_NAME)
    return code


def _smoke_probe(window, path: str) -> None:
    """Print the wall-clock time at which the window first painted, then save and close."""
    from PySide6.QtCore import QTimer

    def save_and_close() -> None:
        window.grab().save(path)
        window.close()

    QTimer.singleShot(0, lambda: print(f"kbdesk-window-ready {time.time():.3f}", flush=True))
    QTimer.singleShot(SMOKE_DELAY_MS, save_and_close)


def _close_on_terminal_signals(window) -> None:
    """Ctrl+C or a TERM signal closes the window the normal way: imports stop and resume later.

    Python runs signal handlers only between its own bytecodes, and Qt's event loop is not
    Python, so a light timer gives the interpreter a moment to notice the signal.
    """
    import signal

    from PySide6.QtCore import QTimer

    def close(*_args) -> None:
        log.info("closing on a signal")
        window.close()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or unsupported
            signal.signal(sig, close)
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(250)
