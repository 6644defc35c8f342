"""recommendation_pipeline as an operator runs it: triggered through the REST API with and without a
logical date and executed by the scheduler; both runs green, every shopper event accounted for,
ALS trained, measured against popularity, promoted, and every known visitor's list published."""

from datetime import timedelta

import pytest

from common.db import query
from streaming.recommendations.event_sources import generated_funnel
from tests.e2e.conftest import RUN_TIMEOUT, failed_tasks, finish_all_runs, midnight, yesterday
from tests.e2e.test_review_pipeline import topic_messages
from tests.support import run_job

pytestmark = pytest.mark.e2e
DAG = "recommendation_pipeline"


def test_recommendation_pipeline_triggered_with_and_without_a_logical_date(operator_stack, airflow):
    settings = operator_stack
    demo = ["--visitors", "600", "--funnel-items", "200"]
    # shoppers' events arrive from the producers before any run (the scheduler may start its own
    # slot first, and a pipeline with no events at all has nothing to train on)
    run_job("ingest", "produce", "--source", "funnel", "--days", "30", *demo, "--no-progress")
    params = {"demo_visitors": 600, "demo_items": 200}
    # the Trigger button (no logical date), replaying the same 30 days: counted once
    undated = airflow.trigger(DAG, {"demo_events_days": 30, **params})
    airflow.set_paused(DAG, False)  # the scheduler also runs the latest daily slot, with the defaults
    first = airflow.wait_for_run(DAG, undated["dag_run_id"], RUN_TIMEOUT)
    assert first["state"] == "success", failed_tasks(airflow, DAG, [first])
    # a run for yesterday (a logical date): one more day of sessions, lists of 5
    dated = airflow.trigger(DAG, {"demo_events_days": 1, "k": 5, **params}, logical_date=midnight(yesterday()))
    airflow.wait_for_run(DAG, dated["dag_run_id"], RUN_TIMEOUT)
    runs = finish_all_runs(airflow, DAG, expect_scheduled=True)
    assert {r["run_type"] for r in runs} == {"manual", "scheduled"}
    assert all(r["state"] == "success" for r in runs), failed_tasks(airflow, DAG, runs)

    stored = query(settings, "SELECT COUNT(*) FROM raw_shopper_events")[0][0]
    bad = query(settings, "SELECT COUNT(*) FROM v_quarantine_reasons WHERE query_name = 'interactions'")[0][0]
    thirty_days = len(generated_funnel(7, 600, 200, yesterday() - timedelta(days=29), 30))
    sent = topic_messages(settings, settings.topic_shopper_events)  # 30 days twice, then one day
    assert bad > 0 and thirty_days < stored <= sent - thirty_days  # the replayed 30 days stored once
    counted = query(settings, "SELECT SUM(views + carts + purchases) FROM interactions")[0][0]
    assert counted == stored  # every stored event counted in its (visitor, item) pair, once
    decisions = query(
        settings,
        "SELECT model_version, promoted FROM model_decisions WHERE model_name = %s ORDER BY decided_at",
        (settings.recommender_model,),
    )
    assert len(decisions) == len(runs) and decisions[0] == ("1", 1)  # one version per run, the first promoted
    quality = query(settings, "SELECT chosen_method, map_lift FROM v_recommender_quality")
    assert all(lift > 1 for _, lift in quality)  # the choice beat all-time popularity
    assert {method.split()[0] for method, _ in quality} <= {"als", "blend", "item_knn"}  # a personal method
    visitors = query(settings, "SELECT COUNT(DISTINCT visitor_id) FROM interactions")[0][0]
    rows, listed, run_id = query(
        settings, "SELECT COUNT(*), COUNT(DISTINCT visitor_id), MAX(run_id) FROM recommendations"
    )[0]
    assert listed == visitors and rows in (5 * visitors, 10 * visitors)
    assert run_id in {r["dag_run_id"] for r in runs}
    assert '"items"' in run_job("tools", "consume", settings.topic_recommendations, "--limit", "1").stdout
