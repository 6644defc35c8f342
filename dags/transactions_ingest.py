"""
### transactions_ingest

Streams the transactions topic into MySQL: `retail_transactions` -> validate -> `raw_transactions`
(bad records -> `dead_letter` topic + `quarantined_events` table), then prints the table counts.

* **produce_demo_events** (param, default 0): first replay N generated transactions into the topic
  (1% deliberately malformed, seeded by the run so a re-run replays the same events), for demos.
  Leave 0 in production, where real producers write.
* The stream task runs `availableNow`: it processes what the topic holds and stops. Its checkpoint
  and the `stream_batches` ledger make reruns and backfills idempotent: nothing lost, nothing doubled.
* Every run is logged to MLflow (experiment `retail_pulse/streaming`).

Connections: `mysql_default`, `kafka_default`, `mlflow_default`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from pipeline_tasks import MACROS, pipeline_task

with DAG(
    dag_id="transactions_ingest",
    doc_md=__doc__,
    schedule="@hourly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # one stream query per checkpoint at a time
    user_defined_macros=MACROS,
    tags=["retail_pulse", "streaming", "transactions"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "owner": "retail_pulse"},
    params={"produce_demo_events": Param(0, type="integer", minimum=0, description="generated events to produce")},
) as dag:
    produce = pipeline_task(
        "produce_demo_events",
        "ingest produce --event transaction --limit {{ params.produce_demo_events }} --malformed-fraction 0.01"
        " --no-progress --seed {{ run_seed(dag_run) }}",
    )
    stream = pipeline_task(
        "stream_transactions", "ingest stream raw_transactions --available-now", execution_timeout=timedelta(hours=1)
    )
    report = pipeline_task("report_counts", "reporting text")
    produce >> stream >> report
