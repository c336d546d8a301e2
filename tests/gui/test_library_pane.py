"""The library pane's parts: collection rename/delete as jobs, signals to the window, the table."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from kbdesk.core import collections_admin
from kbdesk.core.errors import CollectionBusy
from kbdesk.gui.documents_table import NAME
from kbdesk.gui.folder_watcher import subfolders
from kbdesk.gui.session import write_key
from tests.gui.test_main_window import IMPORT_TIMEOUT, import_and_wait, statuses
from tests.helpers import LEASE_PAGES, make_pdf

JOB_TIMEOUT = 30_000


def _listed(window) -> list[str]:
    box = window.library.collections_box.list
    return [box.item(i).text() for i in range(box.count())]


def _spy_thread(monkeypatch, name: str) -> list[threading.Thread]:
    """Records the thread the core's rename or delete runs on (and still runs it)."""
    seen: list[threading.Thread] = []
    real = getattr(collections_admin, name)

    def spy(*args, **kwargs):
        seen.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(collections_admin, name, spy)
    return seen


def test_rename_runs_as_a_job_and_the_window_follows(make_window, qtbot, monkeypatch, tmp_path):
    seen = _spy_thread(monkeypatch, "rename_collection")
    window = make_window()
    session = window.session
    watched = tmp_path / "watched"
    watched.mkdir()
    session.update_settings(watched={"default": [str(watched)]})
    with qtbot.waitSignal(session.collections_changed, timeout=JOB_TIMEOUT):
        job = window.library.collections_box.rename("Work papers")
        assert not job.done  # handed to a worker; the window keeps going meanwhile
    assert seen and seen[0] is not threading.main_thread()
    assert session.collection == "Work papers"
    assert session.collections() == ["Work papers"]
    assert _listed(window) == ["Work papers"]
    assert window.library.collections_box.list.currentItem().text() == "Work papers"
    assert window.windowTitle().endswith("Work papers")
    assert session.settings.watched == {"Work papers": [str(watched)]}
    assert "is now 'Work papers'" in window.status.text()
    assert not session.paths.collection_dir("default").exists()


def test_rename_onto_an_existing_name_is_refused_in_the_status_bar(make_window, qtbot):
    window = make_window()
    session = window.session
    session.create_collection("other")
    session.switch_collection("default")
    with qtbot.waitSignal(window.library.collections_box.rename("other").failed) as failed:
        pass
    assert failed.args[0].code == "collection_exists"
    assert window.status.text().startswith("A collection named 'other' already exists.")
    assert session.collection == "default" and _listed(window) == ["default", "other"]
    assert session.kb().documents() == []  # still open and usable


def test_rename_is_refused_while_this_window_writes_to_the_collection(make_window, qtbot):
    window = make_window()
    session = window.session
    release = threading.Event()
    writer = session.runner.submit(
        "import", lambda ctx: release.wait(30), serial_key=write_key("default")
    )
    try:
        with qtbot.waitSignal(window.library.collections_box.rename("later").failed) as failed:
            pass
    finally:
        release.set()
    qtbot.waitUntil(lambda: writer.done, timeout=JOB_TIMEOUT)
    assert isinstance(failed.args[0], CollectionBusy)
    assert "cannot be renamed while an import or removal" in window.status.text()
    assert session.collections() == ["default"] and session.collection == "default"


def test_delete_runs_as_a_job_and_switches_to_another_collection(make_window, qtbot, monkeypatch):
    seen = _spy_thread(monkeypatch, "delete_collection")
    window = make_window()
    session = window.session
    session.create_collection("keep")
    session.create_collection("drop")
    assert window.windowTitle().endswith("drop")
    folder = session.paths.collection_dir("drop")
    with qtbot.waitSignal(session.collections_changed, timeout=JOB_TIMEOUT):
        job = window.library.collections_box.delete("drop")
        assert not job.done
    assert seen and seen[0] is not threading.main_thread()
    assert not folder.exists()
    assert session.collections() == ["default", "keep"]
    assert session.collection == "default"
    assert window.windowTitle().endswith("default")
    assert _listed(window) == ["default", "keep"]
    assert "deleted" in window.status.text()


