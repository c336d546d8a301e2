"""Throttled progress: few updates, but never a lost stage change or final update."""

from __future__ import annotations

from kbdesk.core.jobs import ThrottledProgress
from kbdesk.core.types import Progress, Stage


def test_throttling_keeps_the_first_and_last_of_each_stage():
    seen: list[Progress] = []
    throttled = ThrottledProgress(seen.append, rate=0.001)  # nothing passes on time alone
    for done in range(5):
        throttled(Progress(Stage.LOADING_MODEL, done, 4))
    throttled(Progress(Stage.SEARCHING))
    throttled(Progress(Stage.SEARCHING, 1))
    assert [(p.stage, p.done) for p in seen] == [
        ("loading_model", 0),
        ("loading_model", 4),
        ("searching", 0),
    ]
