"""DagBag policy checks (run in the Airflow env): imports clean and cheap, and the DAG conventions."""

import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_IDS = [
    "transactions_ingest",
    "retail_pipeline",
    "review_analysis_pipeline",
    "recommendation_pipeline",
    "model_monitoring",
]
# per DAG, the first task that publishes what the run produced
PUBLISHING = {
    "transactions_ingest": "report_counts",
    "retail_pipeline": "publish_forecasts",
    "review_analysis_pipeline": "insight",
    "recommendation_pipeline": "publish",
    "model_monitoring": "score",
}
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
    assert set(DAG_IDS) <= set(dagbag.dag_ids)


def test_parsing_is_cheap_and_imports_nothing_heavy(dagbag):
    assert dagbag.parse_seconds < 5
    loaded = [m for m in HEAVY if m in sys.modules]
    assert loaded == []


@pytest.mark.parametrize("dag_id", DAG_IDS)
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
    from alerts import ON_FAILURE
    from pipeline_tasks import DataGate

    gates = [task for task in dag.tasks if isinstance(task, DataGate)]
    assert gates, "every DAG checks what it wrote"
    for task in dag.tasks:
        assert ON_FAILURE in task.on_failure_callback, task.task_id  # every failure is recorded (and mailed)
        if task in gates:  # a gate fails on data: retrying would not change it
            assert task.retries == 0 and task.conn_id == "mysql_default", task.task_id
            assert all(c.limit_param in dag.params for c in task.checks), task.task_id
        else:
            assert task.retries >= 1, task.task_id
            assert "$RP_PIPELINE_PYTHON" in task.bash_command and "-m jobs " in task.bash_command
    # what publishes results runs only after a gate passed
    upstream = {t.task_id for t in dag.get_task(PUBLISHING[dag_id]).get_flat_relatives(upstream=True)}
    assert upstream & {g.task_id for g in gates}


def test_dag_files_hold_no_secrets():
    for path in DAGS.glob("*.py"):
        text = path.read_text().lower()
        assert "password=" not in text and "passwd" not in text, path


# Airflow's own template context (the task runner's, as a supervisor builds it from the API
# server's answer) for the three kinds of run an operator makes: a scheduled run of the day that
# ended, a manual run with a logical date, and a manual run without one (the Trigger button).
RUN_AFTER = datetime(2025, 3, 10, 6, 30, tzinfo=UTC)
RUNS = {
    # with CronDataIntervalTimetable the run firing at 2025-03-10 00:00 covers 2025-03-09
    "scheduled": dict(
        logical_date=datetime(2025, 3, 9, tzinfo=UTC),
        data_interval_start=datetime(2025, 3, 9, tzinfo=UTC),
        data_interval_end=datetime(2025, 3, 10, tzinfo=UTC),
        run_after=datetime(2025, 3, 10, tzinfo=UTC),
        run_type="scheduled",
    ),
    "manual_with_logical_date": dict(
        logical_date=datetime(2025, 3, 9, tzinfo=UTC),
        data_interval_start=datetime(2025, 3, 8, tzinfo=UTC),
        data_interval_end=datetime(2025, 3, 9, tzinfo=UTC),
        run_after=RUN_AFTER,
        run_type="manual",
    ),
    "manual_without_logical_date": dict(
        logical_date=None, data_interval_start=None, data_interval_end=None, run_after=RUN_AFTER, run_type="manual"
    ),
}


def render_task(task, run: dict, conf: dict) -> dict:
    """Every templated field of ``task`` rendered by Airflow's task runner for ``run``."""
    from copy import deepcopy
    from uuid import uuid4

    from airflow.sdk.api.datamodels._generated import DagRun, TIRunContext
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    dag_run = DagRun(
        dag_id=task.dag_id,
        run_id=f"{run['run_type']}__test",
        start_date=run["run_after"],
        end_date=None,
        state="running",
        conf=conf,
        consumed_asset_events=[],
        partition_key=None,
        **run,
    )
    ti = RuntimeTaskInstance.model_construct(
        id=uuid4(),
        task_id=task.task_id,
        dag_id=task.dag_id,
        run_id=dag_run.run_id,
        try_number=1,
        map_index=-1,
        dag_version_id=uuid4(),
        task=deepcopy(task),  # rendering writes the fields in place
        max_tries=task.retries,
        start_date=run["run_after"],
    )
    ti._ti_context_from_server = TIRunContext(dag_run=dag_run, max_tries=task.retries)
    ti.render_templates()
    return {field: getattr(ti.task, field) for field in task.template_fields}


def bash_commands(dag, run: dict, conf: dict) -> dict[str, str]:
    """The rendered command of each job task of ``dag`` (not the gates), by task id."""
    from pipeline_tasks import PipelineTask

    return {t.task_id: render_task(t, run, conf)["bash_command"] for t in dag.tasks if isinstance(t, PipelineTask)}


@pytest.fixture
def connections(monkeypatch):
    """The connections tasks read by id, as Airflow gets them from AIRFLOW_CONN_* variables."""
    monkeypatch.setenv("AIRFLOW_CONN_MYSQL_DEFAULT", "mysql://writer:secret@db-host:3307/retail")
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", "kafka://broker:9092")
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", "http://mlflow:5055")


