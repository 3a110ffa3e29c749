"""Inference speed: batch throughput and single-record latency, measured the way serving runs."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def batch_throughput(run: Callable[[], object], rows: int, repeats: int = 2) -> float:
    """Rows per second of `run()` (which predicts `rows` rows); best of `repeats`."""
    run()  # warm-up
    best = min(_timed(run) for _ in range(repeats))
    return rows / best


def latency_percentiles(run_one: Callable[[int], object], n: int) -> dict[str, float]:
    """p50/p95 wall time in milliseconds of `run_one(i)` for i in range(n), after a warm-up."""
    run_one(0)
    times = np.array([_timed(lambda i=i: run_one(i)) for i in range(n)]) * 1000.0
    return {"p50_ms": round(float(np.percentile(times, 50)), 3),
            "p95_ms": round(float(np.percentile(times, 95)), 3)}  # fmt: skip


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
