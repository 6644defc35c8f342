"""Task factory shared by the DAGs: each task is one `python -m jobs...` call in the pipeline env.

Connections are read by id when the task runs (Jinja in `env` is rendered at run time, never at
parse time) and handed to the job as RP_* settings, so credentials live only in Airflow.
"""

from __future__ import annotations

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


def pipeline_task(task_id: str, job_args: str, only_if: str | None = None, **kwargs) -> BashOperator:
    """A task running `python -m jobs.<job_args>` with the pipeline env's interpreter. With
    ``only_if`` (a shell test, Jinja allowed) the task is skipped when the test fails."""
    command = f'"$RP_PIPELINE_PYTHON" -m jobs.{job_args}'
    return BashOperator(
        task_id=task_id,
        bash_command=f"if {only_if}; then {command}; else exit 99; fi" if only_if else command,
        env=CONNECTION_ENV,
        append_env=True,
        **kwargs,
    )
