"""Product models on the real services, through the jobs a DAG runs: facts -> snapshots -> train
(register, promote) -> load by alias -> score with reasons (MySQL + review_risk) -> drift check,
which asks for no retrain on unshifted facts and for one after a deliberate price/volume shift."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import mlflow
import numpy as np
import pandas as pd
import pytest

from common.db import query
from tests.product_facts import ITEMS, STORES, facts, insert
from tests.support import run_job

pytestmark = pytest.mark.integration
D = datetime.now(UTC).date() - timedelta(days=30)


def test_train_score_explain_and_monitor(private_db, topic, monkeypatch, spark):
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setenv("RP_RISK_MODEL", f"rp_test_risk_{suffix}")
    monkeypatch.setenv("RP_VOLUME_MODEL", f"rp_test_volume_{suffix}")
    monkeypatch.setenv("RP_TOPIC_REVIEW_RISK", topic)
    from common.settings import load_settings

    settings = load_settings()
    insert(settings, *facts(D - timedelta(days=160), 160))

    trained = run_job("products", "train", "--as-of", str(D)).stdout
    for name in (settings.risk_model, settings.volume_model):
        assert f"{name} version 1: PROMOTED to @champion" in trained, trained
    decisions = query(settings, "SELECT model_name, promoted, challenger_value, baseline_value FROM model_decisions")
    assert len(decisions) == 2 and all(promoted == 1 for _, promoted, _, _ in decisions)

    run_job("products", "score", "--as-of", str(D), "--run-id", "it-1")
    run_job("products", "score", "--as-of", str(D), "--run-id", "it-2")  # same version and day: replaced
    rows = query(settings, "SELECT kind, COUNT(*), MAX(run_id) FROM product_predictions GROUP BY kind ORDER BY kind")
    assert rows == [("risk", ITEMS * STORES, "it-2"), ("volume", ITEMS * STORES, "it-2")]
    stored = pd.DataFrame(
        query(
            settings,
            "SELECT store_id, item_id, prediction, top_features, reason FROM product_predictions"
            " WHERE kind = 'risk' ORDER BY store_id, item_id",
        ),
        columns=["store_id", "item_id", "prediction", "top_features", "reason"],
    )
    assert all(len(json.loads(t)) == 3 for t in stored["top_features"]) and stored["reason"].str.len().gt(0).all()
    assert stored["reason"].str.startswith(("risk up:", "down:")).all()
    view = query(
        settings,
        "SELECT COUNT(*), COUNT(expected_units_28), MIN(units_lower_80 <= expected_units_28) FROM v_product_risk",
    )[0]
    assert view == (ITEMS * STORES, ITEMS * STORES, 1)

    # a service loads the champion by alias, without Spark, and gets the same predictions
    from streaming.products.feature_store import stored_snapshots

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    served = mlflow.pyfunc.load_model(f"models:/{settings.risk_model}@champion")
    snapshot = stored_snapshots(settings, [D])
    predicted = served.predict(snapshot)
    assert np.allclose(predicted["prediction"].to_numpy(), stored["prediction"].to_numpy())

    messages = [json.loads(line) for line in run_job("tools", "consume", topic).stdout.splitlines()]
    latest = [m for m in messages if m["value"]["run_id"] == "it-2"]
    assert len(latest) == ITEMS * STORES and {"reason", "top_features", "risk"} <= set(latest[0]["value"])

    # unshifted facts: no drift, no decay, no retrain
    run_job("products", "drift", "--as-of", str(D))
    checks = query(settings, "SELECT retrain, reason FROM drift_checks WHERE current_as_of = %s", (D,))
    assert checks == [(0, "no feature or prediction drift, no decay")] * 2, checks
    assert "no challenger trained" in run_job("products", "train", "--if-needed", "--as-of", str(D), ok=(99,)).stdout

    # two weeks of shifted prices and volumes: drift, a retrained challenger, a recorded decision
    later = D + timedelta(days=14)
    insert(settings, *facts(D, 14, shifted=True))
    run_job("products", "drift", "--as-of", str(later))
    checks = dict(
        query(
            settings, "SELECT model_name, reason FROM drift_checks WHERE current_as_of = %s AND retrain = 1", (later,)
        )
    )
    assert set(checks) == {settings.risk_model, settings.volume_model} and "price_28" in checks[settings.volume_model]
    drifted = query(
        settings,
        "SELECT feature FROM model_drift WHERE current_as_of = %s AND drift = 1 AND psi_flag = 1 AND model_name = %s",
        (later, settings.volume_model),
    )
    assert {"units_7", "price_28"} <= {f for (f,) in drifted}
    run_job("products", "train", "--if-needed", "--as-of", str(later))
    versions = query(
        settings, "SELECT model_name, model_version, reason FROM model_decisions WHERE model_version = '2'"
    )
    assert len(versions) == 2 and all("drifted" in reason for _, _, reason in versions)

    # review_scoring's follow-up: a product with new reviews is re-scored as of tomorrow (every fact so far)
    from streaming.products.item_scoring import ItemScoring, current_champions

    scoring = ItemScoring(settings, spark, current_champions(settings), "it")
    scoring([7])
    scoring.close()
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    rows = query(
        settings,
        "SELECT kind, COUNT(*), MIN(item_id), MAX(item_id) FROM product_predictions"
        " WHERE run_id = 'stream-it' AND as_of = %s GROUP BY kind ORDER BY kind",
        (tomorrow,),
    )
    assert rows == [("risk", STORES, 7, 7), ("volume", STORES, 7, 7)]
