"""Both DAGs run the way an operator runs them: triggered through the REST API (the UI's Trigger
button, with and without a logical date) and on their schedule once unpaused, executed by the
scheduler, the LocalExecutor and the task supervisor; every run must end green and land its rows."""

import json
import re
from datetime import timedelta

import pytest

from common.db import query
from jobs.tools.trigger import task_output
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


def test_a_run_fed_30_percent_malformed_input_goes_red_at_its_gate_with_one_alert_and_one_mail(
    operator_stack, airflow, mailbox
):
    settings, dag = operator_stack, "transactions_ingest"
    conf = {"produce_demo_events": 1000, "demo_malformed_fraction": 0.3}
    red = airflow.wait_for_run(dag, airflow.trigger(dag, conf)["dag_run_id"], RUN_TIMEOUT)
    run_id = red["dag_run_id"]
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances(dag, run_id)}
    assert red["state"] == "failed" and states == {
        "produce_demo_events": "success",
        "stream_transactions": "success",
        "check_ingest": "failed",  # red at the gate, without retries
        "report_counts": "upstream_failed",  # nothing is published from bad data
    }, failed_tasks(airflow, dag, [red])
    shares = r"quarantine_share\[raw_transactions\]: share of this run's input quarantined = 0\.[23]\d*, limit <= 0\.05"
    log = "\n".join(task_output(airflow.task_log(dag, run_id, "check_ingest", 1)))
    assert re.search(f"FAIL {shares}", log), log
    assert "pass duplicate_keys[raw_transactions]" in log and "pass input_freshness[raw_transactions]" in log

    alerts = query(
        settings,
        "SELECT task_id, try_number, reason, log_url, mailed FROM v_pipeline_alerts WHERE run_id = %s",
        (run_id,),
    )
    assert len(alerts) == 1, alerts  # one alert for the run
    task_id, try_number, reason, log_url, mailed = alerts[0]
    assert (task_id, try_number, mailed) == ("check_ingest", 1, 1)
    line = f"data-quality gate failed: {shares} \\(param max_quarantine_share\\); \\d+ of 1000 records"
    assert re.match(f"{line} failed their contract$", reason), reason
    assert log_url.startswith(f"http://127.0.0.1:{settings.airflow_port}/dags/{dag}/runs/")
    mails = [m for m in mailbox.messages if run_id in m["subject"]]
    assert len(mails) == 1, [m["subject"] for m in mailbox.messages]  # and one mail
    assert mails[0]["subject"] == f"[Retail Pulse] {dag}.check_ingest failed ({run_id})"
    assert mails[0]["to"] == "operator@example.com"
    body = mails[0].get_body(("html",)).get_content()
    assert "check_ingest" in body and "quarantine_share[raw_transactions]" in body and run_id in body

    # the same data with the limit raised for one run (the Trigger form's param) goes green
    raised = airflow.trigger(dag, {**conf, "max_quarantine_share": 0.5})
    green = airflow.wait_for_run(dag, raised["dag_run_id"], RUN_TIMEOUT)
    assert green["state"] == "success", failed_tasks(airflow, dag, [green])
    log = "\n".join(task_output(airflow.task_log(dag, raised["dag_run_id"], "check_ingest", 1)))
    assert re.search(r"pass quarantine_share\[raw_transactions\]: .* = 0\.[23]\d*, limit <= 0\.5 ", log), log


def test_a_stalled_stream_is_reported_with_its_lag(operator_stack, airflow):
    settings = operator_stack
    airflow.set_paused("transactions_ingest", True)  # no scheduled run may catch up meanwhile
    finish_all_runs(airflow, "transactions_ingest", expect_scheduled=False)
    before = query(settings, "SELECT unread FROM v_stream_lag WHERE query_name = 'raw_transactions' AND is_latest")
    assert before == [(0,)]  # the last run read its topic to the end
    # the producer goes on writing; the stream query does not run
    run_job("ingest", "produce", "--source", "generated", "--limit", "700", "--seed", "4242", "--no-progress")
    out = run_job("ingest", "lag", "raw_transactions").stdout
    assert out.startswith(f"raw_transactions ({settings.topic_transactions}): 700 message(s) unread over 2 partition")
    after = query(
        settings, "SELECT unread, partitions FROM v_stream_lag WHERE query_name = 'raw_transactions' AND is_latest"
    )
    assert after == [(700, 2)]
