"""The sentiment pyfunc as a service loads it: one answer per row, any column order, bad input named."""

import mlflow.pyfunc
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from models.reviews import sentiment as S
from models.reviews import sentiment_serving as served


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    texts = ["I love it, great", "awful, broke, hate it", "it is a box", "excellent quality", "terrible smell"] * 4
    labels = ["positive", "negative", "neutral", "positive", "negative"] * 4
    pipeline = S.fit(texts, labels, ["toy"] * len(texts))
    folder = tmp_path_factory.mktemp("sentiment")
    mlflow.pyfunc.save_model(
        folder / "model",
        python_model=served.SentimentPyfunc(),
        artifacts={served.ARTIFACT: str(served.save_pipeline(folder / "pipeline.skops", pipeline))},
        model_config={"registered_name": "nowhere"},
        signature=served.signature(),
    )
    return mlflow.pyfunc.load_model(str(folder / "model"))


def test_a_frame_of_several_texts_gets_one_answer_per_row_in_any_column_order(loaded):
    texts = ["great, I love it", "it broke, awful", "excellent, love it"]
    out = loaded.predict(pd.DataFrame({"review_id": ["a", "b", "c"], "text": texts}))
    assert list(out.columns) == served.OUTPUT_COLUMNS
    assert list(out["label"]) == ["positive", "negative", "positive"]
    assert out[["p_negative", "p_neutral", "p_positive"]].sum(axis=1).round(3).eq(1).all()
    assert (out["confidence"] == out[["p_negative", "p_neutral", "p_positive"]].max(axis=1)).all()
    assert out["model_version"].str.startswith("run ").all()  # saved outside a registry


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"body": ["fine"]}), "text"),
        (pd.DataFrame({"text": ["fine", "   "]}), "row 1: text must be a non-empty string"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(loaded, frame, message):
    with pytest.raises(MlflowException) as caught:
        loaded.predict(frame)
    assert caught.value.get_http_status_code() == 400 and message in caught.value.message
