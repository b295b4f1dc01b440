"""Fixed-bucket latency histograms: percentiles without keeping the samples."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

# Upper bounds of the buckets, in seconds; one more bucket holds everything slower.
# Dense around a Redis round trip (~0.1 ms), coarser up to ten seconds for loads.
BOUNDS: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00015,
    0.0002,
    0.0003,
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BUCKETS = len(BOUNDS) + 1
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def bucket_index(seconds: float) -> int:
    """The bucket a duration falls in (its upper bound is inclusive)."""
    return bisect_left(BOUNDS, seconds)


def percentile(counts: Sequence[int], quantile: float) -> float | None:
    """The ``quantile`` (0..1) of a histogram, interpolated inside its bucket."""
    total = sum(counts)
    if not total:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = BOUNDS[index - 1] if index else 0.0
            if index >= len(BOUNDS):
                return lower
            return lower + (BOUNDS[index] - lower) * (rank - seen) / count
        seen += count
    return BOUNDS[-1]


def percentiles(counts: Sequence[int]) -> dict[str, float | None]:
    """p50, p95 and p99 of a histogram, in seconds (None when it is empty)."""
    return {name: percentile(counts, q) for name, q in QUANTILES.items()}


def merge(histograms: Sequence[Sequence[int]]) -> list[int]:
    """Bucket-wise sum of histograms."""
    merged = [0] * BUCKETS
    for counts in histograms:
        for index, count in enumerate(counts):
            merged[index] += count
    return merged
