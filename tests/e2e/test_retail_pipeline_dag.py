"""retail_pipeline through Airflow's dag.test(): demo data -> sales_aggregation -> forecast -> publish."""

import json
from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import REPO, pipeline

pytestmark = pytest.mark.e2e


def test_daily_run_aggregates_forecasts_and_publishes(own_topic):
    from airflow.dag_processing.dagbag import BundleDagBag

    dag = BundleDagBag(dag_folder=str(REPO / "dags"), bundle_path=REPO / "dags").dags["retail_pipeline"]
    conf = {"demo_history_days": 70, "demo_stores": 2, "demo_items": 3, "horizon": 7, "holidays": ""}
    run = dag.test(logical_date=datetime(2023, 3, 11, tzinfo=UTC), run_conf=conf)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states

    report = json.loads(pipeline("jobs.report", "--json"))
    assert report["sales"]["series"] == 6 and report["sales"]["days"] == 70
    assert report["sales"]["last_day"] == "2023-03-11"
    forecast = report["forecast"]
    assert forecast["run_key"] == "2023-03-11-daily" and forecast["as_of"] == "2023-03-11"
    assert forecast["series"] == 6 and forecast["forecast_rows"] == 6 * 7
    assert forecast["mlflow_run_id"] and forecast["smape_prophet"] is not None

    # a downstream service's view: one message per series on the forecasts topic, keyed store-item
    messages = [json.loads(line) for line in pipeline("jobs.consume", f"{own_topic}_forecasts").splitlines()]
    assert len(messages) == 6 and {m["value"]["run_key"] for m in messages} == {"2023-03-11-daily"}
    assert len({m["key"] for m in messages}) == 6
    for m in messages:
        assert m["key"] == f"{m['value']['store_id']}-{m['value']['item_id']}"
        assert [p["date"] for p in m["value"]["points"]][::6] == ["2023-03-12", "2023-03-18"]
