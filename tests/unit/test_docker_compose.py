"""docker-compose.yml cannot run here (no Docker engine); check it names what the code expects."""

import re
from pathlib import Path

import yaml

from common.airflow_env import connection_env
from common.settings import Settings, load_settings

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())


def test_services_present():
    assert {"kafka", "mysql", "mlflow", "spark-master", "spark-worker", "airflow"} <= set(COMPOSE["services"])


def test_pipeline_env_matches_the_docker_profile():
    env = COMPOSE["services"]["migrate"]["environment"]
    known = {f"RP_{name.upper()}" for name in Settings.__dataclass_fields__}
    rp_keys = {k for k in env if k.startswith("RP_")}
    assert rp_keys <= known, rp_keys - known
    docker = load_settings({"RETAIL_PULSE_ENV": "docker"})
    for key in rp_keys:
        value = env[key]
        if "${" not in value:
            assert str(getattr(docker, key[3:].lower())) == value, key


def test_hosts_and_ports_in_compose_match_services():
    docker = load_settings({"RETAIL_PULSE_ENV": "docker"})
    assert "PLAINTEXT://kafka:9092" in COMPOSE["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert docker.kafka_bootstrap == "kafka:9092" and docker.mysql_host == "mysql"
    assert "--port 5000" in COMPOSE["services"]["mlflow"]["command"]
    assert docker.mlflow_tracking_uri == "http://mlflow:5000"


def test_airflow_connections_have_the_shape_the_dags_read():
    compose_conns = {k for k in COMPOSE["services"]["airflow"]["environment"] if k.startswith("AIRFLOW_CONN_")}
    assert compose_conns == set(connection_env(load_settings({"RETAIL_PULSE_ENV": "docker"})))
    dag_text = (Path(__file__).resolve().parents[2] / "dags" / "pipeline_tasks.py").read_text()
    for conn_id in re.findall(r"conn\.(\w+)\.", dag_text):
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in compose_conns


def test_no_literal_secrets_in_compose():
    text = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    for match in re.findall(r"PASSWORD:\s*(\S+)", text):
        assert match.startswith("${"), match
