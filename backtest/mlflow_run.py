"""The MLflow run of one backtest: its settings, statistics, capacity curve, daily NAV, the
report, its tables and figures.

Tagged ``spotlight.job = backtest`` (the retrain job's queries filter on its own tag, so they
never see it). A failure part-way deletes the run (:func:`tracking.store.discard`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from backtest.report import BacktestReport
from tracking import artifacts as names
from tracking.figures import save_png
from tracking.store import LoggedRun, configure, discard, experiment_id, git_tags


def log_backtest(report: BacktestReport, html_text: str, figures: dict[str, Figure], *, experiment: str,
                 uri: str | None = None, parent_run_id: str | None = None,
                 parent_experiment_id: str | None = None) -> LoggedRun:
    """Log ``report`` as one run: parameters (``backtest.*``, ``crowding.*``), the statistics,
    the capacity curve (``capacity/*``, step = position, with ``capacity/capital``), the daily
    growth of 1 (``nav/*``, step = day), the report, its tables and figures. With
    ``parent_run_id`` (the training run) it is nested under it, in that run's experiment."""
    uri = configure(uri)
    client = MlflowClient(uri)
    exp = parent_experiment_id or experiment_id(experiment, uri)
    cfg = report.config
    tags = {names.JOB: names.JOB_BACKTEST, names.PREDICTIONS_SOURCE: report.source[:5000],
            names.DATA_SOURCE: report.market}
    if parent_run_id:
        tags[names.PARENT_RUN] = parent_run_id
    tags |= git_tags()
    run = client.create_run(exp, run_name=f"backtest-top{cfg.top_n}-{cfg.weighting}-{cfg.capital:.0e}", tags=tags)
    run_id = run.info.run_id
    try:
        params = {f"backtest.{k}": str(v) for k, v in cfg.run_settings().items()}
        params |= {f"crowding.{k}": str(v) for k, v in report.rule.as_dict().items()}
        if report.capacity is not None:
            params["backtest.capacity"] = ",".join(f"{c:g}" for c in report.capacity.index)
        client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
        now = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in report.stats.items() if pd.notna(v)]
        for step, (capital, row) in enumerate(report.capacity.iterrows() if report.capacity is not None else []):
            metrics.append(Metric("capacity/capital", float(capital), now, step))
            metrics += [Metric(f"capacity/{k}", float(v), now, step) for k, v in row.items() if pd.notna(v)]
        for step, (day, row) in enumerate(report.growth.iterrows()):
            ts = int(pd.Timestamp(day).timestamp() * 1000)
            metrics += [Metric(f"nav/{k}", float(v), ts, step) for k, v in row.items() if pd.notna(v)]
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start:start + 1000])
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            tables = out / names.TABLES_DIR
            tables.mkdir()
            (out / names.REPORT_HTML).write_text(html_text, encoding="utf-8")
            daily = report.result.daily.assign(benchmark_return=report.benchmark).join(report.growth)
            daily.join(report.crowding.astype({"regime": "string"})).to_parquet(tables / "daily.parquet")
            report.result.trades.to_parquet(tables / "trades.parquet", index=False)
            report.result.rebalances.to_csv(tables / "rebalances.csv", index=False)
            report.episodes.to_csv(tables / "drawdowns.csv", index=False)
            report.regimes.to_csv(tables / "by_regime.csv")
            report.yearly.to_csv(tables / "by_year.csv")
            if report.capacity is not None:
                report.capacity.to_csv(tables / "capacity.csv")
            for name, fig in figures.items():
                save_png(fig, out / names.PLOTS_DIR / f"{name}.png")
            client.log_artifacts(run_id, tmp)
        client.set_terminated(run_id, "FINISHED")
    except BaseException as exc:
        discard(client, run_id, exc)
        raise
    return LoggedRun(run_id, exp, "", "", uri)
