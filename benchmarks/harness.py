"""Interleaved timing of contenders, with ops/s, percentiles and ratios."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    name: str
    samples_ns: list[int] = field(default_factory=list)

    @property
    def ops_per_second(self) -> float:
        return len(self.samples_ns) / (sum(self.samples_ns) / 1e9)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def zipf_keys(keys: Sequence[int], count: int, exponent: float = 1.1, seed: int = 7) -> list[int]:
    """``count`` draws from ``keys`` with Zipf-distributed popularity."""
    rng = random.Random(seed)
    weights = [1 / (rank**exponent) for rank in range(1, len(keys) + 1)]
    shuffled = list(keys)
    rng.shuffle(shuffled)
    return rng.choices(shuffled, weights=weights, k=count)


def run_interleaved(
    contenders: dict[str, Callable[[int], object]],
    keys: Sequence[int],
    rounds: int = 10,
    seed: int = 11,
) -> dict[str, Result]:
    """Every key is read by every contender in turn (the order shuffled per key), so
    a busy machine slows all contenders alike."""
    rng = random.Random(seed)
    results = {name: Result(name) for name in contenders}
    clock = time.perf_counter_ns
    order = [(contenders[name], results[name].samples_ns) for name in contenders]
    for _ in range(rounds):
        for key in keys:
            rng.shuffle(order)
            for call, samples in order:
                started = clock()
                call(key)
                samples.append(clock() - started)
    return results


# Every report() of this process, for run.py's combined table and JSON; run.py names
# the module running in CURRENT.
RECORDED: list[dict[str, object]] = []
CURRENT = {"benchmark": ""}


def record(benchmark: str, results: dict[str, Result], baseline: str) -> None:
    """Keep ``results`` for the combined table of ``make bench`` (report() calls this)."""
    base = results[baseline].ops_per_second
    for result in results.values():
        RECORDED.append(
            {
                "benchmark": benchmark,
                "contender": result.name,
                "operations": len(result.samples_ns),
                "ops_per_second": round(result.ops_per_second, 1),
                "p50_us": round(result.percentile(0.5), 1),
                "p99_us": round(result.percentile(0.99), 1),
                "vs_baseline": round(result.ops_per_second / base, 3),
                "baseline": baseline,
            }
        )


def report(
    results: dict[str, Result], baseline: str, subject: str, benchmark: str | None = None
) -> str:
    record(benchmark or CURRENT["benchmark"] or subject, results, baseline)
    lines = [f"{'contender':<34}{'ops/s':>10}{'p50 us':>10}{'p99 us':>10}  vs {baseline}"]
    base = results[baseline].ops_per_second
    for result in results.values():
        lines.append(
            f"{result.name:<34}{result.ops_per_second:>10.0f}{result.percentile(0.5):>10.1f}"
            f"{result.percentile(0.99):>10.1f}  {result.ops_per_second / base:.2f}x"
        )
    lines.append("")
    subject_ops = results[subject].ops_per_second
    for result in results.values():
        if result.name != subject:
            lines.append(
                f"{subject} / {result.name}: {subject_ops / result.ops_per_second:.2f}x throughput"
            )
    return "\n".join(lines)


@contextmanager
def counting_queries() -> Iterator[list[int]]:
    """``[n]``: the SQL queries this thread's connection ran inside the block."""
    from django.db import connection

    count = [0]

    def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        yield count
