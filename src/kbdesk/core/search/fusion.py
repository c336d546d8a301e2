"""Reciprocal-rank fusion of ranked lists (dense + keyword)."""

from __future__ import annotations

RRF_K = 60


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
