"""jobs.trigger without a server: what it prints of a task's log, and its argument errors."""

import pytest

from jobs.trigger import parse_args, task_output

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
