"""Renaming and deleting collections: under the writer lock, refused in a sentence, never half done."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kbdesk.core.collection import writer_lock
from kbdesk.core.collections_admin import (
    CollectionExists,
    InvalidCollectionName,
    NoSuchCollection,
)
from kbdesk.core.errors import CollectionBusy, CollectionError
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.paths import AppPaths
from kbdesk.core.store import fileio
from kbdesk.core.store.fileio import TRASH_SUFFIX

# "minilm" has a known dimension: creating a collection loads no model
EMBEDDER = "minilm"


def _create(data_dir: Path, name: str) -> Path:
    KnowledgeBase.open(data_dir, name, embedder=EMBEDDER).close()
    folder = AppPaths.resolve(data_dir).collection_dir(name)
    (folder / "marker.txt").write_text(name, encoding="utf-8")  # stands for its data
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "write.lock"
    }


@pytest.fixture
def held_elsewhere(data_dir):
    """Holds a collection's writer lock in another process, as a running import would."""
    procs: list[subprocess.Popen] = []

    def hold(name: str) -> None:
        folder = AppPaths.resolve(data_dir).collection_dir(name)
        code = (
            "import sys\nfrom pathlib import Path\n"
            "from kbdesk.core.collection import writer_lock\n"
            f"with writer_lock(Path({str(folder)!r}), {name!r}):\n"
            "    print('held', flush=True)\n"
            "    sys.stdin.read()\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_rename_moves_the_collection_with_its_data(data_dir):
    folder = _create(data_dir, "notes")
    before = _files(folder)
    target = KnowledgeBase.rename_collection(data_dir, "notes", "Work notes")
    assert KnowledgeBase.collections(data_dir) == ["Work notes"]
    assert not folder.exists()
    assert _files(target) == before
    with KnowledgeBase.open(data_dir, "Work notes", create=False) as kb:
        assert kb.documents() == []


def test_rename_keeps_documents_searchable(data_dir, tmp_path):
    doc = tmp_path / "lease.txt"
    doc.write_text("The monthly rent is 8,400 dollars, payable on the first day.", "utf-8")
    with KnowledgeBase.open(data_dir, "old", embedder=EMBEDDER) as kb:
        assert kb.import_paths([doc]).ok
    KnowledgeBase.rename_collection(data_dir, "old", "new")
    with KnowledgeBase.open(data_dir, "new", create=False) as kb:
        assert [d.name for d in kb.documents()] == ["lease.txt"]
        assert kb.search("monthly rent", k=1, mode="keyword")[0].document == "lease.txt"


def test_rename_is_refused_while_another_process_imports(data_dir, held_elsewhere):
    folder = _create(data_dir, "busy")
    before = _files(folder)
    held_elsewhere("busy")
    with pytest.raises(CollectionBusy) as refused:
        KnowledgeBase.rename_collection(data_dir, "busy", "free")
    assert str(refused.value).startswith(
        "Collection 'busy' cannot be renamed while an import or removal is changing it."
    )
    assert KnowledgeBase.collections(data_dir) == ["busy"]
    assert _files(folder) == before


def test_delete_is_refused_while_another_process_imports(data_dir, held_elsewhere):
    folder = _create(data_dir, "busy")
    before = _files(folder)
    held_elsewhere("busy")
    with pytest.raises(CollectionBusy, match="cannot be deleted while an import"):
        KnowledgeBase.delete_collection(data_dir, "busy")
    assert KnowledgeBase.collections(data_dir) == ["busy"]
    assert _files(folder) == before
    assert not list(folder.parent.glob(f"*{TRASH_SUFFIX}"))


def test_rename_and_delete_are_refused_while_another_thread_holds_the_lock(data_dir):
    folder = _create(data_dir, "busy")
    before = _files(folder)
    held, release = threading.Event(), threading.Event()

    def importer() -> None:
        with writer_lock(folder, "busy"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=importer)
    thread.start()
    try:
        assert held.wait(30)
        with pytest.raises(CollectionBusy):
            KnowledgeBase.rename_collection(data_dir, "busy", "free")
        with pytest.raises(CollectionBusy):
            KnowledgeBase.delete_collection(data_dir, "busy")
    finally:
        release.set()
        thread.join()
    assert KnowledgeBase.collections(data_dir) == ["busy"]
    assert _files(folder) == before
    KnowledgeBase.rename_collection(data_dir, "busy", "free")  # once the lock is free
    assert KnowledgeBase.collections(data_dir) == ["free"]


def test_rename_onto_an_existing_collection_is_refused_and_both_are_kept(data_dir):
    a, b = _create(data_dir, "a"), _create(data_dir, "b")
    before = (_files(a), _files(b))
    with pytest.raises(CollectionExists, match="A collection named 'b' already exists."):
        KnowledgeBase.rename_collection(data_dir, "a", "b")
    assert (_files(a), _files(b)) == before
    assert KnowledgeBase.collections(data_dir) == ["a", "b"]


def test_rename_onto_a_stray_folder_is_refused(data_dir):
    _create(data_dir, "a")
    stray = AppPaths.resolve(data_dir).collections_dir / "b"
    (stray / "sub").mkdir(parents=True)
    with pytest.raises(CollectionExists, match="A folder named 'b' is already in"):
        KnowledgeBase.rename_collection(data_dir, "a", "b")
    assert KnowledgeBase.collections(data_dir) == ["a"]


@pytest.mark.parametrize("bad", ["", "../escape", ".hidden", "a/b", "x" * 65])
def test_rename_to_an_invalid_name_is_refused_and_the_data_kept(data_dir, bad):
    folder = _create(data_dir, "keep")
    before = _files(folder)
    with pytest.raises(InvalidCollectionName, match="is not a valid collection name") as refused:
        KnowledgeBase.rename_collection(data_dir, "keep", bad)
    assert isinstance(refused.value, CollectionError) and refused.value.code
    assert KnowledgeBase.collections(data_dir) == ["keep"]
    assert _files(folder) == before


def test_missing_collections_are_named(data_dir):
    with pytest.raises(NoSuchCollection, match="There is no collection named 'ghost'."):
        KnowledgeBase.rename_collection(data_dir, "ghost", "spirit")
    with pytest.raises(NoSuchCollection, match="There is no collection named 'ghost'."):
        KnowledgeBase.delete_collection(data_dir, "ghost")


def test_delete_removes_the_collection_and_nothing_else(data_dir):
    gone, kept = _create(data_dir, "gone"), _create(data_dir, "kept")
    before = _files(kept)
    KnowledgeBase.delete_collection(data_dir, "gone")
    assert KnowledgeBase.collections(data_dir) == ["kept"]
    assert not gone.exists()
    assert sorted(p.name for p in gone.parent.iterdir()) == ["kept"]
    assert _files(kept) == before


def test_a_delete_that_cannot_finish_leaves_no_half_collection_visible(data_dir, monkeypatch):
    _create(data_dir, "stuck")
    _create(data_dir, "other")
    real_rmtree = shutil.rmtree

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(fileio.shutil, "rmtree", refuse)
    KnowledgeBase.delete_collection(data_dir, "stuck")  # hidden at once; removal comes later
    assert KnowledgeBase.collections(data_dir) == ["other"]
    folder = AppPaths.resolve(data_dir).collections_dir
    assert [p.name for p in folder.glob(f"*{TRASH_SUFFIX}")] == [f".stuck{TRASH_SUFFIX}"]
    monkeypatch.setattr(fileio.shutil, "rmtree", real_rmtree)
    KnowledgeBase.delete_collection(data_dir, "other")  # empties what was left
    assert KnowledgeBase.collections(data_dir) == []
    assert list(folder.iterdir()) == []


def test_a_handle_opened_before_a_rename_does_not_bring_the_old_name_back(data_dir, tmp_path):
    doc = tmp_path / "note.txt"
    doc.write_text("A note.", "utf-8")
    stale = KnowledgeBase.open(data_dir, "before", embedder=EMBEDDER)
    try:
        KnowledgeBase.rename_collection(data_dir, "before", "after")
        with pytest.raises(NoSuchCollection, match="was renamed or deleted"):
            stale.import_paths([doc])
        assert not AppPaths.resolve(data_dir).collection_dir("before").exists()
        assert KnowledgeBase.collections(data_dir) == ["after"]
    finally:
        stale.close()
