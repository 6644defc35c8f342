"""Forecast benchmark: speed (one process vs Spark local[2]) and accuracy per method on real panels.

    python -m bench.sales                  # 500 generated series x 800 days, plus the real panels
    python -m bench.sales --series 100     # a quicker look

Speed: the whole per-series work of `retail-pulse sales forecast` with its defaults (every fast candidate on two
30-day selection windows before the origin and the 30-day holdout, the choice, the 30-day forecast,
the conformal 80%/95% intervals and the backtest), timed in one process and on Spark local[2], side
by side on the same generated series.
Accuracy: held-out SMAPE, MASE, MAE and 80%/95% coverage of every method, of the per-series choice
(`chosen`) and of Prophet (compared, as `retail-pulse sales backtest` does by default) on each real panel found in
.data/ (fetched by `make setup`): Ta-Feng grocery sales per product, daily (30-day holdout, the
jobs' default; and 14 days) and weekly (4 weeks of the 16 whole weeks the file spans): the products
selling in at least 80% of the periods (intermittent ones make SMAPE a count of zeros), at most the
500 biggest. Results: bench/results/forecast.json.
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
from models.sales.forecasting import BASELINE, CHOSEN, ForecastConfig, backtest_report, run_forecasts  # noqa: E402
from models.sales.panels import select_series, whole_periods  # noqa: E402
from streaming.files import TA_FENG_PATH, read_sales_file  # noqa: E402
from streaming.sales.transaction_sources import daily_series, generated_daily_sales  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "forecast.json"
FIELDS = ("smape", "mase", "mae", "coverage_80", "coverage_95")
# (name, path, freq, horizon, minimum share of periods with sales); at most MAX_SERIES per panel
MAX_SERIES = 500
PANELS = (
    ("ta_feng_daily_h30", TA_FENG_PATH, "D", 30, 0.8),
    ("ta_feng_daily_h14", TA_FENG_PATH, "D", 14, 0.8),
    ("ta_feng_weekly_h4", TA_FENG_PATH, "W", 4, 0.8),
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sales", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=500, help="generated series (10 stores x N/10 items)")
    parser.add_argument("--days", type=int, default=800, help="days of generated history (default 800)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def accuracy(report: dict) -> dict:
    """Every method's held-out figures, the choice's ratios to the baseline and how often each won."""
    return {
        "series": report["series_count"],
        "methods": {m: {k: v[k] for k in FIELDS} for m, v in report["overall"].items()},
        "chosen_vs_seasonal_naive": report["comparison"],
        "chosen_members": report["chosen_methods"]["backtest"]["member"],
    }


def timed(history, config, spark=None):
    started = time.time()
    output = run_forecasts(history, config, spark)
    return output, time.time() - started


def panel_accuracy(spark, path: Path, freq: str, horizon: int, min_active: float) -> dict:
    history, _ = whole_periods(daily_series(read_sales_file(path)), freq)
    history, end = select_series(history, freq, min_active, MAX_SERIES)
    config = ForecastConfig(horizon=horizon, freq=freq, compare=("prophet",))
    started = time.time()
    result = accuracy(backtest_report(run_forecasts(history, config, spark, end=end), config)[0])
    return {"freq": freq, "horizon": horizon, "min_active": min_active, "wall_s": round(time.time() - started, 1)} | (
        result
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    from streaming.spark import get_spark

    items = max(args.series // 10, 1)
    history = daily_series(generated_daily_sales(seed=7, stores=10, items=items, days=args.days))
    series = history.groupby(["store_id", "item_id"]).ngroups
    config = ForecastConfig(horizon=30)  # jobs.sales.forecast's defaults
    print(f"bench/forecast: {series} generated series x {args.days} days, methods {','.join(config.methods)}")

    spark = get_spark(load_settings(), "bench-forecast")
    run_forecasts(history.head(args.days * 4), config, spark)  # warm the Python workers: not timed
    parallel_output, parallel_s = timed(history, config, spark)
    print(f"  parallel (Spark local[2]): {parallel_s:.1f}s, {parallel_s / series:.4f} s/series", flush=True)
    _, sequential_s = timed(history, config)
    print(f"  sequential (one process):  {sequential_s:.1f}s, {sequential_s / series:.4f} s/series", flush=True)
    generated = accuracy(backtest_report(parallel_output, config)[0])

    panels = {}
    for name, path, freq, horizon, min_active in PANELS:
        if path.is_file():
            panels[name] = panel_accuracy(spark, path, freq, horizon, min_active)
            print(f"  {name}: {panels[name]['series']} series in {panels[name]['wall_s']}s", flush=True)
        else:
            print(f"  {name}: {path} not found (make setup fetches it): skipped")
    spark.stop()

    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "speed": {
            "series": series,
            "days": args.days,
            "work_per_series": "6 candidates x 3 windows (2 selection + holdout), choice, 30-day forecast, "
            "conformal 80/95% intervals, backtest of every method",
            "sequential_s": round(sequential_s, 1),
            "parallel_s": round(parallel_s, 1),
            "sequential_s_per_series": round(sequential_s / series, 4),
            "parallel_s_per_series": round(parallel_s / series, 4),
            "speedup": round(sequential_s / parallel_s, 2),
        },
        "accuracy": {"generated": generated, **panels},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["speed"]
    print(
        f"speed: parallel {s['parallel_s_per_series']:.4f} s/series (target <= 0.08), "
        f"speedup {s['speedup']:.2f}x over one process (target >= 1.8)"
    )
    for name, acc in result["accuracy"].items():
        chosen, baseline = acc["methods"][CHOSEN], acc["methods"][BASELINE]
        prophet = acc["methods"].get("prophet")
        print(
            f"accuracy {name}: {acc['series']} series, SMAPE chosen {chosen['smape']:.2f} vs seasonal-naive "
            f"{baseline['smape']:.2f} (ratio {acc['chosen_vs_seasonal_naive']['smape_ratio']:.3f}, target <= 0.9)"
            + (f", prophet {prophet['smape']:.2f}" if prophet else "")
            + f"; MASE {chosen['mase']:.3f} (target < 1); coverage 80% {chosen['coverage_80']:.1%},"
            f" 95% {chosen['coverage_95']:.1%}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
