"""Pure figures from samples: percentiles, sliding windows, ratios.

No I/O and no clock here, so each function can be checked by hand.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence


def percentile(samples: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest sample with at least p % of the samples at or below it.

    Nearest rank always returns a sample that was measured (no interpolation), which is
    what a reader expects of "p99 of 30 acks": the worst but one or so, not a blend.
    """
    ordered = sorted(samples)
    if not ordered:
        return None
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[rank - 1]


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p99 and max of latencies in milliseconds, rounded for reading."""
    return {
        "n": len(samples_ms),
        "p50_ms": _round(percentile(samples_ms, 50)),
        "p99_ms": _round(percentile(samples_ms, 99)),
        "max_ms": _round(max(samples_ms) if samples_ms else None),
    }


def max_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most events in any half-open window [t, t + window) sliding over the times.

    Two pointers over the sorted times: for each event taken as the window's start,
    count the events that follow it by less than `window`.
    """
    ordered = sorted(times)
    best = 0
    end = 0
    for start, first in enumerate(ordered):
        end = max(end, start)
        while end < len(ordered) and ordered[end] - first < window:
            end += 1
        best = max(best, end - start)
    return best


def duplicates(keys: Iterable[Hashable]) -> int:
    """How many items repeat an earlier one: [a, a, a, b] has 2."""
    return sum(count - 1 for count in Counter(keys).values() if count > 1)


def ratio(numerator: float | None, denominator: float | None, digits: int = 3) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
