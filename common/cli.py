"""What the jobs' entry points share: the `retail-pulse` command table, the argument parser's preamble, and an
unreachable service as one clear line and exit code 4."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime

from common.tracking import TrackingUnavailable

MYSQL_HINT = "start the stack with `make up`, or check RP_MYSQL_HOST / RP_MYSQL_PORT"
# errors raised inside a stream's foreachBatch reach the driver as text in a StreamingQueryException
MYSQL_DOWN = re.compile(r"mysql\.connector\.errors\.InterfaceError: (.+)")


PROGRAM = "retail-pulse"
# `retail-pulse <domain> <command>`: the module whose main(argv) runs it and the line `--help` shows
COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "ingest": {
        "catalogue": ("jobs.ingest.load_catalogue", "load master data (product and store names) into MySQL"),
        "produce": ("jobs.ingest.produce", "replay a data set or generator into a Kafka topic"),
        "stream": ("jobs.ingest.stream", "run a stream query: Kafka topic -> validate -> MySQL and result topics"),
        "lag": ("jobs.ingest.lag", "messages each stream query has not landed yet, and its newest event's age"),
    },
    "sales": {
        "forecast": ("jobs.sales.forecast", "forecast daily units per store and item (30 days, with intervals)"),
        "backtest": ("jobs.sales.backtest", "backtest the forecasts on your own sales file against baselines"),
        "publish": ("jobs.sales.publish_forecasts", "publish a forecast run from MySQL to the forecasts topic"),
    },
    "reviews": {
        "train": ("jobs.reviews.train_sentiment", "train the sentiment model, measure it against VADER, register it"),
        "evaluate": ("jobs.reviews.evaluate_sentiment", "score your own labelled text with the model and VADER"),
        "insight": ("jobs.reviews.review_insight", "daily sentiment per product and store next to units sold"),
        "index": ("jobs.reviews.similar_index", "rebuild the similar-reviews index and register it as a model"),
        "similar": ("jobs.reviews.similar_reviews", "the stored reviews and posts most similar to a text"),
    },
    "recommendations": {
        "train": ("jobs.recommendations.train_recommender", "train ALS, compare it with popularity, register it"),
        "evaluate": ("jobs.recommendations.evaluate_recommender", "evaluate ALS vs popularity on your own events"),
        "recommend": ("jobs.recommendations.recommend", "publish the top-N items of every known visitor"),
    },
    "products": {
        "features": ("jobs.products.build_features", "build the product feature snapshot of one day"),
        "drift": ("jobs.products.check_drift", "drift and decay check of the champion product models"),
        "train": ("jobs.products.train_product_models", "train the review-risk and sales-volume models, promote"),
        "score": ("jobs.products.score_products", "score every store-item with the champions, with SHAP reasons"),
        "evaluate": ("jobs.products.evaluate_risk", "evaluate the risk model on any table against a baseline"),
    },
    "reporting": {
        "text": ("jobs.reporting.text_report", "print what the pipeline has written to MySQL"),
        "html": ("jobs.reporting.html_report", "the results as one self-contained HTML page"),
    },
    "tools": {
        "stack": ("jobs.tools.stack", "the embedded local stack: up, down, status"),
        "serve": ("jobs.tools.serve", "every champion over HTTP (MLflow's scoring server): up, down, status"),
        "migrate": ("jobs.tools.migrate", "apply the MySQL migrations and (re)create the users"),
        "trigger": ("jobs.tools.trigger", "trigger a DAG run through Airflow's REST API and follow it"),
        "consume": ("jobs.tools.consume", "print a topic's messages as JSON lines"),
        "contracts": ("jobs.tools.contract_docs", "print the event contracts as MySQL DDL or Markdown"),
    },
}


def command_line(*argv) -> list[str]:
    """``retail-pulse <argv>`` as a child process of this interpreter (tests and benchmarks run commands so)."""
    return [sys.executable, "-m", "jobs", *map(str, argv)]


def stream_arguments(query: str, topic: str, name: str, checkpoint, *extra) -> list[str]:
    """The arguments of ``retail-pulse ingest stream`` running ``query`` on a topic and checkpoint of one's own,
    without MLflow (tests and benchmarks)."""
    return [
        "ingest",
        "stream",
        query,
        "--topic",
        topic,
        "--name",
        name,
        "--checkpoint",
        str(checkpoint),
        "--no-mlflow",
        *map(str, extra),
    ]


def command_of(module: str) -> str:
    """`retail-pulse <domain> <command>` for a job's module name (its prog in --help and in messages)."""
    for domain, commands in COMMANDS.items():
        for command, (target, _) in commands.items():
            if target == module:
                return f"{PROGRAM} {domain} {command}"
    raise KeyError(f"{module} is not a {PROGRAM} command (add it to common.cli.COMMANDS)")


def job_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser every job starts from: its command as prog, its module docstring as the help text."""
    return argparse.ArgumentParser(
        prog=command_of(module), description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


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


def snapshot_parser(module: str, doc: str | None, as_of_help: str) -> argparse.ArgumentParser:
    """The argument parser of a job working on one snapshot day: --as-of, default today (UTC)."""
    parser = job_parser(module, doc)
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=datetime.now(UTC).date(), help=f"{as_of_help} (default today, UTC)"
    )
    return parser
