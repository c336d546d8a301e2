"""The GUI's hold on the core: settings, the open collection, the model host and the job runner.

A shared collection (gui/shared_collections.py) is held like a local one once a job connected to
it; its documents are imported on the server's side (uploads), and removed from here only by a
login that may write it (the core refuses the others).

An encrypted collection's key lives only in its open KnowledgeBase: locking one closes it, and
opening it again needs its passphrase (or the key store's remembered unlock, unless the user
locked it in this run).

Everything heavy (embedder, vector index, llama.cpp) is created inside jobs, never on the main
thread. Writes to a collection share one serial key, so only one import or removal runs at once;
generation shares another, because one llama.cpp context answers one question at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from kbdesk.core.errors import CollectionBusy, KbdeskError
from kbdesk.core.paths import DEFAULT_COLLECTION, AppPaths
from kbdesk.core.settings import Settings, SettingsStore
from kbdesk.core.types import FileResult, ImportReport
from kbdesk.gui.shared_collections import is_shared
from kbdesk.gui.shared_collections import name_of as shared_name
from kbdesk.gui.workers import Job, JobContext, JobRunner

if TYPE_CHECKING:
    from kbdesk.core.kb import KnowledgeBase

log = logging.getLogger(__name__)

GENERATION_KEY = "llm"


def on_server() -> KbdeskError:
    """Why a shared collection's documents are not changed from the window."""
    return KbdeskError(
        "A shared collection's documents are added, removed and renamed on the server by its "
        "importers and administrators.",
        hint="To work on documents of your own, choose or create a local collection.",
    )


def write_key(collection: str) -> str:
    return f"write:{collection}"


