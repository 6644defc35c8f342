"""Task factory shared by the DAGs: each task is one `retail-pulse <domain> <command>` call in the pipeline env
(`python -m jobs ...` with its interpreter).

Connections are read by id when the task runs (Jinja in `env` is rendered at run time, never at
parse time) and handed to the job as RP_* settings, so credentials live only in Airflow.
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta

from airflow.providers.standard.operators.bash import BashOperator

CONNECTION_ENV = {
    "RP_MYSQL_HOST": "{{ conn.mysql_default.host }}",
    "RP_MYSQL_PORT": "{{ conn.mysql_default.port }}",
    "RP_MYSQL_DATABASE": "{{ conn.mysql_default.schema }}",
    "RP_MYSQL_WRITER_USER": "{{ conn.mysql_default.login }}",
    "RP_MYSQL_WRITER_PASSWORD": "{{ conn.mysql_default.password }}",
    "RP_KAFKA_BOOTSTRAP": "{{ conn.kafka_default.host }}:{{ conn.kafka_default.port }}",
    "RP_MLFLOW_TRACKING_URI": "http://{{ conn.mlflow_default.host }}:{{ conn.mlflow_default.port }}",
}


def run_day(dag_run) -> str:
    """The day a run covers, as YYYY-MM-DD: its logical date (with a data-interval timetable, a
    scheduled run's logical date is the start of the day it covers); a run without one, which is
    what Airflow 3's Trigger button makes, covers the last complete day before it was triggered."""
    day = dag_run.logical_date.date() if dag_run.logical_date else (dag_run.run_after - timedelta(days=1)).date()
    return day.isoformat()


def next_day(dag_run) -> str:
    """The day after the run's day: the feature snapshot that reads every fact of the run's day."""
    return (date.fromisoformat(run_day(dag_run)) + timedelta(days=1)).isoformat()


def run_hour(dag_run) -> int:
    """The UTC hour a run covers (its logical date's), or -1 for a run without a logical date."""
    return dag_run.logical_date.hour if dag_run.logical_date else -1


def run_seed(dag_run) -> int:
    """A seed of the run's own (from its run id): two runs differ, a cleared and re-run task replays
    the same events."""
    return zlib.crc32(dag_run.run_id.encode())


# user_defined_macros of every DAG: templates call them with the context's dag_run
MACROS = {"run_day": run_day, "next_day": next_day, "run_hour": run_hour, "run_seed": run_seed}


def pipeline_task(task_id: str, job_args: str, only_if: str | None = None, **kwargs) -> BashOperator:
    """A task running `retail-pulse <job_args>` (``python -m jobs <job_args>``) with the pipeline env's
    interpreter. With
    ``only_if`` (a shell test, Jinja allowed) the task is skipped when the test fails."""
    command = f'"$RP_PIPELINE_PYTHON" -m jobs {job_args}'
    return BashOperator(
        task_id=task_id,
        bash_command=f"if {only_if}; then {command}; else exit 99; fi" if only_if else command,
        env=CONNECTION_ENV,
        append_env=True,
        **kwargs,
    )
