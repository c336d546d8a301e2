"""Locking encrypted collections after the time without use that Settings name: any key press or
click in the app counts as use; a collection a job is working in locks when the job is done."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from kbdesk.gui.session import Session

CHECK_MS = 10_000
_USE = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


class IdleLock(QObject):
    def __init__(self, session: Session, notify: Callable[[str], None], parent: QObject | None):
        super().__init__(parent)
        self.session = session
        self.notify = notify
        self.last_use = time.monotonic()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() in _USE:
            self.last_use = time.monotonic()
        return False

    def check(self, now: float | None = None) -> list[str]:
        """Lock what has been unused long enough; the names locked."""
        minutes = self.session.settings.lock_after_minutes
        idle = (time.monotonic() if now is None else now) - self.last_use
        if not minutes or idle < minutes * 60:
            return []
        locked = [n for n in self.session.unlocked() if not self.session.using(n)]
        for name in locked:
            self.session.lock(name)
        if locked:
            names = ", ".join(f"'{n}'" for n in locked)
            self.notify(f"Locked {names} after {minutes} minutes without use.")
        return locked
