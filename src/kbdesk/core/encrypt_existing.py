"""Encrypting a plain collection where it is, in steps a kill resumes.

Everything is built in a hidden folder inside the collection: the key file, the catalog
exported into SQLCipher, the vector index and the chats sealed. It is then checked against
the plain files; only after that check is `verified` written, the collection's adapters are
sealed with it (its training jobs' plain folders removed), and the encrypted files are moved
over the plain ones, the key file last. Before the check the plain collection is untouched and
a kill costs only the work redone; after it, the next open (or run) finishes the move.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from kbdesk.core.collection import CATALOG, MANIFEST, VECTORS, writer_lock
from kbdesk.core.crypt import keys
from kbdesk.core.crypt.sealed import read_sealed, write_sealed
from kbdesk.core.errors import CollectionBusy, CollectionError, SealBroken, WrongKey
from kbdesk.core.generate.chats import SEALED_PURPOSE as CHAT_PURPOSE
from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.paths import AppPaths, validate_collection_name
from kbdesk.core.store.catalog import Catalog
from kbdesk.core.store.connections import export_encrypted
from kbdesk.core.store.fileio import discard_folder, fsync_dir, remove_tree
from kbdesk.core.store.vectors import SEALED_PURPOSE as VECTORS_PURPOSE
from kbdesk.core.types import Progress, Stage

STAGE = ".encrypting"
VERIFIED = "verified"
CHATS = "chats"
STEPS = ("the catalog", "the vector index", "the chats", "checking", "moving into place")
# The plain catalog's write-ahead log and shared memory: applied to the encrypted file that
# takes its name they would corrupt it, so they go before it moves in.
_SIDECARS = ("-wal", "-shm", "-journal")


def encrypt_collection(
    data_dir: str | os.PathLike | None,
    name: str,
    passphrase: str,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[bytes, str]:
    """Encrypt plain collection `name` under a new data key wrapped by `passphrase`: the data
    key, and the new recovery key to be shown once. Run again after a kill with the same
    passphrase, it goes on where it stopped (a different passphrase starts over; the plain
    files are untouched until the check).

    :raises CollectionBusy: an import or removal is writing to it, or a training reads it.
    :raises CollectionError: it is encrypted already, or there is no such collection.
    """
    keys.check_passphrase(passphrase)
    paths = AppPaths.resolve(data_dir)
    name = validate_collection_name(name)
    folder = paths.collection_dir(name)
    if not (folder / MANIFEST).is_file():
        raise CollectionError(f"There is no collection named '{name}'.")
    stage = folder / STAGE
    _refuse_while_training(paths, name)
    with writer_lock(folder, name):
        if (stage / VERIFIED).is_file() and not (stage / keys.KEYS_FILE).is_file():
            finish_encrypting(folder)  # killed after the key file moved in: only tidying was left
        if (folder / keys.KEYS_FILE).is_file() and not (stage / VERIFIED).is_file():
            _tidy_after_a_cut_short_run(paths, name, passphrase)
            raise CollectionError(f"Collection '{name}' is encrypted already.")
        key, keyfile = _staged_key(stage, passphrase)
        recovery = keys.new_recovery_key()  # a new one on every run: none was shown before
        keys.with_recovery_key(keyfile, key, recovery).save(stage)
        if not (stage / VERIFIED).is_file():
            _build(folder, stage, key, progress, cancel)
            _check(folder, stage, key)
            (stage / VERIFIED).write_text("checked against the plain files\n")
            fsync_dir(stage)
        progress(Progress(Stage.ENCRYPTING, 4, len(STEPS), message=STEPS[4]))
        seal_trainings(paths, name, key)
        finish_encrypting(folder)
    progress(Progress(Stage.DONE, len(STEPS), len(STEPS)))
    return key, recovery


def seal_trainings(paths: AppPaths, name: str, key: bytes) -> None:
    """What training kept of the collection, encrypted with it: its adapters sealed, and its
    jobs' folders (plain examples and checkpoints) removed; a finished job needs its folder no
    more, an unfinished one is trained again. Repeatable."""
    from kbdesk.core.adapters import list_adapters, seal_adapter
    from kbdesk.core.tune.training import jobs_of

    for adapter in list_adapters(paths.adapters_dir):
        if adapter.meta.collection == name:
            seal_adapter(adapter.path, key)
    for job in jobs_of(paths, name):
        if not job.spec().encrypted:
            discard_folder(job.path)


def _refuse_while_training(paths: AppPaths, name: str) -> None:
    from kbdesk.core.tune.training import jobs_of

    if any(job.running_pid() is not None for job in jobs_of(paths, name)):
        raise CollectionBusy(
            f"Collection '{name}' cannot be encrypted while an adapter is being trained on it.",
            hint="Stop the training (Chat › Adapters…), then encrypt the collection.",
        )


def _tidy_after_a_cut_short_run(paths: AppPaths, name: str, passphrase: str) -> None:
    """A run killed after the move left the trainings to seal: done now if the passphrase
    is the collection's (else the collection is left as it is)."""
    folder = paths.collection_dir(name)
    try:
        key = keys.unlock(keys.KeyFile.load(folder), passphrase)
    except (WrongKey, SealBroken):
        return
    seal_trainings(paths, name, key)


