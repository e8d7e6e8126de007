"""MLflow tracking: one parent run per walk-forward, the final model registered as ``candidate``.

Where it goes: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<cwd>/mlruns/mlflow.db`` with
artifacts under ``<cwd>/mlruns/artifacts`` (MLflow 3.17 refuses the plain file store).
Nothing happens at import: :func:`configure` sets the URI when a command asks for it.

A run that fails part-way is tagged with the error, marked FAILED and deleted (its lifecycle
stage becomes ``deleted``; ``mlflow gc`` purges it); the logged model and any model version it
created are deleted too, so no half-written run or model is ever visible. ``champion`` moves only through
:func:`promote` (``spotlight promote``) or the retrain gate.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
import tomli_w
from mlflow.entities import Metric
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from features.registry import REGISTRY
from training import plots
from training.train import TrainResult

CANDIDATE, CHAMPION = "candidate", "champion"
PIP_REQUIREMENTS = [f"{p}=={version(p)}" for p in ("lightgbm", "numpy", "pandas", "scikit-learn")]


def default_uri(root: str | Path = "mlruns") -> str:
    return f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def tracking_uri(uri: str | None = None) -> str:
    """``uri``, else ``MLFLOW_TRACKING_URI``, else the SQLite store in ``mlruns/`` here."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri()


def configure(uri: str | None = None) -> str:
    """Point MLflow at :func:`tracking_uri` (creating ``mlruns/`` for the default store)."""
    chosen = tracking_uri(uri)
    if chosen.startswith("sqlite:///"):
        Path(chosen.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(chosen)
    return chosen


def experiment_id(name: str, uri: str) -> str:
    """The experiment's id, created on first use with artifacts next to a SQLite store."""
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


MODEL_NEUTRAL = frozenset({"backtest", "crowding"})  # sections that never change a trained model


def config_hash(cfg) -> str:
    """SHA-256 (16 hex digits) of the resolved configuration, less the sections that do not
    touch training (:data:`MODEL_NEUTRAL`): the same model settings, the same hash."""
    import hashlib

    settings = cfg.model_dump(exclude=set(MODEL_NEUTRAL))
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def git_commit(cwd: str | Path = ".") -> tuple[str, bool] | None:
    """(commit, dirty) of the repository holding ``cwd``, or None outside one."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip(), bool(status.stdout.strip())


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_name: str
    model_version: str
    tracking_uri: str


def _metrics_table(result: TrainResult) -> pd.DataFrame:
    rows = {("model" if k == "score" else k.removeprefix("baseline_")): e.summary
            for k, e in result.evaluations.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def feature_spec(result: TrainResult) -> dict[str, object]:
    """What a consumer needs to rebuild the model's input: features in order and how."""
    cfg = result.config
    return {"features": result.data.features,
            "lookback": {n: REGISTRY[n].lookback for n in result.data.features},
            "transform": cfg.transform, "universe": cfg.universe.model_dump(), "label": cfg.label_column,
            "model": cfg.model, "train_start": f"{result.final_fold.fit[0]:%Y-%m-%d}",
            "train_end": f"{result.final_fold.valid[-1]:%Y-%m-%d}",
            "best_iteration": int(result.final.best_iteration_)}


def _log_metrics(client: MlflowClient, run_id: str, result: TrainResult) -> None:
    metrics: list[Metric] = []
    now = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)

    def add(key: str, value: float, step: int = 0, ts: int = now) -> None:
        if value is not None and pd.notna(value):
            metrics.append(Metric(key, float(value), ts, step))

    for name, e in result.evaluations.items():
        prefix = "" if name == "score" else f"{name}/"
        for key, value in e.summary.items():
            add(f"{prefix}{key}", value)
    for row in result.fold_table.itertuples():
        test_ts = int(pd.Timestamp(row.test_start).timestamp() * 1000)
        for key in ("best_iteration", "valid_rank_ic", "fit_rows", "test_rows"):
            add(f"fold/{key}", getattr(row, key), row.fold, test_ts)
    by_date = result.evaluations["score"].by_date
    fold_of = result.predictions.drop_duplicates("date").set_index("date")["fold"]
    for date, row in by_date.iterrows():
        ts = int(pd.Timestamp(date).timestamp() * 1000)
        for key in ("rank_ic", "top50", "long_short"):
            add(f"month/{key}", row[key], int(fold_of.get(date, 0)), ts)
    for year, row in result.slices["year"].iterrows():
        add("year/rank_ic", row["rank_ic"], int(year))
    for key, value in (result.truth or {}).items():
        add(key, value)
    for key, value in result.timings.items():
        add(f"time/{key}", value)
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])


