"""Ingest benchmark: the same generated transactions through three paths, in one run.

  1. raw consume   kafka-python, one consumer, assign + seek + json.loads (the ceiling)
  2. naive         one consumer validating and inserting row by row, a commit per row
                   (how the seed projects write to MySQL)
  3. spark         python -m jobs.stream raw_transactions: Spark + validation + exactly-once sink,
                   wall time from process start (JVM start included) to exit, and peak RSS of the
                   job's whole process tree (driver JVM + Python workers)

    python -m bench.ingest [--rows 200000] [--naive-rows N]

Writes bench/results/ingest.json. Uses its own database (retail_bench) and a fresh topic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
from kafka import KafkaConsumer, TopicPartition

os.environ.setdefault("RP_MYSQL_DATABASE", "retail_bench")

from common.db import connect, query  # noqa: E402
from common.settings import REPO_ROOT, load_settings  # noqa: E402
from jobs import stream  # noqa: E402
from jobs.migrate import apply_migrations, ensure_users  # noqa: E402
from streaming.contracts import TRANSACTION  # noqa: E402
from streaming.producer import produce  # noqa: E402
from streaming.sources import generated_transactions  # noqa: E402
from streaming.topics import ensure_topics  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "ingest.json"


def consume(settings, topic: str, limit: int, handle) -> float:
    """Read `limit` messages from the start of `topic`, calling handle(value); return seconds."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    seen, started = 0, time.perf_counter()
    while seen < limit:
        for records in consumer.poll(timeout_ms=1000, max_records=50_000).values():
            for m in records:
                if seen < limit:
                    handle(m.value)
                    seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def naive_insert(settings, topic: str, limit: int) -> float:
    conn = connect(settings, "writer", autocommit=True)
    cur = conn.cursor()
    cols = TRANSACTION.table_columns
    sql = (
        f"INSERT INTO raw_transactions ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
        " ON DUPLICATE KEY UPDATE quantity = VALUES(quantity)"
    )

    def handle(value):
        record = TRANSACTION.parse(value)
        cur.execute(sql, tuple(record[c] for c in TRANSACTION.field_names) + (topic, 0, 0))

    try:
        return consume(settings, topic, limit, handle)
    finally:
        conn.close()


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def spark_path(settings, topic: str, rows: int) -> dict:
    name = f"bench_{topic}"
    with tempfile.TemporaryDirectory() as checkpoint:
        cmd = stream.command(
            "raw_transactions", topic, name, checkpoint, "--max-rows-per-trigger", str(settings.max_rows_per_trigger)
        )
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        peak, watched = 0, psutil.Process(proc.pid)
        stop = threading.Event()

        def sample():
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(watched))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        output = proc.communicate()[0]
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"stream job failed:\n{output[-3000:]}")
    written, first, last = query(
        settings,
        "SELECT SUM(rows_written), MIN(started_at), MAX(finished_at) FROM stream_batches WHERE query_name = %s",
        (name,),
    )[0]
    if int(written) != rows:
        raise RuntimeError(f"spark path wrote {written} rows, expected {rows}")
    steady = (last - first).total_seconds()
    return {
        "seconds": elapsed,
        "rows_per_s": rows / elapsed,
        "steady_rows_per_s": rows / steady,
        "peak_rss_gib": peak / 2**30,
        "batches": query(settings, "SELECT COUNT(*) FROM stream_batches WHERE query_name = %s", (name,))[0][0],
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000, help="generated transactions (default 200,000)")
    parser.add_argument("--naive-rows", type=int, default=None, help="rows for the naive path (default: --rows)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    apply_migrations(settings, log=lambda m: None)
    ensure_users(settings)
    topic = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    ensure_topics(settings, [topic])
    print(f"producing {args.rows:,} transactions to {topic} ...", flush=True)
    summary = produce(
        settings.kafka_bootstrap, topic, TRANSACTION, generated_transactions(seed=99), args.rows, progress=False
    )
    print(f"  {summary.line()}")
    raw_s = consume(settings, topic, args.rows, json.loads)
    print(f"raw consume: {args.rows / raw_s:,.0f} rows/s", flush=True)
    naive_rows = args.naive_rows or args.rows
    naive_s = naive_insert(settings, topic, naive_rows)
    print(f"naive row-by-row insert ({naive_rows:,} rows): {naive_rows / naive_s:,.0f} rows/s", flush=True)
    spark = spark_path(settings, topic, args.rows)
    print(
        f"spark path: {spark['rows_per_s']:,.0f} rows/s end to end ({spark['seconds']:.1f}s incl. JVM start), "
        f"{spark['steady_rows_per_s']:,.0f} rows/s steady, peak RSS {spark['peak_rss_gib']:.2f} GiB",
        flush=True,
    )
    result = {
        "benchmark": "ingest",
        "rows": args.rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "produce_rows_per_s": round(summary.rate),
        "raw_consume_rows_per_s": round(args.rows / raw_s),
        "naive_rows": naive_rows,
        "naive_rows_per_s": round(naive_rows / naive_s),
        "spark": {k: round(v, 3) if isinstance(v, float) else v for k, v in spark.items()},
        "ratio_spark_vs_raw_consume": round(spark["rows_per_s"] / (args.rows / raw_s), 3),
        "ratio_spark_vs_naive": round(spark["rows_per_s"] / (naive_rows / naive_s), 2),
        "ratio_spark_steady_vs_raw_consume": round(spark["steady_rows_per_s"] / (args.rows / raw_s), 3),
        "targets": {"spark_vs_raw_consume": 0.5, "spark_vs_naive": 5.0, "peak_rss_gib": 2.5},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"ratios: spark/raw consume {result['ratio_spark_vs_raw_consume']} "
        f"(steady {result['ratio_spark_steady_vs_raw_consume']}), spark/naive {result['ratio_spark_vs_naive']}"
    )
    print(f"written {Path(RESULTS).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
