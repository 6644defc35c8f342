"""SparkSession and stream-reader wiring shared by the stream jobs and the tests.

Spark reads Kafka through its own connector (``format("kafka")``, spark-sql-kafka-0-10 at exactly
the pyspark version). ``make setup`` fetches the connector and the few jars it needs into
``RP_SPARK_JARS_DIR`` (jvm/pom.xml); every session passes them with ``spark.jars``, which also ships
them to the executors of a Spark cluster. Nothing is downloaded when a job starts.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from common.cli import SetupMissing
from common.settings import Settings

CONNECTOR = "spark-sql-kafka-0-10_2.13"
KAFKA_TIMEOUT_MS = 15_000  # a broker that does not answer fails the query in seconds, not minutes


def connector_jars(settings: Settings) -> list[str]:
    """The jars of Spark's Kafka connector for the installed pyspark (SetupMissing if absent)."""
    import pyspark

    folder = Path(settings.spark_jars_dir)
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    wanted = f"{CONNECTOR}-{pyspark.__version__}.jar"
    if not any(Path(j).name == wanted for j in jars):
        raise SetupMissing(
            f"Spark's Kafka connector {wanted} (pyspark {pyspark.__version__}) is not in {folder}: run `make setup`"
            " (it fetches jvm/pom.xml's spark-kafka profile from Maven Central), or set RP_SPARK_JARS_DIR"
        )
    return jars


def get_spark(settings: Settings, app_name: str = "retail_pulse"):
    """One SparkSession configured from settings, with Spark's Kafka connector on its classpath."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.appName(app_name)
        .master(settings.spark_master)
        .config("spark.jars", ",".join(connector_jars(settings)))
        .config("spark.sql.shuffle.partitions", settings.spark_shuffle_partitions)
        .config("spark.default.parallelism", settings.spark_shuffle_partitions)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.variant.allowDuplicateKeys", "true")  # the last key wins, as in Python's json
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        .config("spark.python.worker.reuse", "true")
        .config("spark.executorEnv.OMP_NUM_THREADS", "1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    return spark


def kafka_options(settings: Settings, topic: str) -> dict[str, str]:
    """The connector's options for one topic from its earliest offset, with client timeouts short
    enough that a broker that does not answer fails the read in seconds (streams and batch reads)."""
    return {
        "kafka.bootstrap.servers": settings.kafka_bootstrap,
        "subscribe": topic,
        "startingOffsets": "earliest",
        "kafka.request.timeout.ms": str(KAFKA_TIMEOUT_MS),
        "kafka.default.api.timeout.ms": str(KAFKA_TIMEOUT_MS),
        "fetchOffset.numRetries": "2",
        "kafkaConsumer.pollTimeoutMs": str(4 * KAFKA_TIMEOUT_MS),
    }


def read_topic(spark, settings: Settings, topic: str, max_rows: int | None = None, fail_on_data_loss: bool = True):
    """readStream over one topic with Spark's Kafka connector: a new query starts at the earliest
    offset; ``failOnDataLoss`` stops the query when records it has not processed are gone."""
    reader = (
        spark.readStream.format("kafka")
        .options(**kafka_options(settings, topic))
        .option("failOnDataLoss", str(fail_on_data_loss).lower())
    )
    if max_rows:
        reader = reader.option("maxOffsetsPerTrigger", str(max_rows))
    return reader.load()


def checkpoint_topics(checkpoint: Path) -> set[str]:
    """The topics in the newest entry of a Spark checkpoint's offset log (an empty set without one).

    An entry is ``v1``, a line of batch metadata, then one line per source; the Kafka source's is
    ``{"<topic>": {"<partition>": next_offset}}``."""
    entries = [p for p in (Path(checkpoint) / "offsets").glob("*") if p.name.isdigit()]
    if not entries:
        return set()
    lines = max(entries, key=lambda p: int(p.name)).read_text().splitlines()
    return {topic for line in lines[2:] if line.startswith("{") for topic in json.loads(line)}
