"""The embedded local stack: MariaDB, Apache Kafka (one KRaft node), MLflow and Airflow.

    retail-pulse tools stack up [--services mariadb,kafka,mlflow,airflow]
    retail-pulse tools stack up --services spark-master,spark-worker   # a Spark standalone cluster too
    retail-pulse tools stack status
    retail-pulse tools stack down

Each service runs as a background daemon in its own process group, with its pid and log files in
the state folder (RP_STATE_DIR, default .stack/). `up` is idempotent: a healthy service is left
alone. `down` stops exactly the process groups that `up` started. Ports come from settings
(RP_MYSQL_PORT, RP_KAFKA_BOOTSTRAP, RP_KAFKA_CONTROLLER_PORT, RP_MLFLOW_PORT, RP_AIRFLOW_PORT).

Kafka runs from the Maven Central jars `make setup` copies into .jars/kafka (jvm/pom.xml): one
process that is broker and KRaft controller, listening on loopback only, its log under
<state>/kafka/data. Data survive `down` and `up`: topics, messages and committed offsets stay.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.cli import SetupMissing, job_parser
from common.settings import REPO_ROOT, SECRET_FIELDS, Settings, load_settings, read_env_file

SERVICES = ("mariadb", "kafka", "mlflow", "airflow", "spark-master", "spark-worker")
DEFAULT_SERVICES = SERVICES[:4]  # `make up`; the Spark cluster only on request (`make up-cluster`)
CORE_SERVICES = SERVICES[:3]  # what the pipeline jobs and the tests need (Airflow starts apart)
CLUSTER_SERVICES = SERVICES[4:]
VENV_BIN = Path(sys.executable).parent
AIRFLOW_BIN = Path(os.environ.get("RP_AIRFLOW_VENV", REPO_ROOT / ".venvs" / "airflow")) / "bin"
KAFKA_JARS = REPO_ROOT / ".jars" / "kafka"
KAFKA_LOG4J = REPO_ROOT / "jvm" / "kafka-log4j2.properties"


class StackError(RuntimeError):
    """A problem the operator can fix; printed as one line without a traceback."""


@dataclass
class Service:
    name: str
    port: int
    port_setting: str
    url: str
    start: Callable[[Settings, Path], list[str]]
    healthy: Callable[[Settings], bool]
    env: Callable[[Settings], dict] = lambda s: {}
    prepare: Callable[[Settings, Path], None] = lambda s, d: None
    after_start: Callable[[Settings], None] = lambda s: None
    timeout: float = 120.0


# ---- credentials --------------------------------------------------------------------------------
def ensure_credentials(settings: Settings) -> Settings:
    """Generate missing secrets once into <state>/credentials.env (mode 600); env values win."""
    path = settings.credentials_file
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = read_env_file(path)
    created = []
    for name in SECRET_FIELDS:
        key = f"RP_{name.upper()}"
        if not getattr(settings, name) and key not in stored:
            stored[key] = secrets.token_urlsafe(18)
            created.append(key)
    if created:
        path.write_text("".join(f"{k}={v}\n" for k, v in stored.items()))
        path.chmod(0o600)
        if "RP_AIRFLOW_ADMIN_PASSWORD" in created:
            print(f"Airflow admin password generated (shown once): {stored['RP_AIRFLOW_ADMIN_PASSWORD']}")
            print(f"  it is kept in {path}; set RP_AIRFLOW_ADMIN_PASSWORD to choose your own")
    return load_settings()


# ---- health checks ------------------------------------------------------------------------------
def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def mariadb_healthy(settings: Settings) -> bool:
    if not port_open(settings.mysql_port):
        return False
    import mysql.connector

    from common.db import connect

    try:
        connect(settings, "admin", database=False).close()
        return True
    except mysql.connector.Error as exc:
        return exc.errno in (1045, 1698)  # the server answered: up, though root has no TCP login yet


def kafka_port(settings: Settings) -> int:
    return int(settings.kafka_bootstrap.rsplit(":", 1)[1])


def kafka_healthy(settings: Settings) -> bool:
    if not port_open(kafka_port(settings)):
        return False
    from streaming.topics import broker_reachable

    return broker_reachable(settings.kafka_bootstrap)


# ---- service definitions ------------------------------------------------------------------------
def _mariadb_paths(d: Path) -> dict:
    return {"datadir": d / "data", "socket": d / "mysqld.sock", "pid": d / "mysqld.pid", "init": d / "init.sql"}


def mariadb_prepare(settings: Settings, d: Path) -> None:
    paths = _mariadb_paths(d)
    if (paths["datadir"] / "mysql").is_dir():
        return
    binary = shutil.which("mariadb-install-db")
    if not binary:
        raise StackError("mariadb-install-db not found: run `make setup` (installs Debian's mariadb-server)")
    paths["datadir"].mkdir(parents=True, exist_ok=True)
    cmd = [
        binary,
        "--no-defaults",
        f"--datadir={paths['datadir']}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    ]
    if os.geteuid() == 0:
        cmd.append("--user=root")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"mariadb-install-db failed: {result.stderr.strip()[-400:]}")
    # root's password is set by a one-time init file (mode 600), removed once the server is up
    password = settings.mysql_admin_password.replace("\\", "\\\\").replace("'", "\\'")
    paths["init"].write_text(
        f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{password}';\n"
        f"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
        f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
        f"DROP USER IF EXISTS ''@'localhost', 'root'@'::1', 'root'@'{socket.gethostname()}';\n"
    )
    paths["init"].chmod(0o600)


def mariadb_start(settings: Settings, d: Path) -> list[str]:
    paths = _mariadb_paths(d)
    cmd = [
        shutil.which("mariadbd") or "/usr/sbin/mariadbd",
        "--no-defaults",
        f"--datadir={paths['datadir']}",
        f"--socket={paths['socket']}",
        f"--port={settings.mysql_port}",
        "--bind-address=127.0.0.1",
        f"--pid-file={paths['pid']}",
        "--local-infile=1",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=256M",
        "--innodb-flush-log-at-trx-commit=2",
        "--max-connections=200",
    ]
    if paths["init"].exists():
        cmd.append(f"--init-file={paths['init']}")
    if os.geteuid() == 0:
        cmd.append("--user=root")
    return cmd


def mariadb_after_start(settings: Settings) -> None:
    """Create the database, apply migrations and (re)create the users."""
    from common.migrations import apply_migrations, ensure_users

    _mariadb_paths(Path(settings.state_dir) / "mariadb")["init"].unlink(missing_ok=True)
    apply_migrations(settings, log=lambda msg: print(f"  mariadb: {msg}"))
    ensure_users(settings)


def kafka_properties(settings: Settings, d: Path) -> str:
    """server.properties of the local node: broker and KRaft controller in one process on loopback,
    sized for 2 cores, replication factor 1, nothing deleted by age (the stack keeps what it holds)."""
    port, controller = kafka_port(settings), settings.kafka_controller_port
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={d / 'data'}",
            f"num.partitions={settings.kafka_partitions}",
            "auto.create.topics.enable=false",
            "log.retention.ms=-1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "num.network.threads=2",
            "num.io.threads=2",
            "background.threads=2",
            "num.recovery.threads.per.data.dir=1",
            "log.cleaner.threads=1",
            "",
        ]
    )


def _java(main: str, *args: str, heap: str = "256m") -> list[str]:
    if not any(KAFKA_JARS.glob("kafka_2.13-*.jar")):
        raise SetupMissing(f"Apache Kafka's jars are not in {KAFKA_JARS}: run `make setup` (fetches jvm/pom.xml)")
    java = shutil.which("java")
    if not java:
        raise SetupMissing("java not found: run `make setup` (installs Debian's openjdk-17-jre-headless)")
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
        "-cp",
        f"{KAFKA_JARS}/*",
        main,
        *args,
    ]


def kafka_prepare(settings: Settings, d: Path) -> None:
    """Write server.properties from the settings (ports may change between runs) and format the
    log folder once, with a cluster id kept beside it."""
    (d / "server.properties").write_text(kafka_properties(settings, d))
    if (d / "data" / "meta.properties").exists():
        return
    cluster = d / "cluster.id"
    if not cluster.exists():  # a Kafka Uuid: 16 random bytes, URL-safe base64 without padding
        cluster.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())
    cluster_id, config = cluster.read_text().strip(), str(d / "server.properties")
    fmt = _java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", config, "--ignore-formatted")
    result = subprocess.run(fmt, capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"formatting Kafka's log folder failed: {(result.stderr or result.stdout).strip()[-400:]}")


def kafka_start(settings: Settings, d: Path) -> list[str]:
    return _java("kafka.Kafka", str(d / "server.properties"), heap=settings.kafka_heap)


def kafka_after_start(settings: Settings) -> None:
    from streaming.topics import ensure_topics

    created = ensure_topics(settings)
    if created:
        print(f"  kafka: created topics {', '.join(created)}")


def mlflow_start(settings: Settings, d: Path) -> list[str]:
    (d / "artifacts").mkdir(parents=True, exist_ok=True)
    return [
        str(VENV_BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{d / 'mlflow.db'}",
        "--artifacts-destination",
        str(d / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.mlflow_port),
        "--workers",
        "1",
    ]


def airflow_env(settings: Settings) -> dict:
    from common.airflow_env import airflow_environment

    env = airflow_environment(settings, Path(settings.state_dir) / "airflow")
    return {**env, "PATH": f"{AIRFLOW_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # standalone spawns `airflow`


def airflow_prepare(settings: Settings, d: Path) -> None:
    if not (AIRFLOW_BIN / "airflow").exists():
        raise StackError(f"Airflow is not installed in {AIRFLOW_BIN.parent}: run `make setup`")
    (d / "passwords.json").write_text(json.dumps({settings.airflow_admin_user: settings.airflow_admin_password}))
    (d / "passwords.json").chmod(0o600)


def airflow_start(settings: Settings, d: Path) -> list[str]:
    return [str(AIRFLOW_BIN / "airflow"), "standalone"]


def spark_master_url(settings: Settings) -> str:
    return f"spark://127.0.0.1:{settings.spark_master_port}"


def spark_cluster_state(settings: Settings) -> dict | None:
    """The standalone master's JSON status (workers, applications), or None if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.spark_master_ui_port}/json/", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def spark_worker_alive(settings: Settings) -> bool:
    workers = (spark_cluster_state(settings) or {}).get("workers", [])
    return any(w.get("state") == "ALIVE" and w.get("port") == settings.spark_worker_port for w in workers)


