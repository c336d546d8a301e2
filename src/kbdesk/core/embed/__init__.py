"""Text embedders: one small protocol and the built-in offline models."""

from kbdesk.core.embed.base import Embedder, EmbedderSpec
from kbdesk.core.embed.registry import (
    BUILTIN_EMBEDDERS,
    DEFAULT_EMBEDDER,
    create_embedder,
    describe_embedders,
)

__all__ = [
    "BUILTIN_EMBEDDERS",
    "DEFAULT_EMBEDDER",
    "Embedder",
    "EmbedderSpec",
    "create_embedder",
    "describe_embedders",
]
