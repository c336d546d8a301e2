"""The desktop app end to end, offscreen: drop, import, ask, cite, cancel, resume, problems."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from bench.synth import page_text
from kbdesk.core.types import DocStatus
from tests.helpers import LEASE_PAGES, make_pdf

IMPORT_TIMEOUT = 120_000
ANSWER_TIMEOUT = 240_000


def drop(window, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(QPoint(200, 200)),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def import_and_wait(qtbot, window, paths: list[Path]):
    with qtbot.waitSignal(window.library.import_finished, timeout=IMPORT_TIMEOUT) as done:
        drop(window, paths)
    return done.args[0]


def statuses(window) -> dict[str, str]:
    window.library.model.flush()
    return {r.name: r.status for r in window.library.model.rows}


def test_first_run_shows_drag_and_drop_help(make_window):
    window = make_window()
    library = window.library
    assert library.stack.currentIndex() == 0
    assert "Drag" in library.empty.text()
    assert window.windowTitle().startswith("kbdesk")
    assert not window.windowIcon().isNull()
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[:3] == ["&File", "&Library", "&Chat"]


def test_dropping_files_imports_them_and_shows_ready(make_window, qtbot, docs_dir):
    window = make_window()
    report = import_and_wait(qtbot, window, [docs_dir])
    assert report.ok and not report.cancelled
    assert statuses(window) == {
        "hypertension.pdf": DocStatus.READY,
        "lease.pdf": DocStatus.READY,
        "术后护理须知.pdf": DocStatus.READY,
    }
    rows = {r.name: r for r in window.library.model.rows}
    assert rows["lease.pdf"].pages == 3 and rows["lease.pdf"].chunks >= 3
    assert window.library.stack.currentIndex() == 1
    assert "3 files ready" in window.status.text()


def test_a_long_document_shows_its_own_progress(make_window, qtbot, tmp_path):
    rng = random.Random(11)
    long_pdf = make_pdf(tmp_path / "long.pdf", [page_text(rng, p, 1800) for p in range(120)])
    window = make_window()
    library = window.library
    seen: list[tuple[str, int]] = []

    def look():
        if library.doc_progress.isVisible():
            seen.append((library.doc_progress.text(), library.doc_progress.value()))

    probe = QTimer()
    probe.timeout.connect(look)
    probe.start(20)
    import_and_wait(qtbot, window, [long_pdf])
    probe.stop()
    assert seen, "the current document's bar never showed"
    assert all(text.startswith("long.pdf: ") for text, _ in seen)
    values = [v for _, v in seen]
    assert values == sorted(values) and values[-1] > values[0]
    assert not library.doc_progress.isVisible()  # gone once the import is over
    assert statuses(window) == {"long.pdf": DocStatus.READY}


def test_bad_files_are_listed_without_stopping_the_rest(make_window, qtbot, tmp_path):
    folder = tmp_path / "mixed"
    make_pdf(folder / "good.pdf", LEASE_PAGES)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage")
    (folder / "empty.txt").write_bytes(b"")
    window = make_window()
    report = import_and_wait(qtbot, window, [folder])
    assert len(report.failed) == 2
    library = window.library
    assert library.problem_box.isVisible()
    lines = [library.problem_list.item(i).text() for i in range(library.problem_list.count())]
    assert any(line.startswith("broken.pdf") and "damaged" in line for line in lines)
    assert any(line.startswith("empty.txt") and "empty" in line for line in lines)
    assert statuses(window)["good.pdf"] == DocStatus.READY
    assert statuses(window)["broken.pdf"] == DocStatus.FAILED
    assert QApplication.activeModalWidget() is None  # failures never block with a dialog


# Enough one-passage documents for several embedder groups (importer.EMBED_GROUP = 128), so a
# cancel after the first committed group always finds work left, however fast the machine.
MANY = 300


def _many_pdfs(folder: Path, n: int = MANY) -> list[Path]:
    return [
        make_pdf(folder / f"doc{i:03d}.pdf", [f"Document {i} page one about topic {i}."] * 4)
        for i in range(n)
    ]


def _import_under_way(make_window, qtbot, folder: Path):
    """A window importing MANY documents from `folder`, the first ones already committed.

    Returns the window, the import job and the list its ImportReport will be appended to.
    """
    _many_pdfs(folder)
    window = make_window()
    library = window.library
    finished: list = []
    library.import_finished.connect(finished.append)
    job = library.import_paths([str(folder)])
    qtbot.waitUntil(lambda: len(library.model._catalog) >= 1, timeout=IMPORT_TIMEOUT)
    return window, job, finished


def test_cancel_stops_an_import_and_a_later_import_resumes(make_window, qtbot, tmp_path):
    folder = tmp_path / "many"
    window, job, finished = _import_under_way(make_window, qtbot, folder)
    window.library.cancel_import()
    qtbot.waitUntil(lambda: bool(finished), timeout=IMPORT_TIMEOUT)
    assert finished[0].cancelled and job.done
    kept = len(window.session.kb().documents())
    assert 1 <= kept < MANY
    assert window.session.settings.pending == {}  # a user's cancel is not resumed by itself
    report = import_and_wait(qtbot, window, [folder])
    assert not report.cancelled
    assert len(window.session.kb().documents()) == MANY
    reused = [r for r in report.results if r.status == "unchanged"]
    assert len(reused) >= kept  # what the cancelled run finished was not read again


def test_closing_during_an_import_resumes_at_next_start(make_window, qtbot, tmp_path):
    folder = tmp_path / "many"
    window, _job, _finished = _import_under_way(make_window, qtbot, folder)
    window.close()  # cancels the job and waits for its threads
    assert window.session.runner.pool.activeThreadCount() == 0
    assert window.session.settings.pending == {"default": [str(folder)]}

    again = make_window()
    with qtbot.waitSignal(again.library.import_finished, timeout=IMPORT_TIMEOUT) as done:
        again.library.resume_pending()
    assert not done.args[0].cancelled
    assert len(again.session.kb().documents()) == MANY
    assert again.session.settings.pending == {}


def test_switching_collection_during_an_import_keeps_the_tables_apart(make_window, qtbot, tmp_path):
    window, _job, finished = _import_under_way(make_window, qtbot, tmp_path / "many")
    window.session.create_collection("other")
    window.session.switch_collection("other")
    qtbot.waitUntil(lambda: bool(finished), timeout=IMPORT_TIMEOUT)
    assert statuses(window) == {}  # the default collection's import never showed up here
    assert window.citations.current_path is None
    assert window.session.settings.pending == {}  # the finished import's own entry was cleared
    window.session.switch_collection("default")
    assert len(statuses(window)) == MANY
    assert set(statuses(window).values()) == {DocStatus.READY}


def test_layout_is_remembered(make_window, data_dir, qtbot):
    from tests.gui.conftest import _window

    window = make_window()
    window.splitter.setSizes([300, 900, 300])
    window.library.splitter.setSizes([60, 600])
    panes, library = window.splitter.saveState(), window.library.splitter.saveState()
    window.close()
    saved = window.session.store.load().layout
    assert set(saved) >= {"geometry", "state", "splitter", "library"}
    again = _window(data_dir, None)  # not shown yet: showing lays the panes out for its screen
    qtbot.addWidget(again)
    assert again.splitter.saveState() == panes
    assert again.library.splitter.saveState() == library
    again.session.close()


def test_missing_model_gets_a_dialog_that_says_what_to_do(make_window, qtbot, tmp_path):
    window = make_window(model=str(tmp_path / "nowhere.gguf"), start=True)
    qtbot.waitUntil(lambda: window.model_problem_shown, timeout=30_000)
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert boxes and boxes[-1].isVisible() and not boxes[-1].isModal()
    text = boxes[-1].text() + boxes[-1].informativeText()
    assert "Settings" in text and "nowhere.gguf" in text and "make" not in text
    assert "Traceback" not in text
    boxes[-1].close()


def test_a_cpu_below_the_floor_is_told_in_a_sentence_and_the_window_keeps_working(
    make_window, qtbot, small_model_path, monkeypatch
):
    from kbdesk.core.generate import cpu_floor

    monkeypatch.setattr(cpu_floor.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(cpu_floor, "cpu_features", lambda: {"AVX": True, "AVX2": False})
    window = make_window(model=small_model_path, start=True)
    qtbot.waitUntil(lambda: "not available" in window.status.text(), timeout=30_000)
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert boxes and boxes[-1].isVisible() and not boxes[-1].isModal()
    text = boxes[-1].text() + boxes[-1].informativeText()
    assert "processor lacks AVX2" in text and "searching" in text
    assert "make" not in text and "Traceback" not in text
    boxes[-1].close()
    assert window.isVisible()


@pytest.fixture
def ready_window(make_window, qtbot, docs_dir, small_model_path):
    window = make_window(model=small_model_path)
    import_and_wait(qtbot, window, [docs_dir])
    return window


def ask(qtbot, window, question: str):
    chat = window.chat
    pieces: list[str] = []
    with qtbot.waitSignal(chat.answer_finished, timeout=ANSWER_TIMEOUT) as done:
        job = chat.ask(question)
        job.item.connect(pieces.append)
    return done.args[0], pieces


def test_asking_streams_a_cited_answer_and_a_click_opens_the_page(ready_window, qtbot):
    window = ready_window
    window.session.update_settings(
        temperature=0.0
    )  # the same answer every run: not a sampling test
    answer, pieces = ask(qtbot, window, "How much is the security deposit and when is it returned?")
    assert len(pieces) > 3  # streamed token by token, not delivered at once
    assert answer.supported and answer.citations
    html = window.chat.view.toHtml()
    assert "cite:0:" in html
    cited = answer.citations[0]
    assert cited.document == "lease.pdf" and cited.page == 3
    pane = window.citations
    with qtbot.waitSignal(pane.page_shown, timeout=30_000) as shown:
        window.chat._link(QUrl(f"cite:0:{cited.n}"))
    assert shown.args[0] == 3
    assert pane.current_page == 3 and pane.current_path == cited.path
    assert pane.highlight_rects
    assert cited.quote and pane._quote_spans == cited.quote_spans  # its quote, highlighted
    # saved with the collection
    from kbdesk.core.generate.chats import ChatStore

    saved = ChatStore(window.session.kb().folder).answers(window.chat.chat_id)
    assert saved[0].citations[0].boxes == tuple(tuple(b) for b in cited.boxes)
    assert saved[0].citations[0].quote_spans == cited.quote_spans


def test_unrelated_question_is_styled_as_not_in_documents(ready_window, qtbot):
    answer, _ = ask(qtbot, ready_window, "Who won the 1998 football world cup final?")
    assert not answer.supported
    assert "Not in your documents" in ready_window.chat.view.toPlainText()


def test_stop_ends_the_answer_and_leaves_no_job(ready_window, qtbot):
    chat = ready_window.chat
    job = chat.ask("Summarise every rule about rent, fees and termination in detail.")
    pieces: list[str] = []
    job.item.connect(pieces.append)
    job.item.connect(lambda _piece: chat.stop())
    with qtbot.waitSignal(job.finished, timeout=ANSWER_TIMEOUT):
        pass
    assert not chat.busy and chat.stop_button.isEnabled() is False
    turn = chat.turns[-1]
    # stopped after its first words: no answer stands
    assert pieces and turn.stopped and turn.answer is None


def test_the_window_and_kbdesk_ask_give_the_same_answer_for_the_same_settings(
    ready_window, qtbot, data_dir, capsys
):
    import json

    from kbdesk.cli import main

    ready_window.session.update_settings(passages=3, temperature=0.0)
    question = "How much is the security deposit?"
    answer, _ = ask(qtbot, ready_window, question)
    assert main(["--data-dir", str(data_dir), "ask", question, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == answer.to_json()
    assert printed["outcome"] == answer.outcome.value


def test_the_first_answer_says_the_model_is_loading_with_progress(ready_window, qtbot):
    from kbdesk.gui.chat_pane import busy_note

    chat = ready_window.chat
    notes: list[str] = []
    shown: list[str] = []
    with qtbot.waitSignal(chat.answer_finished, timeout=ANSWER_TIMEOUT):
        job = chat.ask("How much is the security deposit?")
        job.progress.connect(lambda p: notes.append(busy_note(p)))
        job.progress.connect(lambda _p: shown.append(chat.view.toPlainText()))
    loading = [n for n in notes if n and n.startswith("Loading the answer model…")]
    assert loading and loading[-1].endswith("100%")
    assert any("Loading the answer model…" in text for text in shown)
    assert notes.index(loading[-1]) < notes.index("Searching your documents…")


def test_a_question_asked_while_the_model_loads_at_start_shows_the_loading(
    make_window, qtbot, docs_dir, small_model_path
):
    window = make_window(model=small_model_path)
    import_and_wait(qtbot, window, [docs_dir])
    chat = window.chat
    window.start()
    assert window.session.model_loading is not None
    with qtbot.waitSignal(chat.answer_finished, timeout=ANSWER_TIMEOUT):
        chat.ask("How much is the security deposit?")
        turn = chat.turns[-1]
        assert turn.busy_note.startswith("Loading the answer model…")
        assert "Loading the answer model…" in chat.view.toPlainText()
        qtbot.waitUntil(lambda: turn.busy_note.endswith("%"), timeout=ANSWER_TIMEOUT)
    assert window.session.model_loading is None


def test_about_names_the_version_and_where_data_and_models_are(make_window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from kbdesk import __version__

    window = make_window()
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "about", lambda _parent, _title, text: shown.append(text))
    window.about()
    [text] = shown
    paths = window.session.paths
    assert f"kbdesk {__version__}" in text and "from source" in text
    assert str(paths.data_dir) in text and str(paths.models_dir) in text
