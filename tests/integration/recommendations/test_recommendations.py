"""The recommendation path on the local stack: shopper events with malformed records -> the
interactions stream (each event counted once, replays included) -> train (candidates, the choice,
holdout vs both popularities, register, promote) -> load the champion -> top-N in MySQL and on the topic."""

import json
import uuid
from datetime import date

import mlflow
import pandas as pd
import pytest

from common.cli import stream_arguments
from common.db import query
from common.registry import champion, client
from common.settings import load_settings
from models.recommendations import recommender as R
from streaming.contracts import SHOPPER_EVENT
from streaming.producer import produce
from streaming.recommendations.event_sources import generated_funnel, shopper_events
from tests.support import run_job

pytestmark = pytest.mark.integration
SMALL_GRID = ("--ranks", "8", "--alphas", "1", "--max-iter", "5", "--windows", "7", "--blend-weights", "0.3")


def test_events_to_recommendations(private_db, topic, tmp_path, monkeypatch):
    monkeypatch.setenv("RP_RECOMMENDER_MODEL", f"rp_test_recommender_{uuid.uuid4().hex[:8]}")
    for key in ("recommendations", "dead_letter"):
        monkeypatch.setenv(f"RP_TOPIC_{key.upper()}", f"{topic}_{key}")
    settings = load_settings()
    frame = generated_funnel(seed=5, visitors=400, items=150, start=date(2025, 3, 1), days=40)
    records = list(shopper_events(frame, "ev-it"))
    sent = produce(
        settings.kafka_bootstrap, topic, SHOPPER_EVENT, records, malformed_fraction=0.02, seed=3, progress=False
    )
    stream = stream_arguments(
        "interactions", topic, "interactions", tmp_path / "ckpt", "--max-rows-per-trigger", "5000"
    )
    first = run_job(*stream, ok=None, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]

    # the first 2,000 events again (a producer replay, this time none broken): the ones stored are
    # not counted again, the ones that were malformed the first time are new
    stored_ids = {r[0] for r in query(settings, "SELECT event_id FROM raw_shopper_events")}
    new = sum(r["event_id"] not in stored_ids for r in records[:2000])
    produce(settings.kafka_bootstrap, topic, SHOPPER_EVENT, records[:2000], progress=False)
    again = run_job(*stream, ok=None, timeout=300)
    assert again.returncode == 0 and f"2,000 in, {new} written" in again.stdout, again.stdout + again.stderr[-2000:]

    # what the stream stored is what the pure function computes from the valid events
    stored = pd.DataFrame(
        query(settings, "SELECT visitor_id, item_id, views, carts, purchases, confidence FROM interactions"),
        columns=["visitor_id", "item_id", "views", "carts", "purchases", "confidence"],
    ).astype({"views": int, "carts": int, "purchases": int})
    valid_ids = {r[0] for r in query(settings, "SELECT event_id FROM raw_shopper_events")}
    assert len(valid_ids) == len(records) - sent.malformed + new
    kept = frame[[f"ev-it-{n:09d}" in valid_ids for n in range(len(frame))]]
    expected = R.interactions(kept)[stored.columns]
    key = ["visitor_id", "item_id"]
    pd.testing.assert_frame_equal(
        stored.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    quarantined = query(
        settings, "SELECT COUNT(*) FROM quarantined_events WHERE query_name = 'interactions'", role="writer"
    )[0][0]
    assert quarantined == sent.malformed > 0

    # no champion yet: every visitor gets the popular items it has not bought, flagged
    out = run_job("recommendations", "recommend", "--k", "5", "--run-id", "it-0", "--no-publish").stdout
    assert "every visitor gets the popular items" in out
    lists = query(settings, "SELECT COUNT(DISTINCT visitor_id), MIN(fallback), MIN(model_version) FROM recommendations")
    assert lists[0] == (stored["visitor_id"].nunique(), 1, "popularity")
    top = [r[0] for r in query(settings, "SELECT item_id FROM popular_items ORDER BY rank_no")]
    assert top == R.popular_items(expected)[:5].tolist()

    out = run_job("recommendations", "train", *SMALL_GRID).stdout
    assert "PROMOTED to @champion" in out and "holdout MAP@10: chosen" in out
    version = champion(settings, settings.recommender_model)
    assert version is not None and version.version == "1"
    evaluations = dict(query(settings, "SELECT method, map_at_k FROM recommender_evaluations"))
    assert set(evaluations) == {"chosen", "als", "popularity", "recent_popularity"}
    assert evaluations["chosen"] >= max(evaluations["popularity"], evaluations["recent_popularity"])
    (method,) = query(settings, "SELECT method_used FROM recommender_evaluations WHERE method = 'chosen'")[0]
    assert client(settings).get_run(version.run_id).data.tags["method"] == method.split()[0]

    model = mlflow.pyfunc.load_model(f"models:/{settings.recommender_model}@champion")
    bought = dict(query(settings, "SELECT visitor_id, MIN(item_id) FROM interactions WHERE purchases > 0 GROUP BY 1"))
    visitor, item = next(iter(bought.items()))
    lists = model.predict(pd.DataFrame({"visitor_id": [visitor, 10**9], "exclude": [[item], []]}), params={"k": 5})
    assert len(lists) == 10 and item not in lists[lists.visitor_id == visitor]["item_id"].tolist()
    assert lists[lists.visitor_id == 10**9]["fallback"].eq(1).all()

    run_job("recommendations", "recommend", "--k", "5", "--run-id", "it-1")
    run_job("recommendations", "recommend", "--k", "5", "--run-id", "it-2")  # a re-run replaces, never adds
    rows, visitors, runs = query(
        settings, "SELECT COUNT(*), COUNT(DISTINCT visitor_id), MAX(run_id) FROM recommendations"
    )[0]
    assert visitors == stored["visitor_id"].nunique() and rows == 5 * visitors and runs == "it-2"
    clashes = query(
        settings,
        "SELECT COUNT(*) FROM recommendations r JOIN interactions i"
        " ON i.visitor_id = r.visitor_id AND i.item_id = r.item_id AND i.purchases > 0",
    )[0][0]
    assert clashes == 0  # nothing a visitor already bought
    out = run_job("tools", "consume", settings.topic_recommendations, ok=None, timeout=120)
    messages = [json.loads(line) for line in out.stdout.splitlines()]
    assert len({m["key"] for m in messages}) == visitors + 1  # every visitor, and "popular"
    assert all(len(m["value"]["items"]) == 5 for m in messages)
