"""Longest main-thread stall of the desktop app while it imports a 1,000-page PDF.

The real window (offscreen platform) imports through the GUI path (drop → job → progress →
table). A 2 ms QTimer on the main thread records the gap between its ticks; a gap longer than
the interval is time the event loop could not run (a stall the user would feel). The same
probe runs first on an idle window, in the same process, as the baseline.
    longest stall during import   goal <= 50 ms
Usage: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_stall.py [--pages 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.synth import make_long_pdf  # noqa: E402

TICK_MS = 2


class StallProbe:
    """Records the gaps between ticks of a fast main-thread timer."""

    def __init__(self):
        self.gaps: list[float] = []
        self._last = None
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self):
        self.gaps, self._last = [], None
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        gaps = sorted(self.gaps) or [0.0]
        return {
            "ticks": len(gaps),
            "max_ms": round(gaps[-1], 1),
            "p99_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1),
            "median_ms": round(statistics.median(gaps), 2),
            "over_50ms": sum(g > 50 for g in gaps),
        }


def run(pages: int, idle_s: float) -> dict:
    from kbdesk.core.paths import AppPaths
    from kbdesk.gui.app import tune_interpreter
    from kbdesk.gui.main_window import MainWindow
    from kbdesk.gui.session import Session

    tune_interpreter()  # as run_gui does
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pdf = make_long_pdf(tmp / "docs" / "long.pdf", pages)
        window = MainWindow(Session(AppPaths.resolve(tmp / "data")))
        window.show()
        probe = StallProbe()

        # the embedder and index load in a job, as at a real start; wait for it first
        loop = QEventLoop()
        warm = window.session.warm_up()
        warm.finished.connect(loop.quit)
        loop.exec()

        probe.start()
        QTimer.singleShot(int(idle_s * 1000), loop.quit)
        loop.exec()
        idle = probe.stop()

        finished = []
        window.library.import_finished.connect(finished.append)
        window.library.import_finished.connect(loop.quit)
        probe.start()
        started = time.perf_counter()
        window.library.import_paths([str(pdf)])
        loop.exec()
        seconds = time.perf_counter() - started
        during = probe.stop()
        report = finished[0]
        window.close()
        app.processEvents()
    return {
        "pages": pages,
        "import_s": round(seconds, 1),
        "imported": [r.status for r in report.results],
        "idle": idle,
        "import": during,
        "stall_ratio_vs_idle": round(during["max_ms"] / max(idle["max_ms"], 0.1), 2),
        "goal_max_ms": 50,
        "pass": during["max_ms"] <= 50,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle baseline")
    args = parser.parse_args()
    result = run(args.pages, args.idle)
    print(json.dumps(result, indent=2))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
