"""The settings dialog offers exactly the adapters that answering accepts."""

from __future__ import annotations

from kbdesk.core.adapters import resolve_adapter
from kbdesk.core.paths import AppPaths
from kbdesk.core.settings import Settings


def test_adapter_choices_are_the_ones_the_resolver_accepts(qtbot, tmp_path):
    from kbdesk.gui.settings_dialog import SettingsDialog

    paths = AppPaths.resolve(tmp_path / "data")
    (paths.adapters_dir / "contracts").mkdir(parents=True)
    (paths.adapters_dir / "contracts" / "adapter.gguf").write_bytes(b"GGUF")
    (paths.adapters_dir / "stray.gguf").write_bytes(b"GGUF")
    dialog = SettingsDialog(Settings(), paths)
    qtbot.addWidget(dialog)
    names = [dialog.adapter.itemData(i) for i in range(dialog.adapter.count())]
    assert names == [None, "contracts"]
    assert resolve_adapter(paths.adapters_dir, "contracts").name == "adapter.gguf"
