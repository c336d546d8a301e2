"""Adapter discovery: what the Settings list offers is exactly what answering accepts."""

from __future__ import annotations

import pytest

from kbdesk.core.adapters import list_adapters, resolve_adapter
from kbdesk.core.errors import ModelMissing


@pytest.fixture
def adapters_dir(tmp_path):
    folder = tmp_path / "adapters"
    (folder / "contracts").mkdir(parents=True)
    (folder / "contracts" / "adapter.gguf").write_bytes(b"GGUF")
    (folder / "contracts" / "meta.json").write_text("{}")
    (folder / "stray.gguf").write_bytes(b"GGUF")  # a loose file is not an adapter
    (folder / "half-trained").mkdir()  # a folder with some other .gguf is not one either
    (folder / "half-trained" / "checkpoint.gguf").write_bytes(b"GGUF")
    return folder


def test_the_list_and_the_resolver_agree(adapters_dir):
    listed = list_adapters(adapters_dir)
    assert [a.name for a in listed] == ["contracts"]
    for adapter in listed:
        assert resolve_adapter(adapters_dir, adapter.name) == adapter.path
    for name in ("stray", "half-trained", "nothing"):
        with pytest.raises(ModelMissing, match=f"No adapter named '{name}'") as err:
            resolve_adapter(adapters_dir, name)
        assert "Known adapters: contracts." in err.value.hint


def test_an_explicit_gguf_path_is_accepted_and_a_missing_one_named(adapters_dir, tmp_path):
    stray = adapters_dir / "stray.gguf"
    assert resolve_adapter(adapters_dir, str(stray)) == stray.resolve()
    with pytest.raises(ModelMissing, match="nope.gguf does not exist"):
        resolve_adapter(adapters_dir, str(tmp_path / "nope.gguf"))


def test_no_adapters_folder_means_no_adapters(tmp_path):
    assert list_adapters(tmp_path / "absent") == []
    with pytest.raises(ModelMissing) as err:
        resolve_adapter(tmp_path / "absent", "contracts")
    assert "No adapters have been trained yet" in err.value.hint


def test_the_answerer_still_offers_resolve_adapter():
    from kbdesk.core import adapters
    from kbdesk.core.generate import answerer

    assert answerer.resolve_adapter is adapters.resolve_adapter


def test_an_adapter_is_named_by_its_folder_or_its_file():
    from kbdesk.core.adapters import adapter_name

    assert adapter_name("/data/adapters/contracts/adapter.gguf") == "contracts"
    assert adapter_name("/somewhere/my-lora.gguf") == "my-lora"


def test_a_missing_adapter_names_a_way_out(tmp_path):
    from kbdesk.core.errors import Remedy

    with pytest.raises(ModelMissing) as err:
        resolve_adapter(tmp_path, "nope")
    assert err.value.remedy is Remedy.CHOOSE_ADAPTER
