"""Renaming and deleting a collection's folder under its writer lock, never half of one visible."""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kbdesk.core.collection import MANIFEST, writer_lock
from kbdesk.core.errors import CollectionBusy, CollectionError, ErrorCode, InvalidSetting
from kbdesk.core.paths import AppPaths, validate_collection_name
from kbdesk.core.store.fileio import discard_folder, empty_trash


class NoSuchCollection(CollectionError):
    code = ErrorCode.NO_SUCH_COLLECTION


class CollectionExists(CollectionError):
    code = ErrorCode.COLLECTION_EXISTS


class InvalidCollectionName(CollectionError):
    code = ErrorCode.INVALID_COLLECTION_NAME


def rename_collection(data_dir: str | os.PathLike | None, old: str, new: str) -> Path:
    """Rename collection `old` to `new`, with its documents, index and chats.

    :returns: the collection's new folder.
    :raises InvalidCollectionName: `new` is not a valid name.
    :raises NoSuchCollection: there is no collection `old`.
    :raises CollectionExists: a collection (or another folder) named `new` is already there.
    :raises CollectionBusy: an import or removal holds the collection's writer lock.
    """
    paths = AppPaths.resolve(data_dir)
    old, new = _valid(old), _valid(new)
    source = _existing(paths, old)
    target = paths.collection_dir(new)
    if new == old:
        return source
    # a case-only rename on a case-insensitive file system finds its own folder at `target`
    if target.exists() and not _same_folder(source, target):
        if (target / MANIFEST).is_file():
            raise CollectionExists(
                f"A collection named '{new}' already exists.", hint="Choose another name."
            )
        raise CollectionExists(
            f"A folder named '{new}' is already in {paths.collections_dir}.",
            hint="Choose another name, or move that folder away.",
        )
    _move_locked(source, target, old, "renamed")
    return target


def delete_collection(data_dir: str | os.PathLike | None, name: str) -> None:
    """Delete collection `name`: its index, catalog and chats. The user's files are not touched.

    The folder is first renamed into the trash under the writer lock, so no half-deleted
    collection is ever listed, even if removing the files fails or the process dies.

    :raises NoSuchCollection: there is no collection `name`.
    :raises CollectionBusy: an import or removal holds the collection's writer lock.
    """
    paths = AppPaths.resolve(data_dir)
    name = _valid(name)
    folder = _existing(paths, name)
    empty_trash(paths.collections_dir)  # what an earlier delete could not remove
    discard_folder(folder, move=lambda source, trash: _move_locked(source, trash, name, "deleted"))


def _valid(name: str) -> str:
    try:
        return validate_collection_name(name)
    except InvalidSetting as exc:
        raise InvalidCollectionName(exc.message, hint=exc.hint) from exc


def _existing(paths: AppPaths, name: str) -> Path:
    folder = paths.collection_dir(name)
    if not (folder / MANIFEST).is_file():
        raise NoSuchCollection(f"There is no collection named '{name}'.")
    return folder


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _move_locked(source: Path, target: Path, name: str, verb: str) -> None:
    """Rename `source` to `target` while no import or removal can be running in it."""
    if os.name == "nt":
        # Windows cannot rename a folder while a file in it is open, our own lock file included.
        # The lock shows no writer now; one that starts in between keeps its files open, which
        # makes the rename fail, and that failure is reported as busy too.
        with _held(source, name, verb):
            pass
        try:
            os.rename(source, target)
        except PermissionError as exc:
            raise busy_error(name, verb) from exc
        return
    with _held(source, name, verb):
        try:
            os.rename(source, target)  # the open lock file moves with its folder
        except OSError as exc:
            raise CollectionError(
                f"Collection '{name}' could not be {verb} ({exc.strerror or exc}).",
                hint="Check that the data folder is writable, then try again.",
            ) from exc


@contextmanager
def _held(folder: Path, name: str, verb: str):
    """The collection's writer lock, refused in a sentence that says what was asked."""
    with ExitStack() as stack:
        try:
            stack.enter_context(writer_lock(folder, name))
        except CollectionBusy as exc:
            raise busy_error(name, verb) from exc
        if not (folder / MANIFEST).is_file():  # renamed or deleted by another window meanwhile
            raise NoSuchCollection(f"There is no collection named '{name}'.")
        yield


def busy_error(name: str, verb: str) -> CollectionBusy:
    """The refusal of a rename or delete while a writer works in the collection."""
    return CollectionBusy(
        f"Collection '{name}' cannot be {verb} while an import or removal is changing it.",
        hint="Wait for it to finish, or cancel it, then try again.",
    )
