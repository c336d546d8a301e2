"""Jobs whose outcome comes back tagged, errors included, so a widget can drop stale ones."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kbdesk.core.errors import Cancelled, KbdeskError
from kbdesk.gui.workers import Job, JobContext, JobRunner

log = logging.getLogger(__name__)


def submit_tagged(
    runner: JobRunner,
    name: str,
    fn: Callable[[JobContext], Any],
    slot: Callable[[tuple], Any],
    tag: Any,
    *,
    serial_key: str | None = None,
) -> Job:
    """Run fn on the runner; slot gets (tag, value, error) on the main thread, never a raise."""

    def guarded(ctx: JobContext):
        try:
            return tag, fn(ctx), None
        except Cancelled:
            raise
        except Exception as exc:  # the widget words it for the user; unexpected ones are logged
            if not isinstance(exc, KbdeskError):
                log.exception("%s failed", name)
            return tag, None, exc

    # Outcomes reach the Job through a queued hop to the main thread, so connecting right
    # after submit() never misses a fast result.
    job = runner.submit(name, guarded, serial_key=serial_key)
    job.result.connect(slot)
    return job
