"""Model registry and the offline assembly of the built-in models from their wheels."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from kbdesk.core.errors import InvalidSetting, ModelMissing, Remedy
from kbdesk.core.generate.models import BUILTIN_MODELS, BuiltinModel, ModelRegistry
from kbdesk.core.messages import Audience, explain
from tests.core.generate.conftest import ROOT


def load_assembler():
    spec = importlib.util.spec_from_file_location(
        "assemble_models", ROOT / "build" / "assemble_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_gguf(path: Path, size: int = 64) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF" + b"\0" * (size - 4))
    return path


def test_default_with_no_models_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(ModelMissing) as err:
        ModelRegistry(tmp_path / "models").default()
    message = str(err.value)
    assert BUILTIN_MODELS["large"].file in message
    assert err.value.remedy is Remedy.RESTORE_BUILTIN_MODELS
    window = explain(err.value, Audience.WINDOW)
    assert "Reinstall kbdesk" in window and "Settings" in window and "make" not in window
    assert "--model" in explain(err.value, Audience.CLI)


def test_a_builtin_that_is_not_assembled_says_how_to_restore_it(tmp_path):
    with pytest.raises(ModelMissing, match=BUILTIN_MODELS["small"].file) as err:
        ModelRegistry(tmp_path).get(BUILTIN_MODELS["small"].name)
    assert err.value.remedy is Remedy.RESTORE_BUILTIN_MODELS


def test_no_core_message_names_a_developer_command():
    """An installed program has no Makefile and no build/ folder: the core never names them."""
    import kbdesk.core

    core = Path(kbdesk.core.__file__).parent
    developer = ("make run", "make test", "build/", ".venv", "models add")
    offenders = []
    for path in core.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        exempt = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        # the one deliberate exception: said only when running from a source checkout
        exempt |= {
            id(const)
            for node in ast.walk(tree)
            if isinstance(node, ast.AnnAssign | ast.Assign)
            and "_CHECKOUT_EXTRA" in ast.unparse(node).split("=")[0]
            for const in ast.walk(node)
        }
        offenders += [
            f"{path.relative_to(core)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in exempt
            and any(word in node.value for word in developer)
        ]
    assert offenders == []


def test_default_prefers_the_large_model(tmp_path):
    registry = ModelRegistry(tmp_path)
    fake_gguf(tmp_path / BUILTIN_MODELS["small"].file)
    assert registry.default().name == BUILTIN_MODELS["small"].name
    fake_gguf(tmp_path / BUILTIN_MODELS["large"].file)
    assert registry.default().name == BUILTIN_MODELS["large"].name
    assert [m.name for m in registry.list()] == [
        BUILTIN_MODELS["large"].name,
        BUILTIN_MODELS["small"].name,
    ]


def test_the_first_models_folder_holding_a_builtin_wins_and_added_models_go_to_the_last(tmp_path):
    install, per_user, data = tmp_path / "opt", tmp_path / "user", tmp_path / "case" / "models"
    registry = ModelRegistry([install, per_user, data])
    with pytest.raises(ModelMissing) as err:
        registry.default()
    assert all(str(f) in str(err.value) for f in (install, per_user, data))
    small = fake_gguf(per_user / BUILTIN_MODELS["small"].file)
    assert registry.default().path == small  # a fresh data folder does not hide it
    fake_gguf(data / BUILTIN_MODELS["small"].file)
    large = fake_gguf(install / BUILTIN_MODELS["large"].file)
    assert [m.path for m in registry.list()] == [large, small]
    mine = registry.add(fake_gguf(tmp_path / "mine.gguf"))
    assert [m["name"] for m in json.loads((data / "models.json").read_text())["models"]] == ["mine"]
    assert not (install / "models.json").exists() and not (per_user / "models.json").exists()
    # A model added under the per-user folder shows up in every data folder.
    fake_gguf(tmp_path / "theirs.gguf")
    ModelRegistry(per_user).add(tmp_path / "theirs.gguf")
    assert [m.name for m in registry.list()][2:] == ["theirs", "mine"]
    registry.remove("theirs")
    assert [m.name for m in registry.list()][2:] == [mine.name]


def test_truncated_builtin_fails_verify_naming_file_and_fix(tmp_path):
    path = fake_gguf(tmp_path / BUILTIN_MODELS["small"].file, size=1000)
    registry = ModelRegistry(tmp_path)
    with pytest.raises(ModelMissing) as err:
        registry.verify(registry.default())
    assert str(path) in str(err.value) and "truncated" in str(err.value)
    assert err.value.remedy is Remedy.RESTORE_BUILTIN_MODELS


def test_add_get_remove_a_user_model(tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    own = fake_gguf(tmp_path / "mine" / "my-chat.Q4.gguf")
    info = registry.add(own)
    assert (info.name, info.path, info.builtin) == ("my-chat.Q4", own.resolve(), False)
    assert registry.get("my-chat.Q4") == info == registry.get(str(own))
    saved = json.loads((tmp_path / "models" / "models.json").read_text())
    assert saved["models"][0]["path"] == str(own.resolve())  # recorded, not copied
    assert not (tmp_path / "models" / own.name).exists()
    assert registry.verify(info) == info
    own.write_bytes(b"GGUF")  # the user's file changed under us
    with pytest.raises(ModelMissing, match="my-chat.Q4.gguf"):
        registry.verify(info)
    registry.remove("my-chat.Q4")
    assert registry.list() == [] and own.exists()
    with pytest.raises(ModelMissing):
        registry.get("my-chat.Q4")


def test_add_rejects_what_llama_cpp_cannot_load(tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    text = tmp_path / "notes.gguf"
    text.write_text("this is not a model")
    with pytest.raises(InvalidSetting, match="notes.gguf is not a GGUF model"):
        registry.add(text)
    with pytest.raises(ModelMissing, match="absent.gguf does not exist"):
        registry.add(tmp_path / "absent.gguf")
    with pytest.raises(InvalidSetting, match="built in"):
        registry.remove(BUILTIN_MODELS["small"].name)


def _fake_wheels(cache: Path, parts: list[bytes]) -> None:
    cache.mkdir(parents=True)
    for n, data in enumerate(parts, start=1):
        with zipfile.ZipFile(cache / f"fake_model_part{n}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"fake_model_part{n}/__init__.py", "")
            zf.writestr(f"fake_model_part{n}/data/part{n:02d}.bin", data)


def test_assemble_orders_parts_numerically_and_checks_size_and_hash(tmp_path, monkeypatch):
    assembler = load_assembler()
    parts = [b"GGUF"] + [f"<{n}>".encode() for n in range(2, 13)]  # 12: part10 after part9
    whole = b"".join(parts)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _fake_wheels(tmp_path / "cache" / "kbdesk" / "modelpkgs" / "fake", parts)
    spec = BuiltinModel(
        key="fake",
        name="fake",
        file="fake.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        package="fake-model-part{n}",
        version="1.0",
        parts=12,
    )
    out = assembler.assemble(spec, tmp_path / "models")
    assert out.read_bytes() == whole
    entry = json.loads((tmp_path / "models" / "models.json").read_text())["models"][0]
    assert entry["sha256"] == spec.sha256 and entry["source"][9] == "fake-model-part10==1.0"

    for bad in (
        replace(spec, file="short.gguf", size=len(whole) + 1),
        replace(spec, file="hash.gguf", sha256="0" * 64),
    ):
        with pytest.raises(SystemExit):
            assembler.assemble(bad, tmp_path / "models")
        assert not (tmp_path / "models" / bad.file).exists()
    # the rejected copies leave no partial file behind
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["fake.gguf", "models.json"]


def test_assembling_the_small_model_again_does_nothing(small_model):
    before = small_model.stat().st_mtime_ns
    index = small_model.parent / "models.json"
    index_before = index.stat().st_mtime_ns
    cmd = [sys.executable, str(ROOT / "build" / "assemble_models.py"), "--small"]
    done = subprocess.run(
        cmd + ["--models-dir", str(small_model.parent)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "already assembled" in done.stdout
    assert small_model.stat().st_mtime_ns == before
    assert index.stat().st_mtime_ns == index_before


def test_the_assembled_small_model_verifies_by_hash(small_model):
    registry = ModelRegistry(small_model.parent)
    info = registry.get(BUILTIN_MODELS["small"].name)
    assert info.path == small_model and info.builtin
    assert registry.verify(info, check_hash=True) == info
