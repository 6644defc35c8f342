"""transactions_ingest through Airflow's dag.test() against the local stack (Airflow env)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.airflow_env import PIPELINE_PYTHON, airflow_environment
from common.settings import load_settings

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def pipeline(*args):
    """Run a pipeline-env job (the Airflow env has no MySQL or Kafka client, by design)."""
    result = subprocess.run([str(PIPELINE_PYTHON), "-m", *args], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def airflow_home():
    home = Path(os.environ["AIRFLOW_HOME"])  # set by tests/conftest.py before Airflow was imported
    os.environ["RP_CHECKPOINT_ROOT"] = str(home / "checkpoints")
    os.environ["RP_TOPIC_TRANSACTIONS"] = f"e2e_transactions_{os.getpid()}"
    pipeline("jobs.stack", "up", "--services", "mariadb,kafka,mlflow")
    settings = load_settings()
    os.environ.update(airflow_environment(settings, home))
    migrate = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"], capture_output=True, text=True, timeout=600
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    return home


def test_dag_run_lands_rows_in_mysql(airflow_home):
    from airflow.dag_processing.dagbag import BundleDagBag

    before = json.loads(pipeline("jobs.report", "--json"))["raw_tables"]["raw_transactions"]
    dag = BundleDagBag(dag_folder=str(REPO / "dags"), bundle_path=REPO / "dags").dags["transactions_ingest"]
    run = dag.test(run_conf={"produce_demo_events": 3000})
    assert run.state == "success", [(ti.task_id, ti.state) for ti in run.get_task_instances()]
    report = json.loads(pipeline("jobs.report", "--json"))
    landed = report["raw_tables"]["raw_transactions"] - before
    assert 2900 <= landed <= 3000  # 1% of 3000 are deliberately malformed and quarantined
    assert report["quarantined"]["total"] >= 3000 - landed
