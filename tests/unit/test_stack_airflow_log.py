"""`jobs.stack airflow --log`: Airflow's output goes to the file, the terminal gets tasks and their output."""

import os
import sys

from jobs.stack import run_airflow_logged

LINES = [
    "2026-11-22T05:44:52Z [info     ] [DAG TEST] starting task_id=aggregate_sales map_index=-1 [airflow.sdk] loc=x",
    "2026-11-22T05:44:56Z [info     ] Tmp dir root location: /tmp    [airflow.task.hooks.airflow.providers."
    "standard.hooks.subprocess.SubprocessHook] loc=subprocess.py:78",
    "2026-11-22T05:45:29Z [info     ] 26/11/22 05:45:29 WARN Utils: Your hostname [airflow.task.hooks.airflow."
    "providers.standard.hooks.subprocess.SubprocessHook] loc=subprocess.py:106",
    "2026-11-22T05:45:35Z [info     ] batch 0: 100,000 in, 50,000 written [airflow.task.hooks.airflow.providers."
    "standard.hooks.subprocess.SubprocessHook] loc=subprocess.py:106",
    "2026-11-22T05:45:36Z [info     ] Task instance state updated [airflow.api_fastapi] new_state=success",
]


def fake_airflow(code: int) -> list[str]:
    return [sys.executable, "-c", f"import sys; print({chr(10).join(LINES)!r}); sys.exit({code})"]


def test_terminal_shows_tasks_and_their_output_the_log_has_everything(tmp_path, capsys):
    log = tmp_path / "dag.log"
    assert run_airflow_logged(fake_airflow(0), dict(os.environ), log) == 0
    assert capsys.readouterr().out.splitlines() == ["task aggregate_sales", "  batch 0: 100,000 in, 50,000 written"]
    assert log.read_text().splitlines() == LINES


def test_a_failed_command_keeps_its_exit_code_and_names_the_log(tmp_path, capsys):
    log = tmp_path / "dag.log"
    assert run_airflow_logged(fake_airflow(3), dict(os.environ), log) == 3
    assert f"full output in {log}" in capsys.readouterr().err
