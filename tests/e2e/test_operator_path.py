"""Both DAGs run the way an operator runs them: triggered through the REST API (the UI's Trigger
button, with and without a logical date) and on their schedule once unpaused, executed by the
scheduler, the LocalExecutor and the task supervisor; every run must end green and land its rows."""

import json
from datetime import timedelta

import pytest

from common.db import query
from tests.e2e.conftest import RUN_TIMEOUT, failed_tasks, finish_all_runs, midnight, yesterday
from tests.support import run_job

pytestmark = pytest.mark.e2e
CONF = {"horizon": 7, "holidays": "", "demo_stores": 2, "demo_items": 3}


def test_retail_pipeline_triggered_and_scheduled_runs_forecast_the_days_they_cover(operator_stack, airflow):
    settings, day = operator_stack, yesterday()
    # the upstream producers: 60 days of sales of 2 stores x 3 items, up to the last complete day
    run_job(
        "ingest",
        "produce",
        "--source",
        "generated",
        "--stores",
        "2",
        "--items",
        "3",
        "--until",
        str(day),
        "--days",
        "60",
        "--no-progress",
    )

    manual = airflow.trigger("retail_pipeline", CONF)  # no logical date: the Trigger button's default
    assert manual["logical_date"] is None
    airflow.set_paused("retail_pipeline", False)  # the scheduler also runs the latest slot: the day that ended
    airflow.wait_for_run("retail_pipeline", manual["dag_run_id"], RUN_TIMEOUT)
    runs = finish_all_runs(airflow, "retail_pipeline", expect_scheduled=True)
    assert {r["run_type"] for r in runs} == {"manual", "scheduled"}
    assert all(r["state"] == "success" for r in runs), failed_tasks(airflow, "retail_pipeline", runs)

    earlier = day - timedelta(days=3)
    dated = airflow.trigger("retail_pipeline", CONF, logical_date=midnight(earlier))
    finished = airflow.wait_for_run("retail_pipeline", dated["dag_run_id"], RUN_TIMEOUT)
    assert finished["state"] == "success", failed_tasks(airflow, "retail_pipeline", [finished])

    forecast_runs = dict(query(settings, "SELECT run_key, series FROM forecast_runs"))
    assert forecast_runs == {f"{day}-daily": 6, f"{earlier}-daily": 6}
    rows = query(
        settings, "SELECT MIN(forecast_date), COUNT(*) FROM sales_forecasts WHERE run_key = %s", (f"{earlier}-daily",)
    )
    assert rows == [(earlier + timedelta(days=1), 6 * 7)]
    assert query(settings, "SELECT MAX(sale_date), COUNT(DISTINCT sale_date) FROM daily_sales") == [(day, 60)]
    messages = [json.loads(line) for line in run_job("tools", "consume", settings.topic_forecasts).stdout.splitlines()]
    assert {m["value"]["run_key"] for m in messages} == {f"{day}-daily", f"{earlier}-daily"}


def test_transactions_ingest_triggered_and_scheduled_runs_land_every_message(operator_stack, airflow):
    settings = operator_stack
    dated = airflow.trigger("transactions_ingest", {"produce_demo_events": 3000}, logical_date=midnight(yesterday()))
    undated = airflow.trigger("transactions_ingest", {"produce_demo_events": 2000})
    airflow.set_paused("transactions_ingest", False)
    for run in (dated, undated):
        airflow.wait_for_run("transactions_ingest", run["dag_run_id"], RUN_TIMEOUT)
    runs = finish_all_runs(airflow, "transactions_ingest", expect_scheduled=True)
    assert all(r["state"] == "success" for r in runs), failed_tasks(airflow, "transactions_ingest", runs)

    # nothing lost, nothing doubled: every message on the topic is one raw row or one quarantined row
    from kafka import KafkaConsumer

    from streaming.topics import end_offsets

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    messages = sum(end_offsets(consumer, settings.topic_transactions).values())
    consumer.close()
    raw = query(settings, "SELECT COUNT(*) FROM raw_transactions")[0][0]
    bad = query(settings, "SELECT COUNT(*) FROM v_quarantine_reasons WHERE query_name = 'raw_transactions'")[0][0]
    assert raw + bad == messages and messages >= 5000
    assert 0 < bad < 0.02 * messages  # 1% of the demo events are deliberately malformed
