"""Optional second-stage reranking with a local cross-encoder folder (off by default: none ships offline)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from kbdesk.core.errors import ModelMissing

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a sentence-transformers CrossEncoder from a local folder."""

    def __init__(self, folder: str | os.PathLike[str], batch_size: int = 16):
        self.folder = Path(folder).expanduser()
        if not (self.folder / "config.json").is_file():
            raise ModelMissing(
                f"No cross-encoder model in {self.folder}.",
                hint="Choose a local cross-encoder folder containing config.json and weights, or turn reranking off.",
            )
        self.batch_size = batch_size
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> CrossEncoder:
        """The model, loaded once."""
        with self._lock:
            if self._model is None:
                from kbdesk.core.embed.sentence_transformer import _offline_env

                _offline_env()
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(str(self.folder), device="cpu")
            return self._model

    def scores(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        model = self._load()
        out = model.predict([(query, p) for p in passages], batch_size=self.batch_size)
        return [float(s) for s in out]
