"""docker-compose.yml cannot run here (no Docker engine); check what can be checked: it names what
the code expects, every service and variable the code needs exists, images are pinned, the Spark
connector matches pyspark, secrets reach only the services that need them, ports stay local."""

import re
from pathlib import Path

import yaml

from common.airflow_env import connection_env
from common.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]


def test_services_present():
    assert {
        "kafka",
        "mysql",
        "mlflow",
        "spark-master",
        "spark-worker",
        "init",
        "airflow-db",
        "airflow-init",
        *AIRFLOW,
    } == set(SERVICES)


def test_pipeline_env_matches_the_docker_profile():
    env = SERVICES["init"]["environment"]
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
    assert "PLAINTEXT://kafka:9092" in SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert docker.kafka_bootstrap == "kafka:9092" and docker.mysql_host == "mysql"
    assert "--port 5000" in SERVICES["mlflow"]["command"]
    assert docker.mlflow_tracking_uri == "http://mlflow:5000"
    for name in AIRFLOW:  # task supervisors must reach the API server's execution API
        assert SERVICES[name]["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        )


def test_airflow_connections_have_the_shape_the_dags_read():
    for name in AIRFLOW:
        conns = {k for k in SERVICES[name]["environment"] if k.startswith("AIRFLOW_CONN_")}
        assert conns == set(connection_env(load_settings({"RETAIL_PULSE_ENV": "docker"})))
    dag_text = (ROOT / "dags" / "pipeline_tasks.py").read_text()
    for conn_id in re.findall(r"conn\.(\w+)\.", dag_text):
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in conns


def test_what_the_tasks_read_from_the_environment_is_set():
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text()
    for variable in re.findall(r"\$(RP_[A-Z_]+)", (ROOT / "dags" / "pipeline_tasks.py").read_text()):
        assert f"{variable}=" in dockerfile, variable
    python = re.search(r"RP_PIPELINE_PYTHON=(\S+)", dockerfile).group(1)
    worker = (ROOT / "docker" / "pipeline.Dockerfile").read_text()
    # the driver (a DAG task) and the executors (spark-worker) must find Python at the same path
    assert f"PYSPARK_PYTHON={python}" in worker and f"PYSPARK_PYTHON={python}" in dockerfile


def test_images_are_pinned_by_tag():
    for name, service in SERVICES.items():
        if "image" in service:
            image = service["image"]
            assert re.search(r":[\w.-]+$", image) and not image.endswith(":latest"), (name, image)
    for dockerfile in (ROOT / "docker").glob("*.Dockerfile"):
        for base in re.findall(r"^FROM (\S+)", dockerfile.read_text(), re.M):
            assert ":" in base and not base.endswith(":latest"), (dockerfile.name, base)


def test_kafka_and_the_spark_connector_are_the_versions_of_the_pom_and_the_lock():
    """One Kafka and one connector on every stack: compose's broker is the pom's Kafka, the pom's
    connector is the locked pyspark's, and both images carry the connector from the same pom."""
    lock = (ROOT / "requirements" / "pipeline.lock").read_text()
    pyspark = re.search(r"^pyspark==(\S+)", lock, re.M).group(1)
    pom = (ROOT / "jvm" / "pom.xml").read_text()
    assert re.search(r"<spark.version>(.+?)</spark.version>", pom).group(1) == pyspark
    kafka = re.search(r"<kafka.version>(.+?)</kafka.version>", pom).group(1)
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka}"
    jars = load_settings({"RETAIL_PULSE_ENV": "docker"}).spark_jars_dir
    for dockerfile in ("pipeline.Dockerfile", "airflow.Dockerfile"):
        text = (ROOT / "docker" / dockerfile).read_text()
        assert "COPY jvm/pom.xml" in text and "-P spark-kafka dependency:copy-dependencies" in text, dockerfile
        assert re.search(rf"^COPY --from=jars \S+ {re.escape(jars)}$", text, re.M), dockerfile
    assert "--packages" not in (ROOT / "docker-compose.yml").read_text()  # no download when a job starts


def test_secrets_reach_only_the_services_that_need_them():
    def holders(variable: str) -> set[str]:
        return {name for name, s in SERVICES.items() if variable in str(s.get("environment", {}))}

    assert holders("MYSQL_ROOT_PASSWORD") == {"mysql", "init"}
    assert holders("RP_MYSQL_READER_PASSWORD") == {"init"}
    assert holders("RP_AIRFLOW_ADMIN_PASSWORD") == {"airflow-init"}
    assert not holders("PASSWORD") & {"spark-master", "spark-worker", "kafka", "mlflow"}
    health = " ".join(SERVICES["mysql"]["healthcheck"]["test"])
    assert " -p" not in health and "--password" not in health  # never on a command line


def test_no_literal_secrets_in_compose():
    text = (ROOT / "docker-compose.yml").read_text()
    for match in re.findall(r"^\s*\w*(?:PASSWORD|SECRET|FERNET_KEY):\s*(\S+)", text, re.M):
        assert match.startswith("${"), match
    example = (ROOT / ".env.example").read_text()
    for variable in set(re.findall(r"\$\{(\w+):\?", text)):
        assert re.search(rf"^{variable}=$", example, re.M), f"{variable} is not documented (empty) in .env.example"


def test_ports_are_published_on_localhost_only():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_stream_checkpoints_live_on_a_volume_shared_by_driver_and_executors():
    checkpoint = load_settings({"RETAIL_PULSE_ENV": "docker"}).checkpoint_root
    for name in ("spark-worker", *AIRFLOW):
        assert f"checkpoints:{checkpoint}" in SERVICES[name]["volumes"], name


def test_power_bi_data_source_files_point_at_each_stacks_mysql():
    """A .pbids holds one MySQL connection (Data Source Reference format: protocol mysql, address
    server + database), no credentials, at the port and database each stack serves."""
    import json

    local = load_settings({"RETAIL_PULSE_ENV": "local"})
    published = next(p for p in SERVICES["mysql"]["ports"] if p.endswith(":3306"))
    expected = {
        "local": f"127.0.0.1:{local.mysql_port}",
        "docker": f"127.0.0.1:{published.split(':')[1]}",
    }
    for stack, server in expected.items():
        pbids = json.loads((ROOT / "dashboards" / f"retail_pulse_{stack}.pbids").read_text())
        [connection] = pbids["connections"]
        assert pbids["version"] == "0.1" and connection["mode"] == "Import"
        assert connection["details"] == {
            "protocol": "mysql",
            "address": {"server": server, "database": SERVICES["mysql"]["environment"]["MYSQL_DATABASE"]},
        }
        assert "password" not in json.dumps(pbids).lower()


def test_both_images_install_the_project_so_retail_pulse_and_python_m_jobs_work():
    for dockerfile in ("pipeline.Dockerfile", "airflow.Dockerfile"):
        text = (ROOT / "docker" / dockerfile).read_text()
        assert "/opt/venv/bin/pip install --no-cache-dir --no-deps -e /opt/retail_pulse" in text, dockerfile
    assert '"retail-pulse tools migrate' in (ROOT / "docker-compose.yml").read_text()
