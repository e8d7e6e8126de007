"""The MLflow run of one training: parameters, metrics, plots, tables, predictions and the
final model, registered with alias ``candidate``.

One parent run per walk-forward, opened when the job starts training (:func:`training_run`),
so its duration is the training's, and filled in and ended by :func:`log_training`. A run that
fails part-way is removed with everything it created (:func:`tracking.store.discard`), so no
half-written run or model is ever visible.

Metric keys are chosen for the run page, which shows one chart per key, in sections named by
the key's prefix, the sections in alphabetical order and the unprefixed keys last: first
``month/rank_ic`` (then ``month/top50_excess``, ``month/top_minus_bottom``), one point per
out-of-sample month, ``step`` = month index and timestamp = the month-end, so the "Time (wall)"
axis reads as dates; then ``walk_forward/*`` (``step`` = fold, timestamp = its first test
month), ``year/rank_ic`` (``step`` = year) and the model's overall figures. The baselines'
figures are one table (``tables/models.csv``), not dozens of single-value charts.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
import tomli_w
from mlflow.entities import Metric, Param
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from features.registry import REGISTRY, registered
from tracking import artifacts as names
from tracking.figures import save_png
from tracking.registry import CANDIDATE
from tracking.store import LoggedRun, configure, discard, experiment_id, git_tags
from training import plots
from training.config import TrainConfig
from training.train import TrainResult

PIP_REQUIREMENTS = [f"{p}=={version(p)}" for p in ("lightgbm", "numpy", "pandas", "scikit-learn")]
MODEL_DESCRIPTION = ("Spotlight: LightGBM ranking of the micro-cap universe by next month's attention re-rating. "
                     "Alias candidate = the latest trained version; champion = the version the retrain gate (or "
                     "spotlight promote) chose, the one served. Each version's description gives its out-of-sample "
                     "figures and data, and why it became champion.")


MONTHLY = {"rank_ic": "rank_ic", "top50_excess": "top50", "top_minus_bottom": "long_short"}
"""``month/<key>`` -> the column of :attr:`training.evaluate.Evaluation.by_date` it charts."""


def headline(result: TrainResult, fingerprint: dict[str, str | int]) -> str:
    """A version's description: its out-of-sample figures against the best baseline, and its data."""
    s = result.evaluations["score"].summary
    baselines = {k.removeprefix("baseline_"): e.summary["rank_ic"] for k, e in result.evaluations.items()
                 if k != "score"}
    best = max(baselines, key=lambda k: baselines[k]) if baselines else None
    than = f"; best baseline {best} {baselines[best]:+.4f}" if best is not None else ""
    return (f"{result.config.model} on {result.config.label_column}: out-of-sample RankIC {s['rank_ic']:+.4f} "
            f"(ICIR {s['icir']:+.2f}, t {s['t_stat']:+.1f}) over {s['months']:.0f} months, top-decile excess "
            f"{s['top_decile_excess']:+.2%} a month{than}. Trained on data {fingerprint['start']}..{fingerprint['end']} "
            f"({fingerprint['stocks']} stocks, hash {str(fingerprint['hash'])[:12]}).")


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


def _ms(date: object) -> int:
    """Milliseconds since the epoch of a date (MLflow's metric timestamps)."""
    return int(pd.Timestamp(date).timestamp() * 1000)


def _log_metrics(client: MlflowClient, run_id: str, result: TrainResult) -> None:
    metrics: list[Metric] = []
    now = _ms(pd.Timestamp.now(tz="UTC"))

    def add(key: str, value: float | None, step: int = 0, ts: int = now) -> None:
        if value is not None and pd.notna(value):
            metrics.append(Metric(key, float(value), ts, step))

    by_date = result.evaluations["score"].by_date
    for step, (date, row) in enumerate(by_date.iterrows()):
        for key, column in MONTHLY.items():
            add(f"month/{key}", row[column], step, _ms(date))
    for row in result.fold_table.itertuples():
        for key in ("best_iteration", "valid_rank_ic", "fit_rows", "test_rows"):
            add(f"walk_forward/{key}", getattr(row, key), row.fold, _ms(row.test_start))
    for year, row in result.slices["year"].iterrows():
        add("year/rank_ic", row["rank_ic"], int(year), _ms(f"{int(year)}-12-31"))
    for key, value in result.evaluations["score"].summary.items():
        add(key, value)
    for key, value in (result.truth or {}).items():
        add(key, value)
    for key, value in result.timings.items():
        add(f"time/{key}", value)
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])


def _write_artifacts(result: TrainResult, out: Path, config_text: str) -> None:
    plots_dir, tables = out / names.PLOTS_DIR, out / names.TABLES_DIR
    plots_dir.mkdir()
    tables.mkdir()
    (out / names.CONFIG_TOML).write_text(config_text, encoding="utf-8")
    (out / names.FEATURE_SPEC).write_text(json.dumps(feature_spec(result), indent=2), encoding="utf-8")
    result.predictions.to_parquet(out / names.OOS_PREDICTIONS, index=False)
    result.fold_table.to_csv(tables / "folds.csv", index=False)
    _metrics_table(result).to_csv(tables / "models.csv")
    for by, table in result.slices.items():
        table.to_csv(tables / f"by_{by}.csv")
    result.by_year.to_csv(tables / "by_year_every_model.csv")
    main = result.evaluations["score"]
    save_png(plots.rank_ic_plot(main.by_date["rank_ic"], title="Out-of-sample RankIC by month"),
             plots_dir / "rank_ic.png")
    save_png(plots.quantile_cumulative_plot(main.quantiles), plots_dir / "quantile_returns.png")
    save_png(plots.importance_plot(result.final.importance()), plots_dir / "feature_importance.png")
    X = result.data.X[result.data.features]
    recent = result.data.members & result.data.panel["date"].isin(result.final_fold.valid).to_numpy()
    rows = X[recent]
    save_png(plots.contributions_plot(result.final.contributions(rows), rows), plots_dir / "contributions.png")


