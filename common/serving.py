"""What every model served over HTTP shares (``mlflow models serve``, or ``mlflow.pyfunc.load_model``).

* Bad input is answered with MLflow's INVALID_PARAMETER_VALUE, which its scoring server turns into an
  HTTP 400 whose message is the reason (any other exception in ``predict`` would come back with a
  stack trace).
* A loaded model says which registered version it is: the version of its name logged by its run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Served:
    """A model `make serve` answers for: its key, the Settings field holding its registered name, and how a
    first champion comes about."""

    key: str
    setting: str
    hint: str

    def name(self, settings) -> str:
        return getattr(settings, self.setting)

    def port(self, settings) -> int:
        """RP_SERVING_PORT for the first model, the next ports for the others, in SERVED order."""
        return settings.serving_port + [s.key for s in SERVED].index(self.key)


SERVED = (
    Served("sentiment", "sentiment_model", "review_analysis_pipeline trains one on its first run"),
    Served("risk", "risk_model", "model_monitoring trains one on its first run"),
    Served("volume", "volume_model", "model_monitoring trains one on its first run"),
    Served("recommender", "recommender_model", "recommendation_pipeline trains one"),
    Served("similar", "similar_model", "review_analysis_pipeline builds one after scoring"),
)


def bad_input(message: str):
    """The exception a pyfunc raises for input it cannot answer: HTTP 400 with ``message``."""
    from mlflow.exceptions import MlflowException

    return MlflowException.invalid_parameter_value(message)


def frame_of(model_input, columns: list[str], required: list[str]) -> pd.DataFrame:
    """``model_input`` (a DataFrame in any column order: what MLflow's schema enforcement hands a pyfunc) as
    a frame of ``columns`` (optional ones missing -> NaN); a missing required column or no rows -> bad_input."""
    if not isinstance(model_input, pd.DataFrame):
        raise bad_input(f"expected a table with columns {', '.join(required)}; got {type(model_input).__name__}")
    missing = [c for c in required if c not in model_input.columns]
    if missing:
        got = ", ".join(map(str, model_input.columns)) or "none"
        raise bad_input(f"missing column(s) {', '.join(missing)} (got {got})")
    if model_input.empty:
        raise bad_input("no rows to answer")
    return model_input.reset_index(drop=True).reindex(columns=columns)


def registered_version(context, name: str | None) -> str:
    """``name/version`` of the registered model a pyfunc was loaded from (the version of ``name`` logged by
    the run in its MLmodel file), or ``run <id>`` when the registry cannot say."""
    import yaml

    root = Path(next(iter(context.artifacts.values()))).parents[1]  # <model>/artifacts/<file>
    run_id = yaml.safe_load((root / "MLmodel").read_text()).get("run_id")
    try:
        import mlflow

        versions = mlflow.MlflowClient().search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
        if versions:
            return f"{name}/{versions[0].version}"
    except Exception:  # noqa: BLE001 - an unreachable registry only loses the version number
        pass
    return f"run {run_id}"
