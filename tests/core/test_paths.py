"""Per-user locations: --data-dir beats KBDESK_HOME beats the platformdirs default; names are checked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.paths import AppPaths, describe_model_dirs, validate_collection_name


def test_precedence_of_data_dir_env_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("KBDESK_HOME", str(tmp_path / "env"))
    assert AppPaths.resolve(tmp_path / "arg").data_dir == (tmp_path / "arg").resolve()
    env = AppPaths.resolve()
    assert env.data_dir == (tmp_path / "env").resolve() and env.log_dir == env.data_dir / "logs"
    monkeypatch.delenv("KBDESK_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    default = AppPaths.resolve()
    assert default.data_dir == tmp_path / "xdg" / "kbdesk"
    assert default.collection_dir("Case 12").parent == default.data_dir / "collections"


def test_nothing_is_created_until_used(tmp_path):
    paths = AppPaths.resolve(tmp_path / "new")
    assert not Path(paths.data_dir).exists() and paths.collection_names() == []


@pytest.mark.parametrize("bad", ["", "..", "a/b", "x" * 65, "../etc", "名字/x"])
def test_bad_collection_names_are_refused(bad):
    with pytest.raises(InvalidSetting, match="collection name"):
        validate_collection_name(bad)


def test_unicode_collection_names_are_fine():
    assert validate_collection_name(" 诉讼案件 2024 ") == "诉讼案件 2024"


def test_models_are_looked_for_in_the_installation_then_per_user_then_the_data_folder(
    tmp_path, monkeypatch, own_user_folders
):
    paths = AppPaths.resolve(tmp_path / "case")
    per_user = own_user_folders / "kbdesk" / "models"
    assert paths.model_dirs == (per_user, paths.models_dir)  # a checkout has no installation
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "opt" / "kbdesk" / "kbdesk"))
    assert paths.model_dirs == (tmp_path / "opt" / "kbdesk" / "models", per_user, paths.models_dir)
    roles = list(describe_model_dirs(paths).values())
    assert roles[0].startswith("this installation") and roles[1].startswith("per-user")
    assert "recorded here" in roles[2]
    # With the default data folder, the per-user folder and the data folder are one.
    assert AppPaths.resolve().model_dirs[1:] == (per_user,)
