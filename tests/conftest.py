import os
import tempfile
from pathlib import Path

import pytest

PIPELINE_PYTHON = Path(__file__).resolve().parent.parent / ".venvs" / "pipeline" / "bin" / "python"
# Tests use their own database on the shared local stack, so they never touch the demo's data.
os.environ.setdefault("RP_MYSQL_DATABASE", "retail_test")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Sentiment trainings in tests embed a subset of the corpora with e5 (600 texts per training corpus,
# 300 per held-out one, cached by text hash for the rest of the run): the full corpora take minutes.
os.environ.setdefault("RP_SENTIMENT_TRAIN_LIMIT", "600")
os.environ.setdefault("RP_SENTIMENT_EVAL_SAMPLE", "300")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# Airflow binds its metadata DB to AIRFLOW_HOME when first imported: fix it before any import.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="rp-airflow-"))


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the whole test session (pipeline env only; needs no services)."""
    from common.settings import load_settings
    from streaming.spark import get_spark

    session = get_spark(load_settings(), "retail-pulse-tests")
    yield session
    session.stop()
