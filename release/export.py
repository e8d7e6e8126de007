"""Export a registered model as a serving bundle: ONNX model, manifest and feature snapshot.

A bundle is a directory the service loads without MLflow, LightGBM or any pickle:

- ``model.onnx``: the booster converted with float32 inputs named ``features``, columns in
  ``manifest["features"]`` order (see :mod:`release.onnx_model`).
- ``snapshot.parquet``: one row per listed stock per served date, sorted by (date, symbol):
  ``date, symbol, board, industry, market_cap, in_universe, exclusion_reason,
  median_amount_20``, the model-input features (float32; per-stock features ranked among the
  day's universe members, NaN outside it), ``onnx_score`` (the export-time score of each
  member; the service re-scores at load and refuses a bundle that differs) and the three
  strongest drivers of each member's score: ``driver{k}_feature``, ``driver{k}_contribution``
  (LightGBM ``pred_contrib`` of the native model, largest |value| first) and
  ``driver{k}_value`` (the feature's raw, untransformed value); and what the next session
  allows each stock (:mod:`features.tradability`: ``close, suspended, limit_up_locked,
  limit_down_locked, median_amount_market_20``), which ``/rebalance`` orders from.
- ``manifest.json``: the model (name, version, aliases, run id), features in order with their
  readable labels and look-backs, the market's currency, the trading rules (board lot,
  participation, costs), transform, universe, label, training window, the run's out-of-sample metrics,
  the training and the snapshot data fingerprints, served dates, the parity figures,
  library versions, and the SHA-256 of both files.

Served dates: the market's last ``months`` month-ends, where the last trading day counts as
the end of its (possibly partial) month, so the latest day is always served. Every feature is
point-in-time, so each served date's rows equal what a build on that day would have given.

Parity gate, before anything is published: native ``Booster.predict`` against onnxruntime
on every universe member of every out-of-sample date of the run (its test month-ends) and of
every served date. If it fails, :class:`ParityError` says why and nothing is
written, logged or published. Otherwise the bundle is written to a temporary sibling of
``out``, logged to the model's MLflow run under ``bundle/``, and renamed into place; an
existing ``out`` is replaced only if it holds a bundle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from features.crowding import CrowdingRule, crowding
from features.liquidity import median_amount_20
from features.model_input import model_input
from features.panel import build_panel
from features.registry import REGISTRY, registered
from features.tradability import tradability
from features.universe import UniverseConfig
from market import InvalidMarketError, MarketDataError, load_market
from market.atomic import atomic_path
from market.fingerprint import fingerprint
from orders import TradingRules
from release.onnx_model import Parity, parity, to_onnx
from serving.bundle import MANIFEST, MODEL, N_DRIVERS, SCHEMA_VERSION, SNAPSHOT, sha256
from serving.scorer import OnnxScorer
from tracking import artifacts as names
from tracking.registry import resolve_version

LIBRARIES = ("lightgbm", "onnx", "onnxruntime", "onnxmltools", "mlflow", "numpy", "pandas", "pyarrow")
Progress = Callable[[str, int, int], None]


class ExportError(Exception):
    """Export refused: the model or the market cannot be served (the message says why)."""


class ExportRequestError(ExportError):
    """A request export cannot answer: no such alias or run, a bad ``out``, no market given."""


class ParityError(ExportError):
    """The parity gate failed: ONNX and LightGBM disagree beyond the gate's limits."""


@dataclass(frozen=True)
class Exported:
    """A published bundle: where it is, its manifest and the parity figures."""

    out: Path
    manifest: dict
    parity: Parity


def served_dates(calendar: pd.DatetimeIndex, months: int) -> pd.DatetimeIndex:
    """The last ``months`` month-ends of ``calendar`` (its last day ends the last month)."""
    month = calendar.year * 12 + calendar.month
    last = np.r_[month[1:] != month[:-1], True]
    return pd.DatetimeIndex(calendar[last][-months:], name="date")


