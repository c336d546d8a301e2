"""Text embedders: one small protocol and the built-in offline models."""

from kbdesk.core.embed.base import Embedder, EmbedderSpec
from kbdesk.core.embed.registry import (
    BUILTIN_EMBEDDERS,
    DEFAULT_EMBEDDER,
    EMBEDDERS,
    EmbedderFacts,
    create_embedder,
    describe_embedders,
    embedder_dim,
    relevance_floor,
)

__all__ = [
    "BUILTIN_EMBEDDERS",
    "DEFAULT_EMBEDDER",
    "EMBEDDERS",
    "Embedder",
    "EmbedderFacts",
    "EmbedderSpec",
    "create_embedder",
    "describe_embedders",
    "embedder_dim",
    "relevance_floor",
]
