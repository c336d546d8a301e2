"""The job runner: nothing runs after it is shut down (the window has closed)."""

from __future__ import annotations

from kbdesk.gui.workers import JobRunner


def test_a_job_asked_for_after_shutdown_never_runs_and_ends_cancelled(qtbot):
    runner = JobRunner(max_threads=2)
    assert runner.shutdown(10_000)
    ran: list[str] = []
    job = runner.submit("render page", lambda ctx: ran.append("ran"))
    assert runner.pool.activeThreadCount() == 0  # not even a thread that cancels at once
    with qtbot.waitSignal(job.cancelled, timeout=5_000):
        pass
    assert ran == [] and job.done and runner.jobs() == []