def spark_env(settings: Settings) -> dict:
    # daemons bind to loopback; their executors run this venv's Python (as the driver does)
    return {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}


def spark_master_start(settings: Settings, d: Path) -> list[str]:
    return [
        str(VENV_BIN / "spark-class"),
        "org.apache.spark.deploy.master.Master",
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.spark_master_port),
        "--webui-port",
        str(settings.spark_master_ui_port),
    ]


def spark_worker_start(settings: Settings, d: Path) -> list[str]:
    return [
        str(VENV_BIN / "spark-class"),
        "org.apache.spark.deploy.worker.Worker",
        spark_master_url(settings),
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.spark_worker_port),
        "--webui-port",
        "0",
        "--cores",
        str(settings.spark_worker_cores),
        "--memory",
        settings.spark_worker_memory,
        "--work-dir",
        str(d / "work"),
    ]


def build_services(settings: Settings) -> dict[str, Service]:
    mlflow_url = f"http://127.0.0.1:{settings.mlflow_port}"
    airflow_url = f"http://127.0.0.1:{settings.airflow_port}"
    return {
        "mariadb": Service(
            "mariadb",
            settings.mysql_port,
            "RP_MYSQL_PORT",
            f"mysql://127.0.0.1:{settings.mysql_port}/{settings.mysql_database}",
            mariadb_start,
            mariadb_healthy,
            prepare=mariadb_prepare,
            after_start=mariadb_after_start,
            timeout=60,
        ),
        "kafka": Service(
            "kafka",
            kafka_port(settings),
            "RP_KAFKA_BOOTSTRAP",
            settings.kafka_bootstrap,
            kafka_start,
            kafka_healthy,
            prepare=kafka_prepare,
            after_start=kafka_after_start,
            timeout=90,
        ),
        "mlflow": Service(
            "mlflow",
            settings.mlflow_port,
            "RP_MLFLOW_PORT",
            mlflow_url,
            mlflow_start,
            lambda s: http_ok(f"{mlflow_url}/health"),
            timeout=90,
        ),
        "airflow": Service(
            "airflow",
            settings.airflow_port,
            "RP_AIRFLOW_PORT",
            airflow_url,
            airflow_start,
            lambda s: http_ok(f"{airflow_url}/api/v2/monitor/health"),
            env=airflow_env,
            prepare=airflow_prepare,
            timeout=240,
        ),
        "spark-master": Service(
            "spark-master",
            settings.spark_master_port,
            "RP_SPARK_MASTER_PORT",
            spark_master_url(settings),
            spark_master_start,
            lambda s: spark_cluster_state(s) is not None,
            env=spark_env,
            timeout=60,
        ),
        "spark-worker": Service(
            "spark-worker",
            settings.spark_worker_port,
            "RP_SPARK_WORKER_PORT",
            f"{settings.spark_worker_cores} cores, {settings.spark_worker_memory} -> {spark_master_url(settings)}",
            spark_worker_start,
            spark_worker_alive,
            env=spark_env,
            timeout=60,
        ),
    }


