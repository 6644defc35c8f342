"""Train the sentiment model on real labelled text, measure it against the lexicon model and VADER, register it.

    retail-pulse reviews train                    # corpora only; champion if there is none yet
    retail-pulse reviews train --new-data db      # + labelled reviews from MySQL: a challenger
    retail-pulse reviews train --if-missing       # only if no champion exists (first DAG run)
    retail-pulse reviews train --new-data reviews.csv --text-col text --label-col stars --scale stars

Training text: the real corpora marked "train" in models/reviews/text_corpora.py (never generated text
alone; RP_SENTIMENT_TRAIN_LIMIT texts per corpus when set). Three kinds compete
(models/reviews/sentiment.py): **e5** (sentence embeddings + VADER's scores, its regularisation chosen
here), **lexicon** (TF-IDF + VADER's scores) and their **blend** (probabilities averaged, the lexicon
model's share chosen here), each fitted on 80% of the pool and scored on the other 20% (the
validation slice, "in_domain"); a kind that needs the encoder is chosen only if it beats the lexicon
model there, a blend only if it beats e5 too (RP_SENTIMENT_ENCODER=none: lexicon only). The chosen
kind is refitted on the whole pool and scored,
side by side with the lexicon model and VADER, on every held-out corpus (other domains;
RP_SENTIMENT_EVAL_SAMPLE texts each; crowd_tweets also another labelling source). The promotion
metric is the chosen model's mean macro-F1 over the held-out corpora (the fixed real holdout): a new
version becomes `@champion` only if it is not lower than the champion's; every decision is an MLflow
tag and a row in `model_decisions`. When e5 or a blend is chosen, the lexicon model is registered too, as
RP_SENTIMENT_FALLBACK_MODEL (what scoring uses where the e5 encoder cannot run). A robustness report
(typos, truncation, case, punctuation, emoji) gives each perturbation's accuracy drop on the
held-out product reviews. e5 embeddings are cached by text hash (RP_EMBEDDING_CACHE): a retrain on
the same corpora embeds nothing again.

MLflow: experiment retail_pulse/sentiment, registered model retail_pulse_sentiment (RP_SENTIMENT_MODEL).
Exit codes: 0 done (promoted or not), 2 bad arguments or data, 4 MLflow or MySQL unreachable.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from common.cli import entry_point, fail, job_parser
from common.registry import champion, client, settle
from common.settings import REPO_ROOT, Settings, load_settings
from common.tracking import run_url, start_run
from models.reviews import sentiment as S
from models.reviews.e5 import REQUIREMENTS as E5_REQUIREMENTS
from models.reviews.text_corpora import (
    HELD_OUT,
    SOURCES,
    TRAIN,
    CorpusMissing,
    labelled_file,
    load,
    load_many,
    sample_per_corpus,
)

PROMOTION_METRIC = "holdout_macro_f1"
LEXICON_METRIC = "holdout_macro_f1_lexicon"  # the fallback's promotion metric
ROBUSTNESS_CORPUS = "vader_amazon"
FEATURES = {
    "e5": "e5_query_embedding+vader_scores",
    "lexicon": "tfidf_1_2gram+vader_scores",
    "blend": "mean of (e5_query_embedding+vader_scores, tfidf_1_2gram+vader_scores)",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.reviews.train_sentiment", __doc__)
    parser.add_argument("--new-data", help="'db' (labelled reviews in raw_product_reviews) or a CSV path")
    parser.add_argument("--text-col", default="text", help="CSV: the text column")
    parser.add_argument("--label-col", default="label", help="CSV: the label column")
    parser.add_argument("--scale", default="labels", choices=("labels", "stars", "score"), help="CSV: label scale")
    parser.add_argument("--c", type=float, default=2.0, help="inverse regularisation of the logistic regression")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-register", dest="register", action="store_false", help="log the run, register nothing")
    parser.add_argument("--if-missing", action="store_true", help="do nothing if a champion is registered already")
    return parser.parse_args(argv)


def labelled_reviews_from_db(settings: Settings) -> pd.DataFrame:
    """Reviews that carry a label or a star rating (the label wins), as ``text, label, corpus``."""
    from common.db import query

    rows = query(
        settings,
        "SELECT text, label, rating FROM raw_product_reviews WHERE label IS NOT NULL OR rating IS NOT NULL",
        role="writer",
    )
    labels = [S.given_label(label, rating) for _, label, rating in rows]
    return pd.DataFrame({"text": [r[0] for r in rows], "label": labels, "corpus": "new_reviews"})


def evaluate(models: dict, vader: S.Vader, corpora: dict[str, pd.DataFrame]) -> dict:
    """Each model's and VADER's metrics on each named frame: {corpus: {"model", "lexicon", "vader"}}."""
    report = {}
    for name, frame in corpora.items():
        texts = frame["text"].tolist()
        report[name] = {
            method: S.metrics(frame["label"], S.predict_with_confidence(model, texts)[0])
            for method, model in models.items()
        } | {"vader": S.metrics(frame["label"], vader.predict(texts))}
    return report


def validation_f1(model, validation: pd.DataFrame) -> float:
    return S.metrics(validation["label"], S.predict_with_confidence(model, validation["text"].tolist())[0])["macro_f1"]


def choose_model(train: pd.DataFrame, validation: pd.DataFrame, settings: Settings, args) -> dict:
    """{kind: (params, validation macro-F1, model fitted on ``train``)} for lexicon and (if enabled and
    available) e5 with its best C and the blend of the two with its best share."""
    from models.reviews.embeddings import EncoderMissing

    grids = {"lexicon": [{"encoder": "lexicon", "c": args.c}]}
    if settings.sentiment_encoder == "e5":
        grids["e5"] = [{"encoder": "e5", "c": c} for c in S.E5_C_GRID]
    found = {}
    for kind, grid in grids.items():
        for params in grid:
            started = time.time()
            try:
                model = S.fit(train["text"], train["label"], train["corpus"], seed=args.seed, **params)
            except EncoderMissing as exc:
                print(f"e5 skipped: {exc}", flush=True)
                break
            f1 = validation_f1(model, validation)
            print(f"validation: {kind} C={params['c']:g} macro-F1 {f1:.4f} ({time.time() - started:.0f}s)", flush=True)
            if kind not in found or f1 > found[kind][1]:
                found[kind] = (params, f1, model)
    if "e5" in found:
        for share in S.BLEND_SHARES:
            blend = S.Blend(found["e5"][2], found["lexicon"][2], share)
            f1 = validation_f1(blend, validation)
            print(f"validation: blend lexicon share {share:g} macro-F1 {f1:.4f}", flush=True)
            if "blend" not in found or f1 > found["blend"][1]:
                found["blend"] = ({**found["e5"][0], "share": share}, f1, blend)
    return found


def chosen_kind(candidates: dict) -> str:
    """The kind with the best validation macro-F1; on a tie the simpler one (lexicon, e5, blend)."""
    return max((k for k in ("lexicon", "e5", "blend") if k in candidates), key=lambda k: candidates[k][1])


def refit(kind: str, candidates: dict, pool: pd.DataFrame, seed: int) -> tuple:
    """(the chosen kind fitted on the whole pool, the lexicon model fitted on it)."""

    def fitted(params):
        return S.fit(pool["text"], pool["label"], pool["corpus"], seed=seed, **params)

    lexicon = fitted(candidates["lexicon"][0])
    if kind == "lexicon":
        return lexicon, lexicon
    e5 = fitted(candidates["e5"][0])
    return (e5 if kind == "e5" else S.Blend(e5, lexicon, candidates["blend"][0]["share"])), lexicon


def robustness(model, frame: pd.DataFrame, seed: int, sample: int = 1500) -> dict:
    """Accuracy on clean text and under each perturbation (and the drop)."""
    frame = frame.sample(min(sample, len(frame)), random_state=seed)
    texts, truth = frame["text"].tolist(), frame["label"].tolist()
    clean = S.metrics(truth, S.predict_with_confidence(model, texts)[0])["accuracy"]
    report = {"corpus": ROBUSTNESS_CORPUS, "n": len(texts), "clean_accuracy": clean, "perturbations": {}}
    for p in S.PERTURBATIONS:
        rng = random.Random(seed)
        changed = [S.perturb(t, p.name, rng) for t in texts]
        accuracy = S.metrics(truth, S.predict_with_confidence(model, changed)[0])["accuracy"]
        report["perturbations"][p.name] = {"doc": p.doc, "accuracy": accuracy, "drop": round(clean - accuracy, 4)}
    return report


def holdout_score(report: dict, method: str = "model") -> float:
    return round(float(np.mean([report[c][method]["macro_f1"] for c in HELD_OUT])), 4)


def print_table(report: dict) -> None:
    """Macro-F1 of the model, each other model scored (lexicon; e5 alone for a blend) and VADER."""
    others = [m for m in next(iter(report.values())) if m not in ("model", "vader")]
    print(
        f"{'corpus':14} {'role':9} {'n':>7}  {'model F1':>8} {''.join(f'{o:>8} ' for o in others)}{'VADER F1':>8}"
        f" {'gain':>6}  {'model acc':>9} {'VADER acc':>9}"
    )
    for name, r in report.items():
        role = "held out" if name in HELD_OUT else "in-domain"
        m, v = r["model"], r["vader"]
        columns = "".join(f"{r[o]['macro_f1']:8.3f} " for o in others)
        print(
            f"{name:14} {role:9} {m['n']:7,}  {m['macro_f1']:8.3f} {columns}"
            f"{v['macro_f1']:8.3f} {m['macro_f1'] - v['macro_f1']:+6.3f}  {m['accuracy']:9.3f} {v['accuracy']:9.3f}"
        )


def champion_score(
    settings: Settings, name: str | None = None, metric: str = PROMOTION_METRIC
) -> tuple[str | None, float | None]:
    """The champion's version and its value of ``metric`` (in the run that trained it), or (None, None)."""
    version = champion(settings, name or settings.sentiment_model)
    if version is None:
        return None, None
    return version.version, client(settings).get_run(version.run_id).data.metrics.get(metric)


