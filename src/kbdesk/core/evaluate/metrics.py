"""Answer metrics for evaluations: normalised token F1, key facts present, paired bootstrap intervals."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)
_MARKER = re.compile(r"\[\d+(?:\]\s*\[\d+)*\]")
_STOP = frozenset(
    "a an the of to in on for and or is are was were be by with as at that this it its from".split()
)


def tokens(text: str) -> list[str]:
    """Words of Latin text, single characters of Chinese text; case, width and markers folded."""
    text = _MARKER.sub(" ", unicodedata.normalize("NFKC", text)).casefold()
    return [t for t in _WORD.findall(text) if t not in _STOP]


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style F1 over `tokens` (Chinese by character, as is usual for Chinese QA)."""
    pred, ref = Counter(tokens(prediction)), Counter(tokens(reference))
    common = sum((pred & ref).values())
    if not common:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def key_terms(reference: str, limit: int = 3) -> list[str]:
    """The reference's telling terms: its numbers and names (capitalised words after the
    first); without either, its two longest words (Chinese: the start of its two longest runs
    of characters). An answer that has them all holds the key facts."""
    normal = unicodedata.normalize("NFKC", reference)
    numbers = [_digits(n) for n in re.findall(r"\d+(?:[.,'’]\d+)*", normal)]
    words = re.findall(r"[^\W\d_]+", normal)
    names = [w.casefold() for w in words[1:] if w[:1].isupper() and w.casefold() not in _STOP]
    picked = list(dict.fromkeys([*numbers, *names]))
    if not picked:
        if _CJK.search(normal):
            runs = sorted(re.findall(r"[\u3400-\u9fff]{2,}", normal), key=len, reverse=True)
            picked = [r[:2] for r in runs[:2]]
        else:
            content = [w.casefold() for w in words if w.casefold() not in _STOP and len(w) > 3]
            picked = sorted(dict.fromkeys(content), key=len, reverse=True)[:2]
    return picked[:limit]


def _digits(text: str) -> str:
    return re.sub(r"(?<=\d)[,'’](?=\d{3})", "", text)


def has_key_facts(prediction: str, reference: str) -> bool:
    normal = _digits(_MARKER.sub(" ", unicodedata.normalize("NFKC", prediction)).casefold())
    terms = key_terms(reference)
    return bool(terms) and all(t in normal for t in terms)


def bootstrap_interval(
    values: Sequence[float], *, rounds: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the mean, resampling questions."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(rounds, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return (float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail)))


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, rounds: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a - b over the same questions and its paired bootstrap 95 % interval."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    low, high = bootstrap_interval(diff, rounds=rounds, seed=seed)
    return (float(diff.mean()) if diff.size else float("nan"), low, high)
