"""Run a stream query: Kafka topic -> validate -> MySQL (bad records -> dead_letter + quarantine).

    retail-pulse ingest stream raw_transactions                   # process what is there, then stop
    retail-pulse ingest stream raw_transactions --trigger 10s     # keep running, a micro-batch every 10 s
    retail-pulse ingest stream sales_aggregation --lateness 3d    # daily sales per store-item + retail_aggregated
    retail-pulse ingest stream review_scoring                     # reviews -> sentiment + entities
    retail-pulse ingest stream interactions                       # shopper events -> (visitor, item) confidence

Queries: raw_<table> land each contract's records in its raw table; sales_aggregation adds
transactions into daily_sales (units, revenue) with an event-time watermark: rows older than the
newest committed event time minus --lateness are counted as late and quarantined, not added.
review_scoring / post_scoring land reviews / social posts in their raw table and score them with
the registered sentiment model's @champion and the catalogue's entity ruler: review_sentiment and
review_entities in MySQL, the review_sentiment and ner_results topics. interactions adds each new
shopper event (by id) to its (visitor, item) row in `interactions` with the confidence weights of
RP_INTERACTION_WEIGHTS (default view=1,addtocart=3,transaction=5) and keeps it in raw_shopper_events.

Restart-safe: offsets live in the checkpoint folder and each batch commits exactly once in MySQL.
After a run the job measures how many messages of the topic the query has still not landed and
the age of its newest event (stream_lag; `retail-pulse ingest lag` measures it at any time).
Each run is one MLflow run (experiment retail_pulse/streaming) with per-batch metrics.
Exit codes: 0 done, 2 bad arguments or no champion model to score with, 3 data loss detected, or
checkpoint and ledger disagree (see the message), 4 services unreachable.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

from common.cli import MYSQL_DOWN, MYSQL_HINT, entry_point, fail, job_parser
from common.db import query
from common.settings import load_settings
from common.tracking import run_url, start_run
from streaming.contracts import PRODUCT_REVIEW, SHOPPER_EVENT, SOCIAL_POST, TRANSACTION
from streaming.raw_ingest import QUERIES, RawIngest
from streaming.sinks import BatchResult

SALES_QUERY = "sales_aggregation"
INTERACTIONS_QUERY = "interactions"
SCORING_QUERIES = {"review_scoring": PRODUCT_REVIEW, "post_scoring": SOCIAL_POST}
QUERY_CONTRACTS = {**QUERIES, SALES_QUERY: TRANSACTION, INTERACTIONS_QUERY: SHOPPER_EVENT, **SCORING_QUERIES}
DURATION = re.compile(r"\s*(\d+)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)\s*")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# the exception line of a ledger check in a batch, not the traceback's `raise ...(`
LEDGER = re.compile(r"LedgerMismatch: (.+)")
# Spark's Kafka connector with failOnDataLoss: "Some data may have been lost ... Reason: <what>", then the
# JVM stack or the error's SQLSTATE
KAFKA_DATA_LOSS = re.compile(r"Some data may have been lost because.*?Reason:\s*(.+?)\s*(?:\n\s+at |SQLSTATE|$)", re.S)
KAFKA_HINT = "start the stack with `make up`, or check RP_KAFKA_BOOTSTRAP"
# an exception line of a Python traceback or a JVM "Caused by:" chain; the last one is the root cause
CAUSE = re.compile(r"^(?:Caused by: )?((?:[\w$]+\.)*[\w$]*(?:Exception|Error)\b(?:\{[^}]*\})?: \S[^\n]*)", re.M)


def parse_duration(text: str) -> int | None:
    """'10s', '2 minutes', '3d' -> seconds; None if not a duration."""
    match = DURATION.fullmatch(text)
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)[0]] if match else None


def duration(text: str) -> timedelta:
    """An argparse type: '3d', '12h', '30m' -> timedelta."""
    seconds = parse_duration(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration such as 3d, 12h or 30m")
    return timedelta(seconds=seconds)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.ingest.stream", __doc__)
    parser.add_argument("query", choices=sorted(QUERY_CONTRACTS), help="which stream query to run")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--available-now",
        action="store_true",
        default=True,
        help="process everything available at start, in micro-batches, then stop (default)",
    )
    mode.add_argument(
        "--trigger", metavar="INTERVAL", help="run continuously with a processing-time trigger, e.g. 10s or 1 minute"
    )
    parser.add_argument("--max-rows-per-trigger", type=int, help="records per micro-batch (default from settings)")
    parser.add_argument("--checkpoint", help="checkpoint folder (default <checkpoint_root>/<query>)")
    parser.add_argument(
        "--no-fail-on-data-loss",
        dest="fail_on_data_loss",
        action="store_false",
        help="if the topic lost data the checkpoint already passed, resume from what it holds",
    )
    parser.add_argument("--topic", help="read this topic instead of the contract's configured one")
    parser.add_argument(
        "--name",
        help="query name, the key of its batches in stream_batches and its checkpoint folder"
        " (default: QUERY, or QUERY-TOPIC with --topic)",
    )
    parser.add_argument(
        "--lateness",
        type=duration,
        default="3d",
        help="sales_aggregation: allowed event-time lateness, e.g. 3d or 12h (default 3d)",
    )
    parser.add_argument(
        "--max-future-skew",
        type=duration,
        default="1d",
        help="event times later than the batch's time by more than this are out_of_range (default 1d)",
    )
    parser.add_argument("--no-mlflow", dest="mlflow", action="store_false", help="do not log the run to MLflow")
    parser.add_argument(
        "--no-product-scoring",
        dest="product_scoring",
        action="store_false",
        help="review_scoring: do not re-score the products whose reviews changed (default: re-score"
        " them with the risk and sales-volume champions, when there are any)",
    )
    args = parser.parse_args(argv)
    if args.trigger:
        seconds = parse_duration(args.trigger)
        if not seconds:
            parser.error(f"--trigger {args.trigger!r}: expected an interval such as 10s or 2 minutes")
        args.trigger = f"{seconds} seconds"
    if args.max_rows_per_trigger is not None and args.max_rows_per_trigger < 1:
        parser.error("--max-rows-per-trigger must be at least 1")
    return args


class Progress:
    def __init__(self, log_metrics=None):
        self.totals = {
            "batches": 0,
            "rows_in": 0,
            "rows_written": 0,
            "rows_quarantined": 0,
            "late_rows": 0,
            "replayed_batches": 0,
        }
        self.log_metrics = log_metrics
        self.started = time.time()

    def __call__(self, r: BatchResult) -> None:
        self.totals["batches"] += 1
        self.totals["replayed_batches"] += r.replayed
        if not r.replayed:
            self.totals["rows_in"] += r.rows_in
            self.totals["rows_written"] += r.rows_written
            self.totals["rows_quarantined"] += r.rows_quarantined
            self.totals["late_rows"] += r.late_rows
        note = " (replayed: already committed, skipped)" if r.replayed else ""
        print(
            f"batch {r.batch_id}: {r.rows_in:,} in, {r.rows_written:,} written, {r.rows_quarantined:,} quarantined"
            f" ({r.late_rows:,} late),"
            f" {r.duration_ms / 1000:.1f}s{note}",
            flush=True,
        )
        if self.log_metrics:
            self.log_metrics(
                {
                    "batch_rows_in": r.rows_in,
                    "batch_rows_written": r.rows_written,
                    "batch_rows_quarantined": r.rows_quarantined,
                    "batch_late_rows": r.late_rows,
                    "batch_duration_ms": r.duration_ms,
                },
                step=r.batch_id,
            )

    def summary(self) -> dict:
        elapsed = time.time() - self.started
        return {
            **self.totals,
            "elapsed_s": round(elapsed, 2),
            "rows_per_s": round(self.totals["rows_in"] / elapsed, 1) if elapsed else 0.0,
        }


def data_loss_message(topic: str, error: str) -> str | None:
    """One line for the operator when the connector stopped the query on lost data, else None."""
    match = KAFKA_DATA_LOSS.search(error)
    if not match:
        return None
    reason = " ".join(match.group(1).split()).split(" with consumer group ")[0].rstrip(".")
    return (
        f"topic {topic!r} no longer holds records this query has not processed yet ({reason}): the topic was"
        " deleted and recreated, or its records were deleted (retention, kafka-delete-records). To resume from what"
        " the topic holds now, rerun with --no-fail-on-data-loss (option failOnDataLoss=false); to reprocess from"
        " scratch, delete the query's checkpoint folder and its rows in stream_batches, or run it under a new name."
    )


def root_cause(error: str) -> str:
    """The innermost exception line of a failed query's message (one line, at most 300 characters)."""
    causes = CAUSE.findall(error)
    return (causes[-1] if causes else error.strip().split("\n", 1)[0])[:300]


