"""Recommendation benchmark: the chosen method against both popularity baselines, and training / top-N speed.

  1. quality  retail-pulse recommendations evaluate (the user's CLI, its defaults) on the real Ta-Feng
              purchases and on the generated funnel written as a Retailrocket file: every candidate's
              validation MAP@10 (ALS grid, recent popularity per window, the blend, item-kNN), the
              choice, and the choice, ALS, all-time and recent popularity MAP@10 / NDCG@10 on the
              same time-based holdout; target: the choice >= the stronger popularity baseline
  2. scaling  at three funnel sizes, on Spark local[2] (after one untimed warm-up fit): ALS fit with
              the parameters of the previous default grid (rank 32, alpha 10, regParam 0.1, 10
              iterations) and of a point of the new grid (rank 32, alpha 3, regParam 1, 15 iterations)
              side by side, top-10 for every visitor by ALS and by the blend, item-kNN
              fit and top-10; target: no more than 2x the previous fit and top-N

    python -m bench.recommendations [--sizes 2000,8000,32000] [--skip-ta-feng]

Writes bench/results/recommend.json. Needs no service (local Spark only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from common.settings import REPO_ROOT, load_settings  # noqa: E402
from models.recommendations import recommender as R  # noqa: E402
from streaming.files import TA_FENG_PATH  # noqa: E402
from streaming.recommendations.event_sources import generated_funnel  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "recommend.json"
FUNNEL = {"visitors": 4000, "items": 1000, "days": 60}
PREVIOUS_PARAMS = {"rank": 32, "reg_param": 0.1, "alpha": 10.0, "max_iter": 10}  # the grid before issue 24
NEW_PARAMS = {"rank": 32, "reg_param": 1.0, "alpha": 3.0, "max_iter": 15}  # a point of the new default grid
MAX_SLOWDOWN = 2.0


def write_retailrocket(frame, path: Path) -> Path:
    """Events as Retailrocket's events.csv (epoch milliseconds)."""
    out = frame.assign(
        timestamp=frame["event_time"].astype("datetime64[ms]").astype("int64"),
        visitorid=frame["visitor_id"],
        event=frame["action"],
        itemid=frame["item_id"],
        transactionid="",
    )
    out[["timestamp", "visitorid", "event", "itemid", "transactionid"]].to_csv(path, index=False)
    return path


def evaluate_cli(data: Path, fmt: str, out: Path) -> dict:
    started = time.time()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs",
            "recommendations",
            "evaluate",
            "--data",
            str(data),
            "--format",
            fmt,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-2000:] + result.stderr[-2000:])
    report = json.loads(out.read_text())
    maps = {name: report[name]["map@10"] for name in ("chosen", "als", "popularity", "recent_popularity")}
    strongest = max(maps["popularity"], maps["recent_popularity"])
    print(
        f"  {data.name}: chosen {report['method']['method']} MAP@10 {maps['chosen']:.4f}; ALS {maps['als']:.4f},"
        f" popularity {maps['popularity']:.4f}, recent popularity {maps['recent_popularity']:.4f};"
        f" {time.time() - started:.0f}s",
        flush=True,
    )
    return {
        "chosen": report["method"],
        "reason": report["reason"],
        "holdout": {name: report[name] for name in maps},
        "lift_over_popularity": round(maps["chosen"] / maps["popularity"], 3) if maps["popularity"] else None,
        "lift_over_recent_popularity": round(maps["chosen"] / maps["recent_popularity"], 3)
        if maps["recent_popularity"]
        else None,
        "beats_strongest_baseline": maps["chosen"] >= strongest,
        "candidates": [
            {
                "method": c["method"],
                "params": c["params"],
                "validation_map@10": c["validation"]["map@10"],
                "guard_map@10": (c["guard"] or {}).get("map@10"),
            }
            for c in report["candidates"]
        ],
        "protocol": report["protocol"],
        "seconds": round(time.time() - started, 1),
    }


def timed(function, *args, **kwargs):
    started = time.time()
    value = function(*args, **kwargs)
    return value, round(time.time() - started, 2)


