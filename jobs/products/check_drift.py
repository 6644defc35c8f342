"""Drift and decay check of the champion product models: should a challenger be trained?

    retail-pulse products drift                  # today's snapshot (UTC) against each champion's training data
    retail-pulse products drift --as-of 2026-11-20

Per model (review risk, sales volume), reference = the training snapshots logged with the
champion's MLflow run, current = the feature-store snapshot of --as-of (built when missing):
- feature drift (models/products/drift.py): KS test (numeric) / chi-square (category) at p < 0.05 and PSI
  (flag at >= 0.1); a feature **drifts** when both say so; review features, the same for an item
  in every store, are compared one row per item (rows repeated per store would fake certainty);
- prediction drift: the champion's predictions on its holdout snapshot (out of sample, as the
  current ones are) against those on the current snapshot (KS + PSI, the same rule);
- decay: the champion's metric on the newest snapshot whose outcome window has ended (--as-of
  minus 28 days) against its holdout value at training: ROC-AUC down by more than 0.05 (risk),
  MAE up by more than 20% (volume).
Retrain when any of these fire, or when there is no champion yet. Results: `model_drift` (per
feature), `drift_checks` (the verdict and why; `jobs.products.train_product_models --if-needed` reads it)
and an MLflow run per model (retail_pulse/product_models, `drift-<kind>-<day>`).
Exit codes: 0 checked (whatever the verdict), 2 no sales to build the snapshot from, 4 MySQL or MLflow
unreachable.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from common.cli import entry_point, fail, snapshot_parser
from common.settings import Settings, load_settings
from models.products import product_models as PM
from models.products.features import FEATURE_SET, ITEM_FEATURES

DECAY = {"risk": 0.05, "volume": 0.20}  # absolute ROC-AUC drop; relative MAE rise
DRIFT_COLUMNS = ["feature", "test", "statistic", "p_value", "psi", "drift", "psi_flag"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = snapshot_parser("jobs.products.check_drift", __doc__, "current snapshot day")
    return parser.parse_args(argv)


def drift_table(model: PM.ProductModel, reference: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Per input (reference: the training rows) and for the predictions (reference: those on the
    holdout rows, out of sample as the current ones are): test, statistic, p-value, PSI, flags."""
    from models.products.drift import drift_report, feature_drift

    train, holdout = reference[reference["part"] == "train"], reference[reference["part"] == "holdout"]
    per_store = [c for c in PM.INPUTS if c not in ITEM_FEATURES]
    table = drift_report(train[per_store], current[per_store], categorical=PM.CATEGORICAL)

    def items(frame: pd.DataFrame) -> pd.DataFrame:  # item-level features: one row per item and day
        return frame.drop_duplicates(["as_of", "item_id"])[ITEM_FEATURES]

    table = pd.concat([table, drift_report(items(train), items(current))], ignore_index=True)
    predictions = feature_drift(model.predict(holdout)["prediction"], model.predict(current)["prediction"], False)
    return pd.concat([table, pd.DataFrame([{"feature": "prediction", **predictions}])], ignore_index=True)


def decayed(kind: str, at_training: float | None, now: float | None) -> bool:
    if at_training is None or now is None:
        return False
    return now < at_training - DECAY[kind] if kind == "risk" else now > at_training * (1 + DECAY[kind])


def verdict(kind: str, table: pd.DataFrame, at_training: float | None, now: float | None) -> tuple[bool, str]:
    """(retrain?, why) from the drift table and the metric then and now."""
    drifting = table[table["drift"] & table["psi_flag"]]
    features = [f for f in drifting["feature"] if f != "prediction"]
    reasons = []
    if features:
        reasons.append(f"{len(features)} feature(s) drifted ({', '.join(features[:5])})")
    if "prediction" in set(drifting["feature"]):
        psi = float(table.loc[table["feature"] == "prediction", "psi"].iloc[0])
        reasons.append(f"predictions drifted (PSI {psi:.3f})")
    metric, _ = PM.KEY_METRIC[kind]
    if decayed(kind, at_training, now):
        reasons.append(f"{metric} decayed from {at_training:.4f} to {now:.4f}")
    if reasons:
        return True, "; ".join(reasons)
    return False, "no feature or prediction drift, no decay"


def recent_metric(settings: Settings, model: PM.ProductModel, as_of: date) -> float | None:
    """The model's key metric on the newest snapshot whose outcome window has ended, if measurable."""
    from streaming.products.feature_store import labelled

    day = as_of - timedelta(days=PM.HORIZON)
    frame = labelled(settings, [day], as_of)
    if frame.empty:
        return None
    try:
        return PM.holdout_metrics(model, frame)[PM.KEY_METRIC[model.kind][0]]
    except (PM.ModelDataError, ValueError):  # one class only, or no rows with a label
        return None


