"""Recommendation benchmark: quality of ALS against popularity, and training / top-N speed.

  1. quality  retail-pulse recommendations evaluate (the user's CLI, its default grid) on the real
              Ta-Feng purchases and on the generated funnel written as a Retailrocket file: ALS and
              popularity MAP@10 / NDCG@10 on the same time-based holdout; target ALS >= 1.5 x popularity
  2. scaling  ALS fit (rank 32, alpha 10, regParam 0.1, 10 iterations; after one untimed warm-up fit)
              at three funnel sizes, and top-N (k = 10, purchased items excluded) for every
              visitor, on Spark local[2]

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
TARGET_LIFT = 1.5
FUNNEL = {"visitors": 4000, "items": 1000, "days": 60}
SCALING_PARAMS = {"rank": 32, "reg_param": 0.1, "alpha": 10.0, "max_iter": 10}


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
    als, pop = report["als"], report["popularity"]
    lift = als["map@10"] / pop["map@10"] if pop["map@10"] else None
    print(
        f"  {data.name}: MAP@10 ALS {als['map@10']:.4f} vs popularity {pop['map@10']:.4f}"
        f" ({lift:.2f}x), {time.time() - started:.0f}s",
        flush=True,
    )
    return {
        "als": als,
        "popularity": pop,
        "map_lift": round(lift, 3) if lift else None,
        "meets_target": bool(lift and lift >= TARGET_LIFT),
        "protocol": report["protocol"],
        "seconds": round(time.time() - started, 1),
    }


def scaling(spark, sizes: list[int]) -> list[dict]:
    warm_up = R.interactions(generated_funnel(1, 500, 200, date(2025, 1, 1), 20))
    R.fit_als(spark, warm_up, **SCALING_PARAMS)  # JVM and ALS code paths warm before timing
    rows = []
    for visitors in sizes:
        items = max(500, visitors // 8)
        events = generated_funnel(7, visitors, items, date(2025, 1, 1), 60)
        train = R.interactions(events)
        started = time.time()
        factors = R.fit_als(spark, train, **SCALING_PARAMS)
        fit = time.time() - started
        excluded = R.consumed_items(events)
        started = time.time()
        lists = factors.top_n(train["visitor_id"].unique().tolist(), excluded, 10)
        top_n = time.time() - started
        rows.append(
            {
                "visitors": visitors,
                "items": items,
                "events": len(events),
                "interactions": len(train),
                "fit_seconds": round(fit, 2),
                "top_n_seconds": round(top_n, 2),
                "top_n_visitors_per_s": round(len(lists) / top_n),
            }
        )
        print(
            f"  {visitors:,} visitors x {items:,} items: {len(events):,} events, fit {fit:.1f}s,"
            f" top-10 for {len(lists):,} visitors {top_n:.2f}s",
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
        print("quality (jobs.recommendations.evaluate_recommender, ALS vs popularity on the same holdout):", flush=True)
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
        "target": f"ALS MAP@10 >= {TARGET_LIFT} x popularity",
        "quality": quality,
        "scaling": {"params": SCALING_PARAMS, "runs": curve},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
