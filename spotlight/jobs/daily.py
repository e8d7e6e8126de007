"""The job behind ``spotlight daily``: the daily-frequency model trained on a Dask cluster against
the monthly model (:mod:`training.daily`), the comparison printed and logged as one MLflow run."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spotlight.config import AppConfig
from spotlight.exit_code import CommandError, ExitCode

if TYPE_CHECKING:
    from market.partitioned import PartitionedMarket
    from training.daily import DailyComparison


class DailyJobError(CommandError):
    """A comparison that cannot run (``code`` USAGE: no cluster, a market too short) or be logged."""


@dataclass(frozen=True)
class DailyOutcome:
    """The comparison and its MLflow run."""

    comparison: DailyComparison
    run_id: str
    tracking_uri: str


def run_job(market: PartitionedMarket, cfg: AppConfig, client: Any, *, test_months: int = 24,
            uri: str | None = None, say: Any = None) -> DailyOutcome:
    """Compare the two models on ``market`` and log one run to ``cfg.experiment``: the settings,
    each model's figures (``daily/*``, ``monthly/*``), the table, the test predictions and both
    models' RankIC by month. A failure while logging leaves no run."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from tracking.figures import save_png
    from tracking.store import configure, discard_run, experiment_id
    from training.config import ConfigError
    from training.daily import compare_daily
    from training.plots import rank_ic_plot

    if client is None:
        raise DailyJobError("the daily model trains on a Dask cluster: pass --cluster (local, local:N or a scheduler "
                            "address) or set SPOTLIGHT_DASK_SCHEDULER", ExitCode.USAGE)
    try:
        comparison = compare_daily(market, cfg.train, client, test_months=test_months, say=say)
    except ConfigError as exc:
        raise DailyJobError(str(exc), ExitCode.USAGE) from None
    chosen = configure(uri)
    run_id = ""
    try:
        with mlflow.start_run(experiment_id=experiment_id(cfg.experiment, chosen), run_name="daily-vs-monthly",
                              tags={"spotlight.job": "daily", "spotlight.data": str(market.source)}) as run:
            run_id = run.info.run_id
            mlflow.log_params({"test_months": test_months, "train_end": f"{comparison.train_end:%Y-%m-%d}",
                               "label": cfg.train.label_column, **{f"{k}_rounds": v for k, v in comparison.rounds.items()}})
            table = comparison.table()
            for model, row in table.iterrows():
                mlflow.log_metrics({f"{model}/{key}": float(value) for key, value in row.items()})
            with tempfile.TemporaryDirectory() as tmp:
                table.to_csv(Path(tmp) / "daily_vs_monthly.csv")
                comparison.predictions.to_parquet(Path(tmp) / "test_predictions.parquet", index=False)
                mlflow.log_artifacts(tmp, "tables")
                for name, evaluation in comparison.evaluations.items():
                    save_png(rank_ic_plot(evaluation.by_date["rank_ic"], f"RankIC by month, {name} model"),
                             Path(tmp) / f"rank_ic_{name}.png")
                    mlflow.log_artifact(str(Path(tmp) / f"rank_ic_{name}.png"), "plots")
    except (MlflowException, OSError) as exc:
        if run_id:
            discard_run(chosen, run_id, f"logging failed: {exc}")
        raise DailyJobError(f"MLflow at {chosen}: {exc} (nothing was kept)") from None
    return DailyOutcome(comparison, run_id, chosen)
