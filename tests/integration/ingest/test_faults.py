"""Faults the stream job must survive or report: the broker down at start or mid-run (one line,
exit 4, nothing committed for the failed batch) and MySQL down for 30 s mid-stream (the batch
retries and completes: nothing lost, nothing doubled)."""

import os
import subprocess
import time

import pytest

from common.db import query
from common.settings import load_settings
from streaming.topics import ensure_topics
from tests.integration.conftest import PrivateKafka, produce_transactions, run_stream, stream_command
from tests.integration.ingest.test_stream_exactly_once import batches_done
from tests.support import free_port, one_error_line, run_job

pytestmark = pytest.mark.integration


def test_broker_down_at_start_is_one_line_and_exit_4(settings, topic, tmp_path):
    env = {**os.environ, "RP_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    stream = run_stream(topic, "nobroker", tmp_path / "c", env=env)
    assert stream.returncode == 4 and "no Kafka broker answers at" in one_error_line(stream.stderr)
    produce = run_job("ingest", "produce", "--limit", "5", "--no-progress", ok=None, env=env)
    assert produce.returncode == 4 and "no Kafka broker answers at" in one_error_line(produce.stderr)


def test_broker_lost_mid_run_is_one_line_exit_4_and_commits_nothing_of_the_failed_batch(private_db, tmp_path):
    broker = PrivateKafka(tmp_path / "kafka-state")
    broker.start()
    try:
        env = {**os.environ, "RP_KAFKA_BOOTSTRAP": broker.bootstrap}
        private = load_settings(env)
        ensure_topics(private, ["mid_run"])
        produce_transactions(private, "mid_run", 30_000, seed=41)
        name = "broker_lost"
        command = stream_command("mid_run", name, tmp_path / "c", "--max-rows-per-trigger", "2000", "--trigger", "1s")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 120
        while batches_done(private_db, name) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert batches_done(private_db, name) >= 2, "no batch committed"
    finally:
        broker.kill()
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 4, err[-3000:]
    assert "broker" in one_error_line(err).lower()
    # every committed batch is whole, and nothing of the failed one landed
    written, batches = query(
        private_db, "SELECT SUM(rows_written), COUNT(*) FROM stream_batches WHERE query_name = %s", (name,)
    )[0]
    landed = query(private_db, "SELECT COUNT(*) FROM raw_transactions WHERE kafka_topic = 'mid_run'")[0][0]
    assert landed == int(written) == 2000 * batches


@pytest.mark.slow
def test_mysql_down_for_30s_mid_stream_the_batch_retries_and_completes(settings, topic, tmp_path, monkeypatch):
    from jobs.tools import stack

    # a MariaDB of this test's own, so stopping it disturbs nothing else
    monkeypatch.setenv("RP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RP_MYSQL_PORT", str(free_port()))
    for secret in ("RP_MYSQL_ADMIN_PASSWORD", "RP_MYSQL_WRITER_PASSWORD", "RP_MYSQL_READER_PASSWORD"):
        monkeypatch.delenv(secret, raising=False)
    own = stack.ensure_credentials(load_settings())
    mariadb = stack.build_services(own)["mariadb"]
    stack.start_service(own, mariadb)  # applies the migrations and creates the users
    try:
        total = 20_000
        produce_transactions(own, topic, total, seed=51, malformed=0.01)
        name = "mysql_outage"
        command = stream_command(topic, name, tmp_path / "c", "--max-rows-per-trigger", "2000")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while batches_done(own, name) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        stack.stop_service(own, "mariadb")
        time.sleep(30)
        stack.start_service(own, mariadb)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert "MySQL unreachable" in out and "retrying in" in out
        landed = query(own, "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM raw_transactions")[0]
        bad = query(own, "SELECT COUNT(*) FROM v_quarantine_reasons")[0][0]
        ledger = query(own, "SELECT SUM(rows_in), SUM(rows_written) FROM stream_batches WHERE query_name = %s", (name,))
        assert landed[0] == landed[1] and landed[0] + bad == total  # nothing lost, nothing doubled
        assert (int(ledger[0][0]), int(ledger[0][1])) == (total, landed[0])
    finally:
        stack.stop_service(own, "mariadb")
