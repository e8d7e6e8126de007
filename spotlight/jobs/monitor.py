"""The monitoring job behind ``spotlight monitor`` (and run after each ``spotlight refresh``).

On the market as it is now, for the serving root's published bundles:

1. **Realised** (:mod:`monitoring.realised`): every served date after its model's training
   window whose 21-day horizon has passed gets its realised RankIC and top-N excess return,
   once; they accumulate in ``<root>/monitor-realised.csv`` (date, model version, figures), so
   the record outlives pruned bundles. New figures are logged to the serving model version's
   MLflow run as ``live/rank_ic`` and ``live/top_n_excess``, stamped with the served date.
2. **Drift** (:mod:`monitoring.drift`): the PSI of each of the champion's per-stock features
   (segment gauges, one value per date, are read in the crowding regime instead) on the
   latest served date against its last 12 training month-ends (the reference is cached per
   run in ``<root>/monitor-reference-<run>.parquet``): of the model's input (the feature
   ranked within its date: the alert's) and of the raw level; ``live/psi_max`` (input) is logged.
3. **Alert** (:mod:`monitoring.alerts`, ``[monitor]`` in the config).

The report, ``<root>/monitor.json`` (written atomically), is what ``GET /monitor`` serves; it
is also logged to the champion's run as ``monitor/monitor.json``. MLflow being unreachable is
said and does not stop the report. Exit codes: 0 no alert, 5 alert, 1 bad data or no bundle.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from serving.bundle import MONITOR as REPORT
from spotlight.config import AppConfig
from spotlight.exit_code import CommandError, ExitCode

LEDGER = "monitor-realised.csv"
Say = Callable[[str], None]


class MonitorError(CommandError):
    """The report could not be made (bad data, nothing served)."""


@dataclass
class Monitored:
    """The report written, its alert state and the figures newly matured."""

    code: ExitCode
    report: dict[str, Any]
    new: pd.DataFrame = field(default_factory=pd.DataFrame)


def _manifest(root: Path, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((root / name / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _ledger(root: Path) -> pd.DataFrame:
    path = root / LEDGER
    if not path.is_file():
        return pd.DataFrame(columns=["date", "model_version", "run_id", "rank_ic", "top_n_excess", "members",
                                     "horizon_end"])
    return pd.read_csv(path, parse_dates=["date", "horizon_end"], dtype={"model_version": str, "run_id": str})


def live_rank_ic(root: Path, version: str, months: int) -> float | None:
    """Mean realised RankIC of ``version`` over its last ``months`` matured served dates (from
    the ledger), or None before any has matured."""
    ledger = _ledger(Path(root))
    mine = ledger[ledger["model_version"] == str(version)].sort_values("date").tail(months)["rank_ic"].dropna()
    return float(mine.mean()) if len(mine) else None


def _realised(market: Any, root: Path, names: list[str], ledger: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """Newly matured served dates of every bundle ``names`` (step 1)."""
    from features.universe import UniverseConfig
    from monitoring.realised import realised

    new = []
    for name in names:
        manifest = _manifest(root, name)
        if manifest is None:
            continue
        version, run_id = str(manifest["model"]["version"]), str(manifest["model"]["run_id"])
        snap = pd.read_parquet(root / name / "snapshot.parquet", columns=["date", "symbol", "in_universe", "onnx_score"])
        snap = snap[snap["in_universe"]].rename(columns={"onnx_score": "score"})
        snap["date"] = pd.to_datetime(snap["date"])
        done = set(ledger.loc[ledger["model_version"] == version, "date"])
        snap = snap[~snap["date"].isin(done)]
        if snap.empty:
            continue
        figures = realised(snap[["date", "symbol", "score"]], market, UniverseConfig.from_spec(manifest["universe"]),
                           top_n, after=pd.Timestamp(manifest["train_window"]["end"]))
        if len(figures):
            new.append(figures.assign(model_version=version, run_id=run_id))
    return pd.concat(new, ignore_index=True) if new else ledger.iloc[0:0]


def _drift(market: Any, root: Path, manifest: dict[str, Any]) -> tuple[pd.DataFrame, str]:
    """PSI per feature on the latest served date against the training reference (step 2)."""
    from features.panel import build_panel, panel_dates
    from features.registry import REGISTRY, registered
    from features.universe import UniverseConfig
    from monitoring.drift import REFERENCE_MONTHS, drift

    registered()
    features, universe = list(manifest["features"]), UniverseConfig.from_spec(manifest["universe"])
    # segment gauges take one value per date (the same for every stock): their drift is the
    # crowding regime's to read, not a cross-sectional PSI's
    chosen = [REGISTRY[n] for n in features if n in REGISTRY and REGISTRY[n].family != "segment"]
    latest = pd.Timestamp(max(manifest["dates"]))

    def members(dates: list[pd.Timestamp]) -> pd.DataFrame:
        panel = build_panel(market, universe=universe, dates=dates, features=chosen)
        return panel[panel["in_universe"]]

    cache = root / f"monitor-reference-{manifest['model']['run_id']}.parquet"
    reference_dates = panel_dates(market.calendar, "monthly", end=manifest["train_window"]["end"])[-REFERENCE_MONTHS:]
    reference = pd.read_parquet(cache) if cache.is_file() else None
    if reference is None or "date" not in reference.columns:  # none yet, or cached before dates were kept
        from market.atomic import atomic_path

        reference = members(list(reference_dates))[["date", *(f.name for f in chosen)]]
        with atomic_path(cache) as tmp:
            reference.to_parquet(tmp, index=False)
    live = members([latest]) if latest in market.calendar else reference.iloc[0:0]
    what = (f"{latest:%Y-%m-%d} against {len(reference_dates)} training month-ends "
            f"{reference_dates[0]:%Y-%m-%d}..{reference_dates[-1]:%Y-%m-%d}" if len(reference_dates) else "")
    return drift(reference, live, [f.name for f in chosen], manifest.get("transform", "rank")), what


def _log(uri: str, new: pd.DataFrame, manifest: dict[str, Any], report: dict[str, Any], say: Say) -> None:
    """New realised figures on their version's run, drift and the report on the champion's."""
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    try:
        for run_id, rows in new.groupby("run_id"):
            metrics = [Metric(key, float(value), int(row.date.timestamp() * 1000), int(f"{row.date:%Y%m%d}"))
                       for row in rows.itertuples() for key, value in (("live/rank_ic", row.rank_ic),
                                                                        ("live/top_n_excess", row.top_n_excess))
                       if value == value]
            client.log_batch(str(run_id), metrics=metrics)
        worst = [f["psi"] for f in report["drift"]["features"] if f["psi"] is not None]
        if worst:
            latest = pd.Timestamp(report["drift"]["date"])
            client.log_metric(manifest["model"]["run_id"], "live/psi_max", max(worst),
                              timestamp=int(latest.timestamp() * 1000), step=int(f"{latest:%Y%m%d}"))
        client.log_text(manifest["model"]["run_id"], json.dumps(report, indent=2), "monitor/monitor.json")
    except MlflowException as exc:
        say(f"MLflow at {uri}: {exc.message} (the report is written all the same)")


def monitor(data: Path, root: Path, cfg: AppConfig, uri: str, say: Say | None = None) -> Monitored:
    """Run the job (see the module docstring); MonitorError names what stopped it."""
    from features.registry import REGISTRY
    from market import InvalidMarketError, MarketDataError, load_market
    from monitoring.alerts import alert
    from release.publish import current, history, write_json
    from tracking.store import configure

    say = say or (lambda message: None)
    root = Path(root)
    served = current(root)
    manifest = _manifest(root, served) if served else None
    if served is None or manifest is None:
        raise MonitorError(f"{root}: no bundle is served here (spotlight retrain publishes one)")
    try:
        market = load_market(data)
    except (InvalidMarketError, MarketDataError) as exc:
        raise MonitorError(f"{data}: {exc}") from None
    rule = cfg.monitor

    say("realised")
    ledger = _ledger(root)
    names = [n for n in dict.fromkeys([*history(root), served]) if (root / n).is_dir()]
    new = _realised(market, root, names, ledger, rule.top_n)
    if len(new):
        ledger = pd.concat([ledger, new[ledger.columns]], ignore_index=True).sort_values(["date", "model_version"])
        from market.atomic import atomic_path

        with atomic_path(root / LEDGER) as tmp:
            ledger.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    by_date = (ledger.assign(v=ledger["model_version"].astype(int)).sort_values(["date", "v"])
               .drop_duplicates("date", keep="last"))  # a date served by two versions: the later one

    say("drift")
    table, reference = _drift(market, root, manifest)
    latest = max(manifest["dates"])
    regime = ((manifest.get("crowding") or {}).get("by_date") or {}).get(latest)
    state, reasons = alert(by_date, table, (regime or {}).get("regime"), rule)
    report = {
        "generated_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "data_end": f"{market.calendar[-1]:%Y-%m-%d}",
        "model": {"name": manifest["model"]["name"], "version": str(manifest["model"]["version"]),
                  "run_id": manifest["model"]["run_id"]},
        "bundle": served,
        "realised": [{"date": f"{r.date:%Y-%m-%d}", "model_version": str(r.model_version),
                      "rank_ic": None if r.rank_ic != r.rank_ic else round(float(r.rank_ic), 4),
                      "top_n_excess": round(float(r.top_n_excess), 6), "members": int(r.members),
                      "horizon_end": f"{r.horizon_end:%Y-%m-%d}"} for r in by_date.itertuples()],
        "drift": {"date": latest, "reference": reference,
                  "features": [{"feature": f, "label": REGISTRY[f].label if f in REGISTRY else f,
                                "psi": None if v != v else round(float(v), 4),
                                "psi_training": None if t != t else round(float(t), 4),
                                "psi_level": None if w != w else round(float(w), 4)}
                               for f, v, t, w in zip(table["feature"], table["psi"], table["psi_training"],
                                                     table["psi_level"], strict=True)]},
        "crowding": None if regime is None else {"date": latest, **regime},
        "alert": {"state": state, "reasons": reasons},
        "rule": rule.model_dump(),
    }
    write_json(root / REPORT, report)
    _log(configure(uri), new, manifest, report, say)
    say(f"{len(new)} served date(s) newly matured; alert: {state}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    return Monitored(ExitCode.ALERT if state == "alert" else ExitCode.OK, report, new)


def follow(data: Path, root: Path, cfg: AppConfig, uri: str, say: Say) -> float:
    """Bring the live model's report up to date after a job published a bundle (the refresh, a
    promotion); a failure is said and never undoes what was published. Returns the seconds spent."""
    start = time.perf_counter()
    try:
        monitor(data, root, cfg, uri, say=lambda step: say(f"monitor: {step}"))
    except Exception as exc:  # any failure: the published bundle is served all the same
        say(f"monitor failed, what was published stands: {exc if isinstance(exc, MonitorError) else repr(exc)}")
    return time.perf_counter() - start
