"""Fixed-bucket histograms give percentiles within their bucket's bounds."""

from __future__ import annotations

import random

import pytest

from django_distcache.stats.histogram import BOUNDS, BUCKETS, bucket_index, merge, percentiles


def _histogram(samples: list[float]) -> list[int]:
    counts = [0] * BUCKETS
    for sample in samples:
        counts[bucket_index(sample)] += 1
    return counts


def _bucket_of(value: float) -> tuple[float, float]:
    index = bucket_index(value)
    return (BOUNDS[index - 1] if index else 0.0, BOUNDS[index])


def test_percentiles_fall_in_the_bucket_of_the_true_value():
    rng = random.Random(7)
    samples = [rng.lognormvariate(-8.5, 0.6) for _ in range(10_000)]  # around 0.2 ms
    estimated = percentiles(_histogram(samples))
    ordered = sorted(samples)
    for name, quantile in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        true = ordered[int(quantile * len(ordered)) - 1]
        low, high = _bucket_of(true)
        assert low <= estimated[name] <= high, name


def test_an_empty_histogram_has_no_percentiles():
    assert percentiles([0] * BUCKETS) == {"p50": None, "p95": None, "p99": None}


def test_bounds_are_inclusive_and_slow_samples_overflow():
    assert bucket_index(BOUNDS[0]) == 0
    assert bucket_index(BOUNDS[0] * 1.01) == 1
    assert bucket_index(60.0) == BUCKETS - 1
    assert percentiles(_histogram([60.0]))["p99"] == pytest.approx(BOUNDS[-1])


def test_merge_adds_bucket_by_bucket():
    assert merge([_histogram([0.001]), _histogram([0.001, 1.0])]) == _histogram([0.001, 0.001, 1.0])
