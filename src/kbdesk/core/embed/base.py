"""The Embedder protocol: a stable id, a dimension, and batched, L2-normalised float32 vectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # numpy loads with the first embedder: a command that only reads
    import numpy as np  # settings does not need it


@dataclass(frozen=True)
class EmbedderSpec:
    """What a collection's manifest records: enough to recreate the same embedder later."""

    id: str  # "use-multilingual", "minilm", or "st:<folder>"
    dim: int


class Embedder(Protocol):
    @property
    def spec(self) -> EmbedderSpec:
        """Its id and vector length (a plain attribute does too)."""
        ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return a (len(texts), dim) float32 array of unit vectors."""
        ...

    def warm_up(self) -> None:
        """Load weights now (off the UI thread) instead of on first use."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
