"""The main window: library, chat and citation panes side by side, menus, drops, closing cleanly."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import QInputDialog, QLabel, QMainWindow, QMessageBox, QSplitter

from kbdesk import APP_NAME
from kbdesk.core.errors import ErrorCode, KbdeskError
from kbdesk.core.messages import Audience, explain, remedy_text
from kbdesk.gui import shared_collections
from kbdesk.gui.chat_pane import ChatPane, busy_note
from kbdesk.gui.citation_pane import CitationPane
from kbdesk.gui.library_pane import LibraryPane
from kbdesk.gui.lock_actions import LockActions
from kbdesk.gui.session import Session
from kbdesk.gui.shared_collections import is_shared
from kbdesk.gui.widgets import error_text
from kbdesk.gui.workers import Job

log = logging.getLogger(__name__)

_LAYOUT_KEYS = ("geometry", "state", "splitter")


def app_icon() -> QIcon:
    from kbdesk.resources import resources_dir

    return QIcon(str(resources_dir() / "kbdesk.png"))


def _base64_text(data: QByteArray) -> str:
    """Saved Qt state as the text the settings file keeps (read back with b64decode)."""
    return base64.b64encode(bytes(data.data())).decode("ascii")


class MainWindow(QMainWindow):
    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.setWindowTitle(f"{APP_NAME} — {session.collection}")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.model_problem_shown = False

        self.library = LibraryPane(session)
        self.chat = ChatPane(session)
        self.citations = CitationPane(session.runner)
        for pane, name in (
            (self.library, "Library"),
            (self.chat, "Chat"),
            (self.citations, "Citation"),
        ):
            pane.setAccessibleName(f"{name} pane")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.library)
        self.splitter.addWidget(self.chat)
        self.splitter.addWidget(self.citations)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([430, 520, 560])
        self.setCentralWidget(self.splitter)

        self.library.message.connect(self.notify)
        self.library.document_requested.connect(self.open_document)
        self.chat.citation_clicked.connect(self.show_citation)
        self.chat.model_problem.connect(self._model_failed)
        session.collection_changed.connect(lambda name: self.setWindowTitle(f"{APP_NAME} — {name}"))
        session.collection_changed.connect(lambda _name: self.citations.clear())
        self.status = QLabel("Ready")
        self.status.setAccessibleName("Status")
        self.statusBar().addWidget(self.status, 1)
        self._status_clear = QTimer(self)
        self._status_clear.setSingleShot(True)
        self._status_clear.timeout.connect(self.status.clear)
        self._build_menus()
        self._restore_layout()

    # -- menus ---------------------------------------------------------------------------------

    def _action(self, menu, text, slot, shortcut=None, tip=None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Import files…", self.library.choose_files, "Ctrl+O", "Add documents")
        self._action(file, "Import &folder…", self.library.choose_folder, "Ctrl+Shift+O")
        self._action(file, "&Watch a folder…", self.library.choose_watch)
        self._action(file, "Import the &sample documents", self.library.import_samples)
        file.addSeparator()
        self._action(file, "&Settings…", self.open_settings, "Ctrl+,")
        file.addSeparator()
        self._action(file, "&Quit", self.close, "Ctrl+Q")

        library = bar.addMenu("&Library")
        self._action(library, "&New collection…", self.library.new_collection)
        self._action(library, "&Rename collection…", self.library.rename_collection)
        self._action(library, "&Delete collection…", self.library.delete_collection)
        self._action(
            library,
            "&Upload to the shared server…",
            self.upload_to_server,
            None,
            "Copy this collection's documents into a collection on the practice's shared server",
        )
        library.addSeparator()
        self.locks = LockActions(self, library, self._action)
        library.addSeparator()
        remove = self._action(library, "Re&move selected documents", self.library.remove_selected)
        remove.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        remove.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.library.table.addAction(remove)
        self._action(library, "Re-&index selected documents", self.library.reindex_selected)
        self._action(library, "&Cancel import", self.library.cancel_import)

        chat = bar.addMenu("&Chat")
        self._action(chat, "&New chat", self.chat.new_chat, "Ctrl+N")
        self._action(chat, "&Send", self.chat.send, None, "Send the question (Ctrl+Enter)")
        self._action(chat, "S&top answer", self.chat.stop, None, "Stop the answer (Esc)")
        chat.addSeparator()
        self._action(
            chat,
            "&Adapters…",
            self.open_adapters,
            None,
            "Train an adapter on this collection and compare it with answering from the documents",
        )

        view = bar.addMenu("&View")
        self._action(view, "&Find in document", self.citations.focus_find, "Ctrl+F")
        self._action(view, "Open in system &viewer", self.citations.open_external)

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Encrypted collections", self.encryption_help)
        self._action(help_menu, "Open the &log folder", self.open_logs)
        self._action(help_menu, "&About kbdesk", self.about)

    # -- actions -------------------------------------------------------------------------------

    def notify(self, text: str, ms: int = 8000) -> None:
        self.status.setText(text)
        self._status_clear.stop()
        if ms:
            self._status_clear.start(ms)

    def show_citation(self, citation) -> None:
        """A Citation (its quote highlighted strongly) or a nearest passage's Hit (no quote);
        a shared collection's document is first brought to this PC (in a job)."""
        if is_shared(self.session.collection) and not Path(citation.path).is_file():
            self._fetch_then(citation.doc_id, lambda: self.show_citation(citation))
            return
        self.citations.show_citation(
            path=citation.path,
            document=citation.document,
            page=citation.page,
            boxes=tuple(citation.boxes),
            text=citation.text,
            quote_spans=getattr(citation, "quote_spans", ()),
            section=citation.section,
        )

    def open_document(self, path: str) -> None:
        if is_shared(self.session.collection) and not Path(path).is_file():
            found = [d for d in self.session.kb().documents() if d.path == path]
            if found:
                self._fetch_then(found[0].id, lambda: self.open_document(path))
                return
        self.citations.show_citation(path=path, document=Path(path).name, page=1, boxes=(), text="")

    def _fetch_then(self, doc_id: int, show: Callable[[], None]) -> None:
        """Bring a shared document's original file to this PC, then show it."""
        self.notify("Fetching the document from the shared server…")
        job = shared_collections.original(self.session, doc_id)
        job.result.connect(lambda path: self._fetched(path, show))
        job.failed.connect(lambda exc: self.notify(error_text(exc)))

    def upload_to_server(self, name: str | None = None) -> Job | None:
        """Upload the open local collection to the shared server (as `name`, asked for when
        not given); the Collections list then shows it."""
        if not self.session.settings.shared_server:
            self.notify("Give the shared server's address in Settings › Shared server first.")
            return None
        if is_shared(self.session.collection):
            self.notify("This collection is on the shared server already.")
            return None
        if name is None:
            name, ok = QInputDialog.getText(
                self,
                "Upload to the shared server",
                "Name of the shared collection (a new one, or one you may add to):",
                text=self.session.collection,
            )
            if not ok or not name.strip():
                return None
        name = name.strip()
        self.notify(f"Uploading to the shared collection '{name}'…", 0)
        job = shared_collections.upload(self.session, name)
        job.result.connect(self._uploaded)
        job.failed.connect(lambda exc: self.notify(error_text(exc)))
        return job

    def _uploaded(self, report) -> None:
        self.notify(f"Shared collection '{report.collection}': {report.summary()}")
        self.library.collections_box.refresh_shared()

    def _fetched(self, path: Path, show: Callable[[], None]) -> None:
        self.notify(f"{path.name} came from the shared server.")
        show()

    def open_settings(self) -> None:
        from kbdesk.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.session.settings, self.session.paths, self)
        if dialog.exec():
            try:
                values = dialog.values()
                if values["shared_server"]:
                    from kbdesk.core.server.connection import ServerAddress

                    # a malformed address is refused before it is kept, and a password
                    # written into it goes to the key store, not to settings.json
                    address, written = ServerAddress(values["shared_server"]).without_password()
                    values["shared_server"] = address.url
                    password = dialog.password() or written
                    if password:
                        self.session.server_password = password
                        address.remember(password)
                self.session.update_settings(**values)
            except KbdeskError as exc:
                self.notify(str(exc))

    def open_adapters(self) -> None:
        from kbdesk.gui.adapters_dialog import AdaptersDialog

        if is_shared(self.session.collection):
            self.notify(
                "Adapters are trained on a local collection's documents: choose one in the "
                "Collections list."
            )
            return
        AdaptersDialog(self.session, self).exec()

    def encryption_help(self) -> None:
        from kbdesk.gui.collection_dialogs import ENCRYPTION_HELP

        QMessageBox.information(self, "Encrypted collections", ENCRYPTION_HELP)

    def open_logs(self) -> None:
        self.session.paths.log_dir.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.session.paths.log_dir)))

    def about(self) -> None:
        from html import escape

        from kbdesk.core.about import about

        facts = about(self.session.paths.data_dir)
        where = "installed" if facts["installed"] else "from source"
        QMessageBox.about(
            self,
            "About kbdesk",
            f"<b>kbdesk {escape(facts['version'])}</b> ({where})<br>"
            "Answers from your own documents, with page-exact citations.<br>"
            "Everything runs on this computer; nothing is sent anywhere.<br><br>"
            f"Program: {escape(facts['program'])}<br>"
            f"Your data: {escape(facts['data_dir'])}<br>"
            f"Models: {escape(', '.join(facts['model_dirs']))}",
        )

    def model_missing(self, exc: KbdeskError) -> None:
        if self.model_problem_shown:
            return
        self.model_problem_shown = True
        self._warn(
            "The answer model cannot be used",
            "kbdesk needs a local model to write answers. Searching and importing work without it.",
            explain(exc, Audience.WINDOW),
        )

    def _warn(self, title: str, text: str, details: str) -> None:
        """A warning that leaves the window usable (non-modal): search works meanwhile."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        box.setInformativeText(details)
        box.setModal(False)
        box.show()

    # -- start and close -----------------------------------------------------------------------

    def start(self) -> None:
        """After the window is shown: warm the search side, check the model, resume imports."""
        self.session.warm_up()
        job = self.session.load_model()
        job.progress.connect(self._model_progress)
        job.failed.connect(self._model_failed)
        job.result.connect(lambda host: self.notify(f"Model ready: {host.model_name}"))
        self.library.resume_pending()

    def _model_progress(self, progress) -> None:
        note = busy_note(progress)
        if note:
            self.notify(note, ms=0)

    def unsupported_cpu(self, exc: KbdeskError) -> None:
        self.notify("Answers are not available on this computer; search still works.", ms=0)
        if self.model_problem_shown:
            return
        self.model_problem_shown = True
        self._warn(
            "Answers are not available on this computer",
            exc.message,
            remedy_text(exc.remedy, Audience.WINDOW) if exc.remedy else exc.hint or "",
        )

    def _model_failed(self, exc: BaseException) -> None:
        if isinstance(exc, KbdeskError) and exc.code is ErrorCode.MODEL_MISSING:
            self.model_missing(exc)
        elif isinstance(exc, KbdeskError) and exc.code is ErrorCode.UNSUPPORTED_CPU:
            self.unsupported_cpu(exc)
        else:
            self.notify(f"The answer model could not be loaded: {exc}", ms=0)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._save_layout()
        self.library.prepare_close()
        self.notify("Closing: stopping background work…", ms=0)
        self.session.close()
        super().closeEvent(event)

    # -- drag and drop -------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.library.import_paths(paths)

    # -- layout --------------------------------------------------------------------------------

    def _save_layout(self) -> None:
        state = {
            "geometry": _base64_text(self.saveGeometry()),
            "state": _base64_text(self.saveState()),
            "splitter": _base64_text(self.splitter.saveState()),
            "library": _base64_text(self.library.splitter.saveState()),
        }
        try:
            self.session.update_settings(layout=state)
        except KbdeskError as exc:
            log.warning("layout not saved: %s", exc)

    def _restore_layout(self) -> None:
        layout = self.session.settings.layout

        def raw(key: str) -> QByteArray | None:
            value = layout.get(key)
            if not value:
                return None
            try:
                return QByteArray(base64.b64decode(value))
            except ValueError:
                return None

        if (geometry := raw("geometry")) is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)
        if (state := raw("state")) is not None:
            self.restoreState(state)
        if (splitter := raw("splitter")) is not None:
            self.splitter.restoreState(splitter)
        if (library := raw("library")) is not None:
            self.library.splitter.restoreState(library)
