"""
### model_monitoring

The product models (review risk, sales volume; LightGBM with SHAP reasons) watched and refreshed
daily. A run covering day D works on the feature snapshot of D + 1 (every fact up to D).

1. **build_features**: `retail-pulse products features`: the product_v2 snapshot (rolling sales, price and
   discount, review counts, ratings, sentiment shares, text length per store-item) in
   `product_features`; a re-run replaces it.
2. **check_drift**: `retail-pulse products drift`: per champion, each feature of the snapshot against the
   champion's training snapshots (KS / chi-square at p < 0.05 and PSI >= 0.1), its predictions
   likewise, and its metric on the newest snapshot whose 28-day outcome is known (decay). Results
   in `model_drift` and `drift_checks` (the verdict and why) and MLflow.
3. **retrain_challenger** (skipped when the check found nothing): `jobs.products.train_product_models
   --if-needed`: the models the check asked for are retrained on the newest snapshots, measured
   against their baselines and the champion on the same holdout, registered, and **promoted** to
   `@champion` only if they beat both; the decision and why in `model_decisions` and the task log.
4. **check_models**, the gate: the champions' margin over their baselines (risk: ROC-AUC over logistic
   regression; volume: MAE below the simple baseline's) on the holdout of any training in this run
   (param `min_champion_margin`, 0); red with one line, and then nothing is scored.
5. **score**: `retail-pulse products score`: every store-item scored by the champions with its three
   largest SHAP contributions and a plain-language reason, in `product_predictions` (idempotent
   per model version and day) and, for risk, on the `review_risk` topic.
6. **report**: `retail-pulse reporting html`: the static HTML report (forecasts, sentiment, risk with reasons,
   recommendation quality, drift, pipeline health) regenerated from MySQL.

A first run (no champion yet) trains the first models in step 3. Connections: `mysql_default`,
`kafka_default`, `mlflow_default`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable
from gates import champion_margin
from pipeline_tasks import MACROS, default_args, gate, gate_params, pipeline_task

MODEL_CHECK = champion_margin("^(roc_auc|mae)$")  # review risk (ROC-AUC) and sales volume (MAE) champions

SNAPSHOT = "--as-of {{ next_day(dag_run) }}"

with DAG(
    dag_id="model_monitoring",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),  # each run covers the day that ended
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    user_defined_macros=MACROS,
    tags=["retail_pulse", "risk", "drift", "shap"],
    default_args=default_args(),
    params=gate_params(MODEL_CHECK),
) as dag:
    features = pipeline_task("build_features", f"products features {SNAPSHOT}")
    drift = pipeline_task("check_drift", f"products drift {SNAPSHOT}")
    retrain = pipeline_task(
        "retrain_challenger", f"products train --if-needed {SNAPSHOT}", execution_timeout=timedelta(hours=1)
    )
    check_models = gate("check_models", MODEL_CHECK, trigger_rule="none_failed")
    score = pipeline_task("score", f"products score {SNAPSHOT} --run-id {{{{ run_id }}}}")
    report = pipeline_task("report", "reporting html")
    features >> drift >> retrain >> check_models >> score >> report
