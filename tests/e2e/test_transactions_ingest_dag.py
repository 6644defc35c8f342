"""transactions_ingest through Airflow's dag.test() against the local stack (Airflow env)."""

import json

import pytest

from tests.e2e.conftest import REPO, pipeline

pytestmark = pytest.mark.e2e


def test_dag_run_lands_rows_in_mysql(own_topic):
    from airflow.dag_processing.dagbag import BundleDagBag

    before = json.loads(pipeline("jobs.report", "--json"))["raw_tables"]["raw_transactions"]
    dag = BundleDagBag(dag_folder=str(REPO / "dags"), bundle_path=REPO / "dags").dags["transactions_ingest"]
    run = dag.test(run_conf={"produce_demo_events": 3000})
    assert run.state == "success", [(ti.task_id, ti.state) for ti in run.get_task_instances()]
    report = json.loads(pipeline("jobs.report", "--json"))
    landed = report["raw_tables"]["raw_transactions"] - before
    assert 2900 <= landed <= 3000  # 1% of 3000 are deliberately malformed and quarantined
    assert report["quarantined"]["total"] >= 3000 - landed
