"""Takes the README screenshots of the real window: run it under Xvfb (see docs/screenshots/).

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python build/screenshots.py [--model PATH]

Drives the app as a person would (drop a folder, ask, click a citation) on a fresh data folder
with the bilingual benchmark documents, and saves window grabs at each step.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QMimeData, QPointF, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.realcorpus import DEFAULT_OUT as REAL_DOCS  # noqa: E402  (fetch.py's PDFs)

OUT = ROOT / "docs" / "screenshots"


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def collect(signal) -> list:
    """Connect before acting, so a signal that fires quickly is not missed."""
    got: list = []
    signal.connect(lambda *args: got.append(args))
    return got


def wait_until(condition, timeout_s: float = 600) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        wait(50)
    return True


def shot(window, name: str) -> None:
    wait(200)
    window.grab().save(str(OUT / name))
    print("saved", OUT / name)


def drop(window, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(300, 300),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def answer_and_open_citation(window, question: str) -> bool:
    """Ask in the chat, then click the answer's first citation; False: no answer in time."""
    answered = collect(window.chat.answer_finished)
    window.chat.input.setPlainText(question)
    window.chat.send()
    if not wait_until(lambda: answered):
        print("no answer within the time limit", file=sys.stderr)
        return False
    citations = answered[0][0].citations
    if citations:
        shown = collect(window.citations.page_shown)
        window.chat._link(QUrl(f"cite:{len(window.chat.turns) - 1}:{citations[0].n}"))
        wait_until(lambda: shown, 60)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    default_model = Path.home() / ".cache/kbdesk/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    parser.add_argument("--model", default=str(default_model))
    parser.add_argument(
        "--question",
        default="How much rent does the dental practice pay each month in the first year?",
    )
    parser.add_argument(
        "--adapters",
        type=Path,
        help="an adapters folder with trained, evaluated adapters: only take 11-adapters.png",
    )
    parser.add_argument(
        "--encrypted", action="store_true", help="only take the encrypted collection's shots"
    )
    parser.add_argument(
        "--shared", action="store_true", help="only take the shared collection's shots"
    )
    parser.add_argument(
        "--versions", action="store_true", help="only take the look-alike versions' shot"
    )
    parser.add_argument(
        "--named", action="store_true", help="only take the shot of a look-alike told by its name"
    )
    parser.add_argument(
        "--declined", action="store_true", help="only take the shot of an answer the check rejects"
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.adapters:
        return adapters_dialog(args.adapters, Path(args.model))
    if args.encrypted:
        return encrypted_collection(Path(args.model), args.question)
    if args.shared:
        return shared_collection(Path(args.model), args.question)
    if args.versions:
        return other_version(Path(args.model))
    if args.named:
        return other_document(Path(args.model))
    if args.declined:
        return check_declined(Path(args.model))

    from bench.corpus import build
    from bench.synth import make_long_pdf
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.settings import SettingsStore
    from kbdesk.gui.main_window import MainWindow, app_icon
    from kbdesk.gui.session import Session
    from kbdesk.resources import samples_dir

    app = QApplication(sys.argv[:1])
    app.setApplicationName("kbdesk")
    app.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = AppPaths.resolve(tmp / "data")
        store = SettingsStore(paths.config_dir)
        store.save(replace(store.load(), model=args.model))
        docs = tmp / "Client files"
        build(docs)
        bad = tmp / "Scans and odd files"
        bad.mkdir()
        (bad / "contract-draft.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << >> endobj\n")  # truncated
        (bad / "notes.xyz").write_text("not a document kbdesk reads")
        (bad / "empty-memo.txt").write_bytes(b"")
        (bad / "Sample_Mutual_NDA.pdf").write_bytes(
            (samples_dir() / "Sample_Mutual_NDA.pdf").read_bytes()
        )

        window = MainWindow(Session(paths))
        window.resize(1560, 940)
        window.show()
        window.start()
        wait(1500)
        shot(window, "01-first-run.png")

        imported = collect(window.library.import_finished)
        drop(window, [docs])
        wait_until(lambda: imported)

        imported.clear()
        drop(window, [bad])
        wait_until(lambda: imported)
        shot(window, "05-import-problems.png")

        answered = collect(window.chat.answer_finished)
        window.chat.input.setPlainText(args.question)
        window.chat.send()
        if not wait_until(lambda: answered):
            print("no answer within the time limit", file=sys.stderr)
            return 1
        shot(window, "03-answer-with-citations.png")
        citations = answered[0][0].citations
        if citations:
            shown = collect(window.citations.page_shown)
            window.chat._link(QUrl(f"cite:{len(window.chat.turns) - 1}:{citations[0].n}"))
            wait_until(lambda: shown, 60)
            shot(window, "04-citation-highlight.png")
        answered.clear()
        window.chat.input.setPlainText("What does the lease say about parking for electric cars?")
        window.chat.send()
        wait_until(lambda: answered)
        shot(window, "06-not-in-documents.png")
        answered.clear()
        # Something no document names: declined before the model is asked, saying what is missing.
        window.chat.input.setPlainText("Can the dental practice sublet rooms on Airbnb?")
        window.chat.send()
        wait_until(lambda: answered)
        shot(window, "12-never-mentioned.png")
        answered.clear()
        # Evidence first (Settings): the chosen sentences answer, and the source shows them.
        window.session.update_settings(evidence_first=True)
        window.chat.input.setPlainText(args.question)
        window.chat.send()
        wait_until(lambda: answered)
        chosen = answered[0][0]
        if chosen.citations:
            shown = collect(window.citations.page_shown)
            window.chat._link(QUrl(f"cite:{len(window.chat.turns) - 1}:{chosen.citations[0].n}"))
            wait_until(lambda: shown, 60)
        shot(window, "13-evidence-first.png")
        window.session.update_settings(evidence_first=False)
        answered.clear()
        clause = "The Tenant shall keep the Premises in good repair and condition at its own cost. "
        window.chat.input.setPlainText("Is this clause enforceable? " + clause * 60)  # pasted text
        window.chat.send()
        wait_until(lambda: answered)
        shot(window, "10-question-not-sent.png")

        from kbdesk.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(window.session.settings, window.session.paths, window)
        dialog.show()
        wait(300)
        dialog.grab().save(str(OUT / "07-settings.png"))
        dialog.close()

        # An import in progress: a second collection with a long scanned-size archive PDF.
        archive = tmp / "Archive 2019"
        make_long_pdf(archive / "Case_file_2019-114_full_record.pdf", 400)
        for src in sorted(docs.glob("*.pdf"))[:4]:
            (archive / f"2019 copy of {src.name}").write_bytes(src.read_bytes())
        window.session.create_collection("Archive 2019")
        window.library.reload_collections()
        window.session.switch_collection("Archive 2019")
        imported.clear()
        drop(window, [archive])
        wait_until(
            lambda: window.library.progress.maximum() > 1 and window.library.progress.value() >= 2,
            120,
        )
        wait(1500)
        shot(window, "02-import-in-progress.png")
        window.library.cancel_import()
        wait_until(lambda: imported)
        window.close()
        loading_the_model(paths, Path(args.model), args.question)
        processor_below_floor(paths)
    encrypted_collection(Path(args.model), args.question)
    other_version(Path(args.model))
    other_document(Path(args.model))
    check_declined(Path(args.model))
    return shared_collection(Path(args.model), args.question)


def other_version(model: Path) -> int:
    """Two versions of the EUPL (the real corpus's PDFs) and a question about the appendix of
    v1.1, which only v1.2 has: the answer the model finds in v1.2 is not given as v1.1's."""
    return real_documents_shot(
        model,
        "Licences",
        ["EUPL-1.1.pdf", "EUPL-1.2.pdf"],
        "Which licences does the appendix of EUPL v1.1 list as compatible licences?",
        "21-other-version.png",
    )


def other_document(model: Path) -> int:
    """The two Debian Edu manuals (real-corpus PDFs whose names differ in one word, and whose
    pages on the installation images read alike) and a question about the Bookworm one's image
    size: answered from the Bookworm manual (7.5 GB), not with Bullseye's 5 GB."""
    return real_documents_shot(
        model,
        "Debian Edu manuals",
        ["debian-edu-bookworm-manual.zh-cn.pdf", "debian-edu-bullseye-manual.zh-cn.pdf"],
        "Debian Edu 12（Bookworm）的蓝光 BD ISO 映像大约有多大？",
        "24-other-document.png",
    )


def check_declined(model: Path) -> int:
    """The whole real corpus (nine public PDFs) and a question none of them answers (the New
    Maintainers' Guide predates Salsa CI): the model's answer, which the last check rejects,
    is not given."""
    return real_documents_shot(
        model,
        "Debian documents",
        sorted(p.name for p in REAL_DOCS.glob("*.pdf")),
        "How does the New Maintainers' Guide tell me to set up continuous integration "
        "pipelines for my package?",
        "23-check-declined.png",
    )


def real_documents_shot(
    model: Path, folder: str, names: list[str], question: str, name: str
) -> int:
    """One question asked of a collection of real-corpus PDFs, and its answer's shot."""
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.settings import SettingsStore
    from kbdesk.gui.main_window import MainWindow, app_icon
    from kbdesk.gui.session import Session

    documents = [REAL_DOCS / document for document in names]
    if not documents or not all(p.is_file() for p in documents):
        print(f"skipped {name}: run bench/realcorpus/fetch.py first", file=sys.stderr)
        return 0
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        docs = tmp / folder
        docs.mkdir()
        for document in documents:
            shutil.copy(document, docs / document.name)
        paths = AppPaths.resolve(tmp / "data")
        store = SettingsStore(paths.config_dir)
        store.save(replace(store.load(), model=str(model), temperature=0.0))
        window = MainWindow(Session(paths))
        window.resize(1560, 940)
        window.show()
        window.start()
        imported = collect(window.library.import_finished)
        drop(window, [docs])
        wait_until(lambda: imported)
        answered = collect(window.chat.answer_finished)
        window.chat.input.setPlainText(question)
        window.chat.send()
        if not wait_until(lambda: answered):
            return 1
        shot(window, name)
        window.close()
    return 0


def shared_collection(model: Path, question: str) -> int:
    """A second login at another PC: a collection it may no longer read refused, then the
    practice's shared collection answering with the cited page open, then files she drops on it
    (she may write) read and uploaded (a real throwaway PostgreSQL + pgvector, as the tests
    use)."""
    import pgserver
    import psycopg

    from bench.corpus import build
    from kbdesk.core.kb import KnowledgeBase
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.server import admin
    from kbdesk.core.server.connection import ServerAddress
    from kbdesk.core.server.push import push
    from kbdesk.core.settings import SettingsStore
    from kbdesk.gui.main_window import MainWindow, app_icon
    from kbdesk.gui.session import Session

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = Path(tempfile.mkdtemp(prefix="kbdesk-pg-"))
        server = pgserver.get_server(folder, cleanup_mode="stop")
        try:
            url = f"postgresql://postgres@/postgres?host={folder}"
            owner, reader = ServerAddress(url), ServerAddress(url.replace("postgres@", "dana@"))
            admin.init_server(owner)
            with psycopg.connect(url, autocommit=True) as con:
                con.execute("CREATE ROLE dana LOGIN")
            docs = tmp / "Client files"
            build(docs)
            with KnowledgeBase.open(tmp / "owner-pc", "files") as kb:
                kb.import_paths([docs])
                for name in ("Practice files", "Partners only", "Lease disputes"):
                    push(kb, owner, name)
            admin.set_access(owner, "Practice files", "dana", "write")  # she may add to it
            admin.set_access(owner, "Lease disputes", "dana", "read")
            paths = AppPaths.resolve(tmp / "data")
            store = SettingsStore(paths.config_dir)
            store.save(replace(store.load(), model=str(model), shared_server=reader.url))
            window = MainWindow(Session(paths))
            window.resize(1560, 940)
            window.show()
            window.start()
            session, box = window.session, window.library.collections_box
            wait_until(lambda: session.shared and session.model_loading is None, 300)

            def choose(key: str) -> None:
                for row in range(box.list.count()):
                    if box.list.item(row).data(Qt.ItemDataRole.UserRole) == key:
                        box.list.setCurrentRow(row)

            admin.set_access(owner, "Lease disputes", "dana", "none")  # taken back meanwhile
            choose("shared:Lease disputes")
            wait_until(lambda: "may not read" in window.status.text(), 60)
            shot(window, "20-shared-refused.png")
            choose("shared:Practice files")
            wait_until(lambda: session.collection == "shared:Practice files", 60)
            if not answer_and_open_citation(window, question):
                return 1
            shot(window, "19-shared-collection.png")
            # files she drops on it: read on her PC, uploaded; a broken one named
            memo = tmp / "Dana" / "Conflict check procedure.md"
            memo.parent.mkdir()
            memo.write_text(
                "# Conflict check procedure\n\nBefore a new matter is opened, the intake clerk "
                "searches every party's name in the conflicts register and records the result "
                "on the matter form. A possible conflict goes to the managing partner within "
                "two business days.\n",
                encoding="utf-8",
            )
            broken = tmp / "Dana" / "scan-0042.pdf"
            broken.write_bytes(b"%PDF-1.7 cut short by the scanner")
            window.library.import_paths([str(memo), str(broken)])
            wait_until(lambda: "Added 1 document" in window.status.text(), 300)
            shot(window, "22-shared-added.png")
            window.close()
        finally:
            server.cleanup()
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def encrypted_collection(model: Path, question: str) -> int:
    """New collection (encrypted), its recovery key, an answer from it, and it locked."""
    from bench.corpus import build
    from kbdesk.core.paths import AppPaths
    from kbdesk.core.settings import SettingsStore
    from kbdesk.gui import collection_dialogs
    from kbdesk.gui.main_window import MainWindow, app_icon
    from kbdesk.gui.session import Session

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = AppPaths.resolve(tmp / "data")
        store = SettingsStore(paths.config_dir)
        store.save(replace(store.load(), model=str(model)))
        docs = tmp / "Client files"
        build(docs)
        window = MainWindow(Session(paths))
        window.resize(1560, 940)
        window.show()
        window.start()
        wait(1000)
        from kbdesk.gui.settings_dialog import SettingsDialog

        settings = SettingsDialog(window.session.settings, window.session.paths, window)
        settings.show()
        wait(300)
        settings.grab().save(str(OUT / "07-settings.png"))
        print("saved", OUT / "07-settings.png")
        settings.close()
        dialog = collection_dialogs.NewCollectionDialog(window)
        dialog.name.setText("Dental practice lease")
        dialog.passphrase.setText("harbour view surgery 2026")
        dialog.again.setText("harbour view surgery 2026")
        dialog.show()
        wait(300)
        dialog.grab().save(str(OUT / "14-new-encrypted-collection.png"))
        print("saved", OUT / "14-new-encrypted-collection.png")
        dialog.close()
        keys: list = []
        collection_dialogs.RecoveryKeyDialog.exec = lambda self: keys.append(self) or 1
        window.library.collections_box.create_collection(*dialog.values())
        wait_until(lambda: keys, 60)
        keys[0].show()
        wait(300)
        keys[0].grab().save(str(OUT / "15-recovery-key.png"))
        print("saved", OUT / "15-recovery-key.png")
        keys[0].stored.setChecked(True)
        keys[0].accept()
        window.session.create_collection("Public templates")
        window.session.switch_collection("Dental practice lease")
        imported = collect(window.library.import_finished)
        drop(window, [docs])
        wait_until(lambda: imported)
        if not answer_and_open_citation(window, question):
            return 1
        shot(window, "16-encrypted-collection.png")
        window.locks.lock_collection()
        wait(300)
        shot(window, "17-locked-collection.png")
        panel = window.library.unlock_panel
        panel.secret.setText("not the passphrase")
        job = panel.unlock()
        wait_until(lambda: job is None or job.done, 30)
        shot(window, "18-wrong-passphrase.png")
        window.close()
    return 0


def adapters_dialog(adapters: Path, model: Path) -> int:
    """The Adapters dialog over copies of real adapters, the evaluated one selected."""
    import shutil

    from kbdesk.core.paths import AppPaths
    from kbdesk.core.settings import SettingsStore
    from kbdesk.gui.adapters_dialog import AdaptersDialog
    from kbdesk.gui.main_window import app_icon
    from kbdesk.gui.session import Session

    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory() as tmp:
        paths = AppPaths.resolve(Path(tmp) / "data")
        shutil.copytree(adapters, paths.adapters_dir)
        store = SettingsStore(paths.config_dir)
        store.save(replace(store.load(), model=str(model), collection="Client files"))
        dialog = AdaptersDialog(Session(paths))
        dialog.resize(1100, 860)
        evaluated = [
            i for i, e in enumerate(dialog.entries) if e.path.with_name("evaluation.json").is_file()
        ]
        if evaluated:
            dialog.table.selectRow(evaluated[0])
        dialog.show()
        wait(800)
        dialog.grab().save(str(OUT / "11-adapters.png"))
        print("saved", OUT / "11-adapters.png")
        dialog.close()
    app.quit()
    return 0


def loading_the_model(paths, model: Path, question: str) -> None:
    """A question asked right after start, while the model is still being read from disk."""
    import os

    from kbdesk.gui.main_window import MainWindow
    from kbdesk.gui.session import Session

    # Evict the model from the page cache, so the read takes as long as on a fresh boot.
    with open(model, "rb") as fh:
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    session = Session(paths)
    session.switch_collection("default")
    window = MainWindow(session)
    window.resize(1560, 940)
    window.show()
    window.start()
    window.chat.new_chat()
    window.chat.input.setPlainText(question)
    window.chat.send()
    turn = window.chat.turns[-1]

    def share() -> int:
        note = turn.busy_note
        return int(note.rsplit(" ", 1)[-1].rstrip("%")) if note.endswith("%") else 0

    wait_until(lambda: share() >= 30 or turn.final, 120)
    shot(window, "08-loading-the-model.png")
    answered = collect(window.chat.answer_finished)
    wait_until(lambda: answered or turn.final)
    window.close()


def processor_below_floor(paths) -> None:
    """What a user of a pre-2013 CPU sees at start-up (its features are simulated here)."""
    from kbdesk.core.generate import cpu_floor
    from kbdesk.gui.main_window import MainWindow
    from kbdesk.gui.session import Session

    machine, features = cpu_floor.platform.machine, cpu_floor.cpu_features
    cpu_floor.platform.machine = lambda: "x86_64"
    cpu_floor.cpu_features = lambda: {"AVX": True, "AVX2": False, "FMA3": False}
    try:
        window = MainWindow(Session(paths))
        window.resize(1400, 820)
        window.show()
        window.start()
        wait_until(lambda: "not available" in window.status.text(), 60)
        wait(500)
        # The message box is a window of its own: grab the screen, not the main window.
        screen = QApplication.primaryScreen()
        screen.grabWindow(0, 0, 0, 1400, 820).save(str(OUT / "09-processor-below-floor.png"))
        print("saved", OUT / "09-processor-below-floor.png")
        window.close()
    finally:  # the shots after this one answer on this machine's real processor
        cpu_floor.platform.machine, cpu_floor.cpu_features = machine, features


if __name__ == "__main__":
    raise SystemExit(main())
