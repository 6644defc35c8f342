"""Review benchmark: quality against VADER on held-out real corpora, and scoring speed, side by side.

  1. quality     jobs.reviews.train_sentiment (the real job, registering a bench model as @champion):
                 the chosen model (e5 where it wins validation), the lexicon model and VADER, macro-F1
                 on each held-out corpus, from the run's evaluation report
  2. model alone the champion on the same generated reviews in one process: sentiment only, and
                 sentiment + entity tagging (what the stream does per review)
  3. stream      retail-pulse ingest stream review_scoring on those reviews from a fresh topic: Kafka ->
                 Spark validation -> model + entities -> MySQL (exactly once) + result topics; wall
                 time from process start to exit and steady rate (first batch start -> last commit);
                 --stream-runs times (each from its own topic, with an empty embedding cache), the
                 median run reported: this 2-core machine's speed varies by 10-20% from run to run
  4. embeddings  (skip with --skip-embeddings) the routes that lost: all-MiniLM-L6-v2 sentence
                 embeddings + logistic regression (NumPy transformer, contextual: on samples), and
                 the same model distilled to static token vectors (Model2Vec recipe) + logistic
                 regression; texts/s and held-out macro-F1 next to the champion's

    python -m bench.reviews [--reviews 6000] [--partitions 4] [--stream-runs 3] [--skip-embeddings]

Targets: the sentiment champion (e5 or its blend) scores >= 60 reviews/s through the stream on 2
cores (5 million a day); the chosen model's macro-F1 >= VADER's + 0.05 on every held-out corpus.

Writes bench/results/reviews.json. Uses its own database (retail_bench_reviews, recreated empty),
fresh topics and its own registered model name.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

os.environ.setdefault("RP_MYSQL_DATABASE", "retail_bench_reviews")
os.environ.setdefault("RP_SENTIMENT_MODEL", "retail_pulse_sentiment_bench")
os.environ.setdefault("RP_SENTIMENT_FALLBACK_MODEL", "retail_pulse_sentiment_lexicon_bench")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench.ingest import spark_path  # noqa: E402
from common.catalogue import catalogue  # noqa: E402
from common.migrations import apply_migrations, drop_database, ensure_users  # noqa: E402
from common.settings import REPO_ROOT, load_settings  # noqa: E402
from models.reviews import sentiment as S  # noqa: E402
from models.reviews.text_corpora import HELD_OUT, TRAIN, load, load_many  # noqa: E402
from streaming.contracts import PRODUCT_REVIEW  # noqa: E402
from streaming.producer import produce  # noqa: E402
from streaming.reviews.review_sources import generated_reviews  # noqa: E402
from streaming.topics import ensure_topics  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "reviews.json"
TARGETS = {"stream_reviews_per_s": 60, "min_macro_f1_gain_over_vader": 0.05}


def train_champion(settings) -> tuple[dict, str]:
    """Run the real training job; return its evaluation report and the chosen kind (from the MLflow run)."""
    import mlflow

    from common.registry import champion

    out = subprocess.run(
        [sys.executable, "-m", "jobs", "reviews", "train"], capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
    print(out.stdout, flush=True)
    version = champion(settings, settings.sentiment_model)
    tracking = mlflow.MlflowClient()
    path = tracking.download_artifacts(version.run_id, "reports/evaluation.json")
    return json.loads(Path(path).read_text()), tracking.get_run(version.run_id).data.tags["encoder"]


def model_alone(settings, texts: list[str]) -> dict:
    from streaming.reviews.review_scoring import Scorer

    scorer = Scorer(settings)
    started = time.perf_counter()
    scorer.score(texts)
    sentiment_s = time.perf_counter() - started
    scorer.tag(texts)
    both_s = time.perf_counter() - started
    n = len(texts)
    return {"sentiment_per_s": round(n / sentiment_s), "sentiment_and_entities_per_s": round(n / both_s)}


def embedding_routes(seed: int = 7, train_sample: int = 3000, eval_sample: int = 400) -> dict:
    """Held-out macro-F1 and texts/s of MiniLM (contextual, on samples) and its static distillation."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from models.reviews.minilm import MiniLM, StaticEmbedder, distil_static, fetch

    fetch()
    pool = load_many(TRAIN)
    weights = S.corpus_weights(pool["corpus"])
    held = {name: load(name) for name in HELD_OUT}
    encoder = MiniLM()
    started = time.perf_counter()
    static = StaticEmbedder(distil_static(encoder)["vectors"])
    distil_s = time.perf_counter() - started

    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-9)

    routes = {}
    for name, embed, train, n_eval in (
        ("static_minilm_lr", lambda t: unit(static.embed(t)), pool, None),
        ("contextual_minilm_lr", encoder.encode, pool.sample(train_sample, random_state=seed), eval_sample),
    ):
        sample_w = weights[pool.index.get_indexer(train.index)]
        classifier = LogisticRegression(C=2, max_iter=3000, class_weight="balanced")
        classifier.fit(embed(train["text"].tolist()), train["label"], sample_weight=sample_w)
        scores, timed, seconds = {}, 0, 0.0
        for corpus, frame in held.items():
            frame = frame if n_eval is None else frame.sample(min(n_eval, len(frame)), random_state=seed)
            started = time.perf_counter()
            predicted = classifier.predict(embed(frame["text"].tolist()))
            seconds += time.perf_counter() - started
            timed += len(frame)
            scores[corpus] = S.metrics(frame["label"], predicted)["macro_f1"]
        routes[name] = {
            "macro_f1": scores,
            "texts_per_s": round(timed / seconds),
            "train_rows": len(train),
            "eval_rows_per_corpus": n_eval or "all",
        }
        print(f"{name}: {routes[name]}", flush=True)
    routes["static_minilm_lr"]["distil_seconds"] = round(distil_s, 1)
    return routes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.reviews", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reviews", type=int, default=6_000, help="generated reviews to score (default 6,000)")
    parser.add_argument("--partitions", type=int, default=4, help="topic partitions (default 4)")
    parser.add_argument("--stream-runs", type=int, default=3, help="stream measurements, median reported (default 3)")
    parser.add_argument("--skip-embeddings", action="store_true", help="do not measure the embedding routes")
    args = parser.parse_args(argv)
    if args.stream_runs < 1:
        parser.error("--stream-runs must be at least 1")
    return args


