"""Forecast benchmark: speed (sequential vs Spark-parallel) and accuracy (Prophet vs seasonal naive).

    python -m bench.forecast                  # 500 generated series x 800 days, plus Ta-Feng
    python -m bench.forecast --series 100     # a quicker look

Speed: the same per-series work as `jobs.forecast` (a 30-day forecast with 80%/95% intervals from
500 predictive samples, plus the one-fold 30-day backtest of Prophet and the baseline: two Prophet
fits per series), timed in one process and on Spark local[2], side by side.
Accuracy: held-out SMAPE, MASE and 95% coverage of Prophet and the seasonal-naive baseline on the
generated multi-store data (the last 30 days) and on real Ta-Feng products that sell on at least 80%
of days (the last 14 days, of 120). Results: bench/results/forecast.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from common.settings import REPO_ROOT, load_settings  # noqa: E402
from jobs.backtest import select_series  # noqa: E402
from models.forecasting import ForecastConfig, backtest_report, run_forecasts  # noqa: E402
from streaming.sources import TA_FENG_PATH, daily_series, generated_daily_sales, read_sales_file  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "forecast.json"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.forecast", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=500, help="generated series (10 stores x N/10 items)")
    parser.add_argument("--days", type=int, default=800, help="days of generated history (default 800)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def accuracy(report: dict) -> dict:
    p, b = report["overall"]["prophet"], report["overall"]["seasonal_naive"]
    return {
        "series": report["series_count"],
        "fallback_series": report["fallback_series"],
        "prophet": {k: p[k] for k in ("smape", "mase", "mae", "coverage_80", "coverage_95")},
        "seasonal_naive": {k: b[k] for k in ("smape", "mase", "mae", "coverage_80", "coverage_95")},
        "smape_ratio": report["comparison"]["smape_ratio"],
    }


def timed(history, config, spark=None):
    started = time.time()
    output = run_forecasts(history, config, spark)
    return output, time.time() - started


def main(argv=None) -> int:
    args = parse_args(argv)
    from streaming.spark import get_spark

    items = max(args.series // 10, 1)
    sales = generated_daily_sales(seed=7, stores=10, items=items, days=args.days)
    history = daily_series(sales)
    series = history.groupby(["store_id", "item_id"]).ngroups
    config = ForecastConfig(horizon=30, uncertainty_samples=500, holidays="US")
    print(f"bench/forecast: {series} generated series x {args.days} days", flush=True)

    spark = get_spark(load_settings(), "bench-forecast")
    run_forecasts(history.head(args.days * 2), config, spark)  # warm the Python workers: not timed
    parallel_output, parallel_s = timed(history, config, spark)
    print(f"  parallel (Spark local[2]): {parallel_s:.1f}s, {parallel_s / series:.3f} s/series", flush=True)
    _, sequential_s = timed(history, config)
    print(f"  sequential (one process):  {sequential_s:.1f}s, {sequential_s / series:.3f} s/series", flush=True)
    generated = accuracy(backtest_report(parallel_output, config)[0])

    ta_feng = None
    if TA_FENG_PATH.is_file():
        tf_history, end = select_series(daily_series(read_sales_file(TA_FENG_PATH)), "D", 0.8, None)
        tf_config = ForecastConfig(horizon=14, uncertainty_samples=500)
        tf_output = run_forecasts(tf_history, tf_config, spark, end=end)
        ta_feng = accuracy(backtest_report(tf_output, tf_config)[0])
    spark.stop()

    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "speed": {
            "series": series,
            "days": args.days,
            "work_per_series": "30-day forecast with 80/95% intervals (500 samples) + 30-day backtest (2 fits)",
            "sequential_s": round(sequential_s, 1),
            "parallel_s": round(parallel_s, 1),
            "sequential_s_per_series": round(sequential_s / series, 4),
            "parallel_s_per_series": round(parallel_s / series, 4),
            "speedup": round(sequential_s / parallel_s, 2),
        },
        "accuracy": {"generated": generated, "ta_feng": ta_feng},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["speed"]
    print(
        f"speed: parallel {s['parallel_s_per_series']:.3f} s/series (target <= 0.2), "
        f"speedup {s['speedup']:.2f}x over sequential (target >= 1.6)"
    )
    for name, acc in result["accuracy"].items():
        if acc:
            print(
                f"accuracy {name}: {acc['series']} series, SMAPE prophet {acc['prophet']['smape']:.2f} vs "
                f"seasonal-naive {acc['seasonal_naive']['smape']:.2f} (ratio {acc['smape_ratio']:.3f}), "
                f"95% coverage {acc['prophet']['coverage_95']:.1%}"
            )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
