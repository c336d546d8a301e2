"""Fusion of the dense and keyword result lists: convex combination (default) or reciprocal-rank fusion.

Measured on the bilingual corpus (bench/RESULTS.md, "Fusion"): a convex combination of min-max
normalised scores ranks the gold page first far more often than RRF, which rewards a passage
both lists rank mediocrely over one that one list ranks first.
"""

from __future__ import annotations

RRF_K = 60
DENSE_WEIGHT = 0.6  # share of the dense score in the convex combination
FUSIONS = ("convex", "rrf")


def reciprocal_rank_fusion(
    ranked_lists: list[list[tuple[int, float]]], weights: list[float] | None = None, k: int = RRF_K
) -> list[tuple[int, float]]:
    """Merge lists of (id, score) ordered best-first; returns (id, fused score) best-first."""
    weights = weights or [1.0] * len(ranked_lists)
    fused: dict[int, float] = {}
    for ranked, weight in zip(ranked_lists, weights, strict=True):
        for rank, (item, _score) in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def convex_fusion(
    dense: list[tuple[int, float]],
    keyword: list[tuple[int, float]],
    dense_weight: float = DENSE_WEIGHT,
) -> list[tuple[int, float]]:
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
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def fuse(method: str, dense: list[tuple[int, float]], keyword: list[tuple[int, float]]):
    """The hybrid list by the named method (one of FUSIONS), best-first."""
    if method == "rrf":
        return reciprocal_rank_fusion([dense, keyword])
    return convex_fusion(dense, keyword)
