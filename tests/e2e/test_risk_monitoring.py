"""model_monitoring as an operator runs it: triggered through the REST API with and without a
logical date and executed by the scheduler; every run green; the first trains and promotes the
first models (there is no champion), later ones check drift against them, and every run scores
every store-item with reasons into MySQL and onto the review_risk topic."""

from datetime import timedelta

import pytest

from common.db import connect, query, transaction
from tests.e2e.conftest import RUN_TIMEOUT, failed_tasks, finish_all_runs, midnight, yesterday
from tests.product_facts import ITEMS, STORES, facts, insert
from tests.support import run_job

pytestmark = pytest.mark.e2e
DAG = "model_monitoring"


def test_model_monitoring_triggered_with_and_without_a_logical_date(operator_stack, airflow):
    settings = operator_stack
    # the sales and review facts the streams store, up to the last complete day; this module runs
    # after the other e2e modules (file order), whose sales and reviews are cleared first so that
    # the models learn from these facts alone
    conn = connect(settings)
    with transaction(conn) as cur:
        cur.execute("DELETE FROM daily_sales")
        cur.execute("DELETE FROM review_sentiment")
    conn.close()
    insert(settings, *facts(yesterday() - timedelta(days=159), 160))
    undated = airflow.trigger(DAG, {})  # the Trigger button: covers yesterday, snapshot of today
    airflow.set_paused(DAG, False)  # the scheduler also runs the latest daily slot
    first = airflow.wait_for_run(DAG, undated["dag_run_id"], RUN_TIMEOUT)
    assert first["state"] == "success", failed_tasks(airflow, DAG, [first])
    dated = airflow.trigger(DAG, {}, logical_date=midnight(yesterday() - timedelta(days=1)))  # snapshot of yesterday
    airflow.wait_for_run(DAG, dated["dag_run_id"], RUN_TIMEOUT)
    runs = finish_all_runs(airflow, DAG, expect_scheduled=True)
    assert {r["run_type"] for r in runs} == {"manual", "scheduled"}
    assert all(r["state"] == "success" for r in runs), failed_tasks(airflow, DAG, runs)

    decisions = query(
        settings,
        "SELECT model_name, model_version, promoted, reason FROM model_decisions"
        " WHERE model_version = '1' AND model_name IN (%s, %s) ORDER BY model_name",
        (settings.risk_model, settings.volume_model),
    )
    assert [d[:3] for d in decisions] == sorted([(settings.risk_model, "1", 1), (settings.volume_model, "1", 1)])
    assert all("@champion yet" in reason for *_, reason in decisions)  # trained because there was none
    checks = query(settings, "SELECT current_as_of, model_name, retrain, reason FROM drift_checks ORDER BY 1, 2")
    days = {day for day, *_ in checks}
    assert days == {yesterday(), yesterday() + timedelta(days=1)}, checks
    scored = query(settings, "SELECT as_of, kind, COUNT(*) FROM product_predictions GROUP BY as_of, kind")
    assert {(day, kind) for day, kind, _ in scored} == {(d, k) for d in days for k in ("risk", "volume")}
    assert all(n == ITEMS * STORES for *_, n in scored)
    assert '"reason"' in run_job("tools", "consume", settings.topic_review_risk, "--limit", "1").stdout
