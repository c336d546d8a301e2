"""Settings: saved atomically, reloaded, and a damaged file never stops the app."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.settings import Settings, SettingsStore


def test_defaults_when_nothing_is_saved(tmp_path):
    store = SettingsStore(tmp_path / "config")
    assert store.load() == Settings() and store.problems == []


def test_round_trip(tmp_path):
    store = SettingsStore(tmp_path / "config")
    chosen = replace(
        Settings(),
        model="/models/x.gguf",
        passages=9,
        temperature=0.3,
        evidence_first=True,
        ocr=False,
        watched={"default": ["/docs"]},
        pending={"default": ["/docs/a.pdf"]},
        layout={"geometry": "AAA="},
    )
    store.save(chosen)
    assert SettingsStore(tmp_path / "config").load() == chosen
    assert not list((tmp_path / "config").glob(".settings-*"))  # no temp file left behind


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "could not be read"),
        ("[1, 2]", "not a settings object"),
        ('{"passages": "many", "ocr": false}', "'passages' has a bad value"),
        ('{"passages": 99, "ocr": false}', "Passages per answer must be 1-30"),
        ('{"watched": {"default": "/docs"}, "ocr": false}', "'watched' has a bad value"),
        ('{"evidence_first": "yes", "ocr": false}', "'evidence_first' has a bad value"),
    ],
)
def test_a_damaged_file_falls_back_to_defaults_and_says_why(tmp_path, content, problem):
    store = SettingsStore(tmp_path)
    store.path.write_text(content, encoding="utf-8")
    settings = store.load()
    assert any(problem in p for p in store.problems), store.problems
    assert settings.passages == Settings().passages
    if '"ocr": false' in content:
        assert settings.ocr is False  # the good values are kept


def test_invalid_values_are_refused_on_save(tmp_path):
    store = SettingsStore(tmp_path)
    with pytest.raises(InvalidSetting, match="Temperature"):
        store.save(replace(Settings(), temperature=5.0))
    assert not store.path.exists()
