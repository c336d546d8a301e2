"""Optional second-stage reranking with a local cross-encoder folder (off by default: none ships offline)."""

from __future__ import annotations

import threading
from pathlib import Path

from kbdesk.core.errors import ModelMissing


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a sentence-transformers CrossEncoder from a local folder."""

    def __init__(self, folder: str | Path, batch_size: int = 16):
        self.folder = Path(folder).expanduser()
        if not (self.folder / "config.json").is_file():
            raise ModelMissing(
                f"No cross-encoder model in {self.folder}.",
                hint="Choose a local cross-encoder folder containing config.json and weights, or turn reranking off.",
            )
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                from kbdesk.core.embed.sentence_transformer import _offline_env

                _offline_env()
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(str(self.folder), device="cpu")

    def scores(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        self.warm_up()
        out = self._model.predict([(query, p) for p in passages], batch_size=self.batch_size)
        return [float(s) for s in out]