@pytest.mark.parametrize("run", sorted(RUNS))
@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_templated_field_renders_for_each_kind_of_run(dagbag, connections, dag_id, run):
    from pipeline_tasks import DataGate

    dag = dagbag.dags[dag_id]
    for task in dag.tasks:
        fields = render_task(task, RUNS[run], conf={})
        if isinstance(task, DataGate):
            assert {k: float(v) for k, v in fields["limits"].items()} == {c.limit_param: c.default for c in task.checks}
            started = RUNS[run]["run_after"].strftime("%Y-%m-%d %H:%M:%S.%f")  # the run's start_date here
            assert fields["run_values"] == {"since": started, "day_end": "2025-03-10"}
            continue
        assert fields["env"]["RP_MYSQL_HOST"] == "db-host" and fields["env"]["RP_MYSQL_PORT"] == "3307"
        assert fields["env"]["RP_KAFKA_BOOTSTRAP"] == "broker:9092"
        assert "{{" not in fields["bash_command"] and "None" not in fields["bash_command"], fields["bash_command"]


@pytest.mark.parametrize("run", sorted(RUNS))  # each kind of run covers 2025-03-09 (see RUNS)
def test_retail_pipeline_covers_the_runs_day(dagbag, connections, run):
    day = "2025-03-09"
    dag = dagbag.dags["retail_pipeline"]
    conf = {"demo_history_days": 800, "holidays": "US"}
    commands = bash_commands(dag, RUNS[run], conf)
    assert f"--until {day} --since 2022-12-31" in commands["produce_demo_data"]
    assert commands["produce_demo_data"].startswith("if [ 800 -gt 0 ]; then")
    forecast = f"--as-of {day} --horizon 30 --name daily --methods fast --max-staleness-days 7 --holidays US"
    assert forecast in commands["forecast"]
    assert commands["publish_forecasts"].endswith(f"--run-key {day}-daily")


def test_retail_pipeline_schedule_runs_on_the_day_that_ended(dagbag):
    from airflow.sdk import CronDataIntervalTimetable

    assert isinstance(dagbag.dags["retail_pipeline"].timetable, CronDataIntervalTimetable)


def test_stale_override_reaches_the_forecast(dagbag, connections):
    task = dagbag.dags["retail_pipeline"].get_task("forecast")
    command = render_task(task, RUNS["scheduled"], {"allow_stale": True, "max_staleness_days": 30})["bash_command"]
    assert "--max-staleness-days 30 --allow-stale" in command


@pytest.mark.parametrize(
    ("run", "retrain", "runs_retrain"),
    [
        ("scheduled", "daily", True),  # the slot of hour 00 UTC
        ("manual_without_logical_date", "daily", False),
        ("manual_without_logical_date", "always", True),
        ("scheduled", "never", False),
    ],
)
def test_review_pipeline_retrains_once_a_day_or_when_asked(dagbag, connections, run, retrain, runs_retrain):
    import subprocess

    dag = dagbag.dags["review_analysis_pipeline"]
    commands = bash_commands(dag, RUNS[run], {"retrain": retrain})
    assert commands["score_reviews"].endswith("-m jobs ingest stream review_scoring --available-now")
    test = commands["retrain"].split("; then")[0].removeprefix("if ")
    assert subprocess.run(["bash", "-c", test]).returncode == (0 if runs_retrain else 1), test
    assert "--new-data db" in commands["retrain"]


def test_review_pipeline_demo_data_is_for_the_runs_day(dagbag, connections):
    dag = dagbag.dags["review_analysis_pipeline"]
    conf = {"demo_reviews_per_day": 50, "demo_posts": 20}
    commands = bash_commands(dag, RUNS["scheduled"], conf)
    assert "--source reviews --until 2025-03-09 --days 1 --per-day 50" in commands["produce_demo_reviews"]
    assert "--source posts --until 2025-03-09 --days 1 --posts 20" in commands["produce_demo_posts"]


@pytest.mark.parametrize("run", sorted(RUNS))
def test_recommendation_pipeline_commands(dagbag, connections, run):
    dag = dagbag.dags["recommendation_pipeline"]
    conf = {"demo_events_days": 30, "k": 20}
    commands = bash_commands(dag, RUNS[run], conf)
    assert "--source funnel --until 2025-03-09 --days 30 --visitors 2000" in commands["produce_demo_events"]
    assert commands["stream_events"].endswith("-m jobs ingest stream interactions --available-now")
    assert commands["train_and_evaluate"].endswith("-m jobs recommendations train --k 20")
    assert commands["publish"].endswith(
        f"-m jobs recommendations recommend --k 20 --run-id {RUNS[run]['run_type']}__test"
    )


@pytest.mark.parametrize("run", sorted(RUNS))  # each kind of run covers 2025-03-09 (see RUNS)
def test_model_monitoring_works_on_the_snapshot_after_the_runs_day(dagbag, connections, run):
    dag = dagbag.dags["model_monitoring"]
    commands = bash_commands(dag, RUNS[run], {})
    assert all("--as-of 2025-03-10" in c for task, c in commands.items() if task != "report"), commands
    assert commands["report"].endswith("-m jobs reporting html")
    assert "-m jobs products train --if-needed" in commands["retrain_challenger"]
    # a skipped retrain (exit 99: nothing drifted) must not skip the gate, nor the scoring after it
    assert dag.get_task("check_models").trigger_rule == "none_failed"
    assert dag.get_task("retrain_challenger").skip_on_exit_code == [99]
