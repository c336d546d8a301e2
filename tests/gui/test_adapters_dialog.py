"""The Adapters dialog over real adapter folders: list, report with its chart, choose, rename,
remove, and a stopped training offered for resuming."""

from __future__ import annotations

import json

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QMessageBox

from kbdesk.core.evaluate.fourway import ARMS, recommend, summarise
from kbdesk.core.paths import AppPaths
from tests.core.tune.test_adapter_files import fake_adapter


def evaluation() -> dict:
    rows = {
        arm: [
            {
                "answerable": True,
                "score": s,
                "f1": s,
                "facts": s > 0.5,
                "declined": False,
                "right_page": arm.startswith("rag") or None,
                "seconds": 2.0,
            }
            for s in scores
        ]
        for arm, scores in zip(ARMS, ([0.1] * 8, [0.7] * 8, [0.2] * 8, [0.75] * 8), strict=True)
    }
    for arm in ("base", "adapter"):
        for r in rows[arm]:
            r["right_page"] = None
    arms = {arm: summarise(r) for arm, r in rows.items()}
    return {
        "adapter": "contracts",
        "model": "qwen",
        "questions": 8,
        "answerable": 8,
        "settings": {"passages": 6},
        "arms": arms,
        "recommendation": recommend(arms, rows),
        "forgetting": {"base": {"right": 6, "of": 6}, "adapter": {"right": 5, "of": 6}},
    }


def open_dialog(qtbot, data_dir):
    from kbdesk.gui.adapters_dialog import AdaptersDialog
    from kbdesk.gui.session import Session

    session = Session(AppPaths.resolve(data_dir))
    dialog = AdaptersDialog(session)
    qtbot.addWidget(dialog)
    return dialog, session


def test_the_dialog_lists_adapters_shows_the_report_and_manages_them(qtbot, data_dir, monkeypatch):
    paths = AppPaths.resolve(data_dir)
    adapter = fake_adapter(paths.adapters_dir, "contracts")
    meta = json.loads(adapter.with_name("meta.json").read_text())
    result = evaluation()
    meta.update(
        collection="leases",
        evaluation={"recommendation": result["recommendation"]},
        counts={"training_conversations": 120},
        training={"steps": 60, "final_loss": 0.41},
    )
    adapter.with_name("meta.json").write_text(json.dumps(meta))
    adapter.with_name("evaluation.json").write_text(json.dumps(result))
    fake_adapter(paths.adapters_dir, "clinic")
    dialog, session = open_dialog(qtbot, data_dir)

    names = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert names == ["clinic", "contracts"]
    dialog.table.selectRow(1)
    row = [dialog.table.item(1, c).text() for c in range(dialog.table.columnCount())]
    assert row[2:5] == ["leases", "120 conversations, 60 steps", "0.410"]
    assert row[5] == result["recommendation"]["text"]
    report = dialog.report.toPlainText()
    assert "Recommendation" in report and "Documents + adapter" in report
    image = dialog.report.document().resource(
        QTextDocument.ResourceType.ImageResource, QUrl("chart.png")
    )
    assert not image.isNull() and image.width() > 300

    dialog.use_selected()
    assert session.settings.adapter == "contracts"
    assert dialog.table.item(1, 0).text() == "contracts  (in use)"
    monkeypatch.setattr(
        "kbdesk.gui.adapters_dialog.QInputDialog.getText", lambda *a, **k: ("leases-v2", True)
    )
    dialog.table.selectRow(1)
    dialog.rename_selected()
    assert session.settings.adapter == "leases-v2"
    assert [e.name for e in dialog.entries] == ["clinic", "leases-v2"]
    monkeypatch.setattr(
        "kbdesk.gui.adapters_dialog.QMessageBox.question",
        lambda *a, **k: QMessageBox.StandardButton.Yes,
    )
    dialog.table.selectRow(1)
    dialog.remove_selected()
    assert session.settings.adapter is None
    assert [e.name for e in dialog.entries] == ["clinic"]
    assert "has not been evaluated yet" in dialog.report.toPlainText()


def test_a_stopped_training_is_offered_for_resuming(qtbot, data_dir):
    paths = AppPaths.resolve(data_dir)
    job = paths.data_dir / "tuning" / "night-run"
    job.mkdir(parents=True)
    (job / "job.json").write_text("{}")
    (job / "progress.jsonl").write_text(
        json.dumps({"event": "step", "step": 7, "steps": 40, "loss": 1.2})
        + "\n"
        + json.dumps({"event": "cancelled", "step": 7})
        + "\n"
    )
    dialog, _session = open_dialog(qtbot, data_dir)
    assert dialog.state.text() == "Training 'night-run' was stopped; it can be resumed."
    assert dialog.resume_button.isEnabled() and not dialog.stop_button.isEnabled()
    assert "No answer model is set up" in dialog.estimate.text()
    assert not dialog.train_button.isEnabled()


def test_a_refused_rename_keeps_the_chosen_adapter(qtbot, data_dir, monkeypatch):
    paths = AppPaths.resolve(data_dir)
    fake_adapter(paths.adapters_dir, "clinic")
    fake_adapter(paths.adapters_dir, "contracts")
    dialog, session = open_dialog(qtbot, data_dir)
    dialog.table.selectRow(1)
    dialog.use_selected()
    warnings: list[str] = []
    monkeypatch.setattr(
        "kbdesk.gui.adapters_dialog.QInputDialog.getText", lambda *a, **k: ("clinic", True)
    )
    monkeypatch.setattr(
        "kbdesk.gui.adapters_dialog.QMessageBox.warning", lambda _p, _t, text: warnings.append(text)
    )
    dialog.table.selectRow(1)
    dialog.rename_selected()
    assert warnings and "An adapter named 'clinic' already exists." in warnings[0]
    assert session.settings.adapter == "contracts"
    assert [e.name for e in dialog.entries] == ["clinic", "contracts"]


def test_a_sealed_adapters_report_shows_only_while_its_collection_is_unlocked(qtbot, data_dir):
    from kbdesk.core.adapters import EVALUATION_FILE, seal_adapter
    from kbdesk.core.kb import KnowledgeBase

    kb, _recovery = KnowledgeBase.create_encrypted(data_dir, "Clinic", "a long passphrase")
    kb.close()
    adapter = fake_adapter(AppPaths.resolve(data_dir).adapters_dir, "clinic-lora")
    meta = json.loads(adapter.with_name("meta.json").read_text())
    meta.update(collection="Clinic", evaluation={"questions": 8})
    adapter.with_name("meta.json").write_text(json.dumps(meta))
    adapter.with_name(EVALUATION_FILE).write_text(json.dumps(evaluation()))
    seal_adapter(adapter, kb.key)
    dialog, session = open_dialog(qtbot, data_dir)  # Clinic is not open: its key is not here
    [entry] = dialog.entries
    dialog.show_report(entry)
    assert "encrypted with the collection “Clinic”" in dialog.report.toPlainText()
    session.unlocked_with("Clinic", KnowledgeBase.open(data_dir, "Clinic", key=kb.key))
    dialog.show_report(entry)
    assert "Recommendation" in dialog.report.toPlainText()
