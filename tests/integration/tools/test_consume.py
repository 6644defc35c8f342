"""retail-pulse tools consume against the real broker: every message once, filters, clear errors."""

import json

import pytest

from jobs.tools import consume
from tests.integration.conftest import produce_transactions

pytestmark = pytest.mark.integration


def test_prints_each_message_once_as_json_then_stops(settings, topic, capsys):
    produce_transactions(settings, topic, 7, seed=2)
    assert consume.main([topic]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 7 and len({(m["partition"], m["offset"]) for m in lines}) == 7
    first = lines[0]
    assert first["key"] == f"{first['value']['store_id']}-{first['value']['item_id']}"

    assert consume.main([topic, "--key", first["key"]]) == 0
    keyed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert keyed and all(m["key"] == first["key"] for m in keyed)
    assert consume.main([topic, "--limit", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_unknown_topic_is_a_clear_error(settings, capsys):
    assert consume.main(["no_such_topic_here"]) == 2
    assert "no topic 'no_such_topic_here'" in capsys.readouterr().err
