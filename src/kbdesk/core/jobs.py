"""The contract shared by all long jobs: a cancel token checked between steps and throttled progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kbdesk.core.errors import Cancelled
from kbdesk.core.types import Progress

ProgressFn = Callable[[Progress], None]


class CancelToken:
    """Set from any thread; the job polls it between files, batches and tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def no_progress(_: Progress) -> None:
    """Default progress sink."""


class ThrottledProgress:
    """Forwards at most `rate` updates a second, but always the first and the final update of
    each stage (a stage change is news: "Loading the model" gives way to "Searching")."""

    def __init__(self, sink: ProgressFn, rate: float = 10.0):
        self._sink = sink
        self._interval = 1.0 / rate
        self._last = 0.0
        self._stage: str | None = None

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        final = progress.total is not None and progress.done >= progress.total
        if final or progress.stage != self._stage or now - self._last >= self._interval:
            self._last = now
            self._stage = progress.stage
            self._sink(progress)