# ---- process management -------------------------------------------------------------------------
def _pid_file(settings: Settings, name: str) -> Path:
    return Path(settings.state_dir) / "run" / f"{name}.pid"


def log_file(settings: Settings, name: str) -> Path:
    return Path(settings.state_dir) / "logs" / f"{name}.log"


def running_pid(settings: Settings, name: str) -> int | None:
    """The pid `up` recorded for this service, if that process group is still alive."""
    path = _pid_file(settings, name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    try:
        if _reaped(pid):
            raise ProcessLookupError(pid)
        os.killpg(pid, 0)
        return pid
    except (ProcessLookupError, PermissionError):
        path.unlink(missing_ok=True)
        return None


def _reaped(pid: int) -> bool:
    """Whether ``pid`` is a child of this process that has exited (reaped now: a zombie is not running)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:  # not our child: its parent or init reaps it
        return False


def start_service(settings: Settings, svc: Service) -> str:
    if running_pid(settings, svc.name):
        if svc.healthy(settings):
            svc.after_start(settings)  # idempotent: applies new migrations, recreates missing topics
            return "already running"
        return wait_healthy(settings, svc)
    if port_open(svc.port):
        raise StackError(
            f"port {svc.port} needed by {svc.name} is already in use by another process; "
            f"stop that process or set {svc.port_setting} to a free port"
        )
    workdir = Path(settings.state_dir) / svc.name
    workdir.mkdir(parents=True, exist_ok=True)
    svc.prepare(settings, workdir)
    log_path = log_file(settings, svc.name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(settings, svc.name).parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **svc.env(settings)}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            svc.start(settings, workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    _pid_file(settings, svc.name).write_text(str(proc.pid))
    return wait_healthy(settings, svc)


def start_services(settings: Settings, names=CORE_SERVICES, report=lambda name, state: None) -> None:
    """Start the named services in order (a healthy one is left alone); ``report(name, state)``."""
    services = build_services(settings)
    for name in names:
        report(name, start_service(settings, services[name]))


def wait_healthy(settings: Settings, svc: Service) -> str:
    deadline = time.monotonic() + svc.timeout
    started = time.monotonic()
    while time.monotonic() < deadline:
        if svc.healthy(settings):
            svc.after_start(settings)
            return f"started in {time.monotonic() - started:.0f}s"
        if not running_pid(settings, svc.name):
            raise StackError(f"{svc.name} exited during start-up; see {log_file(settings, svc.name)}")
        time.sleep(0.5)
    raise StackError(f"{svc.name} not healthy after {svc.timeout:.0f}s; see {log_file(settings, svc.name)}")


def stop_service(settings: Settings, name: str, grace: float = 20.0) -> str:
    pid = running_pid(settings, name)
    if pid is None:
        return "not running"
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and running_pid(settings, name):
        time.sleep(0.3)
    if running_pid(settings, name):
        os.killpg(pid, signal.SIGKILL)
    _pid_file(settings, name).unlink(missing_ok=True)
    return "stopped"


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("service", "state", "url", "log")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)))


def status_rows(settings: Settings, names: list[str]) -> list[tuple[str, ...]]:
    services = build_services(settings)
    rows = []
    for name in names:
        svc = services[name]
        pid = running_pid(settings, name)
        state = ("healthy" if svc.healthy(settings) else "unhealthy") if pid else "stopped"
        rows.append((name, f"{state} (pid {pid})" if pid else state, svc.url, str(log_file(settings, name))))
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = job_parser("jobs.tools.stack", __doc__)
    parser.add_argument(
        "action",
        choices=("up", "down", "status", "airflow"),
        help="airflow: run the Airflow CLI with the stack's environment, e.g. `airflow dags list`",
    )
    parser.add_argument(
        "--services",
        help=f"comma-separated subset of {','.join(SERVICES)} (default: {','.join(DEFAULT_SERVICES)}, and the"
        " Spark cluster's two while they run)",
    )
    args, args.airflow_args = parser.parse_known_args(argv)
    if args.airflow_args and args.action != "airflow":
        parser.error(f"unrecognized arguments: {' '.join(args.airflow_args)}")
    args.services = [s.strip() for s in args.services.split(",") if s.strip()] if args.services else None
    unknown = set(args.services or ()) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(SERVICES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    if args.services is None:  # the defaults, and whatever else `up` started
        args.services = [name for name in SERVICES if name in DEFAULT_SERVICES or running_pid(settings, name)]
    if args.action == "airflow":  # e.g. retail-pulse tools stack airflow dags list
        env = {**os.environ, **airflow_env(ensure_credentials(settings))}
        return subprocess.call([str(AIRFLOW_BIN / "airflow"), *args.airflow_args], env=env)
    try:
        if args.action == "up":
            settings = ensure_credentials(settings)
            start_services(settings, args.services, lambda name, state: print(f"{name}: {state}", flush=True))
        elif args.action == "down":
            for name in reversed(args.services):
                print(f"{name}: {stop_service(settings, name)}")
            return 0
    except (StackError, SetupMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = status_rows(settings, args.services)
    print_table(rows)
    return 0 if all(r[1].startswith("healthy") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
