"""Ingest benchmark: the same generated transactions through every path, side by side, in one run.

  1. kafka-python    one consumer, assign + seek + json.loads (the reference client)
  2. librdkafka      confluent-kafka, assign + consume(10000) + orjson.loads (the client's ceiling)
  3. naive           one consumer validating and inserting row by row, a commit per row
  4. spark raw       retail-pulse ingest stream raw_transactions: Kafka -> Spark validation ->
                     exactly-once MySQL sink; wall time from process start (JVM start included) to
                     exit, steady rate (first batch start -> last commit), peak RSS of the job's
                     whole process tree (driver JVM + Python workers)
  5. spark sales     retail-pulse ingest stream sales_aggregation, same measures
  6. continuous      raw_transactions with --trigger 1s while events arrive at a steady rate
                     (each rate of --live-rates, 2,000 and 5,000 events/s by default): latency from an
                     event's time (stamped when it is produced) to its row in MySQL (ingested_at),
                     p50 / p95

  7. stages          where a 100,000-row micro-batch's time goes, each stage timed on its own in
                     one SparkSession (Spark's `noop` sink executes a plan without output): the
                     connector's read, + the JSON parse into a VARIANT, + the contract's rules,
                     + the collect to the driver as Arrow, then the MySQL sink's write (LOAD DATA into
                     a staging table + upsert + ledger row, over rows already landed by path 4)

Spark reads the topic with its own Kafka connector (spark-sql-kafka), as every stream job does.

    python -m bench.ingest [--rows 1000000] [--partitions 4] [--naive-rows 200000] [--live-rates 2000,5000]

Writes bench/results/ingest.json. Uses its own database (retail_bench, recreated empty) and fresh topics.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import psutil
from kafka import KafkaConsumer, TopicPartition

os.environ.setdefault("RP_MYSQL_DATABASE", "retail_bench")

from common.cli import command_line, stream_arguments  # noqa: E402
from common.db import connect, query  # noqa: E402
from common.migrations import apply_migrations, drop_database, ensure_users  # noqa: E402
from common.settings import REPO_ROOT, load_settings  # noqa: E402
from streaming.contracts import TRANSACTION  # noqa: E402
from streaming.producer import produce  # noqa: E402
from streaming.sales.transaction_sources import generated_transactions  # noqa: E402
from streaming.topics import ensure_topics  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "ingest.json"
TARGETS = {
    "spark_raw_steady_rows_per_s": 50_000,
    "spark_raw_steady_vs_kafka_python": 2.0,
    "spark_raw_end_to_end_vs_kafka_python": 1.0,
    "spark_sales_steady_rows_per_s": 30_000,
    "spark_raw_vs_naive": 10.0,
    "peak_rss_gib": 2.5,
    "continuous_p95_s": 3.0,
}


def kafka_python_consume(settings, topic: str, limit: int) -> float:
    """Read ``limit`` messages from the start of ``topic`` with json.loads; return seconds."""
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
            for m in records[: limit - seen]:
                json.loads(m.value)
            seen += min(len(records), limit - seen)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def librdkafka_consume(settings, topic: str, limit: int, partitions: int, handle=None) -> float:
    """The same with confluent-kafka and orjson; ``handle(value)`` instead of parsing if given."""
    import orjson
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as TP

    handle = handle or orjson.loads
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench", "enable.auto.commit": False}
    )
    consumer.assign([TP(topic, p, 0) for p in range(partitions)])
    seen, started = 0, time.perf_counter()
    while seen < limit:
        for m in consumer.consume(num_messages=10_000, timeout=1.0):
            if m.error() is None and seen < limit:
                handle(m.value())
                seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def naive_insert(settings, topic: str, limit: int, partitions: int) -> float:
    conn = connect(settings, "writer", autocommit=True)
    cur = conn.cursor()
    cols = TRANSACTION.table_columns
    sql = (
        f"INSERT INTO raw_transactions ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
        " ON DUPLICATE KEY UPDATE quantity = VALUES(quantity)"
    )

    def handle(value):
        record, error = TRANSACTION.validate(value)
        if record:
            cur.execute(sql, tuple(record[c] for c in TRANSACTION.field_names) + (topic, 0, 0))

    try:
        return librdkafka_consume(settings, topic, limit, partitions, handle)
    finally:
        conn.close()


def tree_rss(proc: psutil.Process) -> int:
    try:
        tree = [proc, *proc.children(recursive=True)]
    except psutil.Error:  # the job has just exited
        return 0
    total = 0
    for p in tree:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class RssSampler:
    """Peak RSS of a process tree, sampled every 0.2 s in a thread."""

    def __init__(self, pid: int):
        self.peak, self._proc, self._stop = 0, psutil.Process(pid), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self._proc))
            time.sleep(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**30


def spark_path(settings, query_name: str, topic: str, rows: int) -> dict:
    name = f"bench_{query_name}_{topic}"
    with tempfile.TemporaryDirectory() as checkpoint:
        args = stream_arguments(
            query_name, topic, name, checkpoint, "--max-rows-per-trigger", settings.max_rows_per_trigger
        )
        cmd = command_line(*args)
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sampler = RssSampler(proc.pid)
        output = proc.communicate()[0]
        elapsed = time.perf_counter() - started
        peak = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"stream job failed:\n{output[-3000:]}")
    rows_in, first, last, batches = query(
        settings,
        "SELECT SUM(rows_in), MIN(started_at), MAX(finished_at), COUNT(*) FROM stream_batches WHERE query_name = %s",
        (name,),
    )[0]
    if int(rows_in) != rows:
        raise RuntimeError(f"{query_name} took in {rows_in} rows, expected {rows}")
    steady = (last - first).total_seconds()
    return {
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed),
        "steady_seconds": round(steady, 2),
        "steady_rows_per_s": round(rows / steady),
        "peak_rss_gib": round(peak, 3),
        "batches": int(batches),
    }


def stage_timings(settings, topic: str, partitions: int, rows: int = 100_000) -> dict:
    """Seconds per stage of one ``rows``-record batch of ``topic`` (see module doc, path 7)."""
    from pyspark.sql import functions as F

    from streaming.raw_ingest import split_validated
    from streaming.sinks import MySQLBatchSink, arrow_source
    from streaming.spark import get_spark, kafka_options
    from streaming.topics import end_offsets
    from streaming.validate import validate_events

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    ends = end_offsets(consumer, topic)  # keys spread records unevenly: never read past a partition's end
    consumer.close()
    spark = get_spark(settings, "bench-stages")
    ending = json.dumps({topic: {str(p): min(rows // partitions, end) for p, end in ends.items()}})
    source = spark.read.format("kafka").options(**kafka_options(settings, topic)).option("endingOffsets", ending).load()
    parsed = source.select("*", F.expr("try_parse_json(CAST(value AS STRING))").alias("v"))
    validated = validate_events(source, TRANSACTION)

    def timed(work) -> float:
        work()  # once to warm up (classes, Python workers), then timed
        started = time.perf_counter()
        work()
        return round(time.perf_counter() - started, 3)

    timings = {
        "read": timed(lambda: source.write.format("noop").mode("overwrite").save()),
        "read_parse": timed(lambda: parsed.write.format("noop").mode("overwrite").save()),
        "read_validate": timed(lambda: validated.write.format("noop").mode("overwrite").save()),
        "read_validate_collect": timed(validated.toArrow),
    }
    table = validated.toArrow()
    good, quarantined, _ = split_validated(table)
    sink = MySQLBatchSink(
        settings, f"bench_stages_{topic}", "raw_transactions", TRANSACTION.table_columns, ["event_id"]
    )
    batch = count()
    timings["mysql_write"] = timed(lambda: sink.write(next(batch), good, quarantined, time.time(), arrow_source(table)))
    sink.close()
    spark.stop()
    return {"rows": table.num_rows, "seconds": timings}


def live_events(rows: int, seed: int = 5):
    """``rows`` generated transactions stamped with the moment they are produced (for latency)."""
    items = max(1, -(-rows // (800 * 10)))  # the generator gives 800 days x 10 stores x items events
    for n, record in zip(range(rows), generated_transactions(seed=seed, stores=10, items=items), strict=False):
        yield {**record, "event_id": f"live-{seed}-{n}", "event_time": datetime.now(UTC).replace(tzinfo=None)}


def continuous(settings, topic: str, rate: float, seconds: float) -> dict:
    """Event -> row latency with --trigger 1s at a steady input rate."""
    name = f"bench_live_{topic}"
    rows = int(rate * seconds)
    with tempfile.TemporaryDirectory() as checkpoint:
        cmd = command_line(*stream_arguments("raw_transactions", topic, name, checkpoint, "--trigger", "1s"))
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True
        )
        # one warm-up event: once its batch is committed, Spark is up and the clock starts
        produce(settings.kafka_bootstrap, topic, TRANSACTION, live_events(1, seed=4), progress=False)
        deadline = time.monotonic() + 120
        while not query(settings, "SELECT COUNT(*) FROM stream_batches WHERE query_name = %s", (name,))[0][0]:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the continuous stream did not start")
            time.sleep(0.5)
        produce(settings.kafka_bootstrap, topic, TRANSACTION, live_events(rows), rate=rate, progress=False)
        deadline = time.monotonic() + 120
        while query(settings, "SELECT COUNT(*) FROM raw_transactions WHERE kafka_topic = %s", (topic,))[0][0] <= rows:
            if time.monotonic() > deadline:
                raise RuntimeError("continuous stream fell behind by more than 2 minutes")
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    latencies = [
        float(r[0])
        for r in query(
            settings,
            "SELECT TIMESTAMPDIFF(MICROSECOND, event_time, ingested_at) / 1e6 FROM raw_transactions"
            " WHERE kafka_topic = %s AND event_id LIKE 'live-5-%%' ORDER BY 1",
            (topic,),
        )
    ]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "rows": rows,
        "p50_s": round(latencies[len(latencies) // 2], 3),
        "p95_s": round(latencies[int(len(latencies) * 0.95)], 3),
        "max_s": round(latencies[-1], 3),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated transactions (default 1,000,000)")
    parser.add_argument("--partitions", type=int, default=4, help="topic partitions (default 4)")
    parser.add_argument("--naive-rows", type=int, default=200_000, help="rows for the naive path (default 200,000)")
    parser.add_argument(
        "--live-rates",
        default="2000,5000",
        help="continuous mode: events/s, one run per rate; the first is held to the target (default 2000,5000)",
    )
    parser.add_argument("--live-seconds", type=float, default=120, help="continuous mode: seconds (default 120)")
    args = parser.parse_args(argv)
    try:
        args.live_rates = [float(rate) for rate in args.live_rates.split(",")]
    except ValueError:
        parser.error(f"--live-rates {args.live_rates!r}: expected numbers such as 2000,5000")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    drop_database(settings)  # every run starts empty: counted ids and totals of earlier runs would skew it
    apply_migrations(settings, log=lambda m: None)
    ensure_users(settings)
    topic = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    ensure_topics(settings, [topic], partitions=args.partitions)
    print(f"producing {args.rows:,} transactions to {topic} ({args.partitions} partitions) ...", flush=True)
    items = -(-args.rows // (800 * 10))  # the generator gives 800 days x 10 stores x items events
    source = generated_transactions(seed=99, stores=10, items=items)
    summary = produce(settings.kafka_bootstrap, topic, TRANSACTION, source, args.rows, progress=False)
    print(f"  {summary.line()}", flush=True)
    if summary.failed:
        raise RuntimeError(summary.line())
    kp = args.rows / kafka_python_consume(settings, topic, args.rows)
    print(f"kafka-python consume + json.loads: {kp:,.0f} rows/s", flush=True)
    rd = args.rows / librdkafka_consume(settings, topic, args.rows, args.partitions)
    print(f"librdkafka consume + orjson.loads: {rd:,.0f} rows/s", flush=True)
    naive = args.naive_rows / naive_insert(settings, topic, args.naive_rows, args.partitions)
    print(f"naive validate + INSERT + commit per row ({args.naive_rows:,} rows): {naive:,.0f} rows/s", flush=True)
    results = {}
    for query_name in ("raw_transactions", "sales_aggregation"):
        results[query_name] = spark_path(settings, query_name, topic, args.rows)
        r = results[query_name]
        print(
            f"spark {query_name}: {r['rows_per_s']:,} rows/s end to end ({r['seconds']}s incl. JVM start), "
            f"{r['steady_rows_per_s']:,} rows/s steady, peak RSS {r['peak_rss_gib']:.2f} GiB",
            flush=True,
        )
    live = []
    for n, rate in enumerate(args.live_rates):
        live_topic = f"{topic}_live{n}"
        ensure_topics(settings, [live_topic], partitions=args.partitions)
        live.append(continuous(settings, live_topic, rate, args.live_seconds))
        print(f"continuous --trigger 1s at {rate:,.0f}/s: latency p50 {live[-1]['p50_s']}s p95 {live[-1]['p95_s']}s")
    stages = stage_timings(settings, topic, args.partitions)
    print(f"stages of a {stages['rows']:,}-row batch (s): {stages['seconds']}", flush=True)
    raw, sales = results["raw_transactions"], results["sales_aggregation"]
    measured = {
        "spark_raw_steady_rows_per_s": raw["steady_rows_per_s"],
        "spark_raw_steady_vs_kafka_python": round(raw["steady_rows_per_s"] / kp, 2),
        "spark_raw_end_to_end_vs_kafka_python": round(raw["rows_per_s"] / kp, 2),
        "spark_sales_steady_rows_per_s": sales["steady_rows_per_s"],
        "spark_raw_vs_naive": round(raw["rows_per_s"] / naive, 1),
        "peak_rss_gib": max(raw["peak_rss_gib"], sales["peak_rss_gib"]),
        "continuous_p95_s": live[0]["p95_s"],
    }
    result = {
        "benchmark": "ingest",
        "date": datetime.now(UTC).date().isoformat(),
        "rows": args.rows,
        "partitions": args.partitions,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "produce_rows_per_s": round(summary.rate),
        "kafka_python_consume_rows_per_s": round(kp),
        "librdkafka_consume_rows_per_s": round(rd),
        "naive_rows": args.naive_rows,
        "naive_rows_per_s": round(naive),
        "spark": results,
        "continuous": live,
        "stages": stages,
        "measured": measured,
        "targets": TARGETS,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for key, target in TARGETS.items():
        better = measured[key] <= target if key in ("peak_rss_gib", "continuous_p95_s") else measured[key] >= target
        print(f"  {key:40s} {measured[key]:>12,} target {target:>10,}  {'met' if better else 'NOT met'}")
    print(f"written {Path(RESULTS).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
