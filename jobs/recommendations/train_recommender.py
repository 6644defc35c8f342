"""Train ALS recommendations (Spark MLlib, implicit preferences), compare them with popularity, register.

    retail-pulse recommendations train                                  # shopper events in MySQL
    retail-pulse recommendations train --data events.csv --format retailrocket
    retail-pulse recommendations train --ranks 16,32 --reg-params 0.1 --alphas 10,40

Protocol (models/recommendations/recommender.py): events -> (visitor, item) confidence from weighted events; a
time-based split (the last --test-fraction of events test); every grid point (rank x regParam x
alpha) is fitted and scored on a validation split inside the training window and logged to MLflow
as a nested run; the best is fitted on the training window and scored on the holdout next to the
popularity baseline (precision, recall, MAP, NDCG @k); then fitted on every event and registered
as `retail_pulse_recommender` (RP_RECOMMENDER_MODEL): ALS factors plus the popular items, a pyfunc
a service can load without Spark. It becomes `@champion` if its holdout MAP@k is not below
popularity's on the same split and not more than --tolerance below the champion's recorded value;
every decision is in `model_decisions` and MLflow, every evaluation in `recommender_evaluations`.

Exit codes: 0 done (promoted or not), 2 bad arguments or data, 4 MLflow or MySQL unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from common.cli import entry_point, fail, job_parser
from common.settings import REPO_ROOT, Settings, load_settings
from models.recommendations import recommender as R
from models.recommendations.protocol import add_protocol_args, check_protocol_args, protocol_grid, summary_line
from streaming.files import DatasetError
from streaming.recommendations.event_sources import FORMATS, read_events

EXPERIMENT = "recommender"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.recommendations.train_recommender", __doc__)
    parser.add_argument("--data", type=Path, help="an events file instead of raw_shopper_events in MySQL")
    parser.add_argument("--format", choices=FORMATS, default="retailrocket", help="--data's format")
    parser.add_argument("--min-rating", type=float, default=4.0, help="ratings format: ratings >= this count")
    add_protocol_args(parser)
    parser.add_argument("--tolerance", type=float, default=0.1, help="allowed relative MAP dip vs the champion")
    parser.add_argument("--no-register", dest="register", action="store_false", help="log the run, register nothing")
    args = parser.parse_args(argv)
    check_protocol_args(parser, args)
    return args


def events_from_db(settings: Settings) -> pd.DataFrame:
    from common.db import query

    rows = query(settings, "SELECT visitor_id, item_id, action, event_time FROM raw_shopper_events", role="writer")
    return pd.DataFrame(rows, columns=R.EVENT_COLUMNS).astype({"event_time": "datetime64[us]"})


def load(args: argparse.Namespace, settings: Settings) -> tuple[pd.DataFrame, dict]:
    """(events, weights) for the run; DatasetError / DataError on bad input."""
    weights = R.parse_weights(args.weights or settings.interaction_weights)
    events = read_events(args.data, args.format, args.min_rating) if args.data else events_from_db(settings)
    if events.empty:
        where = args.data or "raw_shopper_events (stream shopper events with `retail-pulse ingest stream interactions`)"
        raise DatasetError(f"no events in {where}")
    return events, weights


def metric_key(method: str, name: str) -> str:
    """MLflow metric name of a ranking metric ('@' is not allowed there): holdout.als.map_at_10."""
    return f"holdout.{method}.{name.replace('@', '_at_')}"


def champion_map(settings: Settings, key: str) -> tuple[str | None, float | None]:
    from common.registry import champion, client

    version = champion(settings, settings.recommender_model)
    if version is None:
        return None, None
    return version.version, client(settings).get_run(version.run_id).data.metrics.get(key)


def record_evaluations(settings: Settings, run_id: str, version: str | None, holdout: dict, k: int, cutoff) -> None:
    from common.db import connect, transaction

    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            run_id,
            method,
            now,
            version,
            k,
            m[f"precision@{k}"],
            m[f"recall@{k}"],
            m[f"map@{k}"],
            m[f"ndcg@{k}"],
            m["users"],
            pd.Timestamp(cutoff).to_pydatetime(),
        )
        for method, m in holdout.items()
    ]
    conn = connect(settings)
    try:
        with transaction(conn) as cur:
            cur.executemany(
                "REPLACE INTO recommender_evaluations (mlflow_run_id, method, evaluated_at, model_version, k,"
                " precision_at_k, recall_at_k, map_at_k, ndcg_at_k, users, train_cutoff)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    finally:
        conn.close()


def run(args: argparse.Namespace) -> int:
    import mlflow

    from common.registry import settle
    from common.tracking import check_tracking, run_url, start_run
    from models.recommendations.recommender_serving import ALSRecommender, save_factors, signature
    from streaming.spark import get_spark

    settings = load_settings()
    started = time.time()
    try:
        events, weights = load(args, settings)
    except (DatasetError, R.DataError) as exc:
        return fail(str(exc), 2)
    check_tracking(settings)  # before minutes of training
    print(
        f"{len(events):,} events, {events['visitor_id'].nunique():,} visitors, {events['item_id'].nunique():,} items"
        f" ({events['action'].value_counts().to_dict()}); weights {R.format_weights(weights)}",
        flush=True,
    )
    spark = get_spark(settings, "train-recommender")
    k = args.k
    mlflow_run = start_run(
        settings,
        EXPERIMENT,
        f"recommender-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        tags={"data": str(args.data or "mysql:raw_shopper_events")},
    )
    with mlflow_run:
        trial_log = []
        try:
            outcome = R.select_and_evaluate(
                spark,
                events,
                protocol_grid(args),
                k,
                args.test_fraction,
                weights,
                args.seed,
                lambda line: print(line, flush=True),
            )
        except R.DataError as exc:
            mlflow.set_tag("error", str(exc))
            mlflow.end_run("FAILED")
            return fail(str(exc), 2)
        for n, trial in enumerate(outcome.trials, start=1):
            with mlflow.start_run(run_name=f"grid-{n}", nested=True):
                mlflow.log_params(trial.params)
                mlflow.log_metrics(
                    {
                        f"validation.{method}.{name.replace('@', '_at_')}": value
                        for method, m in trial.validation.items()
                        for name, value in m.items()
                    }
                    | {"fit_seconds": trial.fit_seconds}
                )
            trial_log.append(vars(trial))
        print(summary_line(outcome.holdout, k), flush=True)
        mlflow.log_params(
            {
                "events": len(events),
                "train_events": outcome.train_events,
                "test_events": outcome.test_events,
                "cutoff": str(outcome.split.cutoff),
                "validation_cutoff": str(outcome.validation_cutoff),
                "weights": R.format_weights(weights),
                "k": k,
                "test_fraction": args.test_fraction,
                "grid_size": len(outcome.trials),
                **{f"best_{key}": value for key, value in outcome.best.items()},
            }
        )
        metrics = {metric_key(m, name): v for m, report in outcome.holdout.items() for name, v in report.items()}
        mlflow.log_metrics(metrics | {"cold_test_visitors": outcome.split.cold_visitors})
        report = {"k": k, "best": outcome.best, "holdout": outcome.holdout, "grid": trial_log}
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "evaluation.json").write_text(json.dumps(report, indent=2, default=str))
            mlflow.log_artifacts(tmp, artifact_path="reports")
            if not args.register:
                record_evaluations(settings, mlflow_run.info.run_id, None, outcome.holdout, k, outcome.split.cutoff)
                print(f"MLflow run: {run_url(settings, mlflow_run)} (not registered)")
                return 0
            # the served model: the chosen parameters fitted on every event
            everything = R.interactions(events, weights)
            factors = R.fit_als(spark, everything, seed=args.seed, **outcome.best)
            popular, counts = R.popularity(everything)
            path = save_factors(Path(tmp, "factors.npz"), factors, popular, counts)
            key = metric_key("als", f"map@{k}")
            champion_version, champion_value = champion_map(settings, key)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ALSRecommender(),
                artifacts={"factors": str(path)},
                registered_model_name=settings.recommender_model,
                pip_requirements=["numpy", "pandas"],
                code_paths=[str(REPO_ROOT / "models")],
                signature=signature(),
            )
        version = str(info.registered_model_version)
        challenger, baseline = outcome.holdout["als"][f"map@{k}"], outcome.holdout["popularity"][f"map@{k}"]
        decision = R.promote(challenger, baseline, champion_value, args.tolerance)
        line = settle(
            settings,
            settings.recommender_model,
            version,
            mlflow_run.info.run_id,
            decision,
            metric=key,
            value=challenger,
            champion_value=champion_value,
            baseline=baseline,
            champion_version=champion_version,
        )
        record_evaluations(settings, mlflow_run.info.run_id, version, outcome.holdout, k, outcome.split.cutoff)
        print(line)
        print(f"trained in {time.time() - started:.0f}s; MLflow run: {run_url(settings, mlflow_run)}")
    return 0


main = entry_point(parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
