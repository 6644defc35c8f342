"""
### retail_pipeline

The sales work for one day, the **run's day**: a scheduled run covers the day that just ended (the
run firing at D 00:00 UTC has logical date D-1 and covers D-1); a manual run with a logical date
covers that date; a manual run without one (the Trigger button's default) covers the last complete
day before it was triggered.

1. **produce_demo_data** (skipped unless the `demo_history_days` param is > 0): replays the seeded
   multi-store generator's transactions for the `demo_history_days` days ending on the run's day.
2. **aggregate_sales**: `sales_aggregation` stream, `availableNow`: transactions topic -> validate ->
   `daily_sales` (late rows counted and quarantined) and the `retail_aggregated` topic.
3. **forecast**: per store-item as of the run's day, 30 days with 80%/95% intervals, by the average
   of the three candidate methods (`methods` param) that forecast the days just before it best,
   backtested against every candidate and a seasonal-naive baseline. Fails with one line when the newest sales are more
   than `max_staleness_days` older than the run's day (input stopped arriving), unless `allow_stale`
   is set: then it forecasts and records the warning. Run key `<day>-daily` in `sales_forecasts`,
   `forecast_accuracy`, `forecast_runs`, and one MLflow run (experiment `retail_pulse/forecasting`).
4. **check_sales** (before the forecast) and **check_forecasts** (before publishing), the
   data-quality gates, limits as params: the share of this run's transactions quarantined
   (`max_quarantine_share`, 0.05), messages still unread after the stream (`max_stream_lag`, 100000);
   the share of actual sales inside the 95% interval for the newest forecast run that has met its
   actuals (`min_forecast_coverage`, 0.5). Red with one line per failed check; the next steps do not run.
5. **publish_forecasts**: the run to the `forecasts` topic, one message per store-item.

Idempotent per data interval: the stream is exactly-once (checkpoint + `stream_batches` ledger, event
ids counted once), and the forecast run key is the interval's day, so a re-run or backfill replaces
that day's forecast using only the history up to that day.

Connections: `mysql_default`, `kafka_default`, `mlflow_default`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from gates import FORECAST_COVERAGE, quarantine_share, stream_lag
from pipeline_tasks import MACROS, default_args, gate, gate_params, pipeline_task

DAY = "run_day(dag_run)"
QUERY = "sales_aggregation"
STREAM_CHECKS = (quarantine_share(QUERY), stream_lag(QUERY))

with DAG(
    dag_id="retail_pipeline",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),  # each run covers the day that ended
    start_date=datetime(2023, 1, 1),  # the demo generator's first day: backfills can reach it
    catchup=False,
    max_active_runs=1,  # the stream's checkpoint admits one query at a time
    user_defined_macros=MACROS,
    tags=["retail_pulse", "sales", "forecasting"],
    default_args=default_args(timedelta(minutes=2)),
    params={
        "demo_history_days": Param(0, type="integer", minimum=0, description="days of generated demo data to produce"),
        "demo_stores": Param(10, type="integer", minimum=1, description="demo generator: stores"),
        "demo_items": Param(50, type="integer", minimum=1, description="demo generator: items"),
        "horizon": Param(30, type="integer", minimum=1, maximum=365, description="days to forecast"),
        "methods": Param(
            "fast", type="string", description="candidate methods, comma-separated ('fast', or add 'prophet')"
        ),
        "holidays": Param(
            "US", type="string", description="country code of holidays, used by Prophet when a candidate ('' for none)"
        ),
        "max_staleness_days": Param(
            7, type="integer", minimum=0, description="fail when the newest sales are older than this vs the run's day"
        ),
        "allow_stale": Param(False, type="boolean", description="forecast stale input anyway, with a recorded warning"),
        **gate_params(*STREAM_CHECKS, FORECAST_COVERAGE),
    },
) as dag:
    produce = pipeline_task(
        "produce_demo_data",
        f"ingest produce --source generated --no-progress --until {{{{ {DAY} }}}}"
        f" --since {{{{ macros.ds_add({DAY}, 1 - params.demo_history_days) }}}}"
        " --stores {{ params.demo_stores }} --items {{ params.demo_items }}",
        only_if="[ {{ params.demo_history_days }} -gt 0 ]",
    )
    aggregate = pipeline_task(
        "aggregate_sales",
        "ingest stream sales_aggregation --available-now",
        trigger_rule="none_failed",
        execution_timeout=timedelta(hours=1),
    )
    forecast = pipeline_task(
        "forecast",
        f"sales forecast --as-of {{{{ {DAY} }}}} --horizon {{{{ params.horizon }}}} --name daily"
        " --methods {{ params.methods }}"
        " --max-staleness-days {{ params.max_staleness_days }}{% if params.allow_stale %} --allow-stale{% endif %}"
        "{% if params.holidays %} --holidays {{ params.holidays }}{% endif %}",
        execution_timeout=timedelta(hours=2),
    )
    check_sales = gate("check_sales", *STREAM_CHECKS)
    check_forecasts = gate("check_forecasts", FORECAST_COVERAGE)
    publish = pipeline_task("publish_forecasts", f"sales publish --run-key {{{{ {DAY} }}}}-daily")
    produce >> aggregate >> check_sales >> forecast >> check_forecasts >> publish
