"""Task factory shared by the DAGs: each task is one `retail-pulse <domain> <command>` call in the pipeline env
(`python -m jobs ...` with its interpreter).

Connections are read by id when the task runs (Jinja in `env` is rendered at run time, never at
parse time) and handed to the job as RP_* settings, so credentials live only in Airflow.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, timedelta

from airflow.providers.common.sql.operators.sql import BaseSQLOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowException
from alerts import ON_FAILURE
from gates import Check

CONNECTION_ENV = {
    "RP_MYSQL_HOST": "{{ conn.mysql_default.host }}",
    "RP_MYSQL_PORT": "{{ conn.mysql_default.port }}",
    "RP_MYSQL_DATABASE": "{{ conn.mysql_default.schema }}",
    "RP_MYSQL_WRITER_USER": "{{ conn.mysql_default.login }}",
    "RP_MYSQL_WRITER_PASSWORD": "{{ conn.mysql_default.password }}",
    "RP_KAFKA_BOOTSTRAP": "{{ conn.kafka_default.host }}:{{ conn.kafka_default.port }}",
    "RP_MLFLOW_TRACKING_URI": "http://{{ conn.mlflow_default.host }}:{{ conn.mlflow_default.port }}",
}


def default_args(retry_delay: timedelta = timedelta(minutes=1)) -> dict:
    """Every DAG's task defaults: two retries, and the alert of a task that failed for good."""
    return {"retries": 2, "retry_delay": retry_delay, "owner": "retail_pulse", "on_failure_callback": ON_FAILURE}


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


def run_started(dag_run) -> str:
    """When the run started, naive UTC (how MySQL stores the pipeline's timestamps): a gate counts
    what was written since."""
    return dag_run.start_date.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# user_defined_macros of every DAG: templates call them with the context's dag_run
MACROS = {
    "run_day": run_day,
    "next_day": next_day,
    "run_hour": run_hour,
    "run_seed": run_seed,
    "run_started": run_started,
}


class PipelineTask(BashOperator):
    """A BashOperator whose failure names the job's last output line (its `error: ...` line), so the
    task's red line and its alert say why, not only the exit code."""

    def _run_inline_command(self, bash_path: str, env: dict):
        self.result = super()._run_inline_command(bash_path, env)
        return self.result

    def execute(self, context):
        self.result = None
        try:
            return super().execute(context)
        except AirflowException:
            result = self.result
            if (
                result is None
                or not result.exit_code
                or result.exit_code in self.skip_on_exit_code
                or not result.output
            ):
                raise
            raise AirflowException(f"{self.task_id} exited with code {result.exit_code}: {result.output}") from None


def pipeline_task(task_id: str, job_args: str, only_if: str | None = None, **kwargs) -> PipelineTask:
    """A task running `retail-pulse <job_args>` (``python -m jobs <job_args>``) with the pipeline env's
    interpreter. With
    ``only_if`` (a shell test, Jinja allowed) the task is skipped when the test fails."""
    command = f'"$RP_PIPELINE_PYTHON" -m jobs {job_args}'
    return PipelineTask(
        task_id=task_id,
        bash_command=f"if {only_if}; then {command}; else exit 99; fi" if only_if else command,
        env=CONNECTION_ENV,
        append_env=True,
        **kwargs,
    )


class DataGate(BaseSQLOperator):
    """A data-quality gate: each check's query (gates.py) run on ``mysql_default`` through the
    common-sql provider's hook, its value held to the DAG param that sets its limit. Fails (no
    retry) with one line per failed check: the check, the value, the limit and the param."""

    template_fields = (*BaseSQLOperator.template_fields, "limits", "run_values")
    ui_color = "#fff7e6"

    def __init__(self, *, checks: list[Check], **kwargs):
        super().__init__(conn_id="mysql_default", retry_on_failure=False, **kwargs)
        self.checks = checks
        self.limits = {c.limit_param: f"{{{{ params.{c.limit_param} }}}}" for c in checks}
        self.run_values = {"since": "{{ run_started(dag_run) }}", "day_end": "{{ next_day(dag_run) }}"}

    def execute(self, context):
        hook = self.get_db_hook()
        failed = []
        for check in self.checks:
            value, detail = hook.get_first(check.sql, {**self.run_values, **check.params})
            passed, line = check.verdict(value, detail, float(self.limits[check.limit_param]))
            self.log.info("%s %s", "pass" if passed else "FAIL", line)
            if not passed:
                failed.append(line)
        if failed:
            self._raise_exception("data-quality gate failed: " + " | ".join(failed))


def gate(task_id: str, *checks: Check, **kwargs) -> DataGate:
    """A :class:`DataGate` task; its DAG declares the limits with :func:`gate_params`."""
    return DataGate(task_id=task_id, checks=list(checks), retries=0, **kwargs)


def gate_params(*checks: Check) -> dict[str, Param]:
    """The DAG params setting the checks' limits, with their defaults (a Trigger form field each)."""
    return {c.limit_param: Param(c.default, type="number", description=f"gate limit: {c.what}") for c in checks}
