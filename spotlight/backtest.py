"""The backtest job behind ``spotlight backtest`` and the demo: predictions in, one HTML report
and one MLflow run out.

Order, so that a failure leaves nothing half-done: read and check everything (config, the
predictions from a file or a training run, the market), run the backtest, write the report
(and the daily CSV) to temporary siblings, log the MLflow run, then move the files into
place; if a move fails the run is deleted and the temporary files removed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

Say = Callable[[str], None]


class BacktestJobError(Exception):
    """A backtest that cannot run; ``code`` is the exit status (1 data, 2 usage)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BacktestOutcome:
    report: object            # training.report.BacktestReport
    html: Path
    run_id: str | None
    experiment_id: str | None
    tracking_uri: str | None


def _temporary(path: Path) -> Path:
    if path.is_dir():
        raise BacktestJobError(f"{path} is a directory; give a file path", 2)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def run_job(data: Path, cfg, *, predictions: Path | None = None, run_id: str | None = None,
            overrides: dict | None = None, capacity: bool = True, report: Path = Path("backtest_report.html"),
            daily_out: Path | None = None, log_mlflow: bool = True, uri: str | None = None,
            say: Say = lambda step: None) -> BacktestOutcome:
    """Backtest ``predictions`` (a Parquet file) or the out-of-sample predictions of the training
    run ``run_id`` on the market at ``data`` under ``cfg`` (a :class:`training.config.TrainConfig`;
    ``overrides`` replace ``[backtest]`` keys)."""
    from features.universe import UniverseConfig
    from market import InvalidMarketError, MarketDataError, load_market
    from training.backtest import PredictionsError, check_predictions
    from training.report import build_report, figures, render_html
    from mlflow.exceptions import MlflowException

    from training.tracking import discard_run, log_backtest, run_predictions, tracking_uri

    if (predictions is None) == (run_id is None):
        raise BacktestJobError("give exactly one of --predictions and --run-id", 2)
    try:
        bt = cfg.backtest.build(**(overrides or {}))
    except ValueError as exc:
        raise BacktestJobError(str(exc), 2) from None
    if daily_out is not None and Path(daily_out).resolve() == Path(report).resolve():
        raise BacktestJobError(f"--daily-out and --report are the same file ({report})", 2)
    html_tmp = _temporary(Path(report))
    daily_tmp = _temporary(Path(daily_out)) if daily_out is not None else None
    uri = tracking_uri(uri) if (log_mlflow or run_id) else None
    universe, parent_experiment = cfg.universe.build(), None
    if run_id is not None:
        try:
            logged = run_predictions(run_id, uri)
        except LookupError as exc:
            raise BacktestJobError(str(exc), 2) from None
        preds, source, parent_experiment = logged.predictions, f"run {run_id}", logged.experiment_id
        if logged.universe:
            try:
                universe = UniverseConfig.from_spec(logged.universe)
            except (KeyError, TypeError, ValueError) as exc:
                raise BacktestJobError(f"run {run_id}: feature_spec.json has an unreadable universe ({exc!r})",
                                       2) from None
    else:
        try:
            preds, source = pd.read_parquet(predictions), str(predictions)
        except (OSError, ValueError) as exc:
            raise BacktestJobError(f"{predictions}: not a readable Parquet file ({exc})") from None
    try:
        market = load_market(data)
    except (InvalidMarketError, MarketDataError) as exc:
        raise BacktestJobError(str(exc)) from None
    try:
        preds = check_predictions(preds, market, source)
    except PredictionsError as exc:
        raise BacktestJobError(str(exc)) from None
    result = build_report(market, preds, bt, capitals=cfg.backtest.capacity if capacity else None,
                          universe=universe,
                          rule=cfg.crowding.build(), source=source, progress=say)
    say("report")
    figs = figures(result)
    text = render_html(result, figs)
    logged_run = None
    try:
        html_tmp.parent.mkdir(parents=True, exist_ok=True)
        html_tmp.write_text(text, encoding="utf-8")
        if daily_tmp is not None:
            daily_tmp.parent.mkdir(parents=True, exist_ok=True)
            result.result.daily.assign(benchmark_return=result.benchmark).join(result.growth).to_csv(daily_tmp)
        if log_mlflow:
            say("mlflow")
            logged_run = log_backtest(result, text, figs, experiment=cfg.experiment, uri=uri,
                                      parent_run_id=run_id, parent_experiment_id=parent_experiment)
        try:  # the report last: it is what says the job worked
            if daily_tmp is not None:
                os.replace(daily_tmp, daily_out)
            os.replace(html_tmp, report)
        except OSError:
            if logged_run is not None:
                discard_run(logged_run.tracking_uri, logged_run.run_id, "the report could not be written")
            raise
    except OSError as exc:
        raise BacktestJobError(f"cannot write the report or the daily CSV: {exc}") from None
    except MlflowException as exc:
        raise BacktestJobError(f"MLflow at {uri}: {exc.message} (nothing was written or logged)") from None
    finally:
        html_tmp.unlink(missing_ok=True)
        if daily_tmp is not None:
            daily_tmp.unlink(missing_ok=True)
    return BacktestOutcome(result, Path(report), logged_run.run_id if logged_run else None,
                           logged_run.experiment_id if logged_run else None, uri)
