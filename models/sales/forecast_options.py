"""The options the forecast and backtest commands share (candidates, folds, selection windows) and the
summary lines both print."""

from __future__ import annotations

import argparse

from models.sales.forecast_methods import ALL_METHODS, FAST_METHODS
from models.sales.forecasting import BASELINE, CHOSEN, ForecastConfig


def method_list(text: str) -> tuple[str, ...]:
    """``--methods`` / ``--compare`` value: comma-separated names ("fast": every fast method)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    names = [m for n in names for m in (FAST_METHODS if n == "fast" else [n])]
    unknown = sorted(set(names) - set(ALL_METHODS))
    if unknown:
        known = ", ".join(ALL_METHODS)
        raise argparse.ArgumentTypeError(f"unknown method(s) {', '.join(unknown)}: choose from {known}")
    return tuple(dict.fromkeys(names))


def add_forecast_arguments(parser: argparse.ArgumentParser, horizon_help: str, compare: str = "") -> None:
    """Options shared with jobs.sales.backtest."""
    parser.add_argument("--horizon", type=int, default=30, help=horizon_help)
    parser.add_argument("--folds", type=int, default=1, help="backtest origins, each one horizon earlier (default 1)")
    parser.add_argument(
        "--methods",
        type=method_list,
        default=FAST_METHODS,
        help=f"candidates chosen from per series (default: fast = {','.join(FAST_METHODS)}; add prophet to "
        "let it compete: about 0.14 s of CPU per fit, several fits per series)",
    )
    parser.add_argument(
        "--compare",
        type=method_list,
        default=method_list(compare),
        help=f"methods backtested and reported next to the choice, never chosen (default: {compare or 'none'})",
    )
    parser.add_argument(
        "--selection-folds",
        type=int,
        default=2,
        help="rolling-origin windows of --horizon periods before each origin that choose the method (default 2)",
    )
    parser.add_argument("--holidays", metavar="COUNTRY", help="add a country's holidays to Prophet, e.g. US")
    parser.add_argument("--sequential", action="store_true", help="fit in this process instead of on Spark")


def config_from(args: argparse.Namespace, freq: str = "D", missing: str = "zero") -> ForecastConfig:
    return ForecastConfig(
        horizon=args.horizon,
        freq=freq,
        methods=args.methods,
        compare=args.compare,
        selection_folds=args.selection_folds,
        missing=missing,
        holidays=args.holidays,
        folds=args.folds,
    )


def summary_lines(report: dict) -> list[str]:
    lines = [f"series: {report['series_count']} ({report['fallback_series']} on the seasonal-naive fallback)"]
    for method, m in report["overall"].items():
        lines.append(
            f"backtest {method:15s} SMAPE {m['smape']:.2f}  MAE {m['mae']:.3f}  MASE {m['mase'] or float('nan'):.3f}"
            f"  95% coverage {m['coverage_95']:.1%}"
        )
    comparison = report["comparison"]
    if comparison.get("smape_ratio") is not None:
        lines.append(
            f"{CHOSEN} / {BASELINE}: SMAPE ratio {comparison['smape_ratio']:.3f}, "
            f"MASE ratio {comparison['mase_ratio'] or float('nan'):.3f}"
        )
    members = report["chosen_methods"]["forecast"]["member"]
    lines.append("methods in the forecasts' choices: " + ", ".join(f"{m} {n}" for m, n in members.items()))
    if report["gaps"]["periods"]:
        lines.append(f"gaps: {report['gaps']['periods']} periods in {report['gaps']['series_with_gaps']} series")
    return lines
