"""The installed Qt binding keeps Python's reference counts intact across signal delivery.

PySide6 6.12.0 dropped one reference to True on every call of a Python slot: a streamed answer
(one signal per token) then aborts the process with "bool_dealloc". pyproject excludes it; this
catches a binding with the same defect however it got installed.
"""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, Signal


class _Sender(QObject):
    fired = Signal(object)


def test_signal_delivery_does_not_leak_or_drop_references(qapp):
    sender = _Sender()
    got: list = []
    sender.fired.connect(got.append)
    gc.collect()
    before = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    for i in range(200):
        sender.fired.emit(i)
    gc.collect()
    after = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    assert len(got) == 200
    # a few references may come and go with caches; a per-call defect moves them by ~200
    assert all(abs(b - a) < 20 for a, b in zip(before, after, strict=True)), (before, after)