def _tags(config: TrainConfig, fingerprint: dict[str, str | int]) -> dict[str, str]:
    return {names.DATA_HASH: str(fingerprint["hash"]), names.DATA_START: str(fingerprint["start"]),
            names.DATA_END: str(fingerprint["end"]), names.DATA_STOCKS: str(fingerprint["stocks"]),
            names.LABEL: config.label_column, names.MODEL_KIND: config.model, names.CONFIG_HASH: config.hash()}


def open_run(config: TrainConfig, fingerprint: dict[str, str | int], *, experiment: str, uri: str | None = None,
             extra_tags: dict[str, str] | None = None, params: dict[str, str] | None = None) -> str:
    """Create the training's run in ``experiment``, RUNNING from now, with its data and config
    tags, ``extra_tags`` and ``params`` (default: the training configuration's; ``features``
    lists the features the model uses, the config's empty list meaning every registered one);
    its id."""
    uri = configure(uri)
    client = MlflowClient(uri)
    tags = _tags(config, fingerprint) | (extra_tags or {}) | git_tags()
    run = client.create_run(experiment_id(experiment, uri), run_name=f"{config.model}-{config.label}-{fingerprint['end']}",
                            tags=tags)
    try:
        features = config.features or [f.name for f in registered()]
        logged = (params if params is not None else config.flat()) | {"features": ",".join(features)}
        client.log_batch(run.info.run_id, params=[Param(k, v[:6000]) for k, v in logged.items()])
    except BaseException as exc:
        discard(client, run.info.run_id, exc)
        raise
    return str(run.info.run_id)


@contextmanager
def training_run(config: TrainConfig, fingerprint: dict[str, str | int], *, experiment: str, uri: str | None = None,
                 extra_tags: dict[str, str] | None = None, params: dict[str, str] | None = None) -> Iterator[str]:
    """The run of a training about to start (:func:`open_run`), for :func:`log_training` to
    fill in: if the body raises (the training fails, the job is interrupted), the run is
    tagged with the error, ends FAILED and is deleted, and nothing is registered."""
    uri = configure(uri)
    run_id = open_run(config, fingerprint, experiment=experiment, uri=uri, extra_tags=extra_tags, params=params)
    try:
        yield run_id
    except BaseException as exc:
        client = MlflowClient(uri)
        if client.get_run(run_id).info.lifecycle_stage != "deleted":  # log_training discards its own failures
            discard(client, run_id, exc)
        raise


def log_training(result: TrainResult, fingerprint: dict[str, str | int], *, experiment: str, model_name: str,
                 uri: str | None = None, config_text: str | None = None, extra_tags: dict[str, str] | None = None,
                 params: dict[str, str] | None = None, run_id: str | None = None) -> LoggedRun:
    """Log ``result`` into ``run_id`` (opened by :func:`training_run` when the training
    started; default: a run opened now with ``extra_tags`` and ``params``), log the final model,
    register it as a version of ``model_name`` with alias ``candidate`` and end the run.
    ``config_text`` (default: the training configuration as TOML) says how the run was
    configured."""
    uri = configure(uri)
    cfg = result.config
    client = MlflowClient(uri)
    if run_id is None:
        run_id = open_run(cfg, fingerprint, experiment=experiment, uri=uri, extra_tags=extra_tags, params=params)
    exp = str(client.get_run(run_id).info.experiment_id)
    model_id, registered = None, None
    try:
        client.set_tag(run_id, names.DATA_SOURCE, str(result.data.source))
        _log_metrics(client, run_id, result)
        with tempfile.TemporaryDirectory() as tmp:
            _write_artifacts(result, Path(tmp), config_text or tomli_w.dumps(cfg.model_dump(mode="json")))
            client.log_artifacts(run_id, tmp)
        X = result.data.X[result.data.features]
        example = X[result.data.members].head(5)
        mlflow.start_run(run_id=run_id)  # log_model logs into the active run; it stays RUNNING until the end
        info = mlflow.lightgbm.log_model(result.final.booster_, name=names.MODEL_ARTIFACT, input_example=example,
                                         signature=infer_signature(example, result.final.predict(example)),
                                         pip_requirements=PIP_REQUIREMENTS)
        model_id = info.model_id
        registered = mlflow.register_model(info.model_uri, model_name,
                                           tags={"run_id": run_id, names.DATA_HASH: str(fingerprint["hash"])})
        client.set_registered_model_alias(model_name, CANDIDATE, registered.version)
        client.update_model_version(model_name, registered.version, description=headline(result, fingerprint))
        if not client.get_registered_model(model_name).description:
            client.update_registered_model(model_name, description=MODEL_DESCRIPTION)
        mlflow.end_run("FINISHED")
    except BaseException as exc:
        discard(client, run_id, exc, model_id, model_name,
                None if registered is None else str(registered.version))
        raise
    return LoggedRun(run_id, exp, model_name, str(registered.version), uri)
