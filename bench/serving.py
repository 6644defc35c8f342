"""Answers on request: the latency of every served champion through MLflow's scoring server, side by side
with the same model called in-process (``mlflow.pyfunc.load_model(...).predict``), which is the baseline:
the ratio is what the HTTP path adds.

    python -m bench.serving [--requests 40]

Needs the champions a `make demo` registers; starts `make serve`'s servers (`retail-pulse tools serve
up`, left running). Per model and request size (1 row, 100 rows): p50 / p95 over --requests requests
after 3 warm-up ones, JSON (`dataframe_split`) over HTTP on loopback. Inputs are stored rows: review
texts (sentiment, similar reviews), the newest feature snapshot (risk, volume), visitors with
interactions (recommender, k=10). Every request's texts are new to the embedding cache (a unique
suffix), so an e5 model pays its encoder. Results: bench/results/serving.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request

import pandas as pd

from bench import percentiles, write_results
from common.cli import command_line
from common.db import query
from common.serving import SERVED
from common.settings import REPO_ROOT, load_settings

RESULTS = REPO_ROOT / "bench" / "results" / "serving.json"
SIZES = (1, 100)
FEATURE_COLUMNS = (
    "category, units_7, units_28, sales_trend, price_28, discount_28, price_vs_category, reviews_28,"
    " reviews_90, avg_rating_90, negative_share_28, positive_share_28, text_chars_28"
)


def inputs(settings) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Each model's 100 input rows and params."""
    texts = [t for (t,) in query(settings, "SELECT text FROM review_sentiment ORDER BY doc_id LIMIT 100")]
    rows = query(
        settings,
        f"SELECT {FEATURE_COLUMNS} FROM product_features WHERE as_of = (SELECT MAX(as_of) FROM product_features)"
        " ORDER BY store_id, item_id LIMIT 100",
        role="writer",
    )
    features = pd.DataFrame(rows, columns=[c.strip() for c in FEATURE_COLUMNS.split(",")])
    features[features.columns[1:]] = features[features.columns[1:]].astype(float)
    visitors = [v for (v,) in query(settings, "SELECT DISTINCT visitor_id FROM interactions ORDER BY 1 LIMIT 100")]
    text_frame = pd.DataFrame({"text": texts})
    return {
        "sentiment": (text_frame, {}),
        "risk": (features, {}),
        "volume": (features, {}),
        "recommender": (pd.DataFrame({"visitor_id": visitors}), {"k": 10}),
        "similar": (text_frame, {"k": 5}),
    }


def fresh(frame: pd.DataFrame, n: int, request: str) -> pd.DataFrame:
    """The first ``n`` rows, texts made unseen by the embedding cache."""
    part = frame.head(n).copy()
    if "text" in part:
        part["text"] = part["text"] + f" (request {request})"
    return part


def post(port: int, frame: pd.DataFrame, params: dict) -> float:
    body = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False)), "params": params}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        answer = json.loads(response.read())
    elapsed = time.perf_counter() - started
    if not answer.get("predictions"):
        raise RuntimeError(f"port {port}: no predictions in {answer}")
    return elapsed


def measure(call, frame: pd.DataFrame, requests: int, tag: str) -> dict:
    """p50 / p95 per request size; ``tag`` keeps this measurement's texts apart from every other's (the
    embedding cache is shared by the servers and this process)."""
    out = {}
    for n in SIZES:
        for warm in range(3):
            call(fresh(frame, n, f"{tag} warm-up {warm}"))
        samples = []
        for request in range(requests):
            part = fresh(frame, n, f"{tag} {n}-{request}")
            started = time.perf_counter()
            call(part)
            samples.append(time.perf_counter() - started)
        out[f"{n}_rows"] = percentiles(samples)
    return out


def side_by_side(port: int, loaded, frame: pd.DataFrame, params: dict, args) -> dict:
    """One model through its server and in this process, on the same requests."""
    served = measure(lambda part: post(port, part, params), frame, args.requests, f"{port} http {args.seed}")
    local = measure(
        lambda part: loaded.predict(part, params=params or None), frame, args.requests, f"{port} local {args.seed}"
    )
    ratio = {n: round(served[n]["p50_ms"] / max(local[n]["p50_ms"], 1e-3), 2) for n in served}
    return {"http": served, "in_process": local, "http_over_in_process_p50": ratio}


def main(argv: list[str] | None = None) -> int:
    import mlflow

    parser = argparse.ArgumentParser(
        prog="python -m bench.serving", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=40, help="timed requests per model and size")
    parser.add_argument("--seed", default=str(int(time.time())), help="makes this run's texts new to the cache")
    args = parser.parse_args(argv)
    settings = load_settings()
    started = subprocess.run(command_line("tools", "serve", "up"), capture_output=True, text=True)
    if started.returncode != 0 or "no champion yet" in started.stdout:
        print(f"error: the servers did not all come up with a champion (run `make demo` first):\n{started.stdout}")
        return 4
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    report = {"requests": args.requests, "models": {}}
    for model, (frame, params) in inputs(settings).items():
        served = next(s for s in SERVED if s.key == model)
        loaded = mlflow.pyfunc.load_model(f"models:/{served.name(settings)}@champion")
        report["models"][model] = side_by_side(served.port(settings), loaded, frame, params, args)
        print(
            f"{model}: "
            + ", ".join(
                f"{n.replace('_', ' ')}: p50 {m['p50_ms']:.1f} ms, p95 {m['p95_ms']:.1f} ms"
                f" ({report['models'][model]['http_over_in_process_p50'][n]:.2f}x in-process)"
                for n, m in report["models"][model]["http"].items()
            ),
            flush=True,
        )
    write_results(RESULTS, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
