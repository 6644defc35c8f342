"""Every champion answering over HTTP, through MLflow's own scoring server.

    retail-pulse tools serve up                      # make serve: all five
    retail-pulse tools serve up --models sentiment,risk
    retail-pulse tools serve status
    retail-pulse tools serve down

Each model runs as `mlflow models serve -m models:/<name>/<version> --env-manager local` on
127.0.0.1, one background daemon per model like the stack's services (pid and log in the state
folder, `down` stops exactly those), health-checked on `/ping`. It serves the version the registry's
`champion` alias points at when it starts; `up` is idempotent and restarts a server whose champion
has moved since. A model with no champion yet gets a stand-in that answers every request with HTTP
404 and the DAG that makes one. Ports: RP_SERVING_PORT (default 5101) and the four after it.

Port offset, what to POST to /invocations, what comes back:

* sentiment (+0): column `text` -> label, confidence, p_negative / p_neutral / p_positive, model_version
* risk (+1) and volume (+2): the feature-store columns and `category` -> prediction, lower / upper
  (volume's 80% interval), flagged (risk), top_features, reason
* recommender (+3): `visitor_id`, optional `exclude` (item ids); param k -> k rows per visitor: rank_no,
  item_id, score, fallback
* similar (+4): column `text`; param k -> k rows per text: doc_type, doc_id, item_id, sentiment, similarity

Bad input is answered with HTTP 400 and the reason. README, "Answers on request", has a curl
example per model. Exit codes: 0 every server healthy, 1 one is not (see its log), 4 MLflow unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common.cli import SetupMissing, job_parser
from common.registry import champion
from common.serving import SERVED, Served
from common.settings import Settings, load_settings
from common.tracking import TrackingUnavailable
from jobs.tools.stack import (
    VENV_BIN,
    Service,
    StackError,
    http_ok,
    log_file,
    print_table,
    running_pid,
    start_service,
    stop_service,
)

KEYS = [s.key for s in SERVED]


def current(settings: Settings, served: Served) -> str | None:
    """``name/version`` of the model's champion now, or None."""
    name = served.name(settings)
    version = champion(settings, name)
    return f"{name}/{version.version}" if version else None


def _record(workdir: Path) -> Path:
    return workdir / "served.json"


def serving(settings: Settings, served: Served) -> str | None:
    """What the running server was started with (``name/version``, or None for the stand-in)."""
    path = _record(Path(settings.state_dir) / f"serve-{served.key}")
    return json.loads(path.read_text())["champion"] if path.is_file() else None


def service(settings: Settings, served: Served) -> Service:
    url = f"http://127.0.0.1:{served.port(settings)}"

    def prepare(s: Settings, workdir: Path) -> None:
        from common.unavailable import save_unavailable

        found = current(s, served)
        if found:
            uri = f"models:/{found}"
        else:
            reason = (
                f"no {served.name(s)}@champion in the MLflow registry yet: {served.hint}; then run `make serve` again"
            )
            uri = str(save_unavailable(workdir / "unavailable", reason))
        _record(workdir).write_text(json.dumps({"champion": found, "uri": uri}))

    def start(s: Settings, workdir: Path) -> list[str]:
        uri = json.loads(_record(workdir).read_text())["uri"]
        return [
            str(VENV_BIN / "mlflow"),
            *("models", "serve", "-m", uri, "--env-manager", "local"),
            *("--host", "127.0.0.1", "--port", str(served.port(s)), "--workers", "1"),
        ]

    return Service(
        f"serve-{served.key}",
        served.port(settings),
        "RP_SERVING_PORT",
        url,
        start,
        lambda s: http_ok(f"{url}/ping"),
        env=lambda s: {
            "MLFLOW_TRACKING_URI": s.mlflow_tracking_uri,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow starts this env's uvicorn
            "OMP_NUM_THREADS": "1",
        },
        prepare=prepare,
        timeout=240,
    )


def bring_up(settings: Settings, served: Served) -> str:
    """Start (or keep, or reload onto a moved champion) one model's server; its state line."""
    svc = service(settings, served)
    now = current(settings, served)
    was = serving(settings, served)
    if running_pid(settings, svc.name) and was != now:
        stop_service(settings, svc.name)
        return f"reloaded ({was or 'no champion'} -> {now}): {start_service(settings, svc)}"
    state = start_service(settings, svc)
    return state if now else f"{state}; no champion yet: answers 404 ({served.hint})"


def status_rows(settings: Settings, chosen: list[Served]) -> list[tuple[str, ...]]:
    rows = []
    for served in chosen:
        svc = service(settings, served)
        pid = running_pid(settings, svc.name)
        if not pid:
            state = "stopped"
        elif not svc.healthy(settings):
            state = f"unhealthy (pid {pid})"
        else:
            was, now = serving(settings, served), current(settings, served)
            stale = f"; champion is now {now}: `make serve` reloads" if now != was else ""
            state = f"healthy (pid {pid}): {was or 'no champion yet (404)'}{stale}"
        rows.append((served.key, state, f"{svc.url}/invocations", str(log_file(settings, svc.name))))
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.tools.serve", __doc__)
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--models", help=f"comma-separated subset of {','.join(KEYS)} (default: all)")
    args = parser.parse_args(argv)
    names = [m.strip() for m in (args.models or ",".join(KEYS)).split(",") if m.strip()]
    unknown = set(names) - set(KEYS)
    if unknown or not names:
        parser.error(f"unknown model(s) {', '.join(sorted(unknown)) or '(none)'}; choose from {', '.join(KEYS)}")
    args.models = [s for s in SERVED if s.key in names]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    try:
        if args.action == "down":
            for served in args.models:
                print(f"{served.key}: {stop_service(settings, f'serve-{served.key}')}")
            return 0
        if args.action == "up":
            with ThreadPoolExecutor(len(args.models)) as pool:  # the servers load their models side by side
                states = list(pool.map(lambda served: bring_up(settings, served), args.models))
            for served, state in zip(args.models, states, strict=True):
                print(f"{served.key}: {state}", flush=True)
        rows = status_rows(settings, args.models)
    except TrackingUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    except (StackError, SetupMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_table(rows)
    return 0 if all(r[1].startswith("healthy") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