def stream_runs(settings, reviews: list[dict], partitions: int, runs: int) -> tuple[dict, list[int]]:
    """(the median stream run, every run's steady reviews/s): each run from a fresh topic, with an
    empty embedding cache."""
    measured = []
    for n in range(runs):
        topic = f"bench_reviews_{uuid.uuid4().hex[:8]}"
        ensure_topics(settings, [topic], partitions=partitions)
        for key in ("review_sentiment", "ner_results", "dead_letter"):
            os.environ[f"RP_TOPIC_{key.upper()}"] = f"{topic}_{key}"
        summary = produce(settings.kafka_bootstrap, topic, PRODUCT_REVIEW, reviews, progress=False)
        print(f"  {summary.line()}", flush=True)
        os.environ["RP_EMBEDDING_CACHE"] = str(Path(tempfile.mkdtemp(prefix="bench-e5-")) / "stream.sqlite")
        measured.append(spark_path(settings, "review_scoring", topic, len(reviews)))
        print(f"== stream review_scoring, run {n + 1} of {runs}: {measured[-1]}", flush=True)
    ordered = sorted(measured, key=lambda run: run["steady_rows_per_s"])
    return ordered[len(ordered) // 2], [run["steady_rows_per_s"] for run in measured]


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    drop_database(settings)
    apply_migrations(settings, log=lambda m: None)
    ensure_users(settings)
    print(f"== quality: training {settings.sentiment_model} (the real job)", flush=True)
    evaluation, chosen = train_champion(settings)
    quality = {c: {m: scores["macro_f1"] for m, scores in evaluation[c].items()} for c in HELD_OUT}
    gains = {c: round(q["model"] - q["vader"], 4) for c, q in quality.items()}

    days = max(1, -(-args.reviews // 1000))
    reviews = list(generated_reviews(catalogue(), seed=11, since=date(2025, 1, 1), days=days, per_day=1000))
    # every text unique (the generator repeats phrases; real reviews rarely do), and an empty embedding
    # cache for each measurement: the e5 model pays a forward pass for every review, the worst case
    reviews = [r | {"text": f"{r['text']} (order {n})"} for n, r in enumerate(reviews[: args.reviews])]
    os.environ["RP_EMBEDDING_CACHE"] = str(Path(tempfile.mkdtemp(prefix="bench-e5-")) / "alone.sqlite")
    alone = model_alone(load_settings(), [r["text"] for r in reviews])
    print(f"== model alone on {len(reviews):,} reviews: {alone}", flush=True)
    stream, rates = stream_runs(settings, reviews, args.partitions, args.stream_runs)
    routes = {} if args.skip_embeddings else embedding_routes()

    measured = {
        "stream_reviews_per_s": stream["steady_rows_per_s"],
        "min_macro_f1_gain_over_vader": min(gains.values()),
    }
    result = {
        "benchmark": "reviews",
        "date": datetime.now(UTC).date().isoformat(),
        "machine": {"cpus": os.cpu_count()},
        "reviews": len(reviews),
        "partitions": args.partitions,
        "chosen": chosen,
        "held_out_macro_f1": quality,
        "gain_over_vader": gains,
        "model_alone": alone,
        "stream": stream,
        "stream_runs_reviews_per_s": rates,
        "stream_vs_model_alone": round(stream["steady_rows_per_s"] / alone["sentiment_and_entities_per_s"], 2),
        "embedding_routes": routes,
        "measured": measured,
        "targets": TARGETS,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    methods = list(next(iter(quality.values())))
    print(f"chosen: {chosen}; macro-F1 ('model' is the chosen one) and its gain over VADER")
    print(f"{'corpus':14} {''.join(f'{m:>8}' for m in methods)} {'gain':>7}")
    for corpus, q in quality.items():
        print(f"{corpus:14} {''.join(f'{q[m]:8.3f}' for m in methods)} {gains[corpus]:+7.3f}")
    for key, target in TARGETS.items():
        verdict = "met" if measured[key] >= target else "NOT met"
        print(f"  {key:32s} {measured[key]:>10,} target {target:>8,}  {verdict}")
    print(f"written {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