def test_deleting_the_only_collection_leaves_a_fresh_empty_one(make_window, qtbot, docs_dir):
    window = make_window()
    import_and_wait(qtbot, window, [docs_dir])
    assert len(statuses(window)) == 3
    with qtbot.waitSignal(window.session.collections_changed, timeout=JOB_TIMEOUT):
        window.library.collections_box.delete("default")
    assert window.session.collections() == ["default"]
    assert statuses(window) == {}
    assert window.library.stack.currentIndex() == 0  # the empty-library help again


def test_the_pane_reaches_the_window_only_through_signals(make_window, qtbot, docs_dir):
    window = make_window()
    library = window.library
    library.message.emit("Hello from the library")
    assert window.status.text() == "Hello from the library"
    import_and_wait(qtbot, window, [docs_dir / "lease.pdf"])
    index = library.model.index(0, NAME)
    with qtbot.waitSignal(library.document_requested) as asked:
        library.table.doubleClicked.emit(index)
    assert asked.args == [str(docs_dir / "lease.pdf")]
    assert window.citations.current_path == str(docs_dir / "lease.pdf")


LONG = "Commercial lease agreement between Harbor Point and Bluefin, signed copy 2025.pdf"


def _name_width_share(library) -> float:
    table = library.table
    return table.columnWidth(NAME) / table.viewport().width()


def test_names_keep_the_spare_width_when_the_source_pane_opens(make_window, qtbot, tmp_path):
    folder = tmp_path / "docs"
    pdf = make_pdf(folder / LONG, LEASE_PAGES)
    make_pdf(folder / "b.pdf", LEASE_PAGES[:1])
    window = make_window()
    window.resize(1280, 800)
    library = window.library
    import_and_wait(qtbot, window, [folder])
    qtbot.wait(50)
    assert _name_width_share(library) >= 0.4, library.table.viewport().width()
    panes_before = window.splitter.sizes()

    row = next(i for i, r in enumerate(library.model.rows) if r.name == LONG)
    library.table.doubleClicked.emit(library.model.index(row, NAME))
    qtbot.waitUntil(lambda: window.citations.current_image is not None, timeout=JOB_TIMEOUT)
    qtbot.wait(100)
    assert window.splitter.sizes()[0] < panes_before[0]  # the source pane took width
    assert _name_width_share(library) >= 0.4, library.table.viewport().width()

    # the name is elided in the middle: its start and its extension stay readable
    index = library.model.index(row, NAME)
    option = QStyleOptionViewItem()
    library.table.itemDelegateForColumn(NAME).initStyleOption(option, index)
    assert option.textElideMode == Qt.TextElideMode.ElideMiddle
    shown = option.fontMetrics.elidedText(
        LONG, option.textElideMode, library.table.columnWidth(NAME) - 8
    )
    assert shown != LONG and shown.startswith("Comm") and shown.endswith(".pdf")
    assert len(shown) >= 12
    # and the tooltip carries the full path
    tip = index.data(Qt.ItemDataRole.ToolTipRole).splitlines()
    assert tip[0] == str(pdf)
    assert "3 page(s)" in tip[-1] and "passage(s)" in tip[-1]  # what hidden columns held


@pytest.mark.parametrize("pane", [260, 450, 900])
def test_minor_columns_give_way_to_the_name(make_window, qtbot, docs_dir, pane):
    window = make_window()
    window.resize(1920, 800)
    window.splitter.setSizes([pane, 1920 - pane - 500, 500])
    import_and_wait(qtbot, window, [docs_dir])
    qtbot.wait(50)
    table = window.library.table
    assert _name_width_share(window.library) >= 0.4
    header = table.horizontalHeader()
    shown = [c for c in range(5) if not header.isSectionHidden(c)]
    assert shown[:3] == [0, 1, 2]  # name, status and pages always show
    assert 4 not in shown or 3 in shown  # Added gives way before Passages
    if pane == 900:
        assert len(shown) == 5  # room for everything