def scaling(spark, sizes: list[int]) -> list[dict]:
    from models.recommendations.methods import build, fit_item_knn

    warm_up = R.interactions(generated_funnel(1, 500, 200, date(2025, 1, 1), 20))
    R.fit_als(spark, warm_up, **PREVIOUS_PARAMS)  # JVM and ALS code paths warm before timing
    rows = []
    for visitors in sizes:
        items = max(500, visitors // 8)
        events = generated_funnel(7, visitors, items, date(2025, 1, 1), 60)
        train = R.interactions(events)
        excluded = R.consumed_items(events)
        everyone = train["visitor_id"].unique().tolist()
        previous, previous_fit = timed(R.fit_als, spark, train, **PREVIOUS_PARAMS)
        factors, new_fit = timed(R.fit_als, spark, train, **NEW_PARAMS)
        _, previous_top = timed(previous.top_n, everyone, excluded, 10)
        blend = build(spark, train, "blend", NEW_PARAMS | {"days": 30, "weight": 0.3}, factors=factors)
        _, blend_top = timed(blend.top_n, everyone, excluded, 10)
        knn, knn_fit = timed(fit_item_knn, train, 100)
        _, knn_top = timed(knn.top_n, everyone, excluded, 10)
        row = {
            "visitors": visitors,
            "items": items,
            "events": len(events),
            "interactions": len(train),
            "previous_als_fit_seconds": previous_fit,
            "new_als_fit_seconds": new_fit,
            "previous_top_n_seconds": previous_top,
            "blend_top_n_seconds": blend_top,
            "item_knn_fit_seconds": knn_fit,
            "item_knn_top_n_seconds": knn_top,
            "fit_ratio": round(new_fit / previous_fit, 2),
            "top_n_ratio": round(blend_top / max(previous_top, 0.01), 2),
        }
        row["within_target"] = row["fit_ratio"] <= MAX_SLOWDOWN and row["top_n_ratio"] <= MAX_SLOWDOWN
        rows.append(row)
        print(
            f"  {visitors:,} visitors x {items:,} items: {len(events):,} events; ALS fit {previous_fit:.1f}s ->"
            f" {new_fit:.1f}s ({row['fit_ratio']}x), top-10 {previous_top:.2f}s -> blend {blend_top:.2f}s"
            f" ({row['top_n_ratio']}x); item-kNN fit {knn_fit:.1f}s, top-10 {knn_top:.2f}s",
            flush=True,
        )
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.recommendations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="2000,8000,32000", help="funnel visitors of the scaling runs")
    parser.add_argument("--skip-ta-feng", action="store_true", help="quality on the generated funnel only")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from streaming.spark import get_spark

    args = parse_args(argv)
    quality = {}
    with tempfile.TemporaryDirectory() as tmp:
        print("quality (jobs.recommendations.evaluate_recommender: the choice vs both popularities):", flush=True)
        funnel = generated_funnel(7, FUNNEL["visitors"], FUNNEL["items"], date(2025, 1, 1), FUNNEL["days"])
        path = write_retailrocket(funnel, Path(tmp, "funnel_events.csv"))
        quality["generated_funnel"] = evaluate_cli(path, "retailrocket", Path(tmp, "funnel.json")) | {"source": FUNNEL}
        if not args.skip_ta_feng:
            quality["ta_feng"] = evaluate_cli(TA_FENG_PATH, "ta_feng", Path(tmp, "ta_feng.json"))
    print("scaling (Spark local[2]):", flush=True)
    spark = get_spark(load_settings(), "bench-recommend")
    curve = scaling(spark, [int(s) for s in args.sizes.split(",")])
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, Spark {load_settings().spark_master}",
        "targets": {
            "quality": "the chosen method's holdout MAP@10 >= the stronger of all-time and recent popularity",
            "speed": f"new ALS fit and blend top-10 <= {MAX_SLOWDOWN}x the previous grid's fit and top-10",
        },
        "quality": quality,
        "scaling": {"previous_params": PREVIOUS_PARAMS, "new_params": NEW_PARAMS, "runs": curve},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
