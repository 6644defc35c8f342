"""Trigger an Airflow DAG run through the scheduler, as an operator does in the UI, and follow it.

    retail-pulse tools trigger retail_pipeline
    retail-pulse tools trigger retail_pipeline --conf '{"demo_history_days": 800}'
    retail-pulse tools trigger transactions_ingest --logical-date 2025-03-10 --conf '{"produce_demo_events": 1000}'

Talks to the stack's Airflow REST API (a JWT from /auth/token with the admin credentials, then
POST /api/v2/dags/{dag_id}/dagRuns). Without --logical-date the run has none, which is what the
UI's Trigger button does in Airflow 3. If the DAG already has a run with the given logical date
(Airflow allows one), that run is cleared and runs again (its conf stays), or followed if it has
not finished. A paused DAG is unpaused once the run exists (its runs
would stay queued otherwise; the scheduler then also makes the DAG's latest scheduled run, unless
this run has that run's logical date), unless --keep-paused. Prints each task's state changes
and its own output, and on failure the failing task's log tail.
Exit codes: 0 run succeeded, 1 run failed or timed out, 2 bad arguments or unknown DAG,
4 Airflow unreachable.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

from common.cli import job_parser
from common.settings import Settings, load_settings

FINISHED_RUN = {"success", "failed"}
FINISHED_TASK = {"success", "failed", "skipped", "upstream_failed", "removed"}
# the loggers of what a task itself says: a job's output (through the subprocess hook), a gate's checks
OWN_LOGGERS = ("SubprocessHook", "pipeline_tasks.DataGate")
# the hook's own lines, and start-up chatter of Spark, Prophet and MLflow inside the tasks' output
CHATTER = re.compile(
    r"(Tmp dir root location|Running command:|Output:|Command exited with return code|WARNING: Using incubator"
    r"|Using Spark's default log4j|Setting default log level|To adjust logging level|Importing plotly failed"
    r"|\d\d/\d\d/\d\d \d\d:\d\d:\d\d WARN |🏃 View run|🧪 View experiment|\s*$)"
)


class AirflowError(RuntimeError):
    """The API answered with an error, or could not be reached; the message says which."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AirflowClient:
    """The few REST API calls an operator's tools need (Airflow 3, simple auth manager)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    @classmethod
    def for_stack(cls, settings: Settings) -> AirflowClient:
        base = f"http://127.0.0.1:{settings.airflow_port}"
        return cls(base, settings.airflow_admin_user, settings.airflow_admin_password)

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise AirflowError(f"{method} {path}: HTTP {exc.code}: {detail}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AirflowError(f"cannot reach Airflow at {self.base_url}: {reason}; start it with `make up`") from None

    def token(self) -> str:
        if self._token is None:
            self._token = self._request("POST", "/auth/token", self._credentials, auth=False)["access_token"]
        return self._token

    def dag(self, dag_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{dag_id}")

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict:
        """The DAG once the DAG processor has parsed it (a fresh stack needs a few seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.dag(dag_id)
            except AirflowError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict, logical_date: datetime | None = None) -> dict:
        body = {"logical_date": logical_date.isoformat() if logical_date else None, "conf": conf}
        return self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)

    def run_at(self, dag_id: str, logical_date: datetime) -> dict | None:
        """The DAG's run with this logical date, if there is one."""
        stamp = urllib.parse.quote(logical_date.isoformat())
        path = f"/api/v2/dags/{dag_id}/dagRuns?logical_date_gte={stamp}&logical_date_lte={stamp}"
        runs = self._request("GET", path)["dag_runs"]
        return runs[0] if runs else None

    def clear(self, dag_id: str, run_id: str) -> None:
        """Clear a finished run so the scheduler runs all its tasks again (the UI's Clear button)."""
        self._request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/clear", {"dry_run": False}
        )

    def run(self, dag_id: str, run_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def runs(self, dag_id: str) -> list[dict]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"
        return self._request("GET", path)["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[dict]:
        """The structured log events of one try (each a dict with at least `event`)."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}"
            f"/logs/{try_number}?full_content=true"
        )
        content = self._request("GET", path).get("content") or []
        return [e if isinstance(e, dict) else {"event": str(e)} for e in content]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float, on_task=None, poll: float = 2.0) -> dict:
        """Poll until the run finishes; ``on_task(ti)`` is called once per task-state change."""
        deadline = time.monotonic() + timeout
        seen: dict[str, tuple] = {}
        while True:
            run = self.run(dag_id, run_id)
            if on_task:
                for ti in sorted(self.task_instances(dag_id, run_id), key=lambda t: t.get("start_date") or "~"):
                    state = (ti["state"], ti["try_number"])
                    if seen.get(ti["task_id"]) != state:
                        seen[ti["task_id"]] = state
                        on_task(ti)
            if run["state"] in FINISHED_RUN:
                return run
            if time.monotonic() > deadline:
                raise AirflowError(f"run {run_id} of {dag_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(poll)


def task_output(events: list[dict]) -> list[str]:
    """The lines a task's command printed (or a gate's check lines), without the hooks' and the
    libraries' chatter; all events when the log has none (a task that failed before its command
    started)."""
    own = [str(e.get("event", "")) for e in events if any(o in str(e.get("logger", "")) for o in OWN_LOGGERS)]
    if not own:
        return [str(e.get("event", "")) for e in events if e.get("event")]
    return [line for line in own if not CHATTER.match(line)]


def parse_logical_date(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.tools.trigger", __doc__)
    parser.add_argument("dag_id")
    parser.add_argument("--conf", default="{}", help="run conf as a JSON object (the trigger form's params)")
    parser.add_argument(
        "--logical-date", type=parse_logical_date, help="ISO date or time (UTC unless given); default: none"
    )
    parser.add_argument("--keep-paused", action="store_true", help="do not unpause a paused DAG (the run waits)")
    parser.add_argument("--no-wait", dest="wait", action="store_false", help="print the run id and return")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the run (default 3600)")
    parser.add_argument("--log-tail", type=int, default=40, help="log lines shown of a failed task (default 40)")
    args = parser.parse_args(argv)
    try:
        args.conf = json.loads(args.conf)
    except json.JSONDecodeError as exc:
        parser.error(f"--conf is not JSON: {exc}")
    if not isinstance(args.conf, dict):
        parser.error("--conf must be a JSON object")
    return args


def follow(client: AirflowClient, args: argparse.Namespace, run_id: str) -> dict:
    def on_task(ti: dict) -> None:
        state, attempt = ti["state"], ti["try_number"]
        if state not in FINISHED_TASK | {"running", "up_for_retry"}:
            return  # not started yet: none, scheduled, queued
        print(f"task {ti['task_id']}: {state}" + (f" (try {attempt})" if attempt > 1 else ""), flush=True)
        if state in FINISHED_TASK | {"up_for_retry"} and attempt:
            lines = task_output(client.task_log(args.dag_id, run_id, ti["task_id"], attempt))
            if state in {"failed", "up_for_retry"}:
                lines = lines[-args.log_tail :]
            for line in lines:
                print(f"  {line}", flush=True)

    return client.wait_for_run(args.dag_id, run_id, args.timeout, on_task)


def trigger_or_rerun(client: AirflowClient, args: argparse.Namespace) -> dict:
    """Trigger a run; if the DAG already has one with this logical date (one run per logical date),
    clear that run so it runs again, as an operator would with the UI's Clear button, or follow it
    if it is still going."""
    try:
        created = client.trigger(args.dag_id, args.conf, args.logical_date)
    except AirflowError as exc:
        existing = client.run_at(args.dag_id, args.logical_date) if exc.status == 409 and args.logical_date else None
        if existing is None:
            raise
        run_id, state = existing["dag_run_id"], existing["state"]
        if state in FINISHED_RUN:
            client.clear(args.dag_id, run_id)
            print(
                f"{args.dag_id} already has run {run_id} for {args.logical_date.isoformat()} ({state}): cleared it"
                " to run again with that run's conf",
                flush=True,
            )
        else:
            print(f"{args.dag_id} already has run {run_id} for {args.logical_date.isoformat()} ({state}): following it")
        return existing
    print(
        f"triggered {args.dag_id} run {created['dag_run_id']} (logical date {created.get('logical_date') or 'none'})",
        flush=True,
    )
    return created


def run(args: argparse.Namespace, client: AirflowClient) -> int:
    try:
        dag = client.wait_for_dag(args.dag_id, timeout=180)
    except AirflowError as exc:
        if exc.status == 404:
            print(f"error: no DAG {args.dag_id!r} in Airflow (not parsed yet, or an import error)", file=sys.stderr)
            return 2
        raise
    started = time.monotonic()
    created = trigger_or_rerun(client, args)
    run_id = created["dag_run_id"]
    print(f"  {client.base_url}/dags/{args.dag_id}/runs/{urllib.parse.quote(run_id, safe='')}", flush=True)
    # unpause after the run exists: a scheduled slot it fills (same logical date) is not run twice
    if dag["is_paused"] and not args.keep_paused:
        client.set_paused(args.dag_id, False)
        print(f"{args.dag_id} was paused: unpaused it (the scheduler also makes its latest scheduled run)")
    if not args.wait:
        return 0
    finished = follow(client, args, run_id)
    print(f"run {run_id}: {finished['state']} in {time.monotonic() - started:.0f}s")
    return 0 if finished["state"] == "success" else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    client = AirflowClient.for_stack(load_settings())
    try:
        return run(args, client)
    except AirflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4 if exc.status is None else 1


if __name__ == "__main__":
    sys.exit(main())