def top_drivers(contributions: np.ndarray, features: list[str], k: int = N_DRIVERS) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices and values of the ``k`` largest |contribution| features (bias
    column excluded; ties keep feature order)."""
    values = contributions[:, :len(features)]
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(values, order, axis=1)


def _run_artifacts(client: MlflowClient, run_id: str) -> tuple[dict, pd.DatetimeIndex]:
    spec = names.read_json(client, run_id, names.FEATURE_SPEC)
    oos = names.read_parquet(client, run_id, names.OOS_PREDICTIONS, columns=["date"])
    return spec, pd.DatetimeIndex(oos["date"].unique()).sort_values()


def registered_names() -> set[str]:
    """Names of every registered feature."""
    return {f.name for f in registered()}


def _crowding(market, spec: dict, served: pd.DatetimeIndex, rule: CrowdingRule) -> dict[str, Any]:
    """The manifest's ``crowding``: the rule, and each served date's gauges, percentiles and regime."""
    table = crowding(market, UniverseConfig.from_spec(spec["universe"]), rule).reindex(served)
    by_date = {f"{day:%Y-%m-%d}": {k: (str(v) if k == "regime" else None if pd.isna(v) else float(v))
                                   for k, v in row.items()} for day, row in table.iterrows()}
    return {"rule": rule.as_dict(), "by_date": by_date}


def _panel(market, spec: dict, dates: pd.DatetimeIndex) -> pd.DataFrame:
    registered()
    panel = build_panel(market, universe=UniverseConfig.from_spec(spec["universe"]), dates=dates,
                        features=[REGISTRY[n] for n in spec["features"]],
                        extra={"market_cap": lambda h: h.col("market_cap"), "median_amount_20": median_amount_20})
    info = market.securities[["symbol"]].astype({"symbol": "str"})
    for column in ("board", "industry"):
        info[column] = market.securities[column].astype("string") if column in market.securities else pd.NA
    return panel.merge(info, on="symbol", how="left")


def _snapshot(panel: pd.DataFrame, X: pd.DataFrame, features: list[str], booster: lgb.Booster,
              onnx_scores: np.ndarray) -> pd.DataFrame:
    members = panel["in_universe"].to_numpy(bool)
    snap = panel[["date", "symbol", "board", "industry", "market_cap", "in_universe", "exclusion_reason",
                  "median_amount_20"]].copy()
    snap["exclusion_reason"] = snap["exclusion_reason"].astype("str").where(~members, None)
    model_x = X.to_numpy(np.float64)
    model_x[~members] = np.nan
    for j, name in enumerate(features):
        snap[name] = model_x[:, j].astype(np.float32)
    snap["onnx_score"] = np.where(members, onnx_scores, np.nan)
    contributions = np.asarray(booster.predict(X.to_numpy(np.float64)[members], pred_contrib=True))
    order, values = top_drivers(contributions, features)
    raw = panel[features].to_numpy(np.float64)[members]
    names = np.asarray(features, dtype=object)
    for k in range(N_DRIVERS):
        feature, contribution, value = (np.full(len(snap), None, dtype=object), np.full(len(snap), np.nan),
                                        np.full(len(snap), np.nan))
        feature[members] = names[order[:, k]]
        contribution[members] = values[:, k]
        value[members] = np.take_along_axis(raw, order[:, [k]], axis=1).ravel()
        snap[f"driver{k + 1}_feature"], snap[f"driver{k + 1}_contribution"] = feature, contribution
        snap[f"driver{k + 1}_value"] = value
    return snap.reset_index(drop=True)


def _libraries() -> dict[str, str]:
    return {name: package_version(name) for name in LIBRARIES}


def _is_bundle(path: Path) -> bool:
    """A directory holding only bundle files whose manifest names a bundle schema."""
    names = {p.name for p in path.iterdir()}
    if not names:
        return True
    if not names <= {MANIFEST, MODEL, SNAPSHOT}:
        return False
    try:
        return "schema_version" in json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or not _is_bundle(out)):
        raise ExportRequestError(f"{out} exists and is not a bundle (only {MANIFEST}, {MODEL} and {SNAPSHOT} may be "
                          "there); choose another --out")


def export_bundle(out: str | Path, *, tracking_uri: str, model_name: str, alias: str | None = None,
                  run_id: str | None = None, data: str | Path | None = None, months: int = 12,
                  progress: Progress | None = None, crowding_rule: CrowdingRule = CrowdingRule(),
                  published_as: str | None = None, currency: str = "CNY",
                  trading: TradingRules = TradingRules()) -> Exported:
    """Export ``model_name`` at ``alias`` (or the version ``run_id`` registered) to ``out``;
    the manifest carries the crowding regime of each served date under ``crowding_rule``.

    ``published_as``: the alias the bundle is served under when the registry moves it only
    after publishing (the retrain job publishes a promoted version, then makes it champion);
    the manifest's ``aliases`` then include it, and ``exported_as`` names it. ``currency``: the
    ISO code of the market's prices and amounts, which the service names. ``trading``: the
    board lot, default participation and costs ``/rebalance`` orders with (the backtest's)."""
    if months < 1:
        raise ExportRequestError(f"--months must be >= 1, got {months}")
    out = Path(out)
    _check_out(out)
    steps = ["model", "market", "features", "parity", "snapshot", "mlflow", "publish"]
    tick = progress or (lambda s, d, t: None)
    say = lambda name: tick(name, steps.index(name), len(steps))  # noqa: E731

    say("model")
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    try:
        mv = resolve_version(client, model_name, alias, run_id)
    except (ValueError, LookupError) as exc:
        raise ExportRequestError(str(exc)) from None
    run_id = str(mv.run_id)  # the run that registered it
    try:
        run = client.get_run(run_id)
        spec, oos_dates = _run_artifacts(client, run_id)
        booster: lgb.Booster = mlflow.lightgbm.load_model(f"models:/{model_name}/{mv.version}")
    except MlflowException as exc:
        raise ExportError(f"{model_name} version {mv.version} (run {mv.run_id}): {exc.message}") from None
    missing = [k for k in ("features", "lookback", "transform", "universe", "label", "train_start", "train_end")
               if k not in spec]
    unknown = [n for n in spec.get("features", []) if n not in registered_names()]
    if missing or unknown:
        raise ExportError(f"run {mv.run_id}: feature_spec.json lacks {missing}" if missing else
                          f"run {mv.run_id} uses features this code no longer registers: {unknown}")
    features = list(spec["features"])
    if booster.feature_name() != features:
        raise ExportError(f"version {mv.version}'s booster features {booster.feature_name()[:5]}... differ from "
                          f"its feature_spec.json {features[:5]}...")

    say("market")
    tagged = run.data.tags.get(names.DATA_SOURCE) or None
    source = Path(data) if data is not None else Path(tagged) if tagged else None
    if source is None:
        raise ExportRequestError(f"run {mv.run_id} does not say which market it used; pass --data DIR")
    if not source.is_dir():
        raise ExportRequestError(f"the market {str(source)!r} is not here; pass --data DIR")
    try:
        market = load_market(source)
    except (InvalidMarketError, MarketDataError) as exc:
        raise ExportError(str(exc)) from None
    served = served_dates(market.calendar, months)
    absent = oos_dates[~oos_dates.isin(market.calendar)]
    if len(absent):
        raise ExportError(f"the market {source} lacks {len(absent)} of the run's {len(oos_dates)} out-of-sample "
                          f"dates (e.g. {absent[0]:%Y-%m-%d}), so the parity gate cannot cover them; export "
                          "from a market that holds the run's history")
    check_dates = oos_dates.union(served)

    say("features")
    panel = _panel(market, spec, check_dates)
    X = model_input(panel, features, spec["transform"])

    say("parity")
    onnx_model = to_onnx(booster)
    raw_model = onnx_model.SerializeToString()
    members = panel["in_universe"].to_numpy(bool)
    if not members.any():
        raise ExportError(f"no universe members on the served dates {served[0]:%Y-%m-%d}..{served[-1]:%Y-%m-%d}")
    native = np.asarray(booster.predict(X.to_numpy(np.float64)[members]))
    onnx_scores = np.full(len(panel), np.nan)
    onnx_scores[members] = OnnxScorer(raw_model).score(X.to_numpy(np.float64)[members])
    report = parity(native, onnx_scores[members], panel["date"].to_numpy()[members],
                    panel["symbol"].to_numpy()[members])
    if not report.passed:
        raise ParityError("parity gate failed, nothing published: " + "; ".join(report.reasons))

    say("snapshot")
    crowd = _crowding(market, spec, served, crowding_rule)
    serve = panel["date"].isin(served).to_numpy()
    snap = _snapshot(panel[serve], X[serve], features, booster, onnx_scores[serve])
    state = tradability(market, served)
    snap = snap.merge(state.assign(symbol=state["symbol"].astype(str)), on=["date", "symbol"], how="left",
                      validate="one_to_one")
    fp = fingerprint(market)
    tags = run.data.tags
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "model": {"name": model_name, "version": str(mv.version),
                  "aliases": sorted({*mv.aliases, *([published_as] if published_as else [])}),
                  "run_id": mv.run_id, "experiment_id": run.info.experiment_id,
                  "exported_as": published_as or alias or "run"},
        "features": features,
        "feature_labels": {n: REGISTRY[n].label for n in features},
        "currency": currency,
        "trading": trading.model_dump(),
        "lookback": {n: int(spec["lookback"][n]) for n in features},
        "transform": spec["transform"],
        "universe": spec["universe"],
        "label": spec["label"],
        "objective": spec.get("model", "regressor"),
        "train_window": {"start": spec["train_start"], "end": spec["train_end"]},
        "best_iteration": spec.get("best_iteration"),
        "metrics": {k: v for k, v in sorted(run.data.metrics.items()) if "/" not in k and np.isfinite(v)},
        "training_data": {"hash": tags.get(names.DATA_HASH), "start": tags.get(names.DATA_START),
                          "end": tags.get(names.DATA_END), "stocks": tags.get(names.DATA_STOCKS)},
        "snapshot_data": fp | {"source": str(source)},
        "dates": [f"{d:%Y-%m-%d}" for d in served],
        "crowding": crowd,
        "parity": {"rows": report.rows, "dates": report.dates, "max_abs_diff": report.max_abs_diff,
                   "rel_diff": report.rel_diff, "spearman": report.spearman,
                   "top_n_mismatched_dates": report.top_n_mismatched_dates},
        "libraries": _libraries(),
        "exported_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }

    with atomic_path(out, directory=True) as tmp:
        (tmp / MODEL).write_bytes(raw_model)
        snap.to_parquet(tmp / SNAPSHOT, index=False)
        manifest["files"] = {MODEL: sha256(tmp / MODEL), SNAPSHOT: sha256(tmp / SNAPSHOT)}
        identity = manifest["files"][MODEL] + manifest["files"][SNAPSHOT] + json.dumps(crowd, sort_keys=True)
        manifest["bundle_id"] = hashlib.sha256(identity.encode()).hexdigest()[:16]
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, allow_nan=False), encoding="utf-8")
        say("mlflow")
        try:
            client.log_artifacts(run_id, str(tmp), names.BUNDLE_DIR)
        except MlflowException as exc:
            raise ExportError(f"MLflow at {tracking_uri}: {exc.message} (nothing was published)") from None
        say("publish")
        _check_out(out)  # only a bundle is ever replaced
    return Exported(out, manifest, report)
