"""Product-model benchmark: quality against baselines on real data, and explanation cost.

  1. volume quality  Ta-Feng (real grocery sales, one store, Nov 2000 - Feb 2001): daily sales per
                     product -> the feature-store code (Spark local[2], category = product
                     sub-class) at weekly snapshots -> next-28-day units; the newest labelled
                     snapshot held out. Quantile LightGBM vs "the last 28 days again": MAE, R2,
                     80% interval coverage. Target: MAE below the naive baseline's.
  2. risk quality    `retail-pulse products evaluate` (the user's CLI) on the real drug reviews
                     (drugs.com, ratings 1-10; negative = rating <= 4; split by review date):
                     LightGBM vs logistic regression, both calibrated on the validation part:
                     ROC-AUC, Brier, ECE. Target: ROC-AUC >= the baseline's + 0.03.
  3. speed           the Ta-Feng volume model and a risk classifier on the same rows: per row,
                     single-row predict alone and predict + SHAP explanation (p50 / p95 over 500
                     calls, after a warm-up), and batched (2,000 rows at once) cost per row.
                     Target: single-row predict + explain p95 <= 5 ms.

    python -m bench.products [--snapshots 6] [--skip-risk-cli]

Writes bench/results/risk.json. Needs no service (local Spark only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd  # noqa: E402

from bench import percentiles, write_results  # noqa: E402
from common.settings import REPO_ROOT, load_settings  # noqa: E402
from models.products import product_models as PM  # noqa: E402
from streaming.files import TA_FENG_PATH  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "risk.json"
DRUGS = REPO_ROOT / ".data" / "text" / "drugsComTrain.tsv"
TARGET_P95_MS = 5.0


def ta_feng_daily() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily sales per product: sale_date, store_id, item_id, units, revenue; item -> sub-class)."""
    with zipfile.ZipFile(TA_FENG_PATH) as archive:
        with archive.open(archive.namelist()[0]) as handle:
            raw = pd.read_csv(handle, encoding="utf-8-sig", dtype={"PRODUCT_ID": "int64", "PRODUCT_SUBCLASS": str})
    raw["sale_date"] = pd.to_datetime(raw["TRANSACTION_DT"], format="%m/%d/%Y").dt.date
    daily = raw.groupby(["sale_date", "PRODUCT_ID"], as_index=False).agg(
        units=("AMOUNT", "sum"), revenue=("SALES_PRICE", "sum")
    )
    daily = daily.rename(columns={"PRODUCT_ID": "item_id"}).assign(store_id=1)
    categories = raw.groupby("PRODUCT_ID")["PRODUCT_SUBCLASS"].first().reset_index()
    categories.columns = ["item_id", "category"]
    return daily[["sale_date", "store_id", "item_id", "units", "revenue"]].astype({"units": float}), categories


def volume_quality(spark, snapshots: int) -> tuple[dict, PM.Split, PM.ProductModel]:
    from streaming.products.feature_store import compute, snapshot_days

    sales, categories = ta_feng_daily()
    last = max(sales["sale_date"])
    days = snapshot_days(last + timedelta(days=1), snapshots, 7)
    no_reviews = pd.DataFrame(
        {
            "created_at": pd.Series(dtype="datetime64[us]"),
            "item_id": pd.Series(dtype="int64"),
            "sentiment": pd.Series(dtype=str),
            "rating": pd.Series(dtype="int64"),
            "text_chars": pd.Series(dtype="int64"),
        }
    )
    started = time.perf_counter()
    features = compute(spark, sales, no_reviews, days, categories)
    feature_seconds = time.perf_counter() - started
    frame = PM.label_snapshots(features, sales, no_reviews, last)
    split = PM.time_split(frame)
    started = time.perf_counter()
    model, metrics = PM.evaluate(split, "volume")
    report = {
        "data": f"Ta-Feng: {sales['item_id'].nunique():,} products, {sales['sale_date'].nunique()} days",
        "snapshots": [str(d) for d in days],
        "holdout": str(days[-1]),
        "train_rows": len(split.train),
        "holdout_rows": len(split.holdout),
        "feature_seconds": round(feature_seconds, 1),
        "fit_seconds": round(time.perf_counter() - started, 1),
        **metrics,
        "mae_ratio": round(metrics["lightgbm"]["mae"] / metrics["baseline"]["mae"], 3),
        "target_met": metrics["lightgbm"]["mae"] < metrics["baseline"]["mae"],
    }
    return report, split, model


