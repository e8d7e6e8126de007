"""The MLflow run of one training: parameters, metrics, plots, tables, predictions and the
final model, registered with alias ``candidate``.

One parent run per walk-forward. A run that fails part-way is removed with everything it
created (:func:`tracking.store.discard`), so no half-written run or model is ever visible.
"""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
import tomli_w
from mlflow.entities import Metric, Param
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from features.registry import REGISTRY
from tracking import artifacts as names
from tracking.figures import save_png
from tracking.registry import CANDIDATE
from tracking.store import LoggedRun, configure, discard, experiment_id, git_tags
from training import plots
from training.train import TrainResult

PIP_REQUIREMENTS = [f"{p}=={version(p)}" for p in ("lightgbm", "numpy", "pandas", "scikit-learn")]
MODEL_DESCRIPTION = ("Spotlight: LightGBM ranking of the micro-cap universe by next month's attention re-rating. "
                     "Alias candidate = the latest trained version; champion = the version the retrain gate (or "
                     "spotlight promote) chose, the one served. Each version's description gives its out-of-sample "
                     "figures and data, and why it became champion.")


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


def _log_metrics(client: MlflowClient, run_id: str, result: TrainResult) -> None:
    metrics: list[Metric] = []
    now = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)

    def add(key: str, value: float | None, step: int = 0, ts: int = now) -> None:
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


def log_training(result: TrainResult, fingerprint: dict[str, str | int], *, experiment: str, model_name: str,
                 uri: str | None = None, config_text: str | None = None, extra_tags: dict[str, str] | None = None,
                 params: dict[str, str] | None = None) -> LoggedRun:
    """Log ``result`` as one run in ``experiment``, log the final model and register it as a
    version of ``model_name`` with alias ``candidate``. ``params`` (default: the training
    configuration's) and ``config_text`` (default: that configuration as TOML) say how the run
    was configured; the ``features`` parameter lists the features the model used (the config's
    empty list means every registered one)."""
    uri = configure(uri)
    cfg = result.config
    exp = experiment_id(experiment, uri)
    client = MlflowClient(uri)
    tags = {names.DATA_HASH: str(fingerprint["hash"]), names.DATA_START: str(fingerprint["start"]),
            names.DATA_END: str(fingerprint["end"]), names.DATA_STOCKS: str(fingerprint["stocks"]),
            names.DATA_SOURCE: str(result.data.source), names.LABEL: cfg.label_column, names.MODEL_KIND: cfg.model,
            names.CONFIG_HASH: cfg.hash()}
    tags |= (extra_tags or {}) | git_tags()
    name = f"{cfg.model}-{cfg.label}-{fingerprint['end']}"
    run = client.create_run(exp, run_name=name, tags=tags)
    run_id, model_id, registered = run.info.run_id, None, None
    try:
        logged_params = (params if params is not None else cfg.flat()) | {"features": ",".join(result.data.features)}
        client.log_batch(run_id, params=[Param(k, v[:6000]) for k, v in logged_params.items()])
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
