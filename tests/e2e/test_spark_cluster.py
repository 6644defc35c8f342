"""The cluster path docker-compose takes, on this machine: a Spark standalone master and worker
started by the stack's own code (`make up-cluster`), and the same jobs pointed at it with
RP_SPARK_MASTER. Executors are processes of the worker, not of the driver, so the connector jars
(spark.jars), the Python environment and the checkpoint folder must all reach them."""

import os
import uuid
from datetime import date

import pytest

from common.db import query
from common.settings import load_settings
from streaming.contracts import TRANSACTION
from streaming.producer import produce
from streaming.sales.transaction_sources import generated_transactions
from streaming.topics import ensure_topics
from tests.support import free_port, run_job

pytestmark = pytest.mark.e2e
STORES, ITEMS, DAYS = 1, 4, 120


@pytest.fixture
def cluster(tmp_path):
    """A private master + worker (own ports and state folder), stopped after the test."""
    from jobs.tools import stack

    own = load_settings(
        {
            **os.environ,
            "RP_STATE_DIR": str(tmp_path / "state"),
            **{f"RP_SPARK_{name}_PORT": str(free_port()) for name in ("MASTER", "MASTER_UI", "WORKER")},
        }
    )
    stack.start_services(own, stack.CLUSTER_SERVICES)
    yield own
    for name in reversed(stack.CLUSTER_SERVICES):
        stack.stop_service(own, name)


def test_a_stream_job_and_the_forecast_job_run_on_a_spark_standalone_cluster(cluster, tmp_path):
    from common.migrations import apply_migrations, drop_database, ensure_users
    from jobs.tools import stack

    env = {
        **os.environ,
        "RP_SPARK_MASTER": stack.spark_master_url(cluster),
        "RP_MYSQL_DATABASE": f"rp_cluster_{uuid.uuid4().hex[:8]}",
        "RP_CHECKPOINT_ROOT": str(tmp_path / "checkpoints"),
    }
    settings = load_settings(env)
    apply_migrations(settings, log=lambda message: None)
    ensure_users(settings)
    try:
        topic = f"cluster_{uuid.uuid4().hex[:8]}"
        ensure_topics(settings, [topic])
        events = list(generated_transactions(seed=5, stores=STORES, items=ITEMS, start=date(2024, 1, 1), days=DAYS))
        assert produce(settings.kafka_bootstrap, topic, TRANSACTION, events, progress=False).sent == len(events)

        run_job(
            "ingest", "stream", "sales_aggregation", "--topic", topic, "--name", "on_cluster", "--no-mlflow", env=env
        )
        units, lines = query(settings, "SELECT SUM(units), SUM(sale_lines) FROM daily_sales")[0]
        assert (int(units), int(lines)) == (sum(e["quantity"] for e in events), len(events))
        assert (tmp_path / "checkpoints" / "on_cluster" / "commits" / "0").exists()

        run_job("sales", "forecast", "--horizon", "14", "--name", "cluster", "--no-mlflow", env=env)
        series, days = query(
            settings, "SELECT COUNT(DISTINCT store_id, item_id), COUNT(DISTINCT forecast_date) FROM sales_forecasts"
        )[0]
        assert (series, days) == (STORES * ITEMS, 14)
    finally:
        drop_database(settings)

    # both applications ran their tasks in executors of the worker, and ended well
    apps = {app["name"]: app for app in stack.spark_cluster_state(cluster)["completedapps"]}
    assert {"stream-sales_aggregation", "forecast"} <= set(apps), list(apps)
    assert all(apps[name]["state"] == "FINISHED" for name in ("stream-sales_aggregation", "forecast"))