def finish_encrypting(folder: Path) -> bool:
    """Complete a checked encryption whose move a kill cut short (every open calls this: a
    collection half moved must never be read). Each step is repeatable; True if it moved."""
    stage = Path(folder) / STAGE
    if not (stage / VERIFIED).is_file():
        return False
    if (stage / CATALOG).is_file():
        for sidecar in _SIDECARS:
            (folder / f"{CATALOG}{sidecar}").unlink(missing_ok=True)
        os.replace(stage / CATALOG, folder / CATALOG)
    for name in (VECTORS, _vector_meta()):
        if (stage / name).is_file():
            os.replace(stage / name, folder / name)
    if (stage / CHATS).is_dir():
        (folder / CHATS).mkdir(exist_ok=True)
        for chat in (stage / CHATS).iterdir():
            os.replace(chat, folder / CHATS / chat.name)
    if (stage / keys.KEYS_FILE).is_file():
        os.replace(stage / keys.KEYS_FILE, folder / keys.KEYS_FILE)
    fsync_dir(folder)
    remove_tree(stage)
    return True


def finish_if_checked(folder: Path, name: str) -> None:
    """Before a collection is read: finish a checked encryption's move, under the writer lock
    (refused while the run that checked it is still moving).

    :raises CollectionBusy: that run is still working.
    """
    if (Path(folder) / STAGE / VERIFIED).is_file():
        with writer_lock(folder, name):
            finish_encrypting(folder)


def interrupted(folder: Path) -> bool:
    """Whether an encryption of the plain collection in `folder` was started and not finished."""
    return (Path(folder) / STAGE / keys.KEYS_FILE).is_file()


def _staged_key(stage: Path, passphrase: str) -> tuple[bytes, keys.KeyFile]:
    """The key of an earlier, interrupted run that `passphrase` opens (its finished steps are
    kept), else a new key and an empty staging folder."""
    if (stage / keys.KEYS_FILE).is_file():
        try:
            keyfile = keys.KeyFile.load(stage)
            return keys.unlock(keyfile, passphrase), keyfile
        except (WrongKey, SealBroken):
            if (stage / VERIFIED).is_file():  # checked already: only its own passphrase goes on
                raise
    remove_tree(stage)
    stage.mkdir()
    key = keys.new_data_key()
    keyfile = keys.new_key_file(uuid.uuid4().hex, key, passphrase, keys.new_recovery_key())
    keyfile.save(stage)
    return key, keyfile


def _build(
    folder: Path, stage: Path, key: bytes, progress: ProgressFn, cancel: CancelToken | None
) -> None:
    def step(n: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(Progress(Stage.ENCRYPTING, n, len(STEPS), message=STEPS[n]))

    step(0)
    if not (stage / CATALOG).is_file():
        partial = stage / f"{CATALOG}.part"
        for leftover in [partial, *(Path(f"{partial}{s}") for s in _SIDECARS)]:
            leftover.unlink(missing_ok=True)
        export_encrypted(folder / CATALOG, partial, key)
        os.replace(partial, stage / CATALOG)
    step(1)
    if (folder / VECTORS).is_file() and not (stage / VECTORS).is_file():
        # The index file as FAISS wrote it, sealed: the same bytes an encrypted index is saved as.
        write_sealed(stage / VECTORS, key, (folder / VECTORS).read_bytes(), VECTORS_PURPOSE)
        meta = folder / _vector_meta()
        if meta.is_file():
            (stage / _vector_meta()).write_bytes(meta.read_bytes())
    step(2)
    plain_chats = folder / CHATS
    if plain_chats.is_dir():
        (stage / CHATS).mkdir(exist_ok=True)
        for chat in sorted(plain_chats.glob("*.json")):  # small: sealed again on every run
            write_sealed(stage / CHATS / chat.name, key, chat.read_bytes(), CHAT_PURPOSE)
    step(3)


def _check(folder: Path, stage: Path, key: bytes) -> None:
    """The encrypted copy holds what the plain collection holds, or a CollectionError."""
    plain, sealed = Catalog(folder / CATALOG), Catalog(stage / CATALOG, key=key)
    try:
        mine, theirs = _census(plain), _census(sealed)
    finally:
        plain.close()
        sealed.close()
    if mine != theirs:
        raise CollectionError(
            f"The encrypted copy of the catalog differs from the original ({theirs} against "
            f"{mine}); nothing was changed.",
            hint="Try again; if it happens again, the log has the details.",
        )
    if (folder / VECTORS).is_file():
        read_sealed(stage / VECTORS, key, VECTORS_PURPOSE)  # opens, whole and under this key
    for chat in sorted((folder / CHATS).glob("*.json")) if (folder / CHATS).is_dir() else []:
        copy = stage / CHATS / chat.name
        if not copy.is_file() or read_sealed(copy, key, CHAT_PURPOSE) != chat.read_bytes():
            raise CollectionError(
                f"The chat {chat.name} changed while the collection was being encrypted.",
                hint="Encrypt it again: the work done so far is kept.",
            )


def _census(catalog: Catalog) -> tuple[int, int, int]:
    """Documents, passages and the catalog's generation: what a faithful copy must repeat."""
    return len(catalog.documents()), len(catalog.chunk_ids()), catalog.generation


def _vector_meta() -> str:
    return Path(VECTORS).with_suffix(".json").name
