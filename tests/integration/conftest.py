"""Real services for the integration tier: MariaDB, Apache Kafka and MLflow are started once per
test session through the same code as `make up` (a running stack is reused), plus one SparkSession.
A test that stops a broker gets a private Kafka node of its own (:class:`PrivateKafka`)."""

import os
import uuid

import pytest

from common.cli import command_line, stream_arguments
from common.settings import load_settings
from streaming.contracts import TRANSACTION
from streaming.producer import produce
from streaming.sales.transaction_sources import generated_transactions
from streaming.topics import ensure_topics
from tests.support import free_port, run_job


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    from jobs.tools import stack

    os.environ["RP_CHECKPOINT_ROOT"] = str(tmp_path_factory.mktemp("checkpoints"))
    stack.start_services(stack.ensure_credentials(load_settings()))
    return load_settings()


@pytest.fixture
def topic(settings):
    name = f"test_{uuid.uuid4().hex[:10]}"
    ensure_topics(settings, [name])
    return name


def produce_transactions(settings, topic, n, seed=7, malformed=0.0, bootstrap=None):
    return produce(
        bootstrap or settings.kafka_bootstrap,
        topic,
        TRANSACTION,
        generated_transactions(seed=seed),
        limit=n,
        malformed_fraction=malformed,
        seed=seed,
        progress=False,
    )


def stream_command(topic, name, checkpoint, *extra):
    """The raw_transactions stream on a topic and checkpoint of the test's own (for Popen: kill tests)."""
    return command_line(*stream_arguments("raw_transactions", topic, name, checkpoint, *extra))


def run_stream(topic, name, checkpoint, *extra, env=None, timeout=300):
    args = stream_arguments("raw_transactions", topic, name, checkpoint, *extra)
    return run_job(*args, ok=None, env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture
def private_db(settings, monkeypatch):
    """A freshly migrated database of this test's own; jobs started from the test see it via the env."""
    from common.migrations import apply_migrations, drop_database, ensure_users

    name = f"rp_it_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("RP_MYSQL_DATABASE", name)
    private = load_settings()
    apply_migrations(private, log=lambda message: None)
    ensure_users(private)
    yield private
    drop_database(private)


class PrivateKafka:
    """A Kafka node of one test, started by the stack's own code from its own state folder and
    ports, so the test can stop and restart it without disturbing the shared stack."""

    def __init__(self, folder):
        from jobs.tools import stack

        own = {
            "RP_STATE_DIR": str(folder),
            "RP_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
            "RP_KAFKA_CONTROLLER_PORT": str(free_port()),
            "RP_KAFKA_HEAP": "256m",
        }
        self.settings = load_settings({**os.environ, **own})
        self.bootstrap = self.settings.kafka_bootstrap
        self._stack, self._service = stack, stack.build_services(self.settings)["kafka"]

    def start(self):
        self._stack.start_service(self.settings, self._service)

    def stop(self):
        self._stack.stop_service(self.settings, "kafka")

    def kill(self):
        """As a crash or a pulled plug: no controlled shutdown."""
        self._stack.stop_service(self.settings, "kafka", grace=0)


@pytest.fixture
def private_kafka(tmp_path):
    broker = PrivateKafka(tmp_path / "kafka-state")
    broker.start()
    yield broker
    broker.stop()
