"""review_analysis_pipeline as an operator runs it: triggered through the REST API with and without
a logical date, executed by the scheduler; both runs green, every review and post accounted for,
the model trained on first use and retrained in the day's slot, with the decision recorded."""

from pathlib import Path

import pytest

from common.db import query
from tests.e2e.conftest import RUN_TIMEOUT, failed_tasks, finish_all_runs, midnight, yesterday
from tests.support import run_job

pytestmark = pytest.mark.e2e
DAG = "review_analysis_pipeline"
OWN = Path(__file__).resolve().parents[1] / "fixtures" / "own_data"


def topic_messages(settings, topic) -> int:
    from kafka import KafkaConsumer

    from streaming.topics import end_offsets

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        return sum(end_offsets(consumer, topic).values())
    finally:
        consumer.close()


def test_review_pipeline_triggered_with_and_without_a_logical_date(operator_stack, airflow):
    settings = operator_stack
    # the README's "bring your own data": master data and the retailer's own review and post files
    run_job("ingest", "catalogue", "demo")
    run_job("ingest", "catalogue", "csv", "--products", OWN / "products.csv", "--stores", OWN / "stores.csv")
    run_job("ingest", "produce", "--source", "review_file", "--path", OWN / "reviews.csv", "--no-progress")
    run_job("ingest", "produce", "--source", "post_file", "--path", OWN / "posts.jsonl", "--no-progress")
    # the Trigger button (no logical date): demo reviews and posts, no retrain in a manual run
    undated = airflow.trigger(DAG, {"demo_reviews_per_day": 300, "demo_posts": 100})
    airflow.set_paused(DAG, False)  # the scheduler also runs the latest hourly slot, with the defaults
    first = airflow.wait_for_run(DAG, undated["dag_run_id"], RUN_TIMEOUT)
    assert first["state"] == "success", failed_tasks(airflow, DAG, [first])
    states = {t["task_id"]: t["state"] for t in airflow.task_instances(DAG, undated["dag_run_id"])}
    assert states["retrain"] == "skipped" and states["ensure_model"] == "success"

    # the 00:00 UTC slot of yesterday (a logical date): the daily retrain runs
    dated = airflow.trigger(DAG, {"demo_reviews_per_day": 200}, logical_date=midnight(yesterday()))
    airflow.wait_for_run(DAG, dated["dag_run_id"], RUN_TIMEOUT)
    runs = finish_all_runs(airflow, DAG, expect_scheduled=True)
    assert {r["run_type"] for r in runs} == {"manual", "scheduled"}
    assert all(r["state"] == "success" for r in runs), failed_tasks(airflow, DAG, runs)

    for doc_type, topic, query_name in (
        ("review", settings.topic_reviews, "review_scoring"),
        ("post", settings.topic_social, "post_scoring"),
    ):
        scored = query(settings, "SELECT COUNT(*) FROM review_sentiment WHERE doc_type = %s", (doc_type,))[0][0]
        bad = query(settings, "SELECT COUNT(*) FROM v_quarantine_reasons WHERE query_name = %s", (query_name,))[0][0]
        assert scored + bad == topic_messages(settings, topic) and scored > 0, doc_type
    assert query(settings, "SELECT COUNT(*) FROM review_sentiment WHERE doc_type = 'post'")[0][0] == 100 + 3
    own = dict(
        query(settings, "SELECT doc_id, sentiment = given_label FROM review_sentiment WHERE doc_id LIKE 'own-%'")
    )
    assert len(own) == 6 + 3 and sum(v for v in own.values() if v is not None) >= 4  # the 6 rated reviews
    named = query(
        settings,
        "SELECT doc_id, entity_id FROM review_entities WHERE doc_id IN ('own-r1', 'own-p2') AND entity_id <> ''"
        " ORDER BY doc_id, start_char",
    )
    assert named == [("own-p2", "item:102"), ("own-p2", "store:22"), ("own-r1", "item:101")]  # their own catalogue
    linked = query(settings, "SELECT item_id, store_id FROM review_sentiment WHERE doc_id = 'own-p2'")
    assert linked == [(102, 22)]  # a post without ids is about the product and store it names
    decisions = query(settings, "SELECT model_version, promoted FROM model_decisions ORDER BY decided_at")
    assert len(decisions) >= 2 and decisions[0] == ("1", 1)  # trained on first use, then the day's retrain
    assert query(settings, "SELECT COUNT(*) FROM sentiment_sales_daily")[0][0] > 0
    # the analyst sees each entity with its document's product, day and sentiment (read-only account)
    assert query(settings, "SELECT COUNT(*) FROM v_entity_mentions WHERE entity_label = 'PRODUCT'")[0][0] > 0
    results = run_job("tools", "consume", settings.topic_review_sentiment).stdout
    assert '"sentiment"' in results and '"doc_id": "own-p2"' in results
