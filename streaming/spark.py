"""SparkSession and stream-reader wiring shared by the stream jobs and the tests."""

from __future__ import annotations

import os
import sys

from common.settings import Settings


def get_spark(settings: Settings, app_name: str = "retail_pulse"):
    """One SparkSession configured from settings, with the project's Kafka source registered."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.appName(app_name)
        .master(settings.spark_master)
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
    if settings.kafka_source_format != "kafka":
        from streaming.kafka_source import RetailKafkaSource

        spark.dataSource.register(RetailKafkaSource)
    return spark


def read_topic(spark, settings: Settings, topic: str, max_rows: int | None = None, fail_on_data_loss: bool = True):
    """readStream over one topic, through Spark's own Kafka source or the project's (same options)."""
    reader = (
        spark.readStream.format(settings.kafka_source_format)
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", str(fail_on_data_loss).lower())
    )
    if max_rows:
        reader = reader.option("maxOffsetsPerTrigger", str(max_rows))
    return reader.load()
