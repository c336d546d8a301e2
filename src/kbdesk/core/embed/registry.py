"""Which embedders exist, what is known about each (dimension, relevance floor), and how to build one."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from kbdesk.core.embed.base import Embedder
from kbdesk.core.errors import InvalidSetting

# Chosen by measured bilingual retrieval quality: see bench/RESULTS.md ("Default embedder").
DEFAULT_EMBEDDER = "use-multilingual"


@dataclass(frozen=True)
class EmbedderFacts:
    """What kbdesk knows about a built-in embedder without loading it."""

    id: str
    label: str
    dim: int
    # The best dense similarity a question must reach before the model is asked at all. Set just
    # below the lowest score of any answerable question in bench/corpus (USE 0.22, MiniLM 0.34;
    # see bench/RESULTS.md "Not in your documents"): on-domain questions the documents cannot
    # answer score like answerable ones, so this gate only stops clearly unrelated questions; the
    # model's NOT_IN_DOCUMENTS reply and the citation check handle the rest.
    relevance_floor: float
    # sentence-transformers on PyTorch, which the installed program leaves out (packaging/)
    needs_torch: bool = False


EMBEDDERS: dict[str, EmbedderFacts] = {
    facts.id: facts
    for facts in (
        EmbedderFacts(
            "use-multilingual",
            "Universal Sentence Encoder multilingual v3 (512-d; English, Chinese and 14 more)",
            dim=512,
            relevance_floor=0.20,
        ),
        EmbedderFacts(
            "minilm",
            "all-MiniLM-L6-v2 (384-d; English only)",
            dim=384,
            relevance_floor=0.30,
            needs_torch=True,
        ),
    )
}
# For a user's own sentence-transformers folder (never calibrated): between the two measured.
DEFAULT_RELEVANCE_FLOOR = 0.25

BUILTIN_EMBEDDERS = {facts.id: facts.label for facts in EMBEDDERS.values()}  # id -> label

_cache: dict[str, Embedder] = {}


def create_embedder(embedder_id: str, *, shared: bool = True) -> Embedder:
    """Build (or reuse, per process) the embedder named by a manifest id.

    Ids: a built-in name, or `st:<folder>` for any local sentence-transformers model folder.
    A plain existing folder path is accepted too and normalised to `st:<absolute path>`.
    """
    embedder_id = normalise_id(embedder_id)
    if shared and embedder_id in _cache:
        return _cache[embedder_id]
    facts = EMBEDDERS.get(embedder_id)
    if (facts is None or facts.needs_torch) and not torch_available():
        raise InvalidSetting(
            f"The embedder '{embedder_id}' needs PyTorch, which this installation of kbdesk "
            "leaves out.",
            hint=f"Use '{DEFAULT_EMBEDDER}' (the default; English, Chinese and 14 more "
            "languages): choose it in File › Settings for new collections.",
        )
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


def torch_available() -> bool:
    """Whether the sentence-transformers embedders can run here (not in the installed program)."""
    return importlib.util.find_spec("torch") is not None


def describe_embedders() -> dict[str, str]:
    """The built-in embedders this installation can run: id -> label."""
    return {
        facts.id: facts.label
        for facts in EMBEDDERS.values()
        if not facts.needs_torch or torch_available()
    }


def embedder_dim(embedder_id: str) -> int:
    """The vector dimension of an embedder; loads it only when it is not a built-in."""
    facts = EMBEDDERS.get(embedder_id)
    return facts.dim if facts else create_embedder(embedder_id).spec.dim


def relevance_floor(embedder_id: str) -> float:
    """The dense similarity below which a question is not sent to the model (see EmbedderFacts)."""
    facts = EMBEDDERS.get(embedder_id)
    return facts.relevance_floor if facts else DEFAULT_RELEVANCE_FLOOR
