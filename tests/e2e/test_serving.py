"""`make serve` as a service developer uses it, after this session's DAG runs (the test files before this
one run review_analysis_pipeline, recommendation_pipeline and model_monitoring): every champion answers
POSTs of several rows through MLflow's own scoring server, bad input is a 400 with its reason, and the
README's curl examples answer."""

import csv
import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from common.db import query
from common.serving import SERVED
from common.settings import load_settings
from jobs.tools.stack import port_open
from tests.support import free_port, run_job

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"
OWN = Path(__file__).resolve().parents[1] / "fixtures" / "own_data"
DEFAULT_PORT = 5101


def five_free_ports() -> int:
    while True:
        base = free_port()
        if not any(port_open(base + i) for i in range(len(SERVED))):
            return base


@pytest.fixture(scope="module")
def served(operator_stack):
    os.environ["RP_SERVING_PORT"] = str(five_free_ports())
    settings = load_settings()
    try:
        out = run_job("tools", "serve", "up", timeout=600).stdout
        assert "no champion yet" not in out, out
        yield settings
    finally:
        run_job("tools", "serve", "down", ok=None)
        del os.environ["RP_SERVING_PORT"]


def post(settings, model: str, body: dict) -> tuple[int, dict]:
    port = next(s for s in SERVED if s.key == model).port(settings)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_every_champion_answers_several_rows_and_bad_input_with_a_400(served):
    settings = served
    texts = ["awful, it broke and I want a refund", "I love this, works great", "terrible, broke after a day"]
    status, answer = post(
        settings,
        "sentiment",
        {"dataframe_split": {"columns": ["stars", "text"], "data": [[1, texts[0]], [5, texts[1]], [1, texts[2]]]}},
    )
    assert status == 200 and [r["label"] for r in answer["predictions"]] == ["negative", "positive", "negative"]
    assert {r["model_version"].split("/")[0] for r in answer["predictions"]} == {settings.sentiment_model}

    status, error = post(settings, "sentiment", {"inputs": {"body": ["no text column"]}})
    assert status == 400 and "text" in error["message"] and "stack_trace" not in error

    rows = query(
        settings,
        "SELECT category, units_28, units_7, avg_rating_90, negative_share_28 FROM product_features"
        " ORDER BY as_of DESC, item_id, store_id LIMIT 4",
        role="writer",
    )
    frame = {
        "columns": ["category", "units_28", "units_7", "avg_rating_90", "negative_share_28"],
        "data": [[r[0], *(None if v is None else float(v) for v in r[1:])] for r in rows],
    }
    status, risk = post(settings, "risk", {"dataframe_split": frame})
    assert status == 200 and len(risk["predictions"]) == 4
    assert all(0 <= r["prediction"] <= 1 and r["reason"] for r in risk["predictions"])
    status, volume = post(settings, "volume", {"dataframe_split": frame})
    assert status == 200 and all(r["lower"] <= r["prediction"] <= r["upper"] for r in volume["predictions"])
    status, error = post(settings, "volume", {"inputs": [{"category": "x", "units_7": "ten"}]})
    assert status == 400 and "stack_trace" not in error

    visitors = [v for (v,) in query(settings, "SELECT DISTINCT visitor_id FROM interactions ORDER BY 1 LIMIT 2")]
    body = {
        "dataframe_split": {
            "columns": ["exclude", "visitor_id"],
            "data": [[[], visitors[0]], [[], visitors[1]], [[], 10**12]],
        },
        "params": {"k": 3},
    }
    status, lists = post(settings, "recommender", body)
    assert status == 200 and len(lists["predictions"]) == 9
    assert {r["fallback"] for r in lists["predictions"] if r["visitor_id"] == 10**12} == {1}
    status, error = post(settings, "recommender", {**body, "params": {"k": 0}})
    assert status == 400 and "k=0" in error["message"]

    # a review of the walkthrough's own file: indexed by the review DAG (the risk module has cleared the table since)
    text = next(r["text"] for r in csv.DictReader((OWN / "reviews.csv").open()) if r["review_id"] == "own-r2")
    status, similar = post(settings, "similar", {"inputs": {"text": [text, "great value"]}, "params": {"k": 3}})
    assert status == 200 and {r["query_row"] for r in similar["predictions"]} == {0, 1}
    assert similar["predictions"][0]["text"] == text and similar["predictions"][0]["similarity"] > 0.99


def test_the_readme_curl_examples_answer(served):
    block = README.read_text().split("## Answers on request", 1)[1].split("```bash", 2)[2].split("```", 1)[0]
    commands = [c for c in block.replace("\\\n", " ").splitlines() if c.startswith("curl ")]
    assert len(commands) == 6
    for command in commands:
        port = int(re.search(r"127\.0\.0\.1:(\d+)", command).group(1))
        command = command.replace(f":{port}/", f":{served.serving_port + port - DEFAULT_PORT}/")
        out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, check=True).stdout
        assert "predictions" in json.loads(out), (command, out)
