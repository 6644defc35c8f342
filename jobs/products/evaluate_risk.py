"""Evaluate the negative-risk model on any table: LightGBM next to a logistic-regression baseline.

    retail-pulse products evaluate --data reviews.csv --target-col rating --negative-max 2 --out metrics.json
    retail-pulse products evaluate --data drugs.tsv --target-col rating --negative-max 4 --time-col date --out m.json

Rows whose target is <= --negative-max are the negative class (the one predicted). Every other
column is a feature: numbers as they are, multi-valued tag columns (e.g. genres `Action|Comedy`) as one
0/1 feature per tag, text with few distinct values as categories, other text as its length in
characters and words (models/products/tabular.py). With --time-col the newest 20% of rows test (a
time-based split), else a stratified random 20%. A validation part of the training rows chooses
LightGBM's number of trees (early stopping), calibrates both models' probabilities (--calibration)
and chooses the F1 threshold. Needs no service.

metrics.json: objects "lightgbm" and "baseline", each with roc_auc, pr_auc, f1 (at its threshold),
brier, ece (expected calibration error), threshold, calibration, reliability (per probability bin:
rows, mean predicted, observed negative rate) and, for LightGBM, trees; then "shap_importance"
(mean |SHAP| of the LightGBM model per feature on the test rows, largest first) and "data" (rows,
split, how each column was used).
Exit codes: 0 done, 2 bad arguments or data (one line says why).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from common.cli import fail, job_parser, write_report

os.environ.setdefault("OMP_NUM_THREADS", "1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.products.evaluate_risk", __doc__)
    parser.add_argument("--data", type=Path, required=True, help="a CSV or TSV file (.csv, .tsv, optionally .gz/.zip)")
    parser.add_argument("--target-col", required=True, help="the numeric outcome column (e.g. a star rating)")
    parser.add_argument("--negative-max", type=float, default=2, help="target <= this is negative (default 2)")
    parser.add_argument("--time-col", help="split by this date/time column instead of at random")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of rows held out (default 0.2)")
    parser.add_argument(
        "--calibration",
        choices=("platt", "isotonic", "none"),
        default="platt",
        help="how probabilities are calibrated on the validation part (default platt)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="where to write metrics.json")
    args = parser.parse_args(argv)
    if not 0 < args.test_fraction < 1:
        parser.error("--test-fraction must be between 0 and 1")
    return args


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    separator = "\t" if ".tsv" in path.suffixes or ".tab" in path.suffixes else None
    try:
        frame = pd.read_csv(path, sep=separator, engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable CSV/TSV ({str(exc).splitlines()[0]})") from None
    if frame.empty:
        raise ValueError(f"{path}: no data rows")
    return frame


def main(argv: list[str] | None = None) -> int:
    from models.products.tabular import RiskDataError, evaluate, prepare

    args = parse_args(argv)
    try:
        frame = read_table(args.data)
        table = prepare(frame, args.target_col, args.negative_max, args.time_col)
        print(
            f"{args.data}: {len(frame):,} rows, {int(table.target.sum()):,} negative (<= {args.negative_max:g});"
            f" features: {len(table.numeric)} numeric, {len(table.categorical)} categorical,"
            f" {len(table.tags)} tag column(s) as {sum('=' in c for c in table.features.columns)} indicators,"
            f" {len(table.text)} text",
            flush=True,
        )
        report = evaluate(table, args.test_fraction, args.seed, args.calibration)
    except (ValueError, RiskDataError) as exc:
        return fail(str(exc), 2)
    for name in ("lightgbm", "baseline"):
        m = report[name]
        print(
            f"  {name:9} ROC-AUC {m['roc_auc']:.3f}  PR-AUC {m['pr_auc']:.3f}  F1 {m['f1']:.3f}"
            f" (threshold {m['threshold']:.2f})  Brier {m['brier']:.4f}  ECE {m['ece']:.3f}"
            + (f"  ({m['trees']} trees)" if "trees" in m else "")
        )
    print("  reliability of LightGBM (predicted -> observed negative rate per bin):")
    for row in report["lightgbm"]["reliability"]:
        print(f"    {row['bin']}: {row['rows']:>6,} rows  {row['predicted']:.3f} -> {row['observed']:.3f}")
    top = ", ".join(f"{k} {v:.3f}" for k, v in list(report["shap_importance"].items())[:5])
    print(f"  top features (mean |SHAP|): {top}")
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
