"""The settings dialog: model, adapter, embedder for new collections, passages, temperature, OCR,
locking encrypted collections."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from kbdesk.core.adapters import list_adapters
from kbdesk.core.embed.registry import describe_embedders
from kbdesk.core.errors import KbdeskError
from kbdesk.core.generate.models import ModelRegistry
from kbdesk.core.settings import MAX_LOCK_AFTER, Settings


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, paths, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.paths = paths
        self.registry = ModelRegistry(paths.model_dirs)
        self.error = QLabel()
        self.error.setStyleSheet("QLabel { color: #b3261e; }")
        self.error.setWordWrap(True)

        self.model = QComboBox()
        self.model.setAccessibleName("Answer model")
        self.model.setToolTip("The local GGUF model that writes answers")
        self._fill_models(settings.model)
        browse = QPushButton("Browse…")
        browse.setToolTip("Add a GGUF chat model file you own")
        browse.setAccessibleName("Add a model file")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)

        self.adapter = QComboBox()
        self.adapter.setAccessibleName("Adapter")
        self.adapter.setToolTip("A LoRA adapter trained on your own data, applied to the model")
        self.adapter.addItem("None", None)
        for adapter in list_adapters(paths.adapters_dir):
            self.adapter.addItem(adapter.name, adapter.name)
            last = self.adapter.count() - 1
            self.adapter.setItemData(last, str(adapter.path), Qt.ItemDataRole.ToolTipRole)
        if settings.adapter and self.adapter.findData(settings.adapter) < 0:
            self.adapter.addItem(settings.adapter, settings.adapter)
        self.adapter.setCurrentIndex(max(self.adapter.findData(settings.adapter), 0))

        self.embedder = QComboBox()
        self.embedder.setAccessibleName("Embedder for new collections")
        self.embedder.setToolTip("Existing collections keep the embedder they were built with")
        for key, label in describe_embedders().items():
            self.embedder.addItem(label, key)
        if self.embedder.findData(settings.embedder) < 0:
            self.embedder.addItem(settings.embedder, settings.embedder)
        self.embedder.setCurrentIndex(max(self.embedder.findData(settings.embedder), 0))

        self.passages = QSpinBox()
        self.passages.setRange(1, 30)
        self.passages.setValue(settings.passages)
        self.passages.setAccessibleName("Passages per answer")
        self.passages.setToolTip(
            "How many pages each answer draws on. The model reads the sentences of those pages "
            "closest to the question, up to a fixed length, so more pages cost little time; "
            "fewer keep it to the pages search ranked highest."
        )
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(settings.temperature)
        self.temperature.setAccessibleName("Temperature")
        self.temperature.setToolTip("0 gives the most literal answers; higher is freer")
        self.evidence_first = QCheckBox("Choose the evidence before answering")
        self.evidence_first.setChecked(settings.evidence_first)
        self.evidence_first.setAccessibleName("Choose the evidence before answering")
        self.evidence_first.setToolTip(
            "The model first picks the sentences that answer, then answers from them alone. "
            "Slower, and worse with the built-in models; try it with a larger model of your own."
        )
        self.ocr = QCheckBox("Read scanned pages with OCR (Tesseract)")
        self.ocr.setChecked(settings.ocr)
        self.ocr.setAccessibleName("OCR")
        self.lock_after = QSpinBox()
        self.lock_after.setRange(0, MAX_LOCK_AFTER)
        self.lock_after.setSuffix(" min")
        self.lock_after.setSpecialValueText("Never")
        self.lock_after.setValue(settings.lock_after_minutes)
        self.lock_after.setAccessibleName("Lock encrypted collections after minutes without use")
        self.lock_after.setToolTip(
            "Encrypted collections lock after this long without a key press or click: their key "
            "is forgotten and the passphrase is asked again. 0: never."
        )

        self.shared_server = QLineEdit(settings.shared_server)
        self.shared_server.setPlaceholderText("postgresql://you@kbdesk.firm.example/kbdesk")
        self.shared_server.setAccessibleName("Shared server address")
        self.shared_server.setToolTip(
            "Your practice's kbdesk server (PostgreSQL with pgvector), with your own login. "
            "Its certificate is checked (TLS). Empty: no shared collections."
        )
        self.server_password = QLineEdit()
        self.server_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.server_password.setPlaceholderText("unchanged")
        self.server_password.setAccessibleName("Shared server password")
        self.server_password.setToolTip(
            "Kept in this computer's key store (or for this session where there is none)."
        )

        folder = QLabel(str(paths.data_dir))
        folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_folder = QPushButton("Open")
        open_folder.setToolTip("Show the data folder in the file manager")
        open_folder.setAccessibleName("Open data folder")
        open_folder.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.data_dir)))
        )
        folder_row = QHBoxLayout()
        folder_row.addWidget(folder, 1)
        folder_row.addWidget(open_folder)

        form = QFormLayout()
        form.addRow("Model:", model_row)
        form.addRow("Adapter:", self.adapter)
        form.addRow("Embedder (new collections):", self.embedder)
        form.addRow("Passages per answer:", self.passages)
        form.addRow("Temperature:", self.temperature)
        form.addRow("", self.evidence_first)
        form.addRow("", self.ocr)
        form.addRow("Lock encrypted collections after:", self.lock_after)
        form.addRow("Shared server:", self.shared_server)
        form.addRow("Server password:", self.server_password)
        form.addRow("Data folder:", folder_row)
        form.addRow("Log folder:", QLabel(str(paths.log_dir)))

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(620, self.sizeHint().height())

    def _fill_models(self, current: str | None) -> None:
        self.model.clear()
        self.model.addItem("Default (the largest built-in model set up)", None)
        for info in self.registry.list():
            size = f"{info.size / 2**30:.1f} GB" if info.size else ""
            self.model.addItem(f"{info.name}  {size}".strip(), str(info.path))
        if current and self.model.findData(current) < 0:
            self.model.addItem(current, current)
        self.model.setCurrentIndex(max(self.model.findData(current), 0))

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if not path:
            return
        try:
            info = self.registry.add(path)
        except KbdeskError as exc:
            self.error.setText(str(exc))
            return
        self.error.clear()
        self._fill_models(str(info.path))

    def values(self) -> dict:
        return {
            "model": self.model.currentData(),
            "adapter": self.adapter.currentData(),
            "embedder": self.embedder.currentData(),
            "passages": self.passages.value(),
            "temperature": round(self.temperature.value(), 2),
            "evidence_first": self.evidence_first.isChecked(),
            "ocr": self.ocr.isChecked(),
            "lock_after_minutes": self.lock_after.value(),
            "shared_server": self.shared_server.text().strip(),
        }

    def password(self) -> str:
        """The shared server password typed (empty: unchanged)."""
        return self.server_password.text()