class Session(QObject):
    """One per window. Signals arrive on the main thread."""

    collection_changed = Signal(str)
    collections_changed = Signal()  # one was created, renamed or deleted
    locks_changed = Signal()  # an encrypted collection was unlocked or locked
    settings_changed = Signal(object)  # Settings

    def __init__(self, paths: AppPaths, parent: QObject | None = None):
        super().__init__(parent)
        self.paths = paths
        self.store = SettingsStore(paths.config_dir)
        self.settings: Settings = self.store.load()
        for problem in self.store.problems:
            log.warning("settings: %s", problem)
        # a shared collection is reconnected when the user chooses it, not at every start
        if is_shared(self.settings.collection):
            self.settings = replace(self.settings, collection=DEFAULT_COLLECTION)
        self.runner = JobRunner(self)
        self._kbs: dict[str, KnowledgeBase] = {}  # opened once per run, by collection name
        self._moving: set[str] = set()  # collections a rename or delete job is working on
        self._locked: set[str] = set()  # locked by the user in this run: the key store waits
        self._reading: dict[str, int] = {}  # collection -> answers and evaluations reading it
        self._models = None  # the core's ModelCache, made on first use (it imports llama code)
        self.shared: list[str] = []  # the shared server's collections this login may read
        # the server password typed in Settings, for this run (the key store keeps it if it can)
        self.server_password: str | None = None
        self.model_loading: Job | None = None  # the start-up model load, while it runs

    # -- settings ------------------------------------------------------------------------------

    def update_settings(self, **changes) -> None:
        self.settings = replace(self.settings, **changes).validated()
        try:
            self.store.save(self.settings)
        except OSError as exc:  # the app keeps working with the new values in memory
            log.warning("settings could not be saved: %s", exc)
        self.settings_changed.emit(self.settings)

    def reload_settings(self) -> None:
        """Takes the saved settings after the core changed them (an adapter renamed or removed
        moves the chosen adapter with it)."""
        saved = self.store.load()
        self.settings = replace(self.settings, adapter=saved.adapter)
        self.settings_changed.emit(self.settings)

    # -- collections ---------------------------------------------------------------------------

    @property
    def collection(self) -> str:
        return self.settings.collection

    def collections(self) -> list[str]:
        return self.paths.collection_names()

    def kb(self, name: str | None = None) -> KnowledgeBase:
        """The open KnowledgeBase (cheap: a manifest and an SQLite file; models load later)."""
        from kbdesk.core.kb import KnowledgeBase

        name = name or self.collection
        if is_shared(name) and name not in self._kbs:
            raise KbdeskError(
                f"The shared collection '{shared_name(name)}' is not connected.",
                hint="Choose it again in the Collections list.",
            )
        if name in self._moving:  # opening it now would bring an empty one back
            raise CollectionBusy(
                f"Collection '{name}' is being renamed, deleted or encrypted; wait a moment."
            )
        kb = self._kbs.get(name)
        if kb is None:
            if name in self._locked:
                from kbdesk.core.encryption import locked_error

                raise locked_error(name)
            kb = KnowledgeBase.open(self.paths.data_dir, name, embedder=None)
            self._kbs[name] = kb
        return kb

    def create_collection(self, name: str) -> None:
        """A plain collection, opened at once (an encrypted one: collection_keys.create)."""
        from kbdesk.core.kb import KnowledgeBase

        if name in self.collections():
            raise KbdeskError(f"A collection named '{name}' already exists.")
        self.created(
            name, KnowledgeBase.open(self.paths.data_dir, name, embedder=self.settings.embedder)
        )

    def is_open(self, name: str) -> bool:
        return name in self._kbs

    def connected(self, key: str, shared) -> None:
        """A shared collection a job connected to: it becomes the current collection."""
        self.forget(key)
        self._kbs[key] = shared
        self.switch_collection(key)

    def created(self, name: str, kb: KnowledgeBase) -> None:
        """A collection made just now, open: it becomes the current one."""
        self._kbs[name] = kb
        self.switch_collection(name)
        self.collections_changed.emit()

    def switch_collection(self, name: str) -> None:
        """Make `name` the open collection; a locked one is shown locked, not refused."""
        if not self.is_locked(name):
            self.kb(name)
        self.update_settings(collection=name)
        self.collection_changed.emit(name)

    # -- encrypted collections -----------------------------------------------------------------

    def encrypted(self, name: str | None = None) -> bool:
        from kbdesk.core import encryption

        if is_shared(name or self.collection):
            return False
        return encryption.is_encrypted(self.paths.collection_dir(name or self.collection))

    def remembered(self, name: str | None = None) -> bool:
        """Whether the key store remembers an unlock of the encrypted collection."""
        from kbdesk.core import encryption

        if is_shared(name or self.collection):
            return False
        try:
            return encryption.remembered(self.paths.collection_dir(name or self.collection))
        except KbdeskError:  # a damaged key file: the unlock says so
            return False

    def encryption_interrupted(self, name: str | None = None) -> bool:
        """Whether encrypting the (still plain) collection was started and not finished."""
        from kbdesk.core import encryption

        if is_shared(name or self.collection):
            return False
        return encryption.interrupted(self.paths.collection_dir(name or self.collection))

    def is_locked(self, name: str | None = None) -> bool:
        """Encrypted and not open: its passphrase is needed (a remembered unlock opens it here)."""
        from kbdesk.core.errors import CollectionLocked

        name = name or self.collection
        if name in self._kbs or not self.encrypted(name):
            return False
        try:
            self.kb(name)
        except CollectionLocked:
            return True
        except (
            KbdeskError
        ):  # damaged or busy: not a lock; the panes say what it is when they open it
            return False
        return False

    def unlocked_with(self, name: str, kb: KnowledgeBase) -> None:
        """An encrypted collection a job opened with its key: it is open (unlocked) here now."""
        self.forget(name)
        self._kbs[name] = kb
        self._locked.discard(name)
        self.locks_changed.emit()
        if name == self.collection:
            self.collection_changed.emit(name)

    def lock(self, name: str | None = None) -> None:
        """Forget an open encrypted collection's key now; its panes show it locked.

        :raises CollectionBusy: an import, removal or answer is using it (locking would pull
            its files from under that job).
        """
        name = name or self.collection
        if self.using(name):
            raise CollectionBusy(
                f"Collection '{name}' cannot be locked while an import, removal or answer is "
                "using it.",
                hint="Wait for it to finish, or cancel it, then lock it.",
            )
        self.forget(name)
        self._locked.add(name)
        self.locks_changed.emit()
        if name == self.collection:
            self.collection_changed.emit(name)

    def unlocked(self) -> list[str]:
        """The encrypted collections open in this window now."""
        return [n for n, kb in self._kbs.items() if kb.encrypted]

    def using(self, name: str) -> bool:
        """Whether a job works in the collection: an import, removal, warm-up, answer or
        evaluation."""
        return self.runner.busy(write_key(name)) or self._reading.get(name, 0) > 0

    def _reads(self, name: str, job: Job) -> Job:
        """Count `job` as reading collection `name` until it ends."""
        self._reading[name] = self._reading.get(name, 0) + 1
        job.finished.connect(lambda: self._reading.__setitem__(name, self._reading[name] - 1))
        return job

    def forget(self, name: str) -> None:
        kb = self._kbs.pop(name, None)
        if kb is not None:
            kb.close()

    def rename_collection(self, old: str, new: str) -> Job:
        """Rename a collection in a job; its result is the new folder.

        When it is done the settings follow the new name, the window switches to it if `old`
        was open, and `collections_changed` is emitted. Refused while this window imports into
        or removes from `old`, and (by the core, under the writer lock) while another does.
        """
        from kbdesk.core.collections_admin import rename_collection

        data_dir = self.paths.data_dir
        job = self.move_job("rename", old, "renamed", lambda: rename_collection(data_dir, old, new))
        job.result.connect(lambda folder: self._renamed(old, folder.name))
        return job

    def delete_collection(self, name: str) -> Job:
        """Delete a collection in a job; if it was open, the window switches to another one."""
        from kbdesk.core.collections_admin import delete_collection

        data_dir = self.paths.data_dir
        job = self.move_job("delete", name, "deleted", lambda: delete_collection(data_dir, name))
        job.result.connect(lambda _none: self._deleted(name))
        return job

    def move_job(self, what: str, name: str, verb: str, fn: Callable[[], object]) -> Job:
        """`fn` in a job while collection `name` is closed and cannot be opened here (a rename,
        a delete, an encryption); refused while a write job works in it."""
        key = write_key(name)
        if is_shared(name):
            return self.refused(what, on_server())
        if self.runner.busy(key):  # closing its KnowledgeBase now would pull it from under a job
            from kbdesk.core.collections_admin import busy_error

            return self.refused(what, busy_error(name, verb))
        self.forget(name)
        self._moving.add(name)
        job = self.runner.submit(what, lambda ctx: fn(), serial_key=key)
        # connected first, so these run before the caller's handlers of the same signals
        job.result.connect(lambda _value: self._moving.discard(name))
        job.failed.connect(lambda _exc: self._moving.discard(name))
        job.cancelled.connect(lambda: self._moving.discard(name))
        return job

    def refused(self, what: str, refusal: KbdeskError) -> Job:
        """A job that fails at once with `refusal` (callers follow jobs, not exceptions)."""

        def refuse(ctx: JobContext) -> None:
            raise refusal

        return self.runner.submit(what, refuse)

    def _renamed(self, old: str, new: str) -> None:
        self.update_settings(**_rekeyed(self.settings, old, new))
        if self.collection == old:
            self.switch_collection(new)
        self.collections_changed.emit()

    def _deleted(self, name: str) -> None:
        self.update_settings(**_rekeyed(self.settings, name, None))
        if self.collection == name:
            rest = self.collections()
            self.switch_collection(rest[0] if rest else DEFAULT_COLLECTION)
        self.collections_changed.emit()

    # -- jobs ----------------------------------------------------------------------------------

    def import_paths(
        self, paths: Sequence[str], collection: str | None = None, again: bool = False
    ) -> Job:
        """Import files and folders; `again`: read unchanged files too (Re-index)."""
        if is_shared(collection or self.collection):
            return self.refused("import", on_server())
        kb = self.kb(collection)
        ocr = self.settings.ocr

        def run(ctx: JobContext) -> ImportReport:
            def on_file(result: FileResult) -> None:
                ctx.emit(("file", result))

            return kb.import_paths(
                list(paths),
                ocr=ocr,
                again=again,
                progress=ctx.progress,
                cancel=ctx.cancel,
                on_file=on_file,
                on_plan=lambda files: ctx.emit(("plan", files)),
            )

        return self.runner.submit("import", run, serial_key=write_key(kb.name))

    def remove_documents(self, refs: Sequence[str], collection: str | None = None) -> Job:
        """Remove documents in a job: from a local collection, or from a shared one on the
        server when this login may write it (audited there)."""
        key = collection or self.collection
        if is_shared(key) and not self.is_open(key):
            return self.refused("remove", on_server())
        kb = self.kb(collection)  # a shared one refuses a login that may only read it
        return self.runner.submit(
            "remove", lambda ctx: kb.remove(list(refs)), serial_key=write_key(key)
        )

    def warm_up(self) -> Job | None:
        """Load the embedder and vector index now, so the first search does not wait (a locked
        collection warms up when it is unlocked)."""
        if self.is_locked():
            return None
        kb = self.kb()
        return self._reads(kb.name, self.runner.submit("warm-up", lambda ctx: kb.warm_up()))

    def models(self):
        """The core's cache of the warm answer model (cheap; loading happens inside jobs)."""
        if self._models is None:
            from kbdesk.core.assistant import ModelCache

            self._models = ModelCache(self.paths.model_dirs)
        return self._models

    def load_model(self) -> Job:
        """Load the chosen answer model now, so the first question does not wait for it.

        While it runs, `model_loading` holds the job: a question asked meanwhile waits behind
        it (one generation queue) and shows its progress.
        """
        model = self.settings.model
        job = self.runner.submit(
            "load-model",
            lambda ctx: self.models().host(model, ctx.progress, ctx.cancel),
            serial_key=GENERATION_KEY,
        )
        self.model_loading = job
        job.finished.connect(lambda: setattr(self, "model_loading", None))
        return job

    def ask(self, question: str, chat: str | None) -> Job:
        """Answer in a job; the result is the core's Reply (the answer and its saved chat).

        `chat` is a saved chat's id, or None to start one. Progress reports the model loading
        (Stage.LOADING_MODEL) and then Stage.SEARCHING; streamed text arrives as items.
        """
        from kbdesk.core.assistant import NEW_CHAT, Assistant

        kb = self.kb()
        assistant = Assistant(kb, self.settings, self.models())

        def run(ctx: JobContext):
            return assistant.ask(
                question,
                chat=chat or NEW_CHAT,
                on_token=lambda piece: ctx.emit(piece),
                cancel=ctx.cancel,
                progress=ctx.progress,
            )

        return self._reads(kb.name, self.runner.submit("ask", run, serial_key=GENERATION_KEY))

    def evaluate(self, adapter: str) -> Job:
        """The four-way evaluation of an adapter on the warm answer model; the result is the
        evaluation dict (also written beside the adapter). Questions wait behind it."""
        from kbdesk.core.evaluate.run import run_evaluation

        kb, model, passages = self.kb(), self.settings.model, self.settings.passages

        def run(ctx: JobContext):
            host = self.models().host(model, ctx.progress, ctx.cancel)
            result, _report = run_evaluation(
                kb, host, adapter, passages=passages, progress=ctx.progress, cancel=ctx.cancel
            )
            return result

        job = self.runner.submit("evaluate", run, serial_key=GENERATION_KEY)
        return self._reads(kb.name, job)

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> bool:
        """Cancel running jobs, wait for their threads, and release files and the model."""
        clean = self.runner.shutdown()
        for name in list(self._kbs):
            self.forget(name)
        if self._models is not None:
            self._models.close()
        return clean


def _rekeyed(settings: Settings, old: str, new: str | None) -> dict:
    """The per-collection settings (watched folders, pending imports) moved from `old` to `new`."""
    changes = {}
    for field in ("watched", "pending"):
        values = dict(getattr(settings, field))
        if old in values:
            moved = values.pop(old)
            if new is not None:
                values[new] = moved
            changes[field] = values
    return changes