def checkpoint_mismatch(checkpoint: Path, topic: str) -> str | None:
    """Why a checkpoint cannot be used for ``topic``: it holds another topic's offsets."""
    from streaming.spark import checkpoint_topics

    other = checkpoint_topics(checkpoint) - {topic}
    if not other:
        return None
    return (
        f"the checkpoint {checkpoint} holds offsets of topic {', '.join(sorted(other))}, not {topic!r}: a query name"
        " and its checkpoint belong to one topic; run this topic under its own --name (or --checkpoint)"
    )


def orphaned_ledger(settings, name: str, checkpoint: Path) -> str | None:
    """Why starting would lose data, if the query has committed batches but its checkpoint is gone.

    Without the checkpoint Spark numbers batches from 0 again; the ledger would take them for
    replays of committed batches and skip them."""
    if (checkpoint / "offsets").is_dir():
        return None
    committed = query(settings, "SELECT COUNT(*) FROM stream_batches WHERE query_name = %s", (name,))[0][0]
    if not committed:
        return None
    return (
        f"query {name} has {committed} committed batch(es) in stream_batches but no checkpoint at {checkpoint}; "
        "starting over would skip new batches as replays. Restore the checkpoint, or run under a new --name "
        "(raw queries upsert idempotently; for sales_aggregation also empty daily_sales and "
        "sales_counted_events first), or delete the query's rows in stream_batches."
    )