def store(settings: Settings, name: str, version: str, as_of: date, table: pd.DataFrame, check: dict) -> None:
    from common.db import connect, transaction

    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            name,
            version,
            as_of,
            r.feature,
            r.test,
            float(r.statistic),
            float(r.p_value),
            float(r.psi),
            int(r.drift),
            int(r.psi_flag),
            now,
        )
        for r in table.itertuples(index=False)
    ]
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.execute("DELETE FROM model_drift WHERE model_name = %s AND current_as_of = %s", (name, as_of))
            cur.executemany(
                "INSERT INTO model_drift (model_name, model_version, current_as_of, feature, test, statistic, p_value,"
                " psi, drift, psi_flag, checked_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            columns = ["model_name", "model_version", "current_as_of", *check, "checked_at"]
            cur.execute(
                f"REPLACE INTO drift_checks ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                (name, version, as_of, *check.values(), now),
            )
    finally:
        conn.close()


def no_champion(name: str) -> dict:
    return {
        "reference_as_of": "",
        "drifted_features": 0,
        "prediction_psi": 0.0,
        "metric": None,
        "metric_at_training": None,
        "metric_now": None,
        "decayed": 0,
        "retrain": 1,
        "reason": f"no {name}@champion yet",
        "mlflow_run_id": None,
    }


def check(settings: Settings, kind: str, current: pd.DataFrame, as_of: date) -> None:
    import mlflow

    from common.registry import client
    from common.tracking import start_run
    from models.products.product_serving import load_champion, model_name

    name = model_name(settings, kind)
    champion = load_champion(settings, kind)
    if champion is None:
        print(f"{kind}: no {name}@champion yet: a first model is to be trained", flush=True)
        store(settings, name, "none", as_of, pd.DataFrame(columns=DRIFT_COLUMNS), no_champion(name))
        return
    model, version, run_id = champion
    if not model.current():
        used = vars(model).get("feature_set", "product_v1")
        why = f"{name} version {version} reads feature set {used}, not {FEATURE_SET}"
        print(f"{kind}: {why}: to be retrained", flush=True)
        store(settings, name, version, as_of, pd.DataFrame(columns=DRIFT_COLUMNS), no_champion(name) | {"reason": why})
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="reference/reference.parquet", dst_path=tmp
        )
        reference = pd.read_parquet(path)
    table = drift_table(model, reference, current)
    metric = PM.KEY_METRIC[kind][0]
    at_training = client(settings).get_run(run_id).data.metrics.get(f"holdout.lightgbm.{metric}")
    now = recent_metric(settings, model, as_of)
    retrain, reason = verdict(kind, table, at_training, now)
    prediction_psi = float(table.loc[table["feature"] == "prediction", "psi"].iloc[0])
    drifted = int((table["drift"] & table["psi_flag"] & (table["feature"] != "prediction")).sum())
    with start_run(
        settings,
        "product_models",
        f"drift-{kind}-{as_of}",
        tags={"kind": "drift", "model": name, "model_version": version, "retrain": str(retrain), "reason": reason},
    ) as run:
        mlflow.log_metrics(
            {f"psi.{r.feature}": r.psi for r in table.itertuples()}
            | {f"p_value.{r.feature}": r.p_value for r in table.itertuples()}
            | {"drifted_features": drifted, "retrain": int(retrain)}
            | ({f"{metric}_now": now} if now is not None else {})
        )
        with tempfile.TemporaryDirectory() as tmp:
            table.to_csv(Path(tmp, "drift.csv"), index=False)
            mlflow.log_artifact(str(Path(tmp, "drift.csv")), artifact_path="reports")
        store(
            settings,
            name,
            version,
            as_of,
            table,
            {
                "reference_as_of": ",".join(sorted(str(d) for d in reference["as_of"].unique()))[:255],
                "drifted_features": drifted,
                "prediction_psi": prediction_psi,
                "metric": metric,
                "metric_at_training": at_training,
                "metric_now": now,
                "decayed": int(decayed(kind, at_training, now)),
                "retrain": int(retrain),
                "reason": reason[:512],
                "mlflow_run_id": run.info.run_id,
            },
        )
    shown = table.sort_values("psi", ascending=False).head(4)
    worst = ", ".join(f"{r.feature} PSI {r.psi:.3f} p {r.p_value:.3g}" for r in shown.itertuples())
    print(
        f"{kind} ({name} version {version}): {'RETRAIN' if retrain else 'ok'}: {reason}; largest: {worst}", flush=True
    )


def run(args: argparse.Namespace) -> int:
    from common.tracking import check_tracking
    from streaming.products.feature_store import snapshots
    from streaming.spark import get_spark

    PM.set_threads()
    settings = load_settings()
    check_tracking(settings)
    current = snapshots(settings, [args.as_of], lambda: get_spark(settings, "product-features"))
    if current.empty:
        return fail(f"no features for {args.as_of}: no daily_sales in the year before it", 2)
    print(f"current snapshot {args.as_of}: {len(current):,} store-items", flush=True)
    for kind in PM.KINDS:
        check(settings, kind, current, args.as_of)
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
