"""The settings dialog offers exactly the adapters that answering accepts, and keeps no password."""

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


def test_a_password_typed_into_the_server_address_goes_to_the_key_store(
    make_window, key_store, data_dir, monkeypatch
):
    from kbdesk.core.server.connection import ServerAddress
    from kbdesk.gui.settings_dialog import SettingsDialog

    def typed(dialog):
        dialog.shared_server.setText("postgresql://ana:s3cret@db.firm.example/kbdesk")
        return True

    monkeypatch.setattr(SettingsDialog, "exec", typed)
    window = make_window()
    window.open_settings()
    kept = "postgresql://ana@db.firm.example/kbdesk"
    assert window.session.settings.shared_server == kept
    assert window.session.server_password == "s3cret"
    assert "s3cret" not in "".join(p.read_text() for p in data_dir.rglob("*.json"))
    assert "password=s3cret" in ServerAddress(kept).conninfo()  # from the key store
