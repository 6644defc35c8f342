"""Forecast daily units per store and item, a method chosen per series, fitted in parallel on Spark.

    retail-pulse sales forecast                          # as of the newest day in daily_sales
    retail-pulse sales forecast --as-of 2025-03-10 --horizon 30 --methods fast,prophet --holidays US

Reads daily_sales up to --as-of (days without sales count as 0). Per (store, item), every candidate
method (--methods; see models/sales/forecast_methods.py) forecasts --selection-folds windows of --horizon
days just before the origin, and the forecast averages the three with the lowest error there.
80%/95% intervals are conformal: quantiles of those windows' errors pooled over all series, scaled
per series. The same choice made before the last --horizon days, which it never saw, is
backtested there against every candidate and the seasonal-naive baseline. Series too short for a
selection window get the seasonal naive and the reason. Writes sales_forecasts (method = the
averaged methods), forecast_accuracy and forecast_runs under run key "<as-of>-<name>" (a re-run
replaces it), and logs one MLflow run (experiment retail_pulse/forecasting) with parameters,
metrics, how often each method was chosen, metrics.json, the per-series table and
forecast-vs-actual plots. `retail-pulse sales publish` then sends it to Kafka.

Freshness guard: when the newest sales are more than --max-staleness-days (default 7) older than
the as-of day, the input has stopped arriving and the job refuses with one line (exit 3);
--allow-stale forecasts anyway and records the warning in forecast_runs and the MLflow run.
Exit codes: 0 done, 2 bad arguments or no data, 3 stale input, 4 services unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from common.cli import entry_point, job_parser
from common.db import connect, fill_table, transaction
from common.freshness import DEFAULT_MAX_STALENESS_DAYS, Freshness, StaleInput, check_freshness
from common.results import SALES_FORECAST_COLUMNS
from common.settings import load_settings
from common.tracking import run_url, start_run
from models.sales.forecast_options import add_forecast_arguments, config_from, summary_lines
from models.sales.forecasting import BASELINE, CHOSEN, SERIES_KEYS, backtest_report, run_forecasts

ACCURACY_COLUMNS = ["run_key", "store_id", "item_id", "method", "method_used", "mae", "rmse", "r2", "smape", "mase"]
ACCURACY_COLUMNS += ["coverage_80", "coverage_95", "n_points"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.sales.forecast", __doc__)
    parser.add_argument("--as-of", type=date.fromisoformat, help="last day of history (default: newest in MySQL)")
    add_forecast_arguments(parser, "days to forecast (default 30)")
    parser.add_argument("--history-days", type=int, default=1095, help="days of history to fit on (default 1095)")
    parser.add_argument("--name", default="daily", help="run name; the run key is <as-of>-<name>")
    parser.add_argument(
        "--max-staleness-days",
        type=int,
        default=DEFAULT_MAX_STALENESS_DAYS,
        help=f"refuse when the newest sales are older than this vs --as-of (default {DEFAULT_MAX_STALENESS_DAYS})",
    )
    parser.add_argument(
        "--allow-stale", action="store_true", help="forecast stale input anyway; the warning is recorded"
    )
    parser.add_argument("--max-series", type=int, help="only the first N series (smoke runs)")
    parser.add_argument("--plots", type=int, default=6, help="series to plot in the MLflow run (default 6)")
    parser.add_argument("--no-mlflow", dest="mlflow", action="store_false", help="do not log to MLflow")
    args = parser.parse_args(argv)
    try:
        args.config = config_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.history_days < args.horizon + 1:
        parser.error("--history-days must exceed --horizon")
    if args.max_staleness_days < 0:
        parser.error("--max-staleness-days must be >= 0")
    return args


def newest_sales_day(settings, as_of: date | None) -> date | None:
    """The newest day in daily_sales, up to ``as_of`` when given."""
    conn = connect(settings, "reader")
    try:
        cur = conn.cursor()
        if as_of is None:
            cur.execute("SELECT MAX(sale_date) FROM daily_sales")
        else:
            cur.execute("SELECT MAX(sale_date) FROM daily_sales WHERE sale_date <= %s", (as_of,))
        return cur.fetchone()[0]
    finally:
        conn.close()


def load_history(settings, as_of: date, history_days: int) -> pd.DataFrame:
    """daily_sales in the ``history_days`` up to ``as_of`` as (store_id, item_id, ds, y)."""
    conn = connect(settings, "reader")
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT store_id, item_id, sale_date, units FROM daily_sales WHERE sale_date BETWEEN %s AND %s",
            (as_of - timedelta(days=history_days - 1), as_of),
        )
        frame = pd.DataFrame(cur.fetchall(), columns=SERIES_KEYS + ["ds", "y"])
    finally:
        conn.close()
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame["y"] = frame["y"].astype(float)
    return frame


def sql_rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Rows as tuples in ``columns`` order, NaN/None as SQL NULL."""
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame[columns].itertuples(index=False, name=None)]


