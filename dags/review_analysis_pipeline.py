"""
### review_analysis_pipeline

What customers say, every hour: reviews and social posts -> sentiment (negative / neutral /
positive with a confidence) and the products, stores and brands they mention -> MySQL and the
`review_sentiment` / `ner_results` topics; then sentiment next to sales; once a day a retrain.

1. **ensure_model**: trains and registers the sentiment model on the real corpora if the registry has
   no `retail_pulse_sentiment@champion` yet (a no-op afterwards).
2. **produce_demo_reviews** / **produce_demo_posts** (skipped unless the `demo_reviews_per_day` /
   `demo_posts` params are > 0): generated reviews for the run's day, and posts (groq LLM when
   `GROQ_API_KEY` is set in the worker's environment, else the offline generator), seeded by the
   run so a re-run replays the same events.
3. **score_reviews** / **score_posts**: the `review_scoring` / `post_scoring` streams, `availableNow`:
   validate (bad -> quarantine + `dead_letter`), score with the champion, tag entities, write
   `review_sentiment` + `review_entities` and the raw tables, publish the result topics.
4. **insight**: `sentiment_sales_daily` and the lagged sentiment-sales correlation per item
   (`v_sentiment_sales`); its log lists the most negative products.
5. **index**: rebuilds the similar-reviews index of the stored documents (e5 vectors where the
   champion has them, TF-IDF otherwise) and registers it as `retail_pulse_similar_reviews@champion`
   (skipped when nothing new was scored); `retail-pulse reviews similar` and `make serve` answer from it.
6. **retrain** (the scheduled run of hour 00 UTC, or any run with `retrain=always`; a manual run
   without a logical date retrains only with `always`): a challenger trained on the
   corpora plus the labelled reviews in MySQL; promoted to `@champion` only if its macro-F1 on the
   fixed real holdout is not lower; the decision is in `model_decisions` and MLflow.

Gates (limits as params of a run): **check_scoring** after the streams, the share of this run's
reviews / posts quarantined (`max_quarantine_share`, 0.05) and messages still unread
(`max_stream_lag`, 100000), before insight and index; **check_model** after retrain, the sentiment
champion's macro-F1 over VADER's on the holdout of any training in this run (`min_champion_margin`, 0).

Idempotent: the streams are exactly-once (checkpoints + `stream_batches`), insight is a rebuild,
a retrain only adds a model version. Connections: `mysql_default`, `kafka_default`, `mlflow_default`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from gates import champion_margin, quarantine_share, stream_lag
from pipeline_tasks import MACROS, default_args, gate, gate_params, pipeline_task

DAY = "run_day(dag_run)"
QUERIES = ("review_scoring", "post_scoring")
STREAM_CHECKS = tuple(check(q) for q in QUERIES for check in (quarantine_share, stream_lag))
MODEL_CHECK = champion_margin("^holdout_macro_f1$")  # the sentiment champion against VADER

with DAG(
    dag_id="review_analysis_pipeline",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),  # each run covers the hour that ended
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # one stream query per checkpoint at a time
    user_defined_macros=MACROS,
    tags=["retail_pulse", "reviews", "nlp"],
    default_args=default_args(),
    params={
        **gate_params(*STREAM_CHECKS, MODEL_CHECK),
        "demo_reviews_per_day": Param(0, type="integer", minimum=0, description="generated reviews for the day"),
        "demo_posts": Param(0, type="integer", minimum=0, description="generated social posts"),
        "retrain": Param("daily", enum=["daily", "always", "never"], description="when to train a challenger"),
    },
) as dag:
    ensure = pipeline_task("ensure_model", "reviews train --if-missing", execution_timeout=timedelta(minutes=30))
    seed = "--seed {{ run_seed(dag_run) }} --no-progress"
    reviews = pipeline_task(
        "produce_demo_reviews",
        f"ingest produce --source reviews --until {{{{ {DAY} }}}} --days 1"
        f" --per-day {{{{ params.demo_reviews_per_day }}}} --malformed-fraction 0.01 {seed}",
        only_if="[ {{ params.demo_reviews_per_day }} -gt 0 ]",
    )
    posts = pipeline_task(
        "produce_demo_posts",
        f"ingest produce --source posts --until {{{{ {DAY} }}}} --days 1 --posts {{{{ params.demo_posts }}}} {seed}",
        only_if="[ {{ params.demo_posts }} -gt 0 ]",
    )
    timeout = {"execution_timeout": timedelta(hours=1), "trigger_rule": "none_failed"}
    score_reviews = pipeline_task("score_reviews", "ingest stream review_scoring --available-now", **timeout)
    score_posts = pipeline_task("score_posts", "ingest stream post_scoring --available-now", **timeout)
    insight = pipeline_task("insight", "reviews insight")
    index = pipeline_task("index", "reviews index", execution_timeout=timedelta(minutes=30))
    retrain = pipeline_task(
        "retrain",
        "reviews train --new-data db",
        only_if="[ {{ params.retrain }} = always ]"
        " || [ {{ params.retrain }} = daily -a {{ run_hour(dag_run) }} -eq 0 ]",
        execution_timeout=timedelta(hours=1),
    )
    check_scoring = gate("check_scoring", *STREAM_CHECKS)
    check_model = gate("check_model", MODEL_CHECK)
    ensure >> [reviews, posts] >> score_reviews >> score_posts >> check_scoring >> [insight, index] >> retrain
    retrain >> check_model