def test_subfolders_are_found_nearest_first_and_bounded(tmp_path):
    for i in range(5):
        (tmp_path / f"a{i}" / "deep" / "deeper").mkdir(parents=True)
    found = subfolders([str(tmp_path)], limit=7)
    assert len(found) == 7
    assert {Path(f).name for f in found[:5]} == {f"a{i}" for i in range(5)}


def test_a_file_added_to_a_watched_subfolder_is_imported(make_window, qtbot, tmp_path):
    folder = tmp_path / "watched"
    make_pdf(folder / "first.pdf", LEASE_PAGES[:1])
    (folder / "sub").mkdir()
    window = make_window()
    library = window.library
    with qtbot.waitSignal(library.import_finished, timeout=IMPORT_TIMEOUT):
        library.watch_folder(str(folder))
    watcher = library.watcher.watcher
    qtbot.waitUntil(lambda: str(folder / "sub") in watcher.directories(), timeout=JOB_TIMEOUT)
    assert library.watch_label.text() == f"Watching: {folder}"
    with qtbot.waitSignal(library.import_finished, timeout=IMPORT_TIMEOUT):
        make_pdf(folder / "sub" / "second.pdf", LEASE_PAGES[1:2])
    assert set(statuses(window)) == {"first.pdf", "second.pdf"}


def test_a_question_sent_while_the_collection_is_renamed_is_told_why(
    make_window, qtbot, monkeypatch
):
    window = make_window()
    session = window.session
    release = threading.Event()
    real = collections_admin.rename_collection

    def slow_rename(*args, **kwargs):
        release.wait(JOB_TIMEOUT / 1000)
        return real(*args, **kwargs)

    monkeypatch.setattr(collections_admin, "rename_collection", slow_rename)
    with qtbot.waitSignal(session.collections_changed, timeout=JOB_TIMEOUT):
        window.library.collections_box.rename("Renamed")
        assert window.chat.ask("What is the rent?") is None  # refused, not raised
        assert "renamed" in window.chat.turns[-1].error
        release.set()
    assert not window.chat.busy


def test_documents_an_earlier_version_cut_are_offered_a_re_read_that_keeps_them(
    make_window, qtbot, tmp_path
):
    import sqlite3

    make_pdf(tmp_path / "docs" / "lease.pdf", LEASE_PAGES)
    window = make_window()
    import_and_wait(qtbot, window, [tmp_path / "docs"])
    library = window.library
    assert library.stale_bar.isHidden()
    kb = window.session.kb()
    with sqlite3.connect(kb.folder / "catalog.sqlite3") as con:  # as an earlier release left it
        con.execute("UPDATE documents SET chunking = 1")
    library.refresh()
    assert not library.stale_bar.isHidden()
    assert library.stale_label.text().startswith("1 document was read by an earlier version")
    with qtbot.waitSignal(library.import_finished, timeout=IMPORT_TIMEOUT):
        qtbot.mouseClick(library.stale_button, Qt.MouseButton.LeftButton)
    assert statuses(window) == {"lease.pdf": "ready"}  # read again, never removed
    assert kb.stale_documents() == [] and library.stale_bar.isHidden()


def test_re_index_reads_the_selection_again_without_removing_it_first(
    make_window, qtbot, docs_dir, monkeypatch
):
    window = make_window()
    library = window.library
    import_and_wait(qtbot, window, [docs_dir / "lease.pdf"])
    kb = window.session.kb()
    old_ids = set(kb.catalog.chunk_ids().tolist())
    removed = []
    monkeypatch.setattr(kb, "remove", lambda refs: removed.append(refs) or [])
    library.table.selectRow(0)
    with qtbot.waitSignal(library.import_finished, timeout=IMPORT_TIMEOUT) as done:
        qtbot.mouseClick(library.reindex_button, Qt.MouseButton.LeftButton)
    assert removed == [], "a re-index never removes: the old version stays until the new is saved"
    assert [r.status.value for r in done.args[0].results] == ["updated"]
    assert statuses(window) == {"lease.pdf": "ready"}
    assert not old_ids & set(kb.catalog.chunk_ids().tolist()), "its passages were cut again"
