"""Terminal output shared by the commands: a progress bar and the per-file status words."""

from __future__ import annotations

import sys
from pathlib import Path

from kbdesk.core.types import FileStatus, Progress, Stage


class TerminalProgress:
    """A tqdm bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self):
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="file", file=sys.stderr, dynamic_ncols=True, leave=False)

    def __call__(self, progress: Progress) -> None:
        if self.bar is None or progress.total is None:
            return
        self.bar.total = progress.total
        self.bar.n = progress.done
        if progress.item:
            label = f"{progress.stage} {Path(progress.item).name}"
        else:
            label = progress.message or progress.stage
        self.bar.unit = "document" if progress.stage is Stage.UPLOADING else "file"
        self.bar.set_description(label[:50], refresh=False)
        self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()


MARK = {
    FileStatus.IMPORTED: "imported",
    FileStatus.UPDATED: "updated",
    FileStatus.UNCHANGED: "unchanged",
    FileStatus.DUPLICATE: "skipped",
    FileStatus.FAILED: "FAILED",
    FileStatus.REMOVED: "removed",
}
