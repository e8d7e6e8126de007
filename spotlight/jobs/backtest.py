"""The backtest job behind ``spotlight backtest`` and the demo: predictions in, one HTML report
and one MLflow run out.

Order, so that a failure leaves nothing half-done: read and check everything (config, the
predictions from a file or a training run, the market), run the backtest, write the report
(and the daily CSV) to temporary siblings (:mod:`market.atomic`), log the MLflow run, then
move the files into place, the report last; if a move fails the run is deleted and the
temporary files removed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pydantic import ValidationError

from spotlight.config import AppConfig, describe
from spotlight.exit_code import CommandError, ExitCode

if TYPE_CHECKING:
    from backtest.report import BacktestReport

Say = Callable[[str], None]


class BacktestJobError(CommandError):
    """A backtest that cannot run; ``code``: FAILED (data) or USAGE."""


@dataclass(frozen=True)
class BacktestOutcome:
    """What the job produced: the report's content, the HTML file and the MLflow run (if logged)."""

    report: BacktestReport
    html: Path
    run_id: str | None
    experiment_id: str | None
    tracking_uri: str | None


def _file(path: Path) -> Path:
    if path.is_dir():
        raise BacktestJobError(f"{path} is a directory; give a file path", ExitCode.USAGE)
    return path


def run_job(data: Path, cfg: AppConfig, *, predictions: Path | None = None, run_id: str | None = None,
            overrides: dict | None = None, capacity: bool = True, report: Path = Path("backtest_report.html"),
            daily_out: Path | None = None, log_mlflow: bool = True, uri: str | None = None,
            say: Say = lambda step: None) -> BacktestOutcome:
    """Backtest ``predictions`` (a Parquet file) or the out-of-sample predictions of the training
    run ``run_id`` on the market at ``data`` under ``cfg`` (``overrides`` replace ``[backtest]``
    keys)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from backtest.engine import PredictionsError, check_predictions
    from backtest.mlflow_run import log_backtest
    from backtest.report import build_report, figures, render_html
    from features.universe import UniverseConfig
    from market import InvalidMarketError, MarketDataError, load_market
    from market.atomic import atomic_path
    from tracking.artifacts import run_predictions
    from tracking.store import configure, discard_run, tracking_uri

    if (predictions is None) == (run_id is None):
        raise BacktestJobError("give exactly one of --predictions and --run-id", ExitCode.USAGE)
    try:
        bt = cfg.backtest.with_overrides(**(overrides or {}))
    except ValidationError as exc:
        raise BacktestJobError(f"backtest: {describe(exc)}", ExitCode.USAGE) from None
    report, daily_out = _file(Path(report)), _file(Path(daily_out)) if daily_out is not None else None
    if daily_out is not None and daily_out.resolve() == report.resolve():
        raise BacktestJobError(f"--daily-out and --report are the same file ({report})", ExitCode.USAGE)
    uri = tracking_uri(uri) if (log_mlflow or run_id) else None
    universe, parent_experiment = cfg.train.universe, None
    if run_id is not None:
        try:
            logged = run_predictions(MlflowClient(configure(uri)), run_id)
        except LookupError as exc:
            raise BacktestJobError(str(exc), ExitCode.USAGE) from None
        preds, source, parent_experiment = logged.predictions, f"run {run_id}", logged.experiment_id
        if logged.universe:
            try:
                universe = UniverseConfig.from_spec(logged.universe)
            except (KeyError, TypeError, ValueError) as exc:
                raise BacktestJobError(f"run {run_id}: feature_spec.json has an unreadable universe ({exc!r})",
                                       ExitCode.USAGE) from None
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
    result = build_report(market, preds, bt, capitals=bt.capacity if capacity else None, universe=universe,
                          rule=cfg.crowding, source=source, progress=say, currency=cfg.currency)
    say("report")
    figs = figures(result)
    text = render_html(result, figs)
    logged_run = None
    try:
        # the report is moved in last (the outer block ends last): it is what says the job worked
        with atomic_path(report) as html_tmp, ExitStack() as daily:
            html_tmp.write_text(text, encoding="utf-8")
            if daily_out is not None:
                daily_tmp = daily.enter_context(atomic_path(daily_out))
                result.result.daily.assign(benchmark_return=result.benchmark).join(result.growth).to_csv(daily_tmp)
            if log_mlflow:
                say("mlflow")
                logged_run = log_backtest(result, text, figs, experiment=cfg.experiment, uri=uri,
                                          parent_run_id=run_id, parent_experiment_id=parent_experiment)
    except OSError as exc:
        if logged_run is not None:
            discard_run(logged_run.tracking_uri, logged_run.run_id, "the report could not be written")
        raise BacktestJobError(f"cannot write the report or the daily CSV: {exc}") from None
    except MlflowException as exc:
        raise BacktestJobError(f"MLflow at {uri}: {exc.message} (nothing was written or logged)") from None
    return BacktestOutcome(result, report, logged_run.run_id if logged_run else None,
                           logged_run.experiment_id if logged_run else None, uri)
