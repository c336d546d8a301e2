"""Adapter files without training: GGUF export naming, the registry, checks before a job starts,
and the evaluation's metrics."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from kbdesk.core.adapters import check_base, list_adapters, remove_adapter, rename_adapter
from kbdesk.core.errors import CollectionLocked, InvalidSetting, ModelMissing
from kbdesk.core.evaluate.fourway import recommend
from kbdesk.core.evaluate.metrics import (
    bootstrap_interval,
    has_key_facts,
    paired_difference,
    token_f1,
)
from kbdesk.core.paths import AppPaths
from kbdesk.core.settings import SettingsStore
from kbdesk.core.tune import training as jobs
from kbdesk.core.tune.export import gguf_tensors, write_gguf_lora


def fake_adapter(folder: Path, name: str, base: dict | None = None) -> Path:
    (folder / name).mkdir(parents=True)
    write_gguf_lora(
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.ones((2, 4))},
        folder / name / "adapter.gguf",
        arch="qwen2",
        alpha=4.0,
    )
    meta = {"name": name, "base": base or {"name": "m", "sha256": "a" * 64, "size": 3}}
    (folder / name / "meta.json").write_text(json.dumps(meta))
    return folder / name / "adapter.gguf"


def test_peft_names_become_llama_cpp_lora_names_and_others_are_refused():
    state = {
        "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight": np.zeros((4, 8)),
        "base_model.model.model.layers.3.mlp.down_proj.lora_B.weight": np.zeros((8, 4)),
    }
    assert sorted(gguf_tensors(state)) == [
        "blk.3.attn_q.weight.lora_a",
        "blk.3.ffn_down.weight.lora_b",
    ]
    with pytest.raises(InvalidSetting, match="Unexpected tensor"):
        gguf_tensors({"base_model.model.lm_head.lora_A.weight": np.zeros((1, 1))})


def test_the_written_adapter_is_a_gguf_lora(tmp_path):
    import gguf

    path = fake_adapter(tmp_path, "a")
    reader = gguf.GGUFReader(str(path))
    fields = {k: f.contents() for k, f in reader.fields.items()}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 4.0
    assert [t.name for t in reader.tensors] == ["blk.0.attn_q.weight.lora_a"]


def choose(paths: AppPaths, adapter: str | None) -> SettingsStore:
    store = SettingsStore(paths.config_dir)
    store.save(dataclasses.replace(store.load(), adapter=adapter))
    return store


def test_adapters_are_listed_renamed_and_removed_and_half_done_ones_stay_hidden(tmp_path):
    paths = AppPaths.resolve(tmp_path)
    folder = paths.adapters_dir
    fake_adapter(folder, "contracts")
    fake_adapter(folder, ".clinic.staging")
    assert [e.name for e in list_adapters(folder)] == ["contracts"]
    store = choose(paths, "contracts")
    rename_adapter(paths, "contracts", "leases")
    assert [a.name for a in list_adapters(folder)] == ["leases"]
    assert json.loads((folder / "leases" / "meta.json").read_text())["name"] == "leases"
    assert store.load().adapter == "leases"  # the chosen adapter follows its new name
    fake_adapter(folder, "other")
    remove_adapter(paths, "leases")
    assert [a.name for a in list_adapters(folder)] == ["other"]
    assert store.load().adapter is None  # not a name the next question would fail on
    with pytest.raises(ModelMissing, match="Known adapters: other"):
        remove_adapter(paths, "leases")
    with pytest.raises(InvalidSetting, match="not a valid adapter name"):
        rename_adapter(paths, "other", "../escape")


def test_a_refused_rename_changes_neither_the_adapters_nor_the_chosen_one(tmp_path):
    paths = AppPaths.resolve(tmp_path)
    fake_adapter(paths.adapters_dir, "contracts")
    fake_adapter(paths.adapters_dir, "leases")
    store = choose(paths, "contracts")
    with pytest.raises(InvalidSetting, match="adapter named 'leases' already exists"):
        rename_adapter(paths, "contracts", "leases")
    assert [a.name for a in list_adapters(paths.adapters_dir)] == ["contracts", "leases"]
    assert store.load().adapter == "contracts"
    meta = json.loads((paths.adapters_dir / "contracts" / "meta.json").read_text())
    assert meta["name"] == "contracts"


def test_the_base_check_compares_the_recorded_model(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 60)
    from kbdesk.core.store.fileio import sha256_file

    right = fake_adapter(
        tmp_path, "right", {"name": "model", "sha256": sha256_file(model), "size": 64}
    )
    check_base(right, model)
    wrong = fake_adapter(tmp_path, "wrong", {"name": "qwen-big", "sha256": "b" * 64, "size": 64})
    with pytest.raises(
        ModelMissing, match="'wrong' belongs to the model qwen-big, not to model.gguf"
    ):
        check_base(wrong, model)
    loose = tmp_path / "loose.gguf"
    loose.write_bytes(b"GGUF")
    check_base(loose, model)  # no meta.json: llama.cpp judges the shapes


def test_a_job_is_refused_before_it_starts_for_memory_architecture_and_names(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 1000)
    with pytest.raises(InvalidSetting, match="needs about .* GB of free memory"):
        jobs.check_memory(model, available=1000)
    jobs.check_memory(model, available=jobs.memory_needed(model))
    with open(model, "wb") as fh:  # a GGUF header whose first key says "llama"
        import struct

        key, value = b"general.architecture", b"llama"
        fh.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1))
        fh.write(struct.pack("<Q", len(key)) + key + struct.pack("<I", 8))
        fh.write(struct.pack("<Q", len(value)) + value)
    assert jobs.gguf_architecture(model) == "llama"
    paths = AppPaths.resolve(tmp_path / "data")
    request = jobs.TuneRequest("x", "c", model, "some-llama", "0" * 64)
    with pytest.raises(InvalidSetting, match="some-llama is a 'llama' model"):
        jobs.create_job(paths, request)
    fake_adapter(paths.adapters_dir, "x")
    with pytest.raises(InvalidSetting, match="adapter named 'x' already exists"):
        jobs.create_job(paths, request)
    from kbdesk.core.kb import KnowledgeBase

    KnowledgeBase.create_encrypted(paths.data_dir, "sealed", "a long passphrase")[0].close()
    sealed = dataclasses.replace(request, name="y", collection="sealed")
    with pytest.raises(CollectionLocked, match="'sealed' is encrypted and locked"):
        jobs.create_job(paths, sealed)  # its key is needed: the job seals what it writes
    assert not (paths.data_dir / "tuning").exists()


def test_token_f1_and_key_facts_work_for_english_and_chinese():
    assert token_f1("The rent is EUR 4,500 [1].", "The rent is EUR 4,500.") == 1.0
    assert token_f1("Nothing alike.", "The rent is EUR 4,500.") == 0.0
    assert 0 < token_f1("押金为4500欧元", "押金是4500欧元。") < 1
    assert has_key_facts(
        "The deposit is EUR 4500, returned in 30 days.", "EUR 4,500 within 30 days"
    )
    assert not has_key_facts("The deposit is returned.", "EUR 4,500 within 30 days")


def test_bootstrap_intervals_and_the_recommendation_say_no_clear_difference_when_unsure():
    low, high = bootstrap_interval([0.0, 1.0] * 20)
    assert low < 0.5 < high
    diff, low, high = paired_difference([1.0] * 30, [0.0] * 30)
    assert diff == low == high == 1.0
    rows = {
        "base": [{"score": 0.0}] * 30,
        "rag": [{"score": 0.8}] * 15 + [{"score": 0.6}] * 15,
        "adapter": [{"score": 0.1}] * 30,
        "rag+adapter": [{"score": 0.8}] * 14 + [{"score": 0.6}] * 16,
    }
    arms = {a: {"score": sum(r["score"] for r in v) / 30} for a, v in rows.items()}
    verdict = recommend(arms, rows)
    assert verdict["arm"] == "rag" and not verdict["clear"]
    assert verdict["text"].startswith("No clear difference between the documents (RAG) and")
    rows["rag+adapter"] = [{"score": 1.0}] * 30
    arms["rag+adapter"]["score"] = 1.0
    verdict = recommend(arms, rows)
    assert verdict["arm"] == "rag+adapter" and verdict["clear"]
    assert verdict["text"].startswith("Use the documents with the adapter")
