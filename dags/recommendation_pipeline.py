"""
### recommendation_pipeline

Top-N products for every shopper, refreshed daily: shopper events -> implicit interactions -> the method
chosen on validation (ALS on Spark MLlib, recent popularity, their blend, item-kNN or all-time popularity)
measured against both popularity baselines -> MySQL and the `recommendations` topic.

1. **produce_demo_events** (skipped unless the `demo_events_days` param is > 0): the seeded funnel
   generator's shopper sessions for the `demo_events_days` days ending on the run's day (the same
   seed keeps the visitors' tastes from day to day; a re-run replays the same event ids).
2. **stream_events**: the `interactions` stream, `availableNow`: `shopper_events` topic -> validate
   (bad -> quarantine + `dead_letter`) -> each new event (by id) added to its (visitor, item) row in
   `interactions` (confidence = weighted count: view 1, addtocart 3, transaction 5 by default).
3. **train_and_evaluate**: `retail-pulse recommendations train`: time-based split, every candidate (the
   ALS grid, recent-popularity windows, the blend, item-kNN) scored on a validation window inside the
   training data, each a nested MLflow run; all-time popularity is left only for a candidate ahead of
   it there by a margin that also holds on an earlier guard window; the choice, ALS, all-time and recent
   popularity on the holdout (precision / recall / MAP / NDCG @k) in MLflow and
   `recommender_evaluations`; the choice refitted on all events and registered; **promoted** to
   `@champion` only if its MAP@k is not below either popularity's and not more than 10% below the
   champion's; the decision and why in `model_decisions` and the task log.
4. **publish**: `retail-pulse recommendations recommend`: the champion's top-k per visitor without items
   it already bought, popular items (flagged `fallback`) for visitors the model does not know; `recommendations` and
   `popular_items` replaced in one transaction, one message per visitor on `recommendations`.

Gates (limits as params of a run): **check_events** after the stream, the share of this run's events
quarantined (`max_quarantine_share`, 0.05) and messages still unread (`max_stream_lag`, 100000);
**check_model** before publishing, the champion's MAP@k over all-time popularity on this run's
holdout (`min_champion_margin`, 0).

Idempotent: the stream is exactly-once and counts each event id once; a retrain only adds a model
version; publishing replaces the lists. Connections: `mysql_default`, `kafka_default`, `mlflow_default`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from gates import champion_margin, quarantine_share, stream_lag
from pipeline_tasks import MACROS, default_args, gate, gate_params, pipeline_task

DAY = "run_day(dag_run)"
QUERY = "interactions"
STREAM_CHECKS = (quarantine_share(QUERY), stream_lag(QUERY))
MODEL_CHECK = champion_margin(r"^holdout\.[a-z_]+\.map_at_[0-9]+$")  # the choice against all-time popularity

with DAG(
    dag_id="recommendation_pipeline",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),  # each run covers the day that ended
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # one stream query per checkpoint at a time
    user_defined_macros=MACROS,
    tags=["retail_pulse", "recommendations", "als"],
    default_args=default_args(),
    params={
        **gate_params(*STREAM_CHECKS, MODEL_CHECK),
        "demo_events_days": Param(0, type="integer", minimum=0, description="days of generated shopper sessions"),
        "demo_visitors": Param(2000, type="integer", minimum=1, description="demo generator: visitors"),
        "demo_items": Param(500, type="integer", minimum=1, description="demo generator: items"),
        "k": Param(10, type="integer", minimum=1, maximum=100, description="items per visitor"),
    },
) as dag:
    produce = pipeline_task(
        "produce_demo_events",
        f"ingest produce --source funnel --until {{{{ {DAY} }}}} --days {{{{ params.demo_events_days }}}}"
        " --visitors {{ params.demo_visitors }} --funnel-items {{ params.demo_items }}"
        " --malformed-fraction 0.01 --no-progress",
        only_if="[ {{ params.demo_events_days }} -gt 0 ]",
    )
    stream = pipeline_task(
        "stream_events",
        "ingest stream interactions --available-now",
        trigger_rule="none_failed",
        execution_timeout=timedelta(hours=1),
    )
    train = pipeline_task(
        "train_and_evaluate", "recommendations train --k {{ params.k }}", execution_timeout=timedelta(hours=2)
    )
    publish = pipeline_task("publish", "recommendations recommend --k {{ params.k }} --run-id {{ run_id }}")
    check_events = gate("check_events", *STREAM_CHECKS)
    check_model = gate("check_model", MODEL_CHECK)
    produce >> stream >> check_events >> train >> check_model >> publish