def _write_artifacts(result: TrainResult, out: Path, config_text: str) -> None:
    (out / "plots").mkdir()
    (out / "tables").mkdir()
    (out / "config.toml").write_text(config_text, encoding="utf-8")
    (out / "feature_spec.json").write_text(json.dumps(feature_spec(result), indent=2), encoding="utf-8")
    result.predictions.to_parquet(out / "oos_predictions.parquet", index=False)
    result.fold_table.to_csv(out / "tables" / "folds.csv", index=False)
    _metrics_table(result).to_csv(out / "tables" / "models.csv")
    for by, table in result.slices.items():
        table.to_csv(out / "tables" / f"by_{by}.csv")
    result.by_year.to_csv(out / "tables" / "by_year_every_model.csv")
    main = result.evaluations["score"]
    plots.save_png(plots.rank_ic_plot(main.by_date["rank_ic"], title="Out-of-sample RankIC by month"),
                   out / "plots" / "rank_ic.png")
    plots.save_png(plots.quantile_cumulative_plot(main.quantiles), out / "plots" / "quantile_returns.png")
    plots.save_png(plots.importance_plot(result.final.importance()), out / "plots" / "feature_importance.png")
    X = result.data.X[result.data.features]
    recent = result.data.members & result.data.panel["date"].isin(result.final_fold.valid).to_numpy()
    rows = X[recent]
    plots.save_png(plots.contributions_plot(result.final.contributions(rows), rows), out / "plots" / "contributions.png")


def log_training(result: TrainResult, fingerprint: dict[str, str | int], uri: str | None = None,
                 config_text: str | None = None, extra_tags: dict[str, str] | None = None) -> LoggedRun:
    """Log ``result`` as one run, log the final model and register it with alias ``candidate``."""
    uri = configure(uri)
    cfg = result.config
    exp = experiment_id(cfg.experiment, uri)
    client = MlflowClient(uri)
    commit = git_commit()
    tags = {"data.hash": fingerprint["hash"], "data.start": fingerprint["start"], "data.end": fingerprint["end"],
            "data.stocks": str(fingerprint["stocks"]), "data.source": str(result.data.source),
            "spotlight.label": cfg.label_column, "spotlight.model": cfg.model, "spotlight.config_hash": config_hash(cfg)}
    tags |= extra_tags or {}
    if commit is not None:
        tags |= {"mlflow.source.git.commit": commit[0], "git.commit": commit[0], "git.dirty": str(commit[1])}
    name = f"{cfg.model}-{cfg.label}-{fingerprint['end']}"
    run = client.create_run(exp, run_name=name, tags=tags)
    run_id, model_id, registered = run.info.run_id, None, None
    try:
        client.log_batch(run_id, params=[mlflow.entities.Param(k, v[:6000]) for k, v in cfg.flat().items()])
        _log_metrics(client, run_id, result)
        with tempfile.TemporaryDirectory() as tmp:
            _write_artifacts(result, Path(tmp), config_text or tomli_w.dumps(cfg.model_dump()))
            client.log_artifacts(run_id, tmp)
        X = result.data.X[result.data.features]
        example = X[result.data.members].head(5)
        mlflow.start_run(run_id=run_id)  # log_model logs into the active run; it stays RUNNING until the end
        info = mlflow.lightgbm.log_model(result.final.booster_, name="model", input_example=example,
                                         signature=infer_signature(example, result.final.predict(example)),
                                         pip_requirements=PIP_REQUIREMENTS)
        model_id = info.model_id
        registered = mlflow.register_model(info.model_uri, cfg.registered_model,
                                           tags={"run_id": run_id, "data.hash": fingerprint["hash"]})
        client.set_registered_model_alias(cfg.registered_model, CANDIDATE, registered.version)
        mlflow.end_run("FINISHED")
    except BaseException as exc:
        _discard(client, run_id, model_id, cfg.registered_model, registered, exc)
        raise
    return LoggedRun(run_id, exp, cfg.registered_model, str(registered.version), uri)


def discard_run(uri: str, run_id: str, reason: str) -> None:
    """Mark ``run_id`` FAILED with ``reason`` and delete it (as a run that failed part-way)."""
    _discard(MlflowClient(uri), run_id, None, "", None, RuntimeError(reason))


def _discard(client: MlflowClient, run_id: str, model_id: str | None, model: str, registered,
             exc: BaseException) -> None:
    """Remove what a failed run left: its model version, its logged model, then the run (soft delete)."""
    try:
        if mlflow.active_run() is not None:
            mlflow.end_run("FAILED")
        if registered is not None:
            client.delete_model_version(model, registered.version)
        if model_id is not None:
            client.delete_logged_model(model_id)
        client.set_tag(run_id, "spotlight.error", f"{type(exc).__name__}: {exc}"[:5000])
        client.set_terminated(run_id, "FAILED")
        client.delete_run(run_id)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


