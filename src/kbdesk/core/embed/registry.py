"""Which embedders exist, which one new collections get, and how to build one from its id."""

from __future__ import annotations

from pathlib import Path

from kbdesk.core.embed.base import Embedder
from kbdesk.core.errors import InvalidSetting

# Chosen by measured bilingual retrieval quality: see bench/RESULTS.md ("Default embedder").
DEFAULT_EMBEDDER = "use-multilingual"

BUILTIN_EMBEDDERS = {
    "use-multilingual": "Universal Sentence Encoder multilingual v3 (512-d; English, Chinese and 14 more)",
    "minilm": "all-MiniLM-L6-v2 (384-d; English only)",
}

_cache: dict[str, Embedder] = {}


def create_embedder(embedder_id: str, *, shared: bool = True) -> Embedder:
    """Build (or reuse, per process) the embedder named by a manifest id.

    Ids: a built-in name, or `st:<folder>` for any local sentence-transformers model folder.
    A plain existing folder path is accepted too and normalised to `st:<absolute path>`.
    """
    embedder_id = normalise_id(embedder_id)
    if shared and embedder_id in _cache:
        return _cache[embedder_id]
    if embedder_id == "use-multilingual":
        from kbdesk.core.embed.universal_sentence_encoder import UniversalSentenceEncoder

        embedder: Embedder = UniversalSentenceEncoder()
    elif embedder_id == "minilm":
        from kbdesk.core.embed.sentence_transformer import minilm

        embedder = minilm()
    else:
        from kbdesk.core.embed.sentence_transformer import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(Path(embedder_id[3:]), embedder_id)
    if shared:
        _cache[embedder_id] = embedder
    return embedder


def normalise_id(embedder_id: str) -> str:
    if embedder_id in BUILTIN_EMBEDDERS or embedder_id.startswith("st:"):
        return embedder_id
    folder = Path(embedder_id).expanduser()
    if folder.is_dir():
        return f"st:{folder.resolve()}"
    raise InvalidSetting(
        f"Unknown embedder '{embedder_id}'.",
        hint=f"Choose one of {', '.join(BUILTIN_EMBEDDERS)} or a sentence-transformers model folder.",
    )


def describe_embedders() -> dict[str, str]:
    return dict(BUILTIN_EMBEDDERS)
