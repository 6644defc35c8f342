"""Benchmarks, one per domain (`make bench`); results in bench/results/*.json."""


def percentiles(samples: list[float]) -> dict:
    """p50 / p95 of durations in seconds, in milliseconds."""
    import numpy as np

    ms = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def write_results(path, report: dict) -> None:
    """bench/results/<name>.json, and say where."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
