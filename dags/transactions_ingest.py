"""
### transactions_ingest

Streams the transactions topic into MySQL: `retail_transactions` -> validate -> `raw_transactions`
(bad records -> `dead_letter` topic + `quarantined_events` table), then prints the table counts.

* **produce_demo_events** (param, default 0): first replay N generated transactions into the topic
  (`demo_malformed_fraction` deliberately malformed, 1% by default; seeded by the run so a re-run
  replays the same events), for demos.
  Leave 0 in production, where real producers write.
* **check_ingest**, the data-quality gate (limits are params of a run): the share of this run's
  input quarantined (`max_quarantine_share`, 0.05), sale lines stored twice under one business key
  (`max_duplicate_keys`, 0), hours from the newest landed event to the end of the run's day
  (`max_input_age_hours`, 48) and messages still unread after the stream (`max_stream_lag`,
  100000). Red with one line per failed check; `report_counts` then does not run.
* The stream task runs `availableNow`: it processes what the topic holds and stops. Its checkpoint
  and the `stream_batches` ledger make reruns and backfills idempotent: nothing lost, nothing doubled.
* Every run is logged to MLflow (experiment `retail_pulse/streaming`).

Connections: `mysql_default`, `kafka_default`, `mlflow_default`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from gates import DUPLICATE_SALE_LINES, input_freshness, quarantine_share, stream_lag
from pipeline_tasks import MACROS, default_args, gate, gate_params, pipeline_task

QUERY = "raw_transactions"
CHECKS = (quarantine_share(QUERY), DUPLICATE_SALE_LINES, input_freshness(QUERY), stream_lag(QUERY))

with DAG(
    dag_id="transactions_ingest",
    doc_md=__doc__,
    schedule="@hourly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # one stream query per checkpoint at a time
    user_defined_macros=MACROS,
    tags=["retail_pulse", "streaming", "transactions"],
    default_args=default_args(),
    params={
        "produce_demo_events": Param(0, type="integer", minimum=0, description="generated events to produce"),
        "demo_malformed_fraction": Param(
            0.01,
            type="number",
            minimum=0,
            maximum=1,
            description="share of the generated events deliberately malformed",
        ),
        **gate_params(*CHECKS),
    },
) as dag:
    produce = pipeline_task(
        "produce_demo_events",
        "ingest produce --source generated --until {{ run_day(dag_run) }}"
        " --days {{ params.produce_demo_events // 500 + 1 }} --limit {{ params.produce_demo_events }}"
        " --malformed-fraction {{ params.demo_malformed_fraction }} --no-progress --seed {{ run_seed(dag_run) }}",
    )
    stream = pipeline_task(
        "stream_transactions", f"ingest stream {QUERY} --available-now", execution_timeout=timedelta(hours=1)
    )
    check = gate("check_ingest", *CHECKS)
    report = pipeline_task("report_counts", "reporting text")
    produce >> stream >> check >> report
