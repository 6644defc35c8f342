"""Environment for Airflow processes (the standalone server and `dag.test()` in tests).

Standard library only: imported from the Airflow env too. Connections are given to Airflow as
AIRFLOW_CONN_* variables; DAG tasks read them by id (`mysql_default`, `kafka_default`,
`mlflow_default`) and hand them to the pipeline jobs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

from common.settings import PROFILE_VAR, REPO_ROOT, Settings

PIPELINE_PYTHON = REPO_ROOT / ".venvs" / "pipeline" / "bin" / "python"


SMTP_SECURITY = {"starttls": (True, False), "ssl": (False, True), "none": (True, True)}  # disable_ssl, disable_tls


def alert_env(settings: Settings) -> dict[str, str]:
    """The alert mail's SMTP connection (``smtp_default``) and recipients variable, when configured."""
    if not settings.smtp_host:
        return {}
    if settings.smtp_security not in SMTP_SECURITY:
        raise ValueError(f"RP_SMTP_SECURITY={settings.smtp_security!r} is not one of {', '.join(SMTP_SECURITY)}")
    disable_ssl, disable_tls = SMTP_SECURITY[settings.smtp_security]
    smtp = {
        "conn_type": "smtp",
        "host": settings.smtp_host,
        "port": settings.smtp_port,
        "login": settings.smtp_user or None,
        "password": settings.smtp_password or None,
        "extra": {"from_email": settings.alert_from, "disable_ssl": disable_ssl, "disable_tls": disable_tls},
    }
    env = {"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp)}
    if settings.alert_emails:
        env["AIRFLOW_VAR_RETAIL_PULSE_ALERT_EMAILS"] = settings.alert_emails
    return env


def connection_env(settings: Settings) -> dict[str, str]:
    user = quote(settings.mysql_writer_user, safe="")
    password = quote(settings.mysql_writer_password, safe="")
    mlflow = settings.mlflow_tracking_uri.split("://", 1)
    return {
        "AIRFLOW_CONN_MYSQL_DEFAULT": f"mysql://{user}:{password}@{settings.mysql_host}:{settings.mysql_port}"
        f"/{settings.mysql_database}",
        "AIRFLOW_CONN_KAFKA_DEFAULT": f"kafka://{settings.kafka_bootstrap}",
        "AIRFLOW_CONN_MLFLOW_DEFAULT": f"{mlflow[0]}://{mlflow[1]}",
    }


def airflow_environment(settings: Settings, home: Path, pipeline_python: str | None = None) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__SCHEDULER__PARSING_PROCESSES": "1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{settings.airflow_port}/",  # the alerts' log links
        "AIRFLOW__API__WORKERS": "1",
        # task supervisors report to the execution API of this stack's API server, not Airflow's default :8080
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{settings.airflow_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "RP_PIPELINE_PYTHON": pipeline_python or str(PIPELINE_PYTHON if PIPELINE_PYTHON.exists() else sys.executable),
        PROFILE_VAR: settings.profile,
        **connection_env(settings),
        **alert_env(settings),
    }
