"""Runs core jobs on a thread pool and brings their progress, output and outcome back by signals.

A job is a plain function `fn(ctx)` from the core's point of view: it polls `ctx.cancel`
(a core CancelToken), reports `Progress` through `ctx.progress` (throttled to ~10 updates a
second) and may hand intermediate items (streamed tokens, per-file results) to `ctx.emit`.
Jobs that share a `serial_key` (one per collection) run one after another: one writer at a time.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from kbdesk.core.errors import Cancelled, KbdeskError
from kbdesk.core.jobs import CancelToken, ThrottledProgress
from kbdesk.core.types import Progress

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Emitted on the worker thread; queued to the Job, which re-emits on the main thread.

    The hop makes delivery on the main thread hold for any receiver, lambdas included: a
    signal connected straight to a plain callable may otherwise run it on the worker thread.
    """

    progress = Signal(object)
    item = Signal(object)
    outcome = Signal(str, object)  # "result" | "failed" | "cancelled", value


class Job(QObject):
    """The main thread's handle on one background job. Signals arrive on the main thread."""

    progress = Signal(object)  # Progress
    item = Signal(object)  # whatever the job passes to ctx.emit
    result = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()  # after exactly one of result / failed / cancelled
    # `done` turns true on the main thread, when the outcome is delivered

    def __init__(self, name: str, fn: Callable[[JobContext], Any], serial_key: str | None):
        super().__init__()
        self.name = name
        self.fn = fn
        self.serial_key = serial_key
        self.token = CancelToken()
        self.done = False
        self.started = False
        self.relay = _Relay()
        queued = Qt.ConnectionType.QueuedConnection
        self.relay.progress.connect(self._relay_progress, queued)
        self.relay.item.connect(self._relay_item, queued)
        self.relay.outcome.connect(self._relay_outcome, queued)

    @Slot(object)
    def _relay_progress(self, progress) -> None:
        if not self.done:
            self.progress.emit(progress)

    @Slot(object)
    def _relay_item(self, item) -> None:
        self.item.emit(item)

    @Slot(str, object)
    def _relay_outcome(self, kind: str, value) -> None:
        self.done = True
        if kind == "result":
            self.result.emit(value)
        elif kind == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.finished.emit()

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def running(self) -> bool:
        return self.started and not self.done


@dataclass
class JobContext:
    """What the job function gets: the cancel token, a progress sink and an item sink."""

    cancel: CancelToken
    progress: Callable[[Progress], None]
    emit: Callable[[Any], None]


class _Runnable(QRunnable):
    def __init__(self, job: Job, on_done: Callable[[Job], None]):
        super().__init__()
        self.job = job
        self.on_done = on_done
        self.setAutoDelete(True)

    def run(self) -> None:
        job = self.job
        relay = job.relay
        ctx = JobContext(
            cancel=job.token,
            progress=ThrottledProgress(relay.progress.emit),
            emit=relay.item.emit,
        )
        kind, value = "cancelled", None
        try:
            if job.token.cancelled:
                raise Cancelled()
            value = job.fn(ctx)
            kind = "cancelled" if job.token.cancelled and value is None else "result"
        except Cancelled:
            kind = "cancelled"
        except KbdeskError as exc:  # an expected problem, told to the user in a sentence
            log.warning("job %s: %s", job.name, exc)
            kind, value = "failed", exc
        except BaseException as exc:  # reported to the user; details go to the log
            log.error("job %s failed", job.name, exc_info=exc)
            kind, value = "failed", exc
        finally:
            relay.outcome.emit(kind, value)
            self.on_done(job)


class JobRunner(QObject):
    """A thread pool for core jobs, with one queue per serial key."""

    idle = Signal()

    def __init__(self, parent: QObject | None = None, max_threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Job]] = {}
        self._busy_keys: set[str] = set()
        self._jobs: set[Job] = set()
        self._closed = False

    def submit(
        self, name: str, fn: Callable[[JobContext], Any], *, serial_key: str | None = None
    ) -> Job:
        job = Job(name, fn, serial_key)
        job.setParent(self)
        with self._lock:
            closed = self._closed
            if not closed:
                self._jobs.add(job)
                if serial_key is not None and serial_key in self._busy_keys:
                    self._queues.setdefault(serial_key, deque()).append(job)
                    return job
                if serial_key is not None:
                    self._busy_keys.add(serial_key)
        if closed:  # after shutdown nothing runs (a page render asked for as the window closes)
            job.token.cancel()
            job.relay.outcome.emit("cancelled", None)  # delivered by the event loop, as always
            return job
        self._start(job)
        return job

    def _start(self, job: Job) -> None:
        job.started = True
        self.pool.start(_Runnable(job, self._finished))

    def _finished(self, job: Job) -> None:  # on the worker thread
        nxt = None
        with self._lock:
            self._jobs.discard(job)
            key = job.serial_key
            if key is not None:
                queue = self._queues.get(key)
                if queue:
                    nxt = queue.popleft()
                else:
                    self._busy_keys.discard(key)
                    self._queues.pop(key, None)
            empty = not self._jobs
        if nxt is not None:
            self._start(nxt)
        elif empty:
            self.idle.emit()

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def busy(self, serial_key: str | None = None) -> bool:
        with self._lock:
            if serial_key is None:
                return bool(self._jobs)
            return serial_key in self._busy_keys

    def cancel_all(self) -> None:
        for job in self.jobs():
            job.cancel()

    @Slot()
    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and wait for the threads: nothing is left running after close."""
        with self._lock:
            self._closed = True
        self.cancel_all()
        return self.pool.waitForDone(timeout_ms)
