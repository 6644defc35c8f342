"""jobs.tools.trigger without a server: what it prints of a task's log, and its argument errors."""

import pytest

from jobs.tools.trigger import parse_args, task_output

HOOK = "airflow.task.hooks.airflow.providers.standard.hooks.subprocess.SubprocessHook"


def test_a_tasks_own_output_without_the_hooks_and_libraries_chatter():
    events = [
        {"event": "::group::Pre Execute", "logger": "task"},
        {"event": "Tmp dir root location: /tmp", "logger": HOOK},
        {"event": "26/11/22 05:45:29 WARN Utils: Your hostname", "logger": HOOK},
        {"event": "batch 0: 100,000 in, 50,000 written", "logger": HOOK},
        {"event": "Command exited with return code 0", "logger": HOOK},
    ]
    assert task_output(events) == ["batch 0: 100,000 in, 50,000 written"]


def test_a_gates_check_lines_without_the_sql_hooks_statements():
    sql_hook = "airflow.task.hooks.airflow.providers.mysql.hooks.mysql.MySqlHook"
    events = [
        {"event": "Running statement: SELECT SUM(unread) ...", "logger": sql_hook},
        {"event": "Rows affected: 1", "logger": sql_hook},
        {
            "event": "pass stream_lag[raw_transactions]: ... = 0",
            "logger": "airflow.task.operators.pipeline_tasks.DataGate",
        },
    ]
    assert task_output(events) == ["pass stream_lag[raw_transactions]: ... = 0"]


def test_a_task_that_failed_before_its_command_shows_its_whole_log():
    events = [{"event": "Task failed with exception", "logger": "task"}, {"event": "", "logger": "task"}]
    assert task_output(events) == ["Task failed with exception"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["d", "--conf", "{oops"], "--conf is not JSON"), (["d", "--conf", "[1]"], "--conf must be a JSON object")],
)
def test_bad_conf_is_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        parse_args(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_a_logical_date_without_a_zone_is_utc():
    assert parse_args(["d", "--logical-date", "2026-11-22"]).logical_date.isoformat() == "2026-11-22T00:00:00+00:00"


class FakeAirflow:
    """An Airflow REST API that already holds ``existing`` (or nothing) for every logical date."""

    def __init__(self, existing=None):
        self.existing, self.cleared = existing, []

    def trigger(self, dag_id, conf, logical_date=None):
        from jobs.tools.trigger import AirflowError

        if self.existing and logical_date is not None:
            raise AirflowError("POST ...: HTTP 409: Unique constraint violation", 409)
        return {"dag_run_id": "manual__new", "logical_date": logical_date and logical_date.isoformat()}

    def run_at(self, dag_id, logical_date):
        return self.existing

    def clear(self, dag_id, run_id):
        self.cleared.append(run_id)


@pytest.mark.parametrize(
    ("state", "cleared"), [("success", ["scheduled__d"]), ("failed", ["scheduled__d"]), ("running", [])]
)
def test_a_logical_date_that_already_has_a_run_reruns_it(state, cleared, capsys):
    from jobs.tools.trigger import trigger_or_rerun

    client = FakeAirflow({"dag_run_id": "scheduled__d", "state": state})
    run = trigger_or_rerun(client, parse_args(["d", "--logical-date", "2026-11-22"]))
    assert run["dag_run_id"] == "scheduled__d" and client.cleared == cleared
    assert ("cleared it to run again" in capsys.readouterr().out) == bool(cleared)


class Conflict(FakeAirflow):
    """A 409 with no run to be found for the date (another constraint failed)."""

    def trigger(self, dag_id, conf, logical_date=None):
        from jobs.tools.trigger import AirflowError

        raise AirflowError("POST ...: HTTP 409", 409)


def test_a_conflict_without_an_existing_run_is_an_error():
    from jobs.tools.trigger import AirflowError, trigger_or_rerun

    with pytest.raises(AirflowError):
        trigger_or_rerun(Conflict(), parse_args(["d", "--logical-date", "2026-11-22"]))
