"""Benchmarks, one per domain (`make bench`); results in bench/results/*.json."""


def percentiles(samples: list[float]) -> dict:
    """p50 / p95 of durations in seconds, in milliseconds."""
    import numpy as np

    ms = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3)}
