"""Names shared by every job that writes or reads MLflow runs: tag keys, artifact paths,
metric keys; and readers of what a training run logged.

A name is defined here once; writers and readers (the retrain gate, export, the backtest)
import it, so a renamed tag or artifact cannot leave one side behind.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

# --- tags on runs --------------------------------------------------------------------------
DATA_HASH, DATA_START, DATA_END = "data.hash", "data.start", "data.end"
DATA_STOCKS, DATA_SOURCE = "data.stocks", "data.source"
LABEL, MODEL_KIND, CONFIG_HASH = "spotlight.label", "spotlight.model", "spotlight.config_hash"
JOB, ERROR, PREDICTIONS_SOURCE = "spotlight.job", "spotlight.error", "spotlight.predictions"
GIT_COMMIT, GIT_DIRTY, MLFLOW_GIT_COMMIT = "git.commit", "git.dirty", "mlflow.source.git.commit"
PARENT_RUN = "mlflow.parentRunId"
JOB_RETRAIN, JOB_BACKTEST = "retrain", "backtest"  # values of JOB
RETRAIN = "retrain."  # prefix of the retrain job's step tags: retrain.gate, retrain.decision, ...
RETRAIN_DECISION, RETRAIN_HOST, RETRAIN_PID = "retrain.decision", "retrain.host", "retrain.pid"

# --- artifacts ------------------------------------------------------------------------------
CONFIG_TOML = "config.toml"
FEATURE_SPEC = "feature_spec.json"
OOS_PREDICTIONS = "oos_predictions.parquet"
BUNDLE_DIR = "bundle"           # export logs the serving bundle under this folder of the model's run
REPORT_HTML = "report.html"     # the backtest report
PLOTS_DIR, TABLES_DIR = "plots", "tables"
MODEL_ARTIFACT = "model"        # the logged LightGBM model's name

# --- metrics --------------------------------------------------------------------------------
MONTH_RANK_IC = "month/rank_ic"  # one value per out-of-sample month; the retrain gate reads it


def search_tags(**tags: str) -> str:
    """An MLflow search filter matching every ``key=value`` (keys as given, back-quoted)."""
    return " and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())


def read_json(client: MlflowClient, run_id: str, path: str) -> Any:
    """The JSON artifact ``path`` of ``run_id``."""
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(Path(client.download_artifacts(run_id, path, tmp)).read_text(encoding="utf-8"))


def read_parquet(client: MlflowClient, run_id: str, path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The Parquet artifact ``path`` of ``run_id`` (only ``columns`` when given)."""
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_parquet(client.download_artifacts(run_id, path, tmp), columns=columns)


@dataclass(frozen=True)
class RunPredictions:
    """A training run's out-of-sample predictions, its universe and its experiment."""

    predictions: pd.DataFrame
    universe: dict[str, object]
    experiment_id: str


def run_predictions(client: MlflowClient, run_id: str) -> RunPredictions:
    """The out-of-sample predictions and universe a training run logged (``LookupError``: no
    such run, or one without them)."""
    try:
        run = client.get_run(run_id)
        preds = read_parquet(client, run_id, OOS_PREDICTIONS)
        spec = read_json(client, run_id, FEATURE_SPEC)
    except (mlflow.exceptions.MlflowException, OSError, ValueError) as exc:  # ValueError: bad Parquet or JSON
        message = getattr(exc, "message", str(exc))
        raise LookupError(f"run {run_id}: no out-of-sample predictions to read ({message})") from None
    return RunPredictions(preds, dict(spec.get("universe", {})), run.info.experiment_id)