def run(args: argparse.Namespace) -> int:
    import mlflow
    from sklearn.model_selection import train_test_split

    settings = load_settings()
    started = time.time()
    if args.if_missing:
        version, value = champion_score(settings)
        if version is not None:
            print(
                f"{settings.sentiment_model}@champion is version {version} (holdout macro-F1 {value}); nothing to train"
            )
            return 0
    try:
        pool = sample_per_corpus(load_many(TRAIN), settings.sentiment_train_limit, args.seed)
        held_out = {name: sample_per_corpus(load(name), settings.sentiment_eval_sample, args.seed) for name in HELD_OUT}
        if args.new_data == "db":
            new = labelled_reviews_from_db(settings)
        elif args.new_data:
            new = labelled_file(args.new_data, args.text_col, args.label_col, args.scale)
        else:
            new = None
    except (CorpusMissing, ValueError) as exc:
        return fail(str(exc), 2)
    if new is not None:
        print(f"new labelled data: {len(new):,} rows ({new['label'].value_counts().to_dict()})")
        pool = pd.concat([pool, new], ignore_index=True)
    # the validation slice: models fitted on 80% of the pool choose the kind (and e5's C) on the other
    # 20%; the chosen kind is refitted on all of it, evaluated on the held-out corpora and registered
    train, test = train_test_split(pool, test_size=0.2, random_state=args.seed, stratify=pool["corpus"])
    print(f"training on {len(pool):,} texts from {', '.join(sorted(pool['corpus'].unique()))}", flush=True)
    vader = S.Vader()
    candidates = choose_model(train, test, settings, args)
    chosen = chosen_kind(candidates)
    params = candidates[chosen][0]
    others = "; ".join(f"{k} {v[1]:.4f}" for k, v in candidates.items() if k != chosen)
    print(f"chosen: {chosen} (validation macro-F1 {candidates[chosen][1]:.4f}; {others})", flush=True)
    model, lexicon = refit(chosen, candidates, pool, args.seed)
    split_models = {"model": candidates[chosen][2], "lexicon": candidates["lexicon"][2]}
    full_models = {"model": model, "lexicon": lexicon}
    if chosen == "blend":  # its e5 part alone too: what the blend adds over it
        split_models["e5"], full_models["e5"] = candidates["e5"][2], model.e5
    report = {**evaluate(split_models, vader, {"in_domain": test}), **evaluate(full_models, vader, held_out)}
    print_table(report)
    score, lexicon_score, vader_score = (holdout_score(report, m) for m in ("model", "lexicon", "vader"))
    print(
        f"fixed real holdout (mean macro-F1 over {', '.join(HELD_OUT)}): {chosen} {score:.4f},"
        f" lexicon {lexicon_score:.4f}, VADER {vader_score:.4f}"
    )
    robust = robustness(model, held_out[ROBUSTNESS_CORPUS], args.seed)
    drops = ", ".join(f"{k} {v['drop']:+.3f}" for k, v in robust["perturbations"].items())
    print(f"robustness on {ROBUSTNESS_CORPUS} (accuracy {robust['clean_accuracy']:.3f}; drop): {drops}")

    tags = {"kind": "challenger" if new is not None else "corpora", "new_data": str(args.new_data), "encoder": chosen}
    mlflow_run = start_run(settings, "sentiment", f"sentiment-{datetime.now(UTC):%Y%m%dT%H%M%S}", tags=tags)
    with mlflow_run:
        mlflow.log_params(
            {
                "c": params["c"],
                "encoder": chosen,
                "blend_lexicon_share": params.get("share", "none"),
                "seed": args.seed,
                "train_rows": len(pool),
                "train_limit_per_corpus": settings.sentiment_train_limit,
                "eval_sample_per_corpus": settings.sentiment_eval_sample,
                "train_corpora": ",".join(TRAIN),
                "held_out": ",".join(HELD_OUT),
                "features": FEATURES[chosen],
                "sources": json.dumps(SOURCES),
            }
        )
        metrics = {
            PROMOTION_METRIC: score,
            LEXICON_METRIC: lexicon_score,
            "holdout_macro_f1_vader": vader_score,
            "train_seconds": time.time() - started,
            **{f"validation.{kind}.macro_f1": found[1] for kind, found in candidates.items()},
        }
        for name, r in report.items():
            for method in r:
                metrics[f"{name}.{method}.macro_f1"] = r[method]["macro_f1"]
                metrics[f"{name}.{method}.accuracy"] = r[method]["accuracy"]
        for name, r in robust["perturbations"].items():
            metrics[f"robustness.{name}.drop"] = r["drop"]
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "evaluation.json").write_text(json.dumps(report, indent=2))
            Path(tmp, "robustness.json").write_text(json.dumps(robust, indent=2))
            mlflow.log_artifacts(tmp, artifact_path="reports")
        if not args.register:
            print(f"MLflow run: {run_url(settings, mlflow_run)} (not registered)")
            return 0
        registered = [(settings.sentiment_model, model, PROMOTION_METRIC, score)]
        if S.encoder_of(model) == "e5":
            registered.append((settings.sentiment_fallback_model, lexicon, LEXICON_METRIC, lexicon_score))
        for name, fitted, metric, value in registered:
            print(register(settings, name, fitted, metric, value, vader_score, mlflow_run.info.run_id))
        print(f"MLflow run: {run_url(settings, mlflow_run)}")
    return 0


