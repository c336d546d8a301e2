"""The GUI's hold on the core: settings, the open collection, the model host and the job runner.

Everything heavy (embedder, vector index, llama.cpp) is created inside jobs, never on the main
thread. Writes to a collection share one serial key, so only one import or removal runs at once;
generation shares another, because one llama.cpp context answers one question at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from kbdesk.core.errors import KbdeskError
from kbdesk.core.paths import AppPaths
from kbdesk.core.settings import Settings, SettingsStore
from kbdesk.core.types import Answer, FileResult, ImportReport
from kbdesk.gui.workers import Job, JobContext, JobRunner

log = logging.getLogger(__name__)

GENERATION_KEY = "llm"


def write_key(collection: str) -> str:
    return f"write:{collection}"


class Session(QObject):
    """One per window. Signals arrive on the main thread."""

    collection_changed = Signal(str)
    settings_changed = Signal(object)  # Settings

    def __init__(self, paths: AppPaths, parent: QObject | None = None):
        super().__init__(parent)
        self.paths = paths
        self.store = SettingsStore(paths.config_dir)
        self.settings: Settings = self.store.load()
        for problem in self.store.problems:
            log.warning("settings: %s", problem)
        self.runner = JobRunner(self)
        self._kbs: dict[str, object] = {}  # name -> KnowledgeBase, opened once per run
        self._host = None
        self._host_key: str | None = None
        self._host_lock = threading.Lock()

    # -- settings ------------------------------------------------------------------------------

    def update_settings(self, **changes) -> None:
        self.settings = replace(self.settings, **changes).validated()
        try:
            self.store.save(self.settings)
        except OSError as exc:  # the app keeps working with the new values in memory
            log.warning("settings could not be saved: %s", exc)
        self.settings_changed.emit(self.settings)

    # -- collections ---------------------------------------------------------------------------

    @property
    def collection(self) -> str:
        return self.settings.collection

    def collections(self) -> list[str]:
        return self.paths.collection_names()

    def kb(self, name: str | None = None):
        """The open KnowledgeBase (cheap: a manifest and an SQLite file; models load later)."""
        from kbdesk.core.kb import KnowledgeBase

        name = name or self.collection
        kb = self._kbs.get(name)
        if kb is None:
            kb = KnowledgeBase.open(self.paths.data_dir, name, embedder=None)
            self._kbs[name] = kb
        return kb

    def create_collection(self, name: str) -> None:
        from kbdesk.core.kb import KnowledgeBase

        if name in self.collections():
            raise KbdeskError(f"A collection named '{name}' already exists.")
        self._kbs[name] = KnowledgeBase.open(
            self.paths.data_dir, name, embedder=self.settings.embedder
        )
        self.switch_collection(name)

    def switch_collection(self, name: str) -> None:
        self.kb(name)
        self.update_settings(collection=name)
        self.collection_changed.emit(name)

    def forget(self, name: str) -> None:
        kb = self._kbs.pop(name, None)
        if kb is not None:
            kb.close()

    # -- jobs ----------------------------------------------------------------------------------

    def import_paths(self, paths: Sequence[str], collection: str | None = None) -> Job:
        kb = self.kb(collection)
        ocr = self.settings.ocr

        def run(ctx: JobContext) -> ImportReport:
            def on_file(result: FileResult) -> None:
                ctx.emit(("file", result))

            return kb.import_paths(
                list(paths),
                ocr=ocr,
                progress=ctx.progress,
                cancel=ctx.cancel,
                on_file=on_file,
                on_plan=lambda files: ctx.emit(("plan", files)),
            )

        return self.runner.submit("import", run, serial_key=write_key(kb.name))

    def remove_documents(self, refs: Sequence[str], collection: str | None = None) -> Job:
        kb = self.kb(collection)
        return self.runner.submit(
            "remove", lambda ctx: kb.remove(list(refs)), serial_key=write_key(kb.name)
        )

    def warm_up(self) -> Job:
        """Load the embedder and vector index now, so the first search does not wait."""
        kb = self.kb()
        return self.runner.submit("warm-up", lambda ctx: kb.warm_up())

    def host(self):
        """The llama.cpp host for the chosen model; loads it on first use (call in a job)."""
        from kbdesk.core.generate.answerer import open_host

        with self._host_lock:
            key = self.settings.model or ""
            if self._host is None or self._host_key != key:
                if self._host is not None:
                    self._host.close()
                    self._host = None
                self._host = open_host(self.paths.models_dir, self.settings.model)
                _ = self._host.llama  # load now, inside the job
                self._host_key = key
            return self._host

    def load_model(self) -> Job:
        return self.runner.submit("load-model", lambda ctx: self.host(), serial_key=GENERATION_KEY)

    def ask(
        self,
        question: str,
        history: Sequence[dict],
        on_done: Callable[[Answer], None] | None = None,
    ) -> Job:
        from kbdesk.core.generate.answerer import AskOptions

        kb = self.kb()
        settings = self.settings
        options = AskOptions(
            passages=settings.passages,
            temperature=settings.temperature,
            adapter=settings.adapter,
        )

        def run(ctx: JobContext) -> Answer:
            from kbdesk.core.generate.answerer import Answerer

            host = self.host()
            return Answerer(kb, host).ask(
                question,
                history=list(history),
                options=options,
                on_token=lambda piece: ctx.emit(piece),
                cancel=ctx.cancel,
                progress=ctx.progress,
            )

        return self.runner.submit("ask", run, serial_key=GENERATION_KEY)

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> bool:
        """Cancel running jobs, wait for their threads, and release files and the model."""
        clean = self.runner.shutdown()
        for name in list(self._kbs):
            self.forget(name)
        if self._host is not None:
            self._host.close()
            self._host = None
        return clean
