"""The e2e tier (Airflow env): the local stack plus a private database, topic and AIRFLOW_HOME per session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.airflow_env import PIPELINE_PYTHON, airflow_environment
from common.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def pipeline(*args):
    """Run a pipeline-env job (the Airflow env has no MySQL or Kafka client, by design)."""
    result = subprocess.run([str(PIPELINE_PYTHON), "-m", *args], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="session")
def airflow_home():
    home = Path(os.environ["AIRFLOW_HOME"])  # set by tests/conftest.py before Airflow was imported
    # a fresh database: stream ledgers and counted events of earlier sessions must not leak in
    database = os.environ["RP_MYSQL_DATABASE"] = f"retail_e2e_{os.getpid()}"
    pipeline("jobs.stack", "up", "--services", "mariadb,kafka,mlflow")
    settings = load_settings()
    os.environ.update(airflow_environment(settings, home))
    migrate = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"], capture_output=True, text=True, timeout=600
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    yield home
    pipeline("jobs.migrate", "--drop-database", database)


@pytest.fixture
def own_topic(airflow_home, monkeypatch, request):
    """Topics and a checkpoint folder of this test's own (tasks read them from the env)."""
    name = f"e2e_{request.node.name[:30]}_{os.getpid()}"
    monkeypatch.setenv("RP_TOPIC_TRANSACTIONS", name)
    monkeypatch.setenv("RP_TOPIC_RETAIL_AGGREGATED", f"{name}_aggregated")
    monkeypatch.setenv("RP_TOPIC_FORECASTS", f"{name}_forecasts")
    monkeypatch.setenv("RP_CHECKPOINT_ROOT", str(airflow_home / "checkpoints" / name))
    return name
