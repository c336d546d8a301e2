"""A shared collection in the window, as a second person at another PC uses it: the Collections
list shows the server's collections this login may read (marked), choosing one connects in the
background, a collection it may not read is refused in words, a reader's dropped files are
refused and a writer's are read on the PC and uploaded, questions are answered with citations whose click opens the page, and documents another PC
uploads appear in the open list, where a login that may write removes them (real PostgreSQL +
pgvector, the real embedder and the small real model)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl

from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.server import admin
from kbdesk.core.server.push import push
from kbdesk.gui.collections_box import KEY_ROLE
from kbdesk.gui.shared_collections import MARK
from tests.gui.test_main_window import ask, drop, statuses
from tests.helpers import make_pdf

TIMEOUT = 60_000


def _row(box, key: str):
    return next(
        box.list.item(i) for i in range(box.list.count()) if box.list.item(i).data(KEY_ROLE) == key
    )


def shared_setup(tmp_path, docs_dir, new_login):
    """The owner's PC uploads two collections; the reader is granted one of them."""
    owner, reader = new_login("owner", may_create=True), new_login("reader")
    with KnowledgeBase.open(tmp_path / "owner-pc", "files") as kb:
        assert kb.import_paths([docs_dir]).ok
        for name in ("Practice files", "Partners only"):
            push(kb, owner, name)
    admin.set_access(owner, "Practice files", reader.login, "read")
    return owner, reader


def test_a_second_login_is_refused_then_searches_asks_and_opens_the_page(
    make_window, qtbot, tmp_path, docs_dir, data_dir, new_login, small_model_path
):
    owner, reader = shared_setup(tmp_path, docs_dir, new_login)
    window = make_window(model=small_model_path)
    session, box = window.session, window.library.collections_box
    session.update_settings(shared_server=reader.url, temperature=0.0)
    qtbot.waitUntil(lambda: session.shared == ["Practice files"], timeout=TIMEOUT)
    rows = [box.list.item(i).text() for i in range(box.list.count())]
    assert "Practice files" + MARK in rows and not any("Partners" in r for r in rows)

    # access taken away after the list was read: choosing it is refused, nothing changes
    admin.set_access(owner, "Practice files", reader.login, "none")
    box.list.setCurrentItem(_row(box, "shared:Practice files"))
    qtbot.waitUntil(
        lambda: "may not read a shared collection" in window.status.text(), timeout=TIMEOUT
    )
    assert session.collection == "default"

    admin.set_access(owner, "Practice files", reader.login, "read")
    box.refresh_shared()
    qtbot.waitUntil(lambda: session.shared == ["Practice files"], timeout=TIMEOUT)
    with qtbot.waitSignal(session.collection_changed, timeout=TIMEOUT):
        box.list.setCurrentItem(_row(box, "shared:Practice files"))
    assert session.collection == "shared:Practice files"
    assert statuses(window) == {
        "hypertension.pdf": "ready",
        "lease.pdf": "ready",
        "术后护理须知.pdf": "ready",
    }
    assert not box.rename_button.isEnabled() and not box.delete_button.isEnabled()
    library = window.library
    assert not any(
        b.isEnabled()
        for b in (library.import_button, library.remove_button, library.reindex_button)
    )

    # a reader's drop is refused in words
    drop(window, [docs_dir / "lease.pdf"])
    qtbot.waitUntil(
        lambda: (
            "may read the shared collection 'Practice files' but not add to it"
            in window.status.text()
        ),
        timeout=TIMEOUT,
    )

    answer, _ = ask(qtbot, window, "How much is the security deposit?")
    cited = [c for c in answer.citations if (c.document, c.page) == ("lease.pdf", 3)]
    assert cited and "25,200" in answer.answer
    assert not Path(cited[0].path).exists()  # fetched when clicked
    pane = window.citations
    with qtbot.waitSignal(pane.page_shown, timeout=TIMEOUT) as shown:
        window.chat._link(QUrl(f"cite:0:{cited[0].n}"))
    assert shown.args[0] == 3 and pane.highlight_rects
    assert Path(pane.current_path).is_relative_to(data_dir / "shared-files")
    assert "lease.pdf came from the shared server" in window.status.text()