def risk_cli() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "metrics.json")
        command = [
            sys.executable,
            "-m",
            "jobs",
            "products",
            "evaluate",
            "--data",
            str(DRUGS),
            "--target-col",
            "rating",
            "--negative-max",
            "4",
            "--time-col",
            "date",
            "--out",
            str(out),
        ]
        subprocess.run(command, check=True, cwd=REPO_ROOT)
        metrics = json.loads(out.read_text())
    return {
        "data": "drugs.com reviews (real), negative = rating <= 4, split by date",
        "command": " ".join(["python", *command[1:-2], "--out", "metrics.json"]).replace(str(REPO_ROOT) + "/", ""),
        "lightgbm": metrics["lightgbm"],
        "baseline": metrics["baseline"],
        "rows": metrics["data"]["rows"],
        "top_features": list(metrics["shap_importance"])[:5],
        "target_met": metrics["lightgbm"]["roc_auc"] >= metrics["baseline"]["roc_auc"] + 0.03,
    }


def timing(model: PM.ProductModel, rows: pd.DataFrame, calls: int = 500, batch: int = 2000) -> dict:
    from models.products.product_serving import scored

    single = [rows.iloc[[i % len(rows)]] for i in range(calls)]
    scored(model, single[0])  # warm-up: builds the TreeExplainer once, as a serving process does
    out = {}
    for name, call in (("predict", model.predict), ("predict_explain", lambda r: scored(model, r))):
        samples = []
        for one in single:
            started = time.perf_counter()
            call(one)
            samples.append(time.perf_counter() - started)
        out[f"single_{name}"] = percentiles(samples)
        many = pd.concat([rows] * (batch // len(rows) + 1)).head(batch)
        started = time.perf_counter()
        call(many)
        out[f"batched_{name}_ms_per_row"] = round((time.perf_counter() - started) * 1000 / batch, 4)
    out["target_met"] = out["single_predict_explain"]["p95_ms"] <= TARGET_P95_MS
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.products", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--snapshots", type=int, default=6, help="weekly Ta-Feng snapshots (default 6)")
    parser.add_argument("--skip-risk-cli", action="store_true", help="skip the drugs.com evaluation")
    args = parser.parse_args(argv)
    from streaming.spark import get_spark

    PM.set_threads()
    spark = get_spark(load_settings(), "bench-risk")
    volume, split, model = volume_quality(spark, args.snapshots)
    print(
        f"volume (Ta-Feng): MAE LightGBM {volume['lightgbm']['mae']:.3f} vs naive {volume['baseline']['mae']:.3f}"
        f" ({volume['mae_ratio']}x), R2 {volume['lightgbm']['r2']:.3f} vs {volume['baseline']['r2']:.3f},"
        f" 80% coverage {volume['lightgbm']['coverage_80']:.1%}",
        flush=True,
    )
    # a risk classifier on the same rows for timing (label: next 28 days below half the last 28)
    labelled = split.train.assign(negative=(split.train["next_units"] < split.train["units_28"] / 2).astype(float))
    risk_split = PM.Split(
        labelled,
        labelled[labelled["as_of"] < labelled["as_of"].max()],
        labelled[labelled["as_of"] == labelled["as_of"].max()],
        split.holdout,
    )
    rows = split.holdout.head(500)
    speed = {"volume": timing(model, rows), "risk": timing(PM.fit_risk(risk_split), rows)}
    for kind, t in speed.items():
        print(
            f"{kind}: single row predict p95 {t['single_predict']['p95_ms']:.2f} ms, predict + explain p50"
            f" {t['single_predict_explain']['p50_ms']:.2f} / p95 {t['single_predict_explain']['p95_ms']:.2f} ms;"
            f" batched {t['batched_predict_explain_ms_per_row']:.3f} ms/row with explanations"
            f" ({t['batched_predict_ms_per_row']:.4f} without)",
            flush=True,
        )
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores",
        "volume_quality": volume,
        "speed": speed,
    }
    if not args.skip_risk_cli:
        report["risk_quality"] = risk_cli()
        r = report["risk_quality"]
        print(
            f"risk (drugs.com): ROC-AUC LightGBM {r['lightgbm']['roc_auc']:.3f} vs logistic regression"
            f" {r['baseline']['roc_auc']:.3f}; Brier {r['lightgbm']['brier']:.4f} vs {r['baseline']['brier']:.4f},"
            f" ECE {r['lightgbm']['ece']:.3f} vs {r['baseline']['ece']:.3f} (calibration:"
            f" {r['lightgbm']['calibration']} / {r['baseline']['calibration']}; {r['lightgbm']['trees']} trees)",
            flush=True,
        )
    write_results(RESULTS, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
