"""Fusion of the dense and keyword result lists: calibrated z-scores (default), convex
combination, or reciprocal-rank fusion.

Measured on both corpora (bench/bench_fusion.py, bench/RESULTS.md "Fusion"). Min-max
normalisation pins each list's best passage at 1.0 however poor it is, so a keyword list of
stray matches (a Chinese question over English documents) outweighs a confident dense list; the
default instead scores each passage in standard deviations above its list's mean, gives every
candidate its true dense score, and trusts the keyword side only as far as the dense side finds
the keyword side's best passages related to the question. RRF rewards a passage both lists rank
mediocrely over one that one list ranks first, and lost everywhere.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

RRF_K = 60
DENSE_WEIGHT = 0.6  # the dense side's share, in both the calibrated and the convex fusion
# Keyword trust: the best cosine among the keyword side's top passages, as a share of the best
# cosine of any candidate. At or below TRUST_FROM the keyword list counts for nothing; from
# there it rises linearly to full weight when the keyword side's best is the dense side's best.
TRUST_FROM = 0.5
TRUST_DEPTH = 3
DEFAULT_FUSION = "calibrated"
FUSIONS = ("calibrated", "convex", "rrf")

Ranked = list[tuple[int, float]]


def reciprocal_rank_fusion(
    ranked_lists: list[Ranked], weights: list[float] | None = None, k: int = RRF_K
) -> Ranked:
    """Merge lists of (id, score) ordered best-first; returns (id, fused score) best-first."""
    weights = weights or [1.0] * len(ranked_lists)
    fused: dict[int, float] = {}
    for ranked, weight in zip(ranked_lists, weights, strict=True):
        for rank, (item, _score) in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return best_first(fused)


def convex_fusion(dense: Ranked, keyword: Ranked, dense_weight: float = DENSE_WEIGHT) -> Ranked:
    """alpha * minmax(dense) + (1 - alpha) * minmax(keyword); a missing side contributes 0."""
    fused: dict[int, float] = {}
    for ranked, weight in ((dense, dense_weight), (keyword, 1.0 - dense_weight)):
        if not ranked:
            continue
        scores = [s for _, s in ranked]
        lo, hi = min(scores), max(scores)
        span = hi - lo
        for item, score in ranked:
            normalised = (score - lo) / span if span > 0 else 1.0
            fused[item] = fused.get(item, 0.0) + weight * normalised
    return best_first(fused)


def calibrated_fusion(
    cosine: Mapping[int, float], keyword: Ranked, dense_weight: float = DENSE_WEIGHT
) -> Ranked:
    """z(dense) * alpha + z(keyword) * (1 - alpha) * trust, over every candidate.

    `cosine` holds the dense similarity of every candidate (the keyword side's too); a
    candidate the keyword side did not find gets that side's lowest z-score.
    """
    if not cosine:
        return list(keyword)
    dense_z = zscores(dict(cosine))
    keyword_z = zscores(dict(keyword))
    floor = min(keyword_z.values(), default=0.0)
    best = max(cosine.values())
    tops = [cosine.get(item, 0.0) for item, _ in keyword[:TRUST_DEPTH]]
    ratio = max(tops) / best if tops and best > 0 else 0.0
    trust = min(1.0, max(0.0, (ratio - TRUST_FROM) / (1.0 - TRUST_FROM)))
    weight = (1.0 - dense_weight) * trust
    fused = {
        item: dense_weight * z + weight * keyword_z.get(item, floor) for item, z in dense_z.items()
    }
    return best_first(fused)


def fuse(method: str, dense: Ranked, keyword: Ranked, cosine: Mapping[int, float]) -> Ranked:
    """The hybrid list by the named method (one of FUSIONS), best-first. `cosine`: the dense
    similarity of every candidate, which the calibrated method needs."""
    if method == "rrf":
        return reciprocal_rank_fusion([dense, keyword])
    if method == "convex":
        return convex_fusion(dense, keyword)
    return calibrated_fusion(cosine, keyword)


def zscores(scores: dict[int, float]) -> dict[int, float]:
    """Each score in standard deviations above the scores' mean (all 0 where they do not spread)."""
    if len(scores) < 2:
        return {item: 0.0 for item in scores}
    values = list(scores.values())
    mean, spread = statistics.fmean(values), statistics.pstdev(values)
    return {item: (s - mean) / spread if spread > 0 else 0.0 for item, s in scores.items()}


def best_first(scores: Mapping[int, float]) -> Ranked:
    """(id, score) pairs, best score first, ties by id: the order of every ranked list."""
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