@dataclass(frozen=True)
class RunPredictions:
    predictions: pd.DataFrame
    universe: dict[str, object]
    experiment_id: str


def run_predictions(run_id: str, uri: str | None = None) -> RunPredictions:
    """The out-of-sample predictions and universe a training run logged (``LookupError``: no
    such run, or one without them)."""
    try:
        client = MlflowClient(configure(uri))
        run = client.get_run(run_id)
        with tempfile.TemporaryDirectory() as tmp:
            preds = pd.read_parquet(client.download_artifacts(run_id, "oos_predictions.parquet", tmp))
            spec = json.loads(Path(client.download_artifacts(run_id, "feature_spec.json", tmp)).read_text())
    except (mlflow.exceptions.MlflowException, OSError, ValueError) as exc:  # ValueError: bad Parquet or JSON
        message = getattr(exc, "message", str(exc))
        raise LookupError(f"run {run_id}: no out-of-sample predictions to read ({message})") from None
    return RunPredictions(preds, dict(spec.get("universe", {})), run.info.experiment_id)


def log_backtest(report, html_text: str, figures: dict, *, experiment: str, uri: str | None = None,
                 parent_run_id: str | None = None, parent_experiment_id: str | None = None) -> LoggedRun:
    """Log a :class:`training.report.BacktestReport` as one run: parameters (``backtest.*``,
    ``crowding.*``), the statistics, the capacity curve (``capacity/*``, step = position, with
    ``capacity/capital``),
    the daily growth of 1 (``nav/*``, step = day), the report, its tables and figures. With
    ``parent_run_id`` (the training run) it is nested under it, in that run's experiment.
    A failure part-way deletes the run."""
    uri = configure(uri)
    client = MlflowClient(uri)
    exp = parent_experiment_id or experiment_id(experiment, uri)
    cfg = report.config
    tags = {"spotlight.job": "backtest", "spotlight.predictions": report.source[:5000], "data.source": report.market}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    commit = git_commit()
    if commit is not None:
        tags |= {"mlflow.source.git.commit": commit[0], "git.commit": commit[0], "git.dirty": str(commit[1])}
    run = client.create_run(exp, run_name=f"backtest-top{cfg.top_n}-{cfg.weighting}-{cfg.capital:.0e}", tags=tags)
    run_id = run.info.run_id
    try:
        params = {f"backtest.{k}": str(v) for k, v in vars(cfg).items()}
        params |= {f"crowding.{k}": str(v) for k, v in report.rule.as_dict().items()}
        if report.capacity is not None:
            params["backtest.capacity"] = ",".join(f"{c:g}" for c in report.capacity.index)
        client.log_batch(run_id, params=[mlflow.entities.Param(k, v) for k, v in params.items()])
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
            (out / "tables").mkdir()
            (out / "report.html").write_text(html_text, encoding="utf-8")
            daily = report.result.daily.assign(benchmark_return=report.benchmark).join(report.growth)
            daily.join(report.crowding.astype({"regime": "string"})).to_parquet(out / "tables" / "daily.parquet")
            report.result.trades.to_parquet(out / "tables" / "trades.parquet", index=False)
            report.result.rebalances.to_csv(out / "tables" / "rebalances.csv", index=False)
            report.episodes.to_csv(out / "tables" / "drawdowns.csv", index=False)
            report.regimes.to_csv(out / "tables" / "by_regime.csv")
            report.yearly.to_csv(out / "tables" / "by_year.csv")
            if report.capacity is not None:
                report.capacity.to_csv(out / "tables" / "capacity.csv")
            for name, fig in figures.items():
                plots.save_png(fig, out / "plots" / f"{name}.png")
            client.log_artifacts(run_id, tmp)
        client.set_terminated(run_id, "FINISHED")
    except BaseException as exc:
        _discard(client, run_id, None, "", None, exc)
        raise
    return LoggedRun(run_id, exp, "", "", uri)


def promote(version: str, model: str, uri: str | None = None, alias: str = CHAMPION) -> str | None:
    """Point ``alias`` (``champion``) at ``version`` of ``model``; returns the version it left."""
    client = MlflowClient(configure(uri))
    try:
        client.get_model_version(model, str(version))
    except mlflow.exceptions.MlflowException:
        known = ", ".join(sorted((str(v.version) for v in client.search_model_versions(f"name = '{model}'")),
                                 key=int)) or "none"
        raise LookupError(f"model {model!r} has no version {version}; versions: {known}") from None
    try:
        previous = str(client.get_model_version_by_alias(model, alias).version)
    except mlflow.exceptions.MlflowException:
        previous = None
    client.set_registered_model_alias(model, alias, str(version))
    return previous
