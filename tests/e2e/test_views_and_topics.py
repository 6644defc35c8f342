"""What an analyst and a consuming service find once every DAG has run (this module runs after the
DAG modules: pytest takes the files in name order): every Power BI view returns rows to the
read-only account, the dimensions name and cover the facts, and every result topic the service developer's guide
documents holds messages that Debian's kcat and a confluent-kafka consumer group both read, every one."""

import json
import re
import subprocess
import time

import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

from common.db import query
from common.results import RESULTS
from common.settings import Settings
from streaming.topics import end_offsets
from tests.e2e.conftest import REPO
from tests.support import run_job

pytestmark = pytest.mark.e2e
RAW_TOPICS = {"transactions", "reviews", "social", "shopper_events"}
# test_risk_monitoring replaces the scored documents with its own facts, so no entity found by the
# review DAG joins a document any more; test_review_pipeline checks this view right after its DAG
EMPTIED_BY_AN_EARLIER_MODULE = {"v_entity_mentions"}


def documented_topics() -> list[str]:
    """The topics of the service developer's guide: each result bullet, and the dead letters."""
    text = (REPO / "docs" / "service-developer.md").read_text()
    start = text.index("## Developer consuming topics")
    section = text[start : text.index("\n## ", start + 1)]
    return re.findall(r"^\* \*\*`(\w+)`\*\*", section, flags=re.M)


def kcat_messages(bootstrap: str, topic: str) -> list[tuple[int, int, str]]:
    """(partition, offset, value) of every message of ``topic``, read with Debian's kcat as a service developer
    would (a JSON value has no raw line break)."""
    out = subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p %o %s\\n"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [(int(p), int(o), value) for p, o, value in (line.split(" ", 2) for line in out.stdout.splitlines())]


def group_positions(bootstrap: str, topic: str, group: str, expected: int) -> list[tuple[int, int]]:
    """The same, read by a confluent-kafka consumer group (subscribe, commit), as a consuming service would."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen, deadline = [], time.monotonic() + 120
    while len(seen) < expected and time.monotonic() < deadline:
        seen += [(m.partition(), m.offset()) for m in consumer.consume(10_000, timeout=1.0) if m.error() is None]
    consumer.commit(asynchronous=False)
    consumer.close()
    return seen


def test_every_documented_result_topic_holds_every_message_for_standard_clients(operator_stack):
    settings = operator_stack
    documented = documented_topics()
    assert documented == list(RESULTS), "docs/service-developer.md lists the result schemas of common/results.py"
    by_default_name = {name: key for key, name in Settings().topics.items()}
    assert set(documented) <= set(by_default_name), "the guide names a topic the code does not have"
    results = {key for key in by_default_name.values() if key not in RAW_TOPICS}
    assert {by_default_name[name] for name in documented} == results  # and documents every result topic
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        published = {
            name: {
                (p, o)
                for p, end in end_offsets(consumer, settings.topics[by_default_name[name]]).items()
                for o in range(end)
            }
            for name in documented
        }
    finally:
        consumer.close()
    assert all(published.values()), {name: len(messages) for name, messages in published.items()}
    for name, messages in published.items():
        topic = settings.topics[by_default_name[name]]
        by_kcat = kcat_messages(settings.kafka_bootstrap, topic)
        assert sorted((p, o) for p, o, _ in by_kcat) == sorted(messages), (name, len(by_kcat), len(messages))
        # every message has exactly the documented fields and kinds (common/results.py)
        problems = {p for _, _, value in by_kcat for p in RESULTS[name].problems(json.loads(value))}
        assert not problems, (name, sorted(problems)[:5])
        by_group = group_positions(settings.kafka_bootstrap, topic, f"e2e-{topic}", len(messages))
        assert sorted(by_group) == sorted(messages), (name, len(by_group), len(messages))
        # the group committed where it stopped: lag tools (kafka-consumer-groups --describe) show lag 0
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        committed = admin.list_consumer_group_offsets(f"e2e-{topic}")
        admin.close()
        ends = {p: max(o for q, o in messages if q == p) + 1 for p, _ in messages}
        assert {tp.partition: meta.offset for tp, meta in committed.items()} == ends, name


def test_every_power_bi_view_returns_rows_to_the_read_only_account(operator_stack):
    settings = operator_stack
    run_job("ingest", "catalogue", "demo")  # as `make demo` does: names for the product and store dimensions
    views = [
        name
        for (name,) in query(
            settings,
            "SELECT table_name FROM information_schema.tables WHERE"
            " table_schema = %s AND table_type = 'VIEW' ORDER BY 1",
            (settings.mysql_database,),
            role="admin",
        )
    ]
    assert len(views) >= 15
    counts = {view: query(settings, f"SELECT COUNT(*) FROM {view}", role="reader")[0][0] for view in views}
    assert [v for v, n in counts.items() if n == 0 and v not in EMPTIED_BY_AN_EARLIER_MODULE] == [], counts

    # every product and store of a fact has a dimension row; catalogue items are named
    for fact, key, dimension in (
        ("v_daily_sales", "item_id", "v_dim_product"),
        ("v_product_risk", "item_id", "v_dim_product"),
        ("v_recommendations", "item_id", "v_dim_product"),
        ("v_daily_sales", "store_id", "v_dim_store"),
    ):
        orphans = query(
            settings,
            f"SELECT COUNT(*) FROM {fact} f LEFT JOIN {dimension} d ON d.{key} = f.{key} WHERE d.{key} IS NULL",
            role="reader",
        )[0][0]
        assert orphans == 0, (fact, key)
    named = query(settings, "SELECT product_name FROM v_dim_product WHERE item_id = 1", role="reader")
    assert named and not named[0][0].startswith("item "), named
    uncovered = query(
        settings,
        "SELECT COUNT(*) FROM v_daily_sales s LEFT JOIN v_dim_date d ON d.date_key ="
        " s.sale_date WHERE d.date_key IS NULL",
        role="reader",
    )[0][0]
    assert uncovered == 0
