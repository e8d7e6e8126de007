"""The training job behind ``spotlight train``: walk-forward training on a market, one MLflow
run with the final model registered as ``candidate``, and optionally the out-of-sample scores
as a Parquet file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spotlight.config import AppConfig
from spotlight.exit_code import CommandError, ExitCode

if TYPE_CHECKING:
    from market.load import Market
    from market.partitioned import PartitionedMarket
    from tracking.store import LoggedRun
    from training.train import Note, Progress, TrainResult


class TrainJobError(CommandError):
    """Training that cannot run or be kept; ``code``: USAGE (the config) or FAILED (MLflow)."""


@dataclass(frozen=True)
class Trained:
    """The training result and its MLflow run."""

    result: TrainResult
    logged: LoggedRun


def run_job(market: Market | PartitionedMarket, cfg: AppConfig, *, config_text: str | None = None,
            predictions_out: Path | None = None, progress: Progress | None = None, note: Note | None = None,
            client: Any = None) -> Trained:
    """Train under ``cfg.train`` in an MLflow run opened as the training starts (so its
    duration is the training's; a failure leaves it FAILED and deleted, nothing registered),
    log it (``config_text``: the file it was configured with; default the resolved config) and
    write ``date, symbol, score`` to ``predictions_out``; ``note`` gets a line per walk-forward
    fold and one for the final model. With a ``distributed.Client`` the folds (and a partitioned
    market's panel and fingerprint) are computed on its cluster, with the same results."""
    from mlflow.exceptions import MlflowException

    from features.panel import write_panel
    from market.fingerprint import fingerprint
    from tracking.store import tracking_uri
    from training.config import ConfigError
    from training.mlflow_run import log_training, training_run
    from training.train import train

    tick = progress or (lambda stage, done, total: None)
    fp = fingerprint(market)
    try:
        with training_run(cfg.train, fp, experiment=cfg.experiment, params=cfg.flat()) as run_id:
            try:
                result = train(market, cfg.train, progress=tick, note=note, client=client)
            except ConfigError as exc:
                raise TrainJobError(str(exc), ExitCode.USAGE) from None
            tick("mlflow: logging the run and model", 0, 1)
            logged = log_training(result, fp, experiment=cfg.experiment, model_name=cfg.registered_model,
                                  config_text=config_text or cfg.to_toml(), run_id=run_id)
    except MlflowException as exc:
        raise TrainJobError(f"MLflow at {tracking_uri()}: {exc.message} (nothing was kept)") from None
    if predictions_out is not None:
        write_panel(result.predictions[["date", "symbol", "score"]], predictions_out)
    return Trained(result, logged)
