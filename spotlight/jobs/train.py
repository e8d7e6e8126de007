"""The training job behind ``spotlight train``: walk-forward training on a market, one MLflow
run with the final model registered as ``candidate``, and optionally the out-of-sample scores
as a Parquet file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spotlight.config import AppConfig
from spotlight.exit_code import CommandError, ExitCode

if TYPE_CHECKING:
    from market.load import Market
    from tracking.store import LoggedRun
    from training.train import Note, Progress, TrainResult


class TrainJobError(CommandError):
    """Training that cannot run or be kept; ``code``: USAGE (the config) or FAILED (MLflow)."""


@dataclass(frozen=True)
class Trained:
    """The training result and its MLflow run."""

    result: TrainResult
    logged: LoggedRun


def run_job(market: Market, cfg: AppConfig, *, config_text: str | None = None, predictions_out: Path | None = None,
            progress: Progress | None = None, note: Note | None = None) -> Trained:
    """Train under ``cfg.train``, log the run (``config_text``: the file it was configured with;
    default the resolved config) and write ``date, symbol, score`` to ``predictions_out``;
    ``note`` gets a line per walk-forward fold and one for the final model."""
    from mlflow.exceptions import MlflowException

    from features.panel import write_panel
    from market.fingerprint import fingerprint
    from tracking.store import tracking_uri
    from training.config import ConfigError
    from training.mlflow_run import log_training
    from training.train import train

    tick = progress or (lambda stage, done, total: None)
    try:
        result = train(market, cfg.train, progress=tick, note=note)
    except ConfigError as exc:
        raise TrainJobError(str(exc), ExitCode.USAGE) from None
    tick("mlflow: logging the run and model", 0, 1)
    try:
        logged = log_training(result, fingerprint(market), experiment=cfg.experiment, model_name=cfg.registered_model,
                              config_text=config_text or cfg.to_toml(), params=cfg.flat())
    except MlflowException as exc:
        raise TrainJobError(f"MLflow at {tracking_uri()}: {exc.message} (nothing was kept)") from None
    if predictions_out is not None:
        write_panel(result.predictions[["date", "symbol", "score"]], predictions_out)
    return Trained(result, logged)
