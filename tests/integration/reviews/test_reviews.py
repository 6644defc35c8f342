"""The review path on the local stack: train -> register (@champion) -> score the stream with
malformed records -> MySQL + result topics, exactly once -> retrain from the stored labels, with
every promotion decision recorded."""

import json
import re
import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest

from common.catalogue import catalogue
from common.cli import stream_arguments
from common.db import query
from common.registry import champion
from common.settings import load_settings
from models.reviews import sentiment as S
from models.reviews.sentiment_serving import load_champion
from streaming.contracts import PRODUCT_REVIEW
from streaming.producer import produce
from streaming.reviews.review_sources import generated_reviews
from tests.support import run_job

pytestmark = pytest.mark.integration


def messages(settings, topic):
    out = run_job("tools", "consume", topic, ok=None, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_reviews_are_scored_once_and_a_retrain_is_decided(private_db, topic, tmp_path, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("RP_SENTIMENT_MODEL", f"rp_test_sentiment_{tag}")
    monkeypatch.setenv("RP_SENTIMENT_FALLBACK_MODEL", f"rp_test_sentiment_lexicon_{tag}")
    monkeypatch.setenv("RP_SIMILAR_MODEL", f"rp_test_similar_{tag}")
    for key in ("review_sentiment", "ner_results", "dead_letter"):
        monkeypatch.setenv(f"RP_TOPIC_{key.upper()}", f"{topic}_{key}")
    settings = load_settings()

    # no champion yet: the scoring job refuses with one line
    refused = run_job(
        *stream_arguments("review_scoring", topic, "review_scoring", tmp_path / "ckpt"), ok=None, timeout=300
    )
    assert refused.returncode == 2 and f"no {settings.sentiment_model}@champion" in refused.stderr

    out = run_job("reviews", "train").stdout
    assert "PROMOTED to @champion" in out and "vader_amazon" in out and "robustness" in out
    model, version = load_champion(settings, settings.sentiment_model, "")
    assert version == f"{settings.sentiment_model}/1"
    # e5 and the lexicon model competed on the validation slice; an e5 champion has the lexicon beside it
    assert "validation: e5 C=" in out and "validation: lexicon C=" in out
    chosen = re.search(r"^chosen: (\w+)", out, re.M).group(1)
    assert "validation: blend lexicon share" in out and S.kind_of(model) == chosen
    encoder = S.encoder_of(model)
    assert (champion(settings, settings.sentiment_fallback_model) is not None) == (encoder == "e5")
    assert list(model.predict(["I love this, works great", "awful, it broke and I want a refund"])) == [
        "positive",
        "negative",
    ]

    # a service loads it the standard way and gets one answer per row, in any column order
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    served = mlflow.pyfunc.load_model(f"models:/{settings.sentiment_model}@champion")
    texts = ["awful, it broke and I want a refund", "I love this, works great", "awful, broke, hate it"]
    answer = served.predict(pd.DataFrame({"stars": [1, 5, 1], "text": texts}))
    assert list(answer["label"]) == ["negative", "positive", "negative"]
    assert set(answer["model_version"]) == {f"{settings.sentiment_model}/1"}
    assert np.allclose(answer[["p_negative", "p_neutral", "p_positive"]].sum(axis=1), 1, atol=1e-3)

    reviews = list(generated_reviews(catalogue(), seed=4, since=date(2025, 6, 1), days=10, per_day=40))
    sent = produce(
        settings.kafka_bootstrap, topic, PRODUCT_REVIEW, reviews, malformed_fraction=0.05, seed=2, progress=False
    )
    for _ in range(2):  # the second run finds nothing new: nothing doubled
        run = run_job(
            *stream_arguments("review_scoring", topic, "review_scoring", tmp_path / "ckpt"), ok=None, timeout=300
        )
        assert run.returncode == 0, run.stderr[-3000:]

    scored = query(settings, "SELECT COUNT(*), COUNT(DISTINCT model_version) FROM review_sentiment")[0]
    quarantined = query(settings, "SELECT COUNT(*) FROM quarantined_events", role="writer")[0][0]
    raw = query(settings, "SELECT COUNT(*) FROM raw_product_reviews WHERE store_id IS NOT NULL")[0][0]
    assert quarantined == sent.malformed > 0
    assert scored == (len(reviews) - sent.malformed, 1) and raw == scored[0]
    agree = query(settings, "SELECT AVG(sentiment = given_label) FROM review_sentiment")[0][0]
    assert agree > 0.6  # the generator's star ratings and the model mostly agree
    entities = dict(query(settings, "SELECT entity_label, COUNT(*) FROM review_entities GROUP BY entity_label"))
    assert entities.get("PRODUCT", 0) > 50 and entities.get("STORE", 0) > 20

    results = messages(settings, settings.topic_review_sentiment)
    assert len({(m["value"]["doc_type"], m["value"]["doc_id"]) for m in results}) == scored[0]
    assert {m["key"] for m in results} <= {str(p.item_id) for p in catalogue().products}
    ner = messages(settings, settings.topic_ner_results)
    assert len({m["key"] for m in ner}) == scored[0]
    assert len(messages(settings, settings.topic_dead_letter)) >= sent.malformed

    # the similar-reviews index: built from what was stored, registered, answered from; a rebuild with
    # nothing new registers nothing
    assert run_job("reviews", "similar", "broke", ok=(1,)).returncode == 1  # no index yet
    kind = "e5" if encoder == "e5" else "tfidf"
    assert f"documents with {kind}" in run_job("reviews", "index").stdout
    assert "already covers" in run_job("reviews", "index").stdout
    assert champion(settings, settings.similar_model).version == "1"
    text = query(settings, "SELECT text FROM review_sentiment WHERE sentiment = 'negative' LIMIT 1")[0][0]
    found = [json.loads(line) for line in run_job("reviews", "similar", text, "--json").stdout.splitlines()]
    assert len(found) == 5 and found[0]["text"] == text and found[0]["similarity"] > 0.99

    out = run_job("reviews", "train", "--new-data", "db").stdout
    assert f"new labelled data: {scored[0]:,} rows" in out
    decisions = query(
        settings,
        "SELECT model_version, promoted, reason FROM model_decisions WHERE model_name = %s ORDER BY model_version",
        (settings.sentiment_model,),
    )
    assert [d[0] for d in decisions] == ["1", "2"] and decisions[0][1] == 1
    assert champion(settings, settings.sentiment_model).version == ("2" if decisions[1][1] else "1")
    assert ("PROMOTED" in out) == bool(decisions[1][1]) and decisions[1][2] in out


def test_the_entity_ruler_follows_the_master_data_loaded_from_csv(private_db, tmp_path):
    from pathlib import Path

    from streaming.reviews.review_scoring import MasterDataTagger

    own = Path(__file__).resolve().parents[2] / "fixtures" / "own_data"
    tagger = MasterDataTagger(private_db)
    text = "The Zephyr Espresso Grinder I got at the Harbour store beats my old Northwind Desk Lamp"
    [before] = tagger.tag([text])  # nothing loaded: the demo catalogue's names
    assert [e.entity_id for e in before] == ["item:1"]  # the demo's Northwind Desk Lamp; no Zephyr, no Harbour
    run_job("ingest", "catalogue", "csv", "--products", own / "products.csv", "--stores", own / "stores.csv")
    [after] = tagger.tag([text])
    assert [(e.label, e.entity_id) for e in after] == [("PRODUCT", "item:101"), ("STORE", "store:21")]

    more = tmp_path / "products.csv"
    more.write_text("item_id,product_name,brand,category\n105,Northwind Desk Lamp,Northwind,Home\n")
    run_job("ingest", "catalogue", "csv", "--products", more)  # a change: the ruler is rebuilt before the next batch
    [again] = tagger.tag([text])
    assert [e.entity_id for e in again] == ["item:101", "store:21", "item:105"]