def write_results(
    settings,
    run_key: str,
    freshness: Freshness,
    output: pd.DataFrame,
    report: dict,
    per_series,
    mlflow_run_id: str | None,
) -> None:
    """Replace the run's rows in one transaction (idempotent per run key)."""
    forecasts = output[output["kind"] == "forecast"].assign(run_key=run_key, forecast_date=lambda f: f["ds"])
    forecast_rows = sql_rows(forecasts, list(SALES_FORECAST_COLUMNS))
    accuracy_rows = sql_rows(per_series.assign(run_key=run_key), ACCURACY_COLUMNS)
    overall = report["overall"]
    conn = connect(settings, "writer")
    try:
        with transaction(conn) as cur:
            for table in ("sales_forecasts", "forecast_accuracy"):
                cur.execute(f"DELETE FROM {table} WHERE run_key = %s", (run_key,))
            bulk = fill_table(cur, "sales_forecasts", list(SALES_FORECAST_COLUMNS), forecast_rows)
            fill_table(cur, "forecast_accuracy", ACCURACY_COLUMNS, accuracy_rows, bulk)
            chosen, baseline = overall.get(CHOSEN, {}), overall.get(BASELINE, {})
            cur.execute(
                "REPLACE INTO forecast_runs (run_key, as_of, horizon, series, fallback_series, smape_chosen,"
                " mase_chosen, mase_seasonal_naive, coverage_80_chosen, coverage_95_chosen, gap_periods, methods_json,"
                " smape_prophet, smape_seasonal_naive, coverage_95_prophet, mlflow_run_id, params_json, newest_input,"
                " warning, finished_at)"
                f" VALUES ({', '.join(['%s'] * 19)}, UTC_TIMESTAMP(6))",
                (
                    run_key,
                    freshness.as_of,
                    report["config"]["horizon"],
                    report["series_count"],
                    report["fallback_series"],
                    chosen.get("smape"),
                    chosen.get("mase"),
                    baseline.get("mase"),
                    chosen.get("coverage_80"),
                    chosen.get("coverage_95"),
                    report["gaps"]["periods"],
                    json.dumps(report["chosen_methods"]),
                    overall.get("prophet", {}).get("smape"),
                    baseline.get("smape"),
                    overall.get("prophet", {}).get("coverage_95"),
                    mlflow_run_id,
                    json.dumps(report["config"]),
                    freshness.newest,
                    freshness.message("sales") if freshness.stale else None,
                ),
            )
    finally:
        conn.close()


