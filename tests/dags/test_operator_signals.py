"""The operator signals' Airflow parts (Airflow env): a failed job task names its error line, a
gate fails in one line per failed check without retrying, and an alert carries what an operator
needs. The gates' SQL runs on planted rows in tests/integration/tools/test_gates.py; the whole
path (a red gate, its alert row and mail) in tests/e2e/test_operator_path.py."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from alerts import alert_of, mail_of
from gates import FORECAST_COVERAGE, quarantine_share
from pipeline_tasks import DataGate, PipelineTask


def test_a_failed_job_task_names_its_last_output_line():
    from airflow.sdk.exceptions import AirflowException

    task = PipelineTask(
        task_id="forecast", bash_command='echo "working"; echo "error: input is 9 days old" >&2; exit 2'
    )
    with pytest.raises(AirflowException, match=r"^forecast exited with code 2: error: input is 9 days old$"):
        task.execute(context={})


def test_a_skipped_job_task_stays_skipped():
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        PipelineTask(task_id="produce", bash_command="echo nothing to do; exit 99").execute(context={})


class PlantedHook:
    """What MySQL answers each check's query (the unit-test boundary of the gate)."""

    def __init__(self, answers: dict[str, tuple]):
        self.answers, self.asked = answers, []

    def get_first(self, sql, parameters):
        self.asked.append(parameters)
        return next(row for key, row in self.answers.items() if key in sql)


def gate_with(answers: dict[str, tuple], limits: dict[str, str]) -> tuple[DataGate, PlantedHook]:
    task = DataGate(task_id="check", checks=[quarantine_share("raw_transactions"), FORECAST_COVERAGE])
    hook = PlantedHook(answers)
    task.get_db_hook = lambda: hook
    task.limits = limits  # as rendered from the run's params
    task.run_values = {"since": "2026-12-01 02:00:00.000000", "day_end": "2026-12-01"}
    return task, hook


def test_a_gate_fails_in_one_line_per_failed_check_without_retrying():
    from airflow.sdk.exceptions import AirflowFailException

    task, hook = gate_with(
        {"stream_batches": (0.3, "300 of 1000 records"), "v_forecast_vs_actual": (0.2, "run x, 90 days")},
        {"max_quarantine_share": "0.05", "min_forecast_coverage": "0.5"},
    )
    with pytest.raises(AirflowFailException) as failed:
        task.execute(context={})
    message = str(failed.value)
    assert "\n" not in message
    assert (
        "quarantine_share[raw_transactions]: share of this run's input quarantined = 0.3, limit <= 0.05"
        " (param max_quarantine_share); 300 of 1000 records" in message
    )
    assert "forecast_coverage: " in message and "= 0.2, limit >= 0.5 (param min_forecast_coverage)" in message
    assert hook.asked[0] == {
        "since": "2026-12-01 02:00:00.000000",
        "day_end": "2026-12-01",
        "query": "raw_transactions",
    }


def test_a_raised_limit_lets_the_same_data_pass_and_nothing_to_check_passes():
    task, _ = gate_with(
        {"stream_batches": (0.3, "300 of 1000 records"), "v_forecast_vs_actual": (None, None)},
        {"max_quarantine_share": "0.5", "min_forecast_coverage": "0.5"},
    )
    task.execute(context={})


def test_an_alert_carries_the_dag_task_run_reason_and_log_url():
    ti = SimpleNamespace(
        dag_id="transactions_ingest",
        task_id="check_ingest",
        run_id="manual__2026-12-01",
        try_number=1,
        log_url="http://127.0.0.1:8085/dags/transactions_ingest/runs/manual__2026-12-01/tasks/check_ingest?try_number=1",
    )
    context = {
        "ti": ti,
        "dag_run": SimpleNamespace(logical_date=datetime(2026, 11, 30, tzinfo=UTC)),
        "exception": RuntimeError("data-quality gate failed:\n  quarantine_share = 0.3 <b>"),
    }
    alert = alert_of(context)
    assert alert["reason"] == "data-quality gate failed: quarantine_share = 0.3 <b>"  # one line
    assert alert["logical_date"] == datetime(2026, 11, 30) and alert["mailed_to"] is None
    assert (alert["dag_id"], alert["task_id"], alert["try_number"]) == ("transactions_ingest", "check_ingest", 1)
    subject, body = mail_of(alert)
    assert subject == "[Retail Pulse] transactions_ingest.check_ingest failed (manual__2026-12-01)"
    assert "quarantine_share = 0.3 &lt;b&gt;" in body and ti.log_url in body
