"""The result topics' messages: one schema each builds, checks and documents them."""

from datetime import date, datetime

import pandas as pd
import pytest

from common.results import RESULTS, ResultSchemaError, results_markdown
from common.settings import REPO_ROOT, Settings


def test_every_result_topic_of_the_settings_has_a_schema_and_only_those():
    raw = {"transactions", "reviews", "social", "shopper_events"}
    assert set(RESULTS) == set(Settings().topics) - raw


def test_a_message_needs_every_field_and_nothing_else_in_the_documented_order():
    schema = RESULTS["retail_aggregated"]
    values = dict(sale_date="2024-01-02", store_id=1, item_id=2, units=3, revenue=4.5, sale_lines=1)
    assert list(schema.message(**dict(reversed(values.items())))) == list(values)
    with pytest.raises(ResultSchemaError, match=r"missing \['units'\], unexpected \['qty'\]"):
        schema.message(**{**{k: v for k, v in values.items() if k != "units"}, "qty": 3})


def test_problems_name_each_wrong_field_of_a_received_message():
    schema = RESULTS["forecasts"]
    good = dict(
        run_key="k",
        as_of="2024-01-02",
        store_id=1,
        item_id=2,
        method="theta",
        fallback_reason=None,
        points=[
            {
                "date": "2024-01-03",
                "yhat": 1.0,
                "yhat_lower_80": 0,
                "yhat_upper_80": 2.0,
                "yhat_lower_95": 0.0,
                "yhat_upper_95": 3.5,
            }
        ],
    )
    assert schema.problems(schema.message(**good)) == []
    bad = {**good, "store_id": "1", "as_of": "02.01.2024", "extra": 1, "points": [{"date": "2024-01-03"}]}
    del bad["method"]
    problems = schema.problems(bad)
    assert "method is missing" in problems and "extra is not in the schema" in problems
    assert "store_id='1' is not a int" in problems and "as_of='02.01.2024' is not a date" in problems
    assert "points[0].yhat is missing" in problems
    assert RESULTS["review_sentiment"].problems([1]) == ["message is not a JSON object"]
    assert "synthetic=True is not a flag" in RESULTS["review_sentiment"].problems({"synthetic": True})


def test_the_service_developer_guide_lists_exactly_the_schemas():
    text = (REPO_ROOT / "docs" / "service-developer.md").read_text()
    start = text.index("<!-- result topics:")
    block = text[text.index("\n", start) + 1 : text.index("<!-- end of result topics -->")]
    assert block == results_markdown()  # regenerate with: retail-pulse tools contracts --results


def test_the_publishers_build_messages_their_schema_accepts():
    from common.results import SALES_FORECAST_COLUMNS
    from jobs.recommendations.recommend import visitor_messages
    from jobs.sales.publish_forecasts import forecast_messages
    from streaming.products.item_scoring import risk_messages

    assert SALES_FORECAST_COLUMNS[:4] == ("run_key", "forecast_date", "store_id", "item_id")
    rows = [(1, 2, "theta", None, date(2024, 1, d), 1.0, 0.5, 1.5, 0.2, 2.0) for d in (3, 4)]
    lists = pd.DataFrame(
        {"visitor_id": [7, 7], "rank_no": [1, 2], "item_id": [3, 4], "score": [0.9, 0.5], "fallback": [False, False]}
    )
    meta = {"model_version": "m/1", "run_id": "r", "generated_at": datetime(2024, 1, 2).isoformat()}
    risk = pd.DataFrame(
        {
            "store_id": [1],
            "item_id": [2],
            "as_of": [date(2024, 1, 2)],
            "prediction": [0.7],
            "flagged": [True],
            "reason": ["risk up"],
            "model_version": ["3"],
            "run_id": ["r"],
            "top_features": [
                '[{"feature": "f", "value": 1.0, "contribution": 0.3},'
                ' {"feature": "category", "value": "Blender", "contribution": 0.1}]'
            ],
            "scored_at": [datetime(2024, 1, 2, 3)],
        }
    )
    built = {
        "forecasts": forecast_messages("k", date(2024, 1, 2), rows),
        "recommendations": visitor_messages(lists, [3, 4], meta),
        "review_risk": risk_messages(risk, 0.5),
    }
    for topic, messages in built.items():
        assert messages and all(RESULTS[topic].problems(value) == [] for _, value in messages), topic
