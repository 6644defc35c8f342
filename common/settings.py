"""One settings object for every part of Retail Pulse.

The profile is chosen by one environment variable, ``RETAIL_PULSE_ENV`` (``local``, ``ci`` or
``docker``). Every field can be overridden by an environment variable named ``RP_<FIELD>`` in
upper case (``RP_MYSQL_PORT=3310``). Secrets never live in the repository: they come from the
environment, or for the embedded local stack from the ignored ``<state_dir>/credentials.env``
that ``make up`` generates once.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

PROFILE_VAR = "RETAIL_PULSE_ENV"
PROFILES = ("local", "ci", "docker")
REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET_FIELDS = (
    "mysql_admin_password",
    "mysql_writer_password",
    "mysql_reader_password",
    "airflow_admin_password",
)


@dataclass(frozen=True)
class Settings:
    profile: str = "local"
    state_dir: str = str(REPO_ROOT / ".stack")
    # MySQL / MariaDB
    mysql_host: str = "127.0.0.1"
    mysql_port: int = 3307
    mysql_database: str = "retail"
    mysql_admin_user: str = "root"
    mysql_admin_password: str = ""
    mysql_writer_user: str = "pipeline_writer"
    mysql_writer_password: str = ""
    mysql_reader_user: str = "powerbi_reader"
    mysql_reader_password: str = ""
    mysql_user_host: str = "127.0.0.1"  # the host the stack's users connect from (docker: its network)
    mysql_retry_seconds: int = 120  # a stream batch retries its transaction this long while MySQL is down
    # Apache Kafka (the local stack runs one KRaft node: broker + controller)
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_controller_port: int = 19093  # the local node's KRaft controller listener
    kafka_heap: str = "512m"  # the local node's JVM heap
    kafka_partitions: int = 2
    topic_transactions: str = "retail_transactions"
    topic_reviews: str = "product_reviews"
    topic_social: str = "social_posts"
    topic_shopper_events: str = "shopper_events"
    topic_dead_letter: str = "dead_letter"
    topic_retail_aggregated: str = "retail_aggregated"
    topic_forecasts: str = "forecasts"
    topic_review_sentiment: str = "review_sentiment"
    topic_ner_results: str = "ner_results"
    topic_recommendations: str = "recommendations"
    topic_review_risk: str = "review_risk"
    # MLflow
    mlflow_port: int = 5055
    mlflow_tracking_uri: str = "http://127.0.0.1:5055"
    mlflow_experiment_prefix: str = "retail_pulse"
    sentiment_model: str = "retail_pulse_sentiment"  # registered model name; scoring loads its @champion
    sentiment_fallback_model: str = "retail_pulse_sentiment_lexicon"  # the lexicon model, where e5 cannot run
    sentiment_encoder: str = "e5"  # e5: the embedding model competes with the lexicon model; none: lexicon only
    sentiment_train_limit: int = 0  # texts per training corpus (0: all; a test suite trains on a subset)
    sentiment_eval_sample: int = 1500  # texts per held-out corpus scored by a training run (0: all)
    embedding_cache: str = str(REPO_ROOT / ".data" / "cache" / "embeddings.sqlite")  # e5 vectors by text hash
    embedding_threads: int = 2  # the e5 encoder's threads
    recommender_model: str = "retail_pulse_recommender"  # registered ALS model; publishing loads its @champion
    similar_model: str = "retail_pulse_similar_reviews"  # the stored reviews' similarity index, rebuilt per run
    risk_model: str = "retail_pulse_review_risk"  # registered product models; scoring loads their @champion
    volume_model: str = "retail_pulse_sales_volume"
    serving_port: int = 5101  # `make serve`: the champions on this port and the four after it
    # implicit confidence of a (visitor, item): the weighted count of its shopper events
    interaction_weights: str = "view=1,addtocart=3,transaction=5"
    # Alerts: a failed task is recorded in pipeline_alerts, and mailed through this SMTP server to
    # alert_emails (comma-separated) when both are set; smtp_security: starttls, ssl or none
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_security: str = "starttls"
    alert_emails: str = ""
    alert_from: str = "retail-pulse@localhost"
    # Airflow
    airflow_port: int = 8085
    airflow_admin_user: str = "admin"
    airflow_admin_password: str = ""
    # Spark
    spark_master: str = "local[2]"
    spark_shuffle_partitions: int = 2
    spark_driver_memory: str = "1g"
    spark_jars_dir: str = str(REPO_ROOT / ".jars" / "spark")  # Spark's Kafka connector, fetched by `make setup`
    # the local stack's optional Spark standalone cluster (`make up-cluster`); jobs use it with
    # RP_SPARK_MASTER=spark://127.0.0.1:<spark_master_port>
    spark_master_port: int = 7077
    spark_master_ui_port: int = 8090
    spark_worker_port: int = 7078
    spark_worker_cores: int = 2
    spark_worker_memory: str = "2g"
    checkpoint_root: str = str(REPO_ROOT / ".stack" / "checkpoints")
    max_rows_per_trigger: int = 100_000

    @property
    def topics(self) -> dict[str, str]:
        """Logical topic name -> configured topic name."""
        return {
            f.name.removeprefix("topic_"): getattr(self, f.name) for f in fields(self) if f.name.startswith("topic_")
        }

    @property
    def credentials_file(self) -> Path:
        return Path(self.state_dir) / "credentials.env"

    def mlflow_experiment(self, name: str) -> str:
        return f"{self.mlflow_experiment_prefix}/{name}"


# Profile defaults differ only where the environment really differs.
_PROFILE_DEFAULTS: dict[str, dict] = {
    "local": {},
    "ci": {"max_rows_per_trigger": 50_000},
    "docker": {
        "mysql_host": "mysql",
        "mysql_port": 3306,
        "mysql_user_host": "%",  # containers connect from the compose network's addresses
        "kafka_bootstrap": "kafka:9092",
        "mlflow_tracking_uri": "http://mlflow:5000",
        "mlflow_port": 5000,
        "airflow_port": 8080,
        "spark_master": "spark://spark-master:7077",
        "state_dir": "/opt/retail_pulse/state",
        "checkpoint_root": "/opt/retail_pulse/state/checkpoints",
        "embedding_cache": "/opt/retail_pulse/state/embeddings.sqlite",
        "spark_jars_dir": "/opt/retail_pulse/.jars/spark",  # copied in by both images (docker/*.Dockerfile)
    },
}


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a KEY=VALUE file (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return values


def _coerce(name: str, raw: str, kind: type):
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"setting RP_{name.upper()} must be an integer, got {raw!r}") from None
    return raw


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build the settings for the profile named by RETAIL_PULSE_ENV, applying RP_* overrides."""
    env = dict(os.environ if env is None else env)
    profile = env.get(PROFILE_VAR, "local")
    if profile not in PROFILES:
        raise ValueError(f"{PROFILE_VAR}={profile!r} is not one of {', '.join(PROFILES)}")
    values: dict = {"profile": profile, **_PROFILE_DEFAULTS[profile]}
    types = {f.name: f.type for f in fields(Settings)}
    state_dir = env.get("RP_STATE_DIR", values.get("state_dir", Settings.state_dir))
    # the local stack's generated credentials sit below the environment in precedence
    layered = {**read_env_file(Path(state_dir) / "credentials.env"), **env}
    for f in fields(Settings):
        key = f"RP_{f.name.upper()}"
        if key in layered:
            values[f.name] = _coerce(f.name, layered[key], int if types[f.name] == "int" else str)
    settings = Settings(**values)
    if "RP_MLFLOW_TRACKING_URI" not in layered and "RP_MLFLOW_PORT" in layered:
        host = "mlflow" if profile == "docker" else "127.0.0.1"
        settings = dataclasses.replace(settings, mlflow_tracking_uri=f"http://{host}:{settings.mlflow_port}")
    return settings
