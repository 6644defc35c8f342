"""Train the review-risk and sales-volume models on feature-store snapshots, compare, register, promote.

    retail-pulse products train                     # as of today (UTC): facts up to yesterday
    retail-pulse products train --as-of 2026-11-20 --snapshots 8 --every 7
    retail-pulse products train --if-needed --as-of 2026-11-20   # the DAG: only what the drift check asked for

Snapshots (models/products/features.py, stored in product_features, built here when missing) every
--every days, the newest --horizon days before --as-of so that its outcome window is complete;
outcomes from the facts (models/products/product_models.py): risk = at least half of the item's reviews in
the next 28 days negative; volume = units sold in the next 28 days. Time split: the newest
snapshot is the holdout, the one before it validation (risk: number of trees, probability calibration
and threshold; volume: interval calibration).

Per model (risk: LightGBM classifier vs logistic regression, ROC-AUC / PR-AUC / F1 / Brier / ECE, the reliability
table in evaluation.json; volume:
quantile LightGBM vs "the last 28 days again", MAE / R2 / 80% coverage): one MLflow run (experiment
retail_pulse/product_models) with the metrics, the global SHAP importance, a SHAP summary and a
waterfall plot, the training features (the drift reference); registered as
`retail_pulse_review_risk` / `retail_pulse_sales_volume`; promoted to `@champion` only if it beats
the baseline and the current champion on the same holdout. Every decision and why: `model_decisions`.

Exit codes: 0 done (promoted or not), 2 too little data, 4 MLflow or MySQL unreachable,
99 with --if-needed when the drift check of --as-of asked for no retrain (Airflow: skipped).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from common.cli import entry_point, fail, snapshot_parser
from common.settings import REPO_ROOT, Settings, load_settings
from models.products import product_models as PM
from models.products.features import FEATURE_SET
from models.products.product_serving import load_champion, model_name
from streaming.products.feature_store import labelled, snapshot_days

EXPERIMENT = "product_models"
NOTHING_TO_DO = 99  # BashOperator's skip exit code
PIP_REQUIREMENTS = ["lightgbm", "shap", "numpy", "pandas", "scikit-learn"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = snapshot_parser("jobs.products.train_product_models", __doc__, "facts before this day are used")
    parser.add_argument("--snapshots", type=int, default=6, help="labelled snapshots to use (default 6, min 3)")
    parser.add_argument("--every", type=int, default=7, help="days between snapshots (default 7)")
    parser.add_argument("--models", default="risk,volume", help="which models: risk, volume or both (default)")
    parser.add_argument("--if-needed", action="store_true", help="train only the models the drift check asked for")
    parser.add_argument("--no-register", dest="register", action="store_false", help="log the runs, register nothing")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not args.models or set(args.models) - set(PM.KINDS):
        parser.error(f"--models takes {' and/or '.join(PM.KINDS)}, comma-separated")
    if args.snapshots < 3 or args.every < 1:
        parser.error("--snapshots must be at least 3 and --every at least 1")
    return args


def plots(model: PM.ProductModel, rows: pd.DataFrame, folder: Path) -> None:
    """SHAP summary (beeswarm) of the holdout rows and the waterfall of its highest prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import shap

    values = model.shap(rows)
    data = model.matrix(rows)
    shap.summary_plot(values, data, feature_names=PM.INPUTS, show=False)
    plt.title(f"{model.kind}: SHAP values on the holdout snapshot")
    plt.savefig(folder / "shap_summary.png", dpi=110, bbox_inches="tight")
    plt.close("all")
    top = int(np.argmax(model.predict(rows)["prediction"].to_numpy()))
    base = model.base_value()
    shap.plots.waterfall(shap.Explanation(values[top], base, data[top], feature_names=PM.INPUTS), show=False)
    plt.title(f"{model.kind}: store {rows['store_id'].iloc[top]}, item {rows['item_id'].iloc[top]}")
    plt.savefig(folder / "shap_waterfall_top.png", dpi=110, bbox_inches="tight")
    plt.close("all")


