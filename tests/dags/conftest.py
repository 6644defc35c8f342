"""The DAG folder on sys.path, as Airflow puts it there: the DAG modules import pipeline_tasks,
gates and alerts by their plain names."""

import sys
from pathlib import Path

DAGS = str(Path(__file__).resolve().parents[2] / "dags")
if DAGS not in sys.path:
    sys.path.insert(0, DAGS)