def register(settings: Settings, name: str, model, metric: str, value: float, vader_score: float, run_id: str) -> str:
    """Log ``model`` as a new version of ``name`` and settle its promotion on ``metric`` (the run's
    held-out score of that model); the decision's line."""
    import mlflow

    from models.reviews import sentiment_serving as served

    champion_version, champion_value = champion_score(settings, name, metric)
    requirements = ["scikit-learn", "skops", "vaderSentiment==3.3.2", "scipy", "numpy", "pandas", "pyyaml"]
    with tempfile.TemporaryDirectory() as tmp:
        info = mlflow.pyfunc.log_model(
            name="model" if name == settings.sentiment_model else "lexicon_model",
            python_model=served.SentimentPyfunc(),
            artifacts={served.ARTIFACT: str(served.save_pipeline(Path(tmp, "pipeline.skops"), model))},
            model_config={"registered_name": name},
            registered_model_name=name,
            code_paths=[str(REPO_ROOT / "models")],
            signature=served.signature(),
            input_example=served.INPUT_EXAMPLE,
            pip_requirements=requirements + (E5_REQUIREMENTS if S.encoder_of(model) == "e5" else []),
        )
    return settle(
        settings,
        name,
        str(info.registered_model_version),
        run_id,
        S.promote(value, champion_value),
        metric=metric,
        value=value,
        champion_value=champion_value,
        baseline=vader_score,
        champion_version=champion_version,
    )


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
