"""Shared by the benchmark scripts (run as `python benchmarks/<name>.py`, so this folder is on sys.path)."""

from __future__ import annotations

import statistics


def spread(xs, digits: int = 2) -> list[float]:
    """[min, median, max] of repeated measurements, rounded: how every benchmark here reports a number."""
    xs = list(xs)
    return [round(min(xs), digits), round(statistics.median(xs), digits), round(max(xs), digits)]