def train_one(settings: Settings, kind: str, split: PM.Split, args: argparse.Namespace, why: str) -> None:
    import mlflow

    from common.registry import settle
    from common.tracking import run_url, start_run
    from models.products.product_serving import ProductModelPyfunc, save_model, signature

    name = model_name(settings, kind)
    model, metrics = PM.evaluate(split, kind, args.seed)
    current = load_champion(settings, kind)
    if current is not None and current[0].current():  # a champion of another feature set cannot compete
        metrics["champion"] = PM.holdout_metrics(current[0], split.holdout)
    holdout = PM.risk_rows(split.holdout) if kind == "risk" else split.holdout
    importance = PM.shap_importance(model, holdout)
    metric, _ = PM.KEY_METRIC[kind]
    line = ", ".join(f"{method} {m[metric]:.4f}" for method, m in metrics.items())
    print(f"{kind}: holdout {split.holdout['as_of'].iloc[0]} ({len(holdout):,} rows): {metric} {line}", flush=True)
    tags = {"kind": kind, "why": why}
    with start_run(settings, EXPERIMENT, f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}", tags=tags) as run:
        mlflow.log_params(
            {
                "feature_set": FEATURE_SET,
                "snapshots": ",".join(model.trained_on),
                "as_of": str(args.as_of),
                "holdout_as_of": str(split.holdout["as_of"].iloc[0]),
                "horizon_days": PM.HORIZON,
                "train_rows": len(split.train),
                "holdout_rows": len(holdout),
                "threshold": model.threshold,
                "interval_margin": model.margin,
                **{f"lgbm_{k}": v for k, v in PM.LGBM_PARAMS.items()},
                **PM.fit_summary(model),
            }
        )
        mlflow.log_metrics(
            {
                f"holdout.{method}.{k}": v
                for method, m in metrics.items()
                for k, v in m.items()
                if isinstance(v, int | float)  # the reliability table goes to evaluation.json
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "evaluation.json").write_text(
                json.dumps({"holdout": metrics, "shap_importance": importance}, indent=2)
            )
            pd.Series(importance, name="mean_abs_shap").rename_axis("feature").to_csv(folder / "shap_importance.csv")
            plots(model, holdout, folder)
            mlflow.log_artifacts(tmp, artifact_path="reports")
            reference = folder / "reference.parquet"
            # the drift reference: the training rows (features) and the holdout rows (predictions out of sample)
            parts = [split.train.assign(part="train"), split.holdout.assign(part="holdout")]
            pd.concat(parts)[["part", "as_of", *PM.KEY, *PM.INPUTS]].to_parquet(reference, index=False)
            mlflow.log_artifact(str(reference), artifact_path="reference")
            if not args.register:
                print(f"  MLflow run: {run_url(settings, run)} (not registered)")
                return
            saved = save_model(folder / "model.pkl", model)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ProductModelPyfunc(),
                artifacts={"model": str(saved)},
                registered_model_name=name,
                code_paths=[str(REPO_ROOT / "models")],
                signature=signature(),
                input_example=holdout[PM.INPUTS].head(3),
                pip_requirements=PIP_REQUIREMENTS,
            )
        version = str(info.registered_model_version)
        decision = PM.promote(kind, metrics["lightgbm"], metrics["baseline"], metrics.get("champion"))
        line = settle(
            settings,
            name,
            version,
            run.info.run_id,
            decision,
            metric=metric,
            value=metrics["lightgbm"][metric],
            baseline=metrics["baseline"][metric],
            champion_value=metrics["champion"][metric] if "champion" in metrics else None,
            champion_version=current[1] if current else None,
            note=why,
        )
        print(f"  {line}")
        print(f"  MLflow run: {run_url(settings, run)}", flush=True)


def requested(settings: Settings, as_of: date, kinds: list[str]) -> dict[str, str]:
    """{kind: why} of the models the drift check of ``as_of`` asked to retrain."""
    from common.db import query

    names = {model_name(settings, k): k for k in kinds}
    rows = query(
        settings,
        "SELECT model_name, reason FROM drift_checks WHERE current_as_of = %s AND retrain = 1",
        (as_of,),
        role="writer",
    )
    return {names[n]: reason for n, reason in rows if n in names}


def run(args: argparse.Namespace) -> int:
    from common.tracking import check_tracking

    PM.set_threads()
    settings = load_settings()
    check_tracking(settings)
    why = {kind: "requested" for kind in args.models}
    if args.if_needed:
        why = requested(settings, args.as_of, args.models)
        if not why:
            print(f"the drift check of {args.as_of} found no drift and no decay: no challenger trained")
            return NOTHING_TO_DO
    days = snapshot_days(args.as_of, args.snapshots, args.every)
    frame = labelled(settings, days, args.as_of)
    print(
        f"{len(frame):,} labelled store-item rows in {frame['as_of'].nunique()} snapshots"
        f" ({days[0]} .. {days[-1]}); {int(frame['negative'].sum())} of {int(frame['negative'].notna().sum())}"
        " with next reviews negative",
        flush=True,
    )
    try:
        split = PM.time_split(frame)
        for kind in why:
            train_one(settings, kind, split, args, why[kind])
    except PM.ModelDataError as exc:
        return fail(str(exc), 2)
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
