"""Backtest the per-series choice of forecasting method against its candidates, a seasonal-naive
baseline and Prophet, on any sales file.

    retail-pulse sales backtest --data train.csv --freq D --horizon 30 --out metrics.json
    retail-pulse sales backtest --data weekly_sales.csv --freq W --horizon 8
    retail-pulse sales backtest --data .data/ta_feng.csv.zip --horizon 14 --min-active 0.8 --compare ""

Accepts the documented formats (Kaggle date,store,item,sales, where sales may be any number: units,
currency, net of returns; date,store_id,item_id,quantity,unit_price[,customer_id,txn_id]; Ta-Feng).
Sales are summed per (store, item) and day or week (--freq W, weeks starting Monday). A period with
no row is a gap in a period panel (the Kaggle layout: one row per period, so an absent row is
unknown) and a zero for sales lines (no line, no sale): --missing overrides. Gaps are interpolated
for fitting and never scored. Rolling-origin holdout: --folds origins, the last testing the final
--horizon periods, each earlier one a horizon before. For each origin the method is chosen from
--selection-folds windows before it (never from the holdout), and every method is scored on the
same points: MAE, RMSE, R2, SMAPE, MASE, 80% and 95% interval coverage, per series and overall.
metrics.json holds "overall" keyed by method ("chosen", each candidate, "seasonal_naive",
"prophet"), then "comparison" (chosen / seasonal_naive), "chosen_methods", "gaps", "config" and
per-series detail under "series". A bad file gives one line naming the problem (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common.cli import job_parser
from common.settings import load_settings
from models.sales.forecast_options import add_forecast_arguments, config_from, summary_lines
from models.sales.forecasting import MISSING, SERIES_KEYS, backtest_report, run_forecasts
from models.sales.panels import select_series, whole_periods
from streaming.files import DatasetError, read_sales_file
from streaming.sales.transaction_sources import daily_series, missing_default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.sales.backtest", __doc__)
    parser.add_argument("--data", required=True, type=Path, help="CSV (.csv, .csv.gz or .zip) in a documented format")
    parser.add_argument("--freq", choices=("D", "W"), default="D", help="daily or weekly periods (default D)")
    add_forecast_arguments(parser, "periods held out per fold (default 30)", compare="prophet")
    parser.add_argument(
        "--missing",
        choices=MISSING,
        help="a period with no row: zero (no sale) or gap (unknown: interpolated for fitting, never scored); "
        "default: gap for period panels (date,store,item,sales), zero for transaction lines",
    )
    parser.add_argument("--out", type=Path, default=Path("metrics.json"), help="where to write metrics.json")
    parser.add_argument(
        "--min-active",
        type=float,
        default=0.0,
        help="keep series with sales in at least this share of periods (0..1, default 0: all)",
    )
    parser.add_argument("--max-series", type=int, help="keep the N series with the most units")
    args = parser.parse_args(argv)
    if not 0 <= args.min_active <= 1:
        parser.error("--min-active must be between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sales = read_sales_file(args.data)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        args.config = config_from(args, args.freq, args.missing or missing_default(sales))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    history, dropped = whole_periods(daily_series(sales), args.freq)
    if dropped:
        print(f"backtest: days of partly covered weeks left out: {', '.join(dropped)}", flush=True)
    history, end = select_series(history, args.freq, args.min_active, args.max_series)
    series = len(history[SERIES_KEYS].drop_duplicates())
    if not series:
        print(f"error: {args.data}: no series active in {args.min_active:.0%} of the periods", file=sys.stderr)
        return 2
    engine = "sequential" if args.sequential else "spark"
    print(
        f"backtest: {series} series from {args.data}, freq {args.freq}, horizon {args.horizon}, "
        f"{args.folds} fold(s), missing periods as {args.config.missing}, engine {engine}",
        flush=True,
    )
    spark = None
    if not args.sequential:
        from streaming.spark import get_spark

        spark = get_spark(load_settings(), "backtest")
    started = time.time()
    output = run_forecasts(history, args.config, spark, end=end)
    report, _ = backtest_report(output, args.config)
    report["data"] = {
        "path": str(args.data),
        "series": series,
        "first": str(history["ds"].min().date()),
        "last": str(end.date()),
        "wall_s": round(time.time() - started, 2),
    }
    if not report["overall"]:
        print(
            f"error: no series is longer than {args.folds} x horizon {args.horizon}: nothing to hold out",
            file=sys.stderr,
        )
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print("\n".join(summary_lines(report)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
