"""`retail-pulse`: one entry point lists every command by domain, and each command's --help names it."""

import subprocess
import sys

import pytest

from common.cli import COMMANDS, command_of
from jobs.__main__ import main

EVERY = [(domain, command) for domain, commands in COMMANDS.items() for command in commands]


def test_help_lists_every_command_by_domain(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for domain, command in EVERY:
        assert f"  {domain} {command} " in out
    assert out.index("\nsales:") < out.index("  sales forecast") < out.index("\nreviews:")


@pytest.mark.parametrize(("domain", "command"), EVERY, ids=[f"{d}-{c}" for d, c in EVERY])
def test_each_command_answers_help_under_its_own_name(domain, command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([domain, command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: retail-pulse {domain} {command} ")


def test_unknown_names_exit_2_with_the_choices(capsys):
    assert main(["forecasts"]) == 2
    assert "one of: ingest, sales, reviews" in capsys.readouterr().err
    assert main(["sales", "forcast"]) == 2
    assert "one of: forecast, backtest, publish" in capsys.readouterr().err
    assert main([]) == 2


def test_a_module_outside_the_table_is_refused():
    assert command_of("jobs.sales.forecast") == "retail-pulse sales forecast"
    with pytest.raises(KeyError, match="common.cli.COMMANDS"):
        command_of("jobs.sales.nothing")


def test_python_dash_m_jobs_is_the_same_program():
    out = subprocess.run([sys.executable, "-m", "jobs", "tools", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "  stack " in out.stdout and "  trigger " in out.stdout


def test_every_command_the_docs_makefile_compose_and_dags_name_exists():
    import re

    from common.settings import REPO_ROOT

    files = [
        "README.md",
        "Makefile",
        "docker-compose.yml",
        *(f"docs/{p.name}" for p in (REPO_ROOT / "docs").glob("*.md")),
    ]
    named = {
        (f, domain, command)
        for f in files
        for domain, command in re.findall(r"(?:retail-pulse|\$\(RP\)) ([a-z]+) ([a-z]+)", (REPO_ROOT / f).read_text())
    }
    for dag in (REPO_ROOT / "dags").glob("*.py"):
        text = dag.read_text()
        named |= {(dag.name, d, c) for d, c in re.findall(r'pipeline_task\(\s*"\w+",\s*f?"([a-z]+) ([a-z]+)', text)}
    assert len(named) > 40
    unknown = sorted(n for n in named if n[2] not in COMMANDS.get(n[1], {}))
    assert not unknown, unknown
