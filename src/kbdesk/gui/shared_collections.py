"""The window's shared collections (a practice's PostgreSQL + pgvector server): their names in
the Collections list, and the jobs that list them, connect to one, upload a local collection,
read the open one's document list again and bring a cited document's original file to this PC.
Every server call runs in a job: an unreachable server fails the job with a plain message, and
the window never waits on the network.

A shared collection is known in the window by a key that no local collection name can be
(local names have no colon): "shared:" and its name on the server.
"""

from __future__ import annotations

from pathlib import Path

from kbdesk.core.errors import KbdeskError
from kbdesk.gui.workers import Job, JobContext

PREFIX = "shared:"
MARK = "  ⇄ shared"  # after a shared collection's name in the Collections list
# How often the open shared collection's document list is read again: another PC's import
# shows up within this, and a reader's window asks the server at most once a minute.
DOCUMENTS_REFRESH_MS = 60_000


def key_of(name: str) -> str:
    return PREFIX + name


def is_shared(key: str | None) -> bool:
    return bool(key) and str(key).startswith(PREFIX)


def name_of(key: str) -> str:
    return key[len(PREFIX) :]


def address_of(url: str):
    from kbdesk.core.server.connection import ServerAddress

    if not url:
        raise KbdeskError(
            "No shared server is set.",
            hint="Give its address in Settings › Shared server.",
        )
    return ServerAddress(url)


def list_collections(session) -> Job:
    """The names of the collections this login may read on the server in Settings; the job
    fails with the server's own words when it does not answer or refuses the login."""
    from kbdesk.core.server import admin

    url, password = session.settings.shared_server, session.server_password

    def run(ctx: JobContext) -> list[str]:
        return [c.name for c in admin.status(address_of(url), password).collections]

    return session.runner.submit("shared-list", run)


def connect(session, key: str) -> Job:
    """Open a shared collection (with its document list); the job's result is the
    SharedCollection, handed to the session, which makes it the current collection."""
    from kbdesk.core.server.collection import SharedCollection

    url, data_dir = session.settings.shared_server, session.paths.data_dir
    password = session.server_password

    def run(ctx: JobContext):
        return SharedCollection.open(
            address_of(url), name_of(key), data_dir=data_dir, password=password
        )

    job = session.runner.submit("shared-connect", run)
    job.result.connect(lambda shared: session.connected(key, shared))
    return job


def upload(session, name: str) -> Job:
    """Upload the open local collection into the shared collection `name` (created when this
    login may create collections), as `kbdesk server push` does; result: the PushReport. It
    waits for an import into the collection to end."""
    from kbdesk.core.server.push import push
    from kbdesk.gui.session import write_key

    kb = session.kb()
    url, password = session.settings.shared_server, session.server_password

    def run(ctx: JobContext):
        return push(
            kb, address_of(url), name, password=password, progress=ctx.progress, cancel=ctx.cancel
        )

    return session.runner.submit("shared-upload", run, serial_key=write_key(kb.name))


def add_files(session, paths: list[str]) -> Job:
    """Add files and folders to the open shared collection: read and embedded on this PC, then
    uploaded (core/server/add_files.py); result: the AddReport."""
    from kbdesk.core.server.add_files import add_files as add
    from kbdesk.gui.session import write_key

    key, url = session.collection, session.settings.shared_server
    password, ocr, data_dir = session.server_password, session.settings.ocr, session.paths.data_dir

    def run(ctx: JobContext):
        return add(
            address_of(url),
            name_of(key),
            paths,
            data_dir=data_dir,
            password=password,
            ocr=ocr,
            progress=ctx.progress,
            cancel=ctx.cancel,
        )

    return session.runner.submit("shared-add", run, serial_key=write_key(key))


def refresh_documents(session) -> Job:
    """Read the open shared collection's document list from the server again (another PC may
    have imported or removed documents); result: the documents."""
    shared = session.kb()

    def run(ctx: JobContext) -> list:
        return shared.refresh()

    return session.runner.submit("shared-documents", run)


def original(session, doc_id: int) -> Job:
    """The open shared collection's document `doc_id` brought to this PC; result: its path."""
    shared = session.kb()

    def run(ctx: JobContext) -> Path:
        return shared.original(doc_id)

    return session.runner.submit("shared-original", run)
