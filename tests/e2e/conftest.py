"""The e2e tier: the operator's path. MariaDB, the broker and MLflow of the local stack, plus an
Airflow standalone of this session's own (API server, scheduler, LocalExecutor, DAG processor)
started by the same code as `make up`, whose tasks write to a private database, topics and
checkpoints. Runs are triggered through the REST API and followed to the end, as an operator
would in the UI."""

import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from common.settings import SECRET_FIELDS, load_settings
from jobs.tools.trigger import AirflowClient, task_output
from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 900


class Mailbox:
    """A real SMTP server (aiosmtpd) on a free port; every message it accepted, parsed."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler hook)
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def stop(self):
        self.controller.stop()


@pytest.fixture(scope="session")
def mailbox():
    box = Mailbox()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def operator_stack(tmp_path_factory, mailbox):
    from common.migrations import apply_migrations, drop_database, ensure_users
    from jobs.tools import stack
    from streaming.topics import ensure_topics

    shared = stack.ensure_credentials(load_settings())
    stack.start_services(shared)
    state = tmp_path_factory.mktemp("operator_stack")
    tag = f"e2e{os.getpid()}"
    overrides = {
        "RP_STATE_DIR": str(state),
        "RP_AIRFLOW_PORT": str(free_port()),
        "RP_MYSQL_DATABASE": f"retail_{tag}",
        "RP_CHECKPOINT_ROOT": str(state / "checkpoints"),
        "RP_SENTIMENT_MODEL": f"{tag}_sentiment",  # registered models of this session's own
        "RP_SENTIMENT_FALLBACK_MODEL": f"{tag}_sentiment_lexicon",
        "RP_RECOMMENDER_MODEL": f"{tag}_recommender",
        "RP_RISK_MODEL": f"{tag}_review_risk",
        "RP_VOLUME_MODEL": f"{tag}_sales_volume",
        "RP_SIMILAR_MODEL": f"{tag}_similar_reviews",
        # the MySQL secrets of the shared stack (the private state folder holds only Airflow's)
        **{f"RP_{name.upper()}": getattr(shared, name) for name in SECRET_FIELDS if name.startswith("mysql")},
        **{f"RP_TOPIC_{key.upper()}": f"{tag}_{topic}" for key, topic in shared.topics.items()},
        # alerts of failed tasks are mailed to the session's own SMTP server
        "RP_SMTP_HOST": "127.0.0.1",
        "RP_SMTP_PORT": str(mailbox.port),
        "RP_SMTP_SECURITY": "none",
        "RP_ALERT_EMAILS": "operator@example.com",
    }
    os.environ.update(overrides)  # the private Airflow, and every task it runs, inherit these
    settings = stack.ensure_credentials(load_settings())
    apply_migrations(settings, log=lambda message: None)
    ensure_users(settings)
    ensure_topics(settings)
    stack.start_service(settings, stack.build_services(settings)["airflow"])
    yield settings
    stack.stop_service(settings, "airflow")
    drop_database(settings)


@pytest.fixture(scope="session")
def airflow(operator_stack):
    return AirflowClient.for_stack(operator_stack)


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def finish_all_runs(airflow: AirflowClient, dag_id: str, expect_scheduled: bool) -> list[dict]:
    """Wait until the DAG has no unfinished run (and, when expected, its scheduled run exists); the runs."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        runs = airflow.runs(dag_id)
        scheduled = any(r["run_type"] == "scheduled" for r in runs)
        if all(r["state"] in ("success", "failed") for r in runs) and (scheduled or not expect_scheduled):
            return runs
        time.sleep(3)
    raise AssertionError(f"{dag_id} runs not finished after {RUN_TIMEOUT}s: {airflow.runs(dag_id)}")


def failed_tasks(airflow: AirflowClient, dag_id: str, runs: list[dict]) -> dict:
    """Task states of the runs that did not succeed, with their log tails, for assertion messages."""
    failed = {}
    for run in runs:
        if run["state"] != "success":
            for ti in airflow.task_instances(dag_id, run["dag_run_id"]):
                if ti["state"] != "success" and ti["try_number"]:
                    log = task_output(airflow.task_log(dag_id, run["dag_run_id"], ti["task_id"], ti["try_number"]))
                    failed[(run["dag_run_id"], ti["task_id"])] = (ti["state"], log[-15:])
    return failed