def plot_series(history: pd.DataFrame, output: pd.DataFrame, keys: list[tuple], folder: Path) -> list[Path]:
    """Forecast-vs-actual PNGs: the last 120 days, the backtest of both methods, the forecast bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for store, item in keys:
        hist = history[(history.store_id == store) & (history.item_id == item)].sort_values("ds").tail(120)
        rows = output[(output.store_id == store) & (output.item_id == item)]
        fig, ax = plt.subplots(figsize=(10, 4))
        ax.plot(hist["ds"], hist["y"], color="black", lw=1, label="actual")
        for method, style in ((CHOSEN, "-"), (BASELINE, ":")):
            bt = rows[(rows.kind == "backtest") & (rows.method == method)]
            ax.plot(pd.to_datetime(bt["ds"]), bt["yhat"], style, lw=1, label=f"backtest {method}")
        fc = rows[rows.kind == "forecast"]
        ds = pd.to_datetime(fc["ds"])
        ax.plot(ds, fc["yhat"], color="tab:blue", lw=1.5, label=f"forecast ({fc['method'].iloc[0]})")
        ax.fill_between(ds, fc["yhat_lower_95"], fc["yhat_upper_95"], alpha=0.15, color="tab:blue", label="95%")
        ax.fill_between(ds, fc["yhat_lower_80"], fc["yhat_upper_80"], alpha=0.25, color="tab:blue", label="80%")
        ax.set_title(f"store {store} item {item}: units per day")
        ax.legend(loc="upper left", fontsize=7)
        path = folder / f"store{store}_item{item}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def log_run(settings, args, report: dict, per_series: pd.DataFrame, history, output, run_metrics: dict) -> None:
    import mlflow

    params = {k: ",".join(v) if isinstance(v, list) else v for k, v in report["config"].items()}
    mlflow.log_params({**params, "as_of": str(args.as_of), "history_days": args.history_days})
    metrics = {f"{m}_{k}": v for m, values in report["overall"].items() for k, v in values.items() if v is not None}
    metrics.update({k: v for k, v in report["comparison"].items() if v is not None})
    metrics.update(series=report["series_count"], fallback_series=report["fallback_series"], **run_metrics)
    metrics["gap_periods"] = report["gaps"]["periods"]
    for method, count in report["chosen_methods"]["forecast"]["member"].items():
        metrics[f"chosen_member_{method}"] = count
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "metrics.json").write_text(json.dumps(report, indent=1))
        per_series.to_csv(folder / "per_series_metrics.csv", index=False)
        mlflow.log_artifact(str(folder / "metrics.json"))
        mlflow.log_artifact(str(folder / "per_series_metrics.csv"))
        keys = [tuple(k) for k in output[SERIES_KEYS].drop_duplicates().head(args.plots).itertuples(index=False)]
        (folder / "plots").mkdir()
        plot_series(history, output, keys, folder / "plots")
        mlflow.log_artifacts(str(folder / "plots"), artifact_path="plots")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    newest = newest_sales_day(settings, args.as_of)
    if newest is None:
        print(
            f"error: daily_sales has no rows up to {args.as_of or 'now'}; run the sales_aggregation stream first",
            file=sys.stderr,
        )
        return 2
    as_of = args.as_of = args.as_of or newest
    try:
        freshness = check_freshness(newest, as_of, args.max_staleness_days, "sales", args.allow_stale)
    except StaleInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if freshness.stale:
        print(f"warning: {freshness.message('sales')}; forecasting anyway (--allow-stale)", flush=True)
    history = load_history(settings, as_of, args.history_days)
    if history.empty:
        print(f"error: daily_sales has no rows in the {args.history_days} days up to {as_of}", file=sys.stderr)
        return 2
    if args.max_series:
        keep = history[SERIES_KEYS].drop_duplicates().head(args.max_series)
        history = history.merge(keep, on=SERIES_KEYS)
    run_key = f"{as_of:%Y-%m-%d}-{args.name}"[:64]
    series = len(history[SERIES_KEYS].drop_duplicates())
    engine = "sequential" if args.sequential else "spark"
    print(
        f"forecast {run_key}: {series} series, {len(history):,} daily rows up to {as_of}, engine {engine}", flush=True
    )
    tags = {"as_of": str(as_of), "newest_input": str(newest)}
    if freshness.stale:
        tags["warning"] = freshness.message("sales")
    mlflow_run = start_run(settings, "forecasting", run_key, tags=tags) if args.mlflow else None
    started = time.time()
    spark = None
    if not args.sequential:
        from streaming.spark import get_spark

        spark = get_spark(settings, "forecast")
    fit_started = time.time()
    output = run_forecasts(history, args.config, spark, end=pd.Timestamp(as_of))
    fit_s = time.time() - fit_started
    report, per_series = backtest_report(output, args.config)
    run_metrics = {
        "fit_wall_s": round(fit_s, 2),
        "s_per_series": round(fit_s / series, 4),
        "input_age_days": freshness.age_days,
    }
    if mlflow_run:
        log_run(settings, args, report, per_series, history, output, run_metrics)
    run_id = mlflow_run.info.run_id if mlflow_run else None
    write_results(settings, run_key, freshness, output, report, per_series, run_id)
    print(
        f"wrote {int((output['kind'] == 'forecast').sum()):,} forecast rows in {time.time() - started:.1f}s "
        f"({run_metrics['s_per_series']:.3f} s/series fitting)"
    )
    print("\n".join(summary_lines(report)))
    print(
        f"MySQL: SELECT * FROM sales_forecasts WHERE run_key = '{run_key}' ORDER BY store_id, item_id, forecast_date;"
    )
    if mlflow_run:
        import mlflow

        mlflow.end_run()
        print(f"MLflow run: {run_url(settings, mlflow_run)}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