def test_an_unreachable_server_leaves_local_collections_working(make_window, qtbot):
    window = make_window()
    session = window.session
    session.update_settings(shared_server="postgresql://ana@127.0.0.1:9/kbdesk?sslmode=disable")
    qtbot.waitUntil(lambda: "did not answer" in window.status.text(), timeout=TIMEOUT)
    assert session.shared == [] and session.collection == "default"
    assert window.library.collections_box.list.count() >= 1


def test_a_local_collection_is_uploaded_from_the_window(
    make_window, qtbot, docs_dir, new_login, tmp_path
):
    owner = new_login("owner", may_create=True)
    window = make_window()
    session = window.session
    assert window.upload_to_server("Clinic protocols") is None  # no server set yet
    assert "Settings › Shared server" in window.status.text()
    session.update_settings(shared_server=owner.url)
    with qtbot.waitSignal(window.library.import_finished, timeout=TIMEOUT):
        drop(window, [docs_dir / "hypertension.pdf", docs_dir / "lease.pdf"])
    job = window.upload_to_server("Clinic protocols")
    qtbot.waitUntil(lambda: job.done, timeout=TIMEOUT)
    assert "'Clinic protocols': 2 added, 0 replaced, 0 already there, 0 failed." in (
        window.status.text()
    )
    qtbot.waitUntil(lambda: session.shared == ["Clinic protocols"], timeout=TIMEOUT)
    again = window.upload_to_server("Clinic protocols")  # nothing is duplicated
    qtbot.waitUntil(lambda: again.done, timeout=TIMEOUT)
    assert "0 added, 0 replaced, 2 already there" in window.status.text()

    # another PC adds a document: the open list shows it at its next reading, without a click
    box = window.library.collections_box
    with qtbot.waitSignal(session.collection_changed, timeout=TIMEOUT):
        box.list.setCurrentItem(_row(box, "shared:Clinic protocols"))
    assert set(statuses(window)) == {"hypertension.pdf", "lease.pdf"}
    assert window.library.shared_timer.isActive()
    with KnowledgeBase.open(tmp_path / "assistant-pc", "new") as kb:
        assert kb.import_paths([docs_dir / "zh" / "术后护理须知.pdf"]).ok
        push(kb, owner, "Clinic protocols")
    window.library.refresh_shared_documents()  # what the timer calls
    qtbot.waitUntil(lambda: "术后护理须知.pdf" in statuses(window), timeout=TIMEOUT)

    # a login that may write drops files onto it: read here, uploaded, listed
    library = window.library
    assert library.import_button.isEnabled() and not library.reindex_button.isEnabled()
    assert not library.watch_action.isEnabled()
    memo = make_pdf(tmp_path / "drop" / "memo.pdf", ["Clinic memo. Visiting hours end at 20:00."])
    broken = tmp_path / "drop" / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 not really")
    drop(window, [memo, broken])
    qtbot.waitUntil(lambda: "memo.pdf" in statuses(window), timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: (
            "Added 1 document to the shared collection 'Clinic protocols'" in window.status.text()
        ),
        timeout=TIMEOUT,
    )
    assert "broken.pdf" in window.status.text()
    qtbot.waitUntil(lambda: library.problems.list.count() == 1, timeout=TIMEOUT)

    # a login that may write removes documents on the server; the list follows
    assert library.remove_button.isEnabled()
    row = next(i for i, d in enumerate(library.model.rows) if d.name == "lease.pdf")
    library.table.selectRow(row)
    library.remove_selected()
    qtbot.waitUntil(lambda: "lease.pdf" not in statuses(window), timeout=TIMEOUT)
    assert admin.status(owner).collections[0].documents == 3  # the zh leaflet and the memo too
    with qtbot.waitSignal(session.collection_changed, timeout=TIMEOUT):
        box.list.setCurrentItem(_row(box, "default"))
    assert not window.library.shared_timer.isActive()  # local collections change here, not there
