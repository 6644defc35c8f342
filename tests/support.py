"""Helpers shared by the test tiers (standard library only: the Airflow env imports it too)."""

import socket


def free_port() -> int:
    """A TCP port nothing listens on now, for a private service of a test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_error_line(stderr: str) -> str:
    """The single ``error: ...`` line a job printed, asserting it printed no traceback."""
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in stderr and "\tat org." not in stderr, stderr[-3000:]
    return lines[0]


def run_job(*argv, ok=(0,), env=None, timeout=600):
    """Run ``retail-pulse <argv>`` as a user does (a child process of this interpreter) and return the
    CompletedProcess (text stdout and stderr); unless ``ok`` is None, an exit code outside ``ok`` fails the
    test with the output's tail."""
    import subprocess

    from common.cli import command_line

    result = subprocess.run(command_line(*argv), capture_output=True, text=True, env=env, timeout=timeout)
    if ok is not None:
        assert result.returncode in ok, f"exit {result.returncode}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result