def product_scoring(settings, spark, args: argparse.Namespace, name: str):
    """review_scoring's re-scoring of changed products (jobs.products.score_products.ItemScoring), or None."""
    if args.query != "review_scoring" or not args.product_scoring:
        return None
    from streaming.products.item_scoring import ItemScoring, current_champions

    champions = current_champions(settings, log=lambda line: None)
    if not champions:
        print("no risk or sales-volume champion yet: products are scored by the daily model_monitoring DAG only")
        return None
    print(f"products with new reviews are re-scored after each batch ({', '.join(champions)})", flush=True)
    return ItemScoring(settings, spark, champions, name)


def run(args: argparse.Namespace) -> int:
    from pyspark.errors import StreamingQueryException

    from streaming.sales.aggregation import SalesAggregation
    from streaming.spark import get_spark, read_topic
    from streaming.topics import broker_reachable
    from streaming.validate import validate_events

    settings = load_settings()
    sales = args.query == SALES_QUERY
    contract = QUERY_CONTRACTS[args.query]
    configured = settings.topics[contract.topic]
    topic = args.topic or configured
    # a query name owns one checkpoint and one ledger, so another topic gets a name of its own
    name = args.name or (args.query if topic == configured else f"{args.query}-{topic}")
    if not broker_reachable(settings.kafka_bootstrap):
        return fail(f"no Kafka broker answers at {settings.kafka_bootstrap}; {KAFKA_HINT}", 4)
    checkpoint = Path(args.checkpoint or Path(settings.checkpoint_root) / name)
    max_rows = args.max_rows_per_trigger or settings.max_rows_per_trigger
    refused = checkpoint_mismatch(checkpoint, topic) or orphaned_ledger(settings, name, checkpoint)
    if refused:
        return fail(refused, 3)
    scorer = None
    if args.query in SCORING_QUERIES:  # the model first: without one there is nothing to run
        from common.registry import NoChampion
        from streaming.reviews.review_scoring import Scorer

        try:
            scorer = Scorer(settings)
        except NoChampion as exc:
            return fail(str(exc), 2)
    if args.query == INTERACTIONS_QUERY:
        from models.recommendations.recommender import DataError, parse_weights

        try:
            parse_weights(settings.interaction_weights)
        except DataError as exc:
            return fail(f"RP_INTERACTION_WEIGHTS: {exc}", 2)
    mlflow_run = None
    if args.mlflow:
        import mlflow

        mlflow_run = start_run(settings, "streaming", name, tags={"query": args.query})
        mlflow.log_params(
            {
                "query": args.query,
                "name": name,
                "topic": topic,
                "trigger": args.trigger or "availableNow",
                "max_rows_per_trigger": max_rows,
                "checkpoint": str(checkpoint),
                "lateness_s": int(args.lateness.total_seconds()),
                "max_future_skew_s": int(args.max_future_skew.total_seconds()),
            }
        )
    progress = Progress(mlflow.log_metrics if mlflow_run else None)
    spark = get_spark(settings, f"stream-{args.query}")
    # a failed query is reported by this job in one line (below); not again as a JVM stack trace, nor as
    # the connector's warnings with stack traces while it retries a broker that has gone
    log4j = spark._jvm.org.apache.logging.log4j
    for logger in (
        "org.apache.spark.sql.execution.streaming",
        "org.apache.spark.executor.Executor",
        "org.apache.spark.scheduler.TaskSetManager",
    ):
        log4j.core.config.Configurator.setLevel(logger, log4j.Level.OFF)
    log4j.core.config.Configurator.setLevel("org.apache.spark.sql.kafka010", log4j.Level.ERROR)
    if sales:
        handler = SalesAggregation(settings, args.lateness, on_batch=progress, query_name=name)
    elif scorer is not None:
        from streaming.reviews.review_scoring import ReviewScoring

        handler = ReviewScoring(
            settings,
            contract,
            scorer,
            on_batch=progress,
            query_name=name,
            after_commit=product_scoring(settings, spark, args, name),
        )
    elif args.query == INTERACTIONS_QUERY:
        from streaming.recommendations.interactions import Interactions

        handler = Interactions(settings, on_batch=progress, query_name=name)
    else:
        handler = RawIngest(settings, contract, on_batch=progress, query_name=name)
    source = read_topic(spark, settings, topic, max_rows, args.fail_on_data_loss)
    writer = (
        validate_events(source, contract, args.max_future_skew)
        .writeStream.queryName(name)
        .foreachBatch(handler)
        .option("checkpointLocation", str(checkpoint))
    )
    writer = writer.trigger(processingTime=args.trigger) if args.trigger else writer.trigger(availableNow=True)
    print(f"{name}: reading {topic} from {settings.kafka_bootstrap}, checkpoint {checkpoint}", flush=True)
    query = writer.start()
    signal.signal(signal.SIGTERM, lambda *_: query.stop())
    code = 0
    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        query.stop()
    except StreamingQueryException as exc:
        message = str(exc)
        data_loss, ledger = data_loss_message(topic, message), LEDGER.search(message)
        mysql_down = MYSQL_DOWN.search(message)
        if data_loss or ledger:
            code = fail(data_loss or ledger.group(1), 3)
        elif mysql_down:
            code = fail(f"cannot reach MySQL: {mysql_down.group(1)}; {MYSQL_HINT}", 4)
        elif not broker_reachable(settings.kafka_bootstrap):
            lost = f"lost the Kafka broker at {settings.kafka_bootstrap} while reading {topic} ({root_cause(message)})"
            code = fail(f"{lost}; {KAFKA_HINT}", 4)
        else:
            raise
    finally:
        handler.close()
    summary = progress.summary()
    print(
        f"{name}: {summary['batches']} batch(es), {summary['rows_in']:,} rows in, "
        f"{summary['rows_written']:,} written, {summary['rows_quarantined']:,} quarantined "
        f"({summary['late_rows']:,} late), "
        f"{summary['elapsed_s']}s ({summary['rows_per_s']:,} rows/s)"
    )
    if not code:  # how far behind the topic this run left the query (stream_lag; the DAGs' lag gate)
        from streaming.lag import measure_and_record

        (lag,) = measure_and_record(settings, {name: topic})
        print(lag.line())
        summary["unread_after_run"] = lag.lag
    if mlflow_run:
        mlflow.log_metrics({k: float(v) for k, v in summary.items()})
        mlflow.end_run("FAILED" if code else "FINISHED")
        print(f"MLflow run: {run_url(settings, mlflow_run)}")
    return code


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
