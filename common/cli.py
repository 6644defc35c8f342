"""What the jobs' entry points share: an unreachable service is one clear line and exit code 4."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from common.tracking import TrackingUnavailable

MYSQL_HINT = "start the stack with `make up`, or check RP_MYSQL_HOST / RP_MYSQL_PORT"
# errors raised inside a stream's foreachBatch reach the driver as text in a StreamingQueryException
MYSQL_DOWN = re.compile(r"mysql\.connector\.errors\.InterfaceError: (.+)")


class SetupMissing(RuntimeError):
    """A part that `make setup` installs (a venv, the Kafka or Spark jars) is not there."""


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def entry_point(parse_args: Callable, run: Callable) -> Callable[[list[str] | None], int]:
    """A job's ``main(argv)``: parse the arguments, run, and turn an unreachable service into exit 4."""

    def main(argv: list[str] | None = None) -> int:
        args = parse_args(argv)
        return exit_code(lambda: run(args))

    return main


def exit_code(job: Callable[[], int]) -> int:
    """Run a job's body; MLflow or MySQL being unreachable (or a part of the setup missing) becomes one line on
    stderr and exit code 4."""
    import mysql.connector

    try:
        return job()
    except (TrackingUnavailable, SetupMissing) as exc:
        return fail(str(exc), 4)
    except mysql.connector.errors.InterfaceError as exc:
        return fail(f"cannot reach MySQL: {exc}; {MYSQL_HINT}", 4)


def write_report(path, report: dict) -> None:
    """Write an evaluation CLI's metrics.json (parent folders created) and say where."""
    import json
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
