"""DagBag policy checks (run in the Airflow env): imports clean and cheap, and the DAG conventions."""

import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
HEAVY = ("pyspark", "mysql", "kafka", "mlflow", "prophet", "lightgbm", "pandas", "streaming", "jobs")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import BundleDagBag

    def no_network(*args, **kwargs):
        raise AssertionError("a DAG file opened a network connection at parse time")

    original = socket.socket.connect
    socket.socket.connect = no_network
    try:
        started = time.monotonic()
        bag = BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)
        bag.parse_seconds = time.monotonic() - started
    finally:
        socket.socket.connect = original
    return bag


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"transactions_ingest", "retail_pipeline"} <= set(dagbag.dag_ids)


def test_parsing_is_cheap_and_imports_nothing_heavy(dagbag):
    assert dagbag.parse_seconds < 5
    loaded = [m for m in HEAVY if m in sys.modules]
    assert loaded == []


@pytest.mark.parametrize("dag_id", ["transactions_ingest", "retail_pipeline"])
def test_dag_conventions(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags and "retail_pulse" in dag.tags
    assert dag.doc_md and dag_id in dag.doc_md
    assert dag.start_date < datetime.now(UTC)
    # static, never now(): a second parse a moment later gives the same start_date
    from airflow.dag_processing.dagbag import BundleDagBag

    again = BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS).dags[dag_id]
    assert again.start_date == dag.start_date and dag.start_date.time() == datetime.min.time()
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert "$RP_PIPELINE_PYTHON" in task.bash_command and "-m jobs." in task.bash_command


def test_dag_files_hold_no_secrets():
    for path in DAGS.glob("*.py"):
        text = path.read_text().lower()
        assert "password=" not in text and "passwd" not in text, path


@pytest.mark.parametrize("logical_date", [datetime(2025, 3, 10, tzinfo=UTC), None])
def test_retail_pipeline_commands_render_for_scheduled_and_manual_runs(dagbag, logical_date):
    from types import SimpleNamespace

    from airflow.sdk.execution_time import macros

    dag = dagbag.dags["retail_pipeline"]
    context = {
        "logical_date": logical_date,
        "dag_run": SimpleNamespace(run_after=datetime(2025, 3, 10, 6, 30, tzinfo=UTC)),
        "params": {"demo_history_days": 800, "demo_stores": 10, "demo_items": 50, "horizon": 30, "holidays": "US"},
        "macros": macros,
    }
    commands = {t.task_id: t.render_template(t.bash_command, context) for t in dag.tasks}
    assert "--until 2025-03-10 --since 2023-01-01" in commands["produce_demo_data"]
    assert "--as-of 2025-03-10 --horizon 30 --name daily --holidays US" in commands["forecast"]
    assert commands["publish_forecasts"].endswith("--run-key 2025-03-10-daily")
    assert commands["produce_demo_data"].startswith("if [ 800 -gt 0 ]; then")
