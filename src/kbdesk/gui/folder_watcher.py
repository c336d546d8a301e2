"""Watched folders: a change in one asks for its re-import once the folder has been quiet a while."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from kbdesk.core.jobs import CancelToken
from kbdesk.gui.session import Session

SETTLE_MS = 2000  # a folder that changes is re-imported once it has been quiet this long
MAX_SUBFOLDERS = 500  # QFileSystemWatcher sees one level; this many subfolders are added


def subfolders(roots: list[str], limit: int = MAX_SUBFOLDERS, cancel: CancelToken | None = None):
    """Up to `limit` folders below `roots`, nearest first; a huge tree is never walked whole."""
    found: list[str] = []
    todo = deque(roots)
    while todo and len(found) < limit and not (cancel and cancel.cancelled):
        try:
            with os.scandir(todo.popleft()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        found.append(entry.path)
                        todo.append(entry.path)
                        if len(found) >= limit:
                            break
        except OSError:  # unreadable or gone meanwhile: the rest is still watched
            continue
    return found


class FolderWatcher(QObject):
    """Watches the open collection's folders; the subfolder walk runs as a job, off the window."""

    import_requested = Signal(list)  # folders to import again (or for the first time)
    status_changed = Signal(str)  # "Watching: …", or "" when nothing is watched

    def __init__(self, session: Session, busy: Callable[[], bool], parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self._busy = busy  # whether an import runs: one import at a time
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._folder_changed)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._import_changed)
        self._changed: set[str] = set()
        self._scan = 0  # the latest subfolder walk; an older one's result is dropped

    def folders(self) -> list[str]:
        return list(self.session.settings.watched.get(self.session.collection, []))

    def watch(self, folder: str) -> None:
        """Watch `folder` for the open collection, and import it now."""
        collection = self.session.collection
        watched = dict(self.session.settings.watched)
        watched[collection] = list(dict.fromkeys([*self.folders(), str(Path(folder))]))
        self.session.update_settings(watched=watched)
        self.rewatch()
        self.import_requested.emit([folder])

    def rewatch(self) -> None:
        """Watch the open collection's folders: the top ones now, their subfolders after a walk."""
        if self.watcher.directories():
            self.watcher.removePaths(self.watcher.directories())
        folders = self.folders()
        present = [f for f in folders if Path(f).is_dir()]
        if present:
            self.watcher.addPaths(present)
        missing = [f for f in folders if f not in present]
        text = "Watching: " + ", ".join(present) if present else ""
        if missing:
            text += (" · " if text else "") + "Watched folder missing: " + ", ".join(missing)
        self.status_changed.emit(text)
        self._scan += 1
        if present:
            scan = self._scan
            job = self.session.runner.submit(
                "watch-scan", lambda ctx: subfolders(present, cancel=ctx.cancel)
            )
            job.result.connect(lambda found: self._add(scan, found))

    def _add(self, scan: int, found: list[str]) -> None:
        if scan == self._scan and found:
            self.watcher.addPaths(found)

    def _folder_changed(self, folder: str) -> None:
        self._changed.add(folder)
        self._settle.start()

    def _import_changed(self) -> None:
        if self._busy():
            self._settle.start()  # one import at a time; try again when it is quiet
            return
        roots = self.folders()
        changed = {r for r in roots if any(Path(c).is_relative_to(r) for c in self._changed)}
        self._changed.clear()
        if changed:
            self.import_requested.emit(sorted(changed))
            self.rewatch()  # new subfolders
