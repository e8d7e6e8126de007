"""The retraining job behind ``spotlight retrain``: one pass from new data to a served champion.

1. **Lock**: ``<root>/.retrain.lock`` (``flock``, non-blocking); if another job holds it,
   exit 75 and touch nothing. The kernel releases the lock when a job dies, even by kill -9.
2. **Validate** the market; a contract breach stops the job (exit 1) before anything is
   written or logged.
3. **Up to date?** If the champion was trained on exactly this data (same content hash) with
   this configuration (same config hash) and its bundle is the one served, exit 4 and change
   nothing: a second run on the same data is a no-op.
4. **Train** the walk-forward and the final model (features rebuilt from the market), log one
   MLflow run and register the final model as ``candidate`` (:mod:`training.tracking`).
5. **Gate**: the candidate's mean out-of-sample RankIC over its last ``retrain.months`` test
   months against the champion's over its own last ``retrain.months``; promote if there is no
   champion yet or the candidate trails by at most ``retrain.tolerance``.
6. **Export** the candidate (the ONNX parity gate runs here; a failure exits 3 and keeps the
   champion), **publish** the bundle atomically into the serving root (:mod:`serving.publish`,
   keeping the newest ``retrain.keep``), then move ``champion`` to it. A journal
   (``.pending.json``) spans the swap and the alias move.

Each step's outcome and time are tagged on the candidate's run (``retrain.*``) with the gate's
figures as metrics (``gate/*``). Exit codes: 0 promoted and published, 4 champion kept (the gate;
or nothing to do: the champion's data and config, older data than the champion's, or data and
config an earlier run already decided on: kept, failed parity or rolled back), 3 parity gate
failed, 1 failed (data, training, MLflow), 75 locked.
Recovery, at the start of every run (under the lock): a promotion whose bundle was swapped
in but whose alias move did not happen is finished; bundle directories a dead job moved in
but never served, staging directories, and this job's runs left RUNNING are removed (the runs
marked FAILED and hidden, their model versions deleted). Then, if the served bundle is not the
champion's (e.g. after a manual ``spotlight promote``), the champion is exported and published.
"""

from __future__ import annotations

import fcntl
import os
import socket
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

PROMOTED, KEPT, PARITY_FAILED, FAILED, LOCKED = 0, 4, 3, 1, 75
LOCK, PENDING = ".retrain.lock", ".pending.json"
HOST = socket.gethostname()
Say = Callable[[str], None]


class RetrainError(Exception):
    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Outcome:
    code: int
    decision: str
    message: str
    run_id: str | None = None
    version: str | None = None
    served: str | None = None
    figures: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, dict] = field(default_factory=dict)  # out-of-sample figures per model, when trained


class _Lock:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> _Lock:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RetrainError("another retrain holds the lock; nothing was done", LOCKED) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _decided(client: MlflowClient, experiment: str, model: str, data_hash: str,
             config: str) -> tuple[str, str] | None:
    """(run id, decision) of an earlier retrain on the same data and config that was kept,
    failed parity, or was rolled back from: such data is not trained on again."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs([found.experiment_id], f"tags.`data.hash` = '{data_hash}' and "
                                                     f"tags.`spotlight.config_hash` = '{config}' and "
                                                     "tags.`spotlight.job` = 'retrain'")
    for run in runs:
        decision = run.data.tags.get("retrain.decision")
        if decision in ("kept_champion", "parity_failed", "rolled_back"):
            return run.info.run_id, decision
    return None


def _alias(client: MlflowClient, model: str, alias: str):
    try:
        return client.get_model_version_by_alias(model, alias)
    except MlflowException:
        return None


def gate(candidate: float, champion: float | None, tolerance: float) -> tuple[bool, str]:
    """Promote when there is no champion (or it has no figure) or the candidate's recent RankIC
    trails the champion's by at most ``tolerance``."""
    if champion is None or not np.isfinite(champion):
        return True, f"candidate {candidate:+.4f}; no champion figure to beat"
    verdict = "within" if candidate >= champion - tolerance else "trails beyond"
    return candidate >= champion - tolerance, (f"candidate {candidate:+.4f} vs champion {champion:+.4f}: "
                                               f"{verdict} the tolerance {tolerance}" if verdict == "within" else
                                               f"candidate {candidate:+.4f} trails champion {champion:+.4f} by more "
                                               f"than the tolerance {tolerance}")


def recent_rank_ic(client: MlflowClient, run_id: str, months: int) -> float:
    """Mean of the run's last ``months`` monthly out-of-sample RankICs (``month/rank_ic``)."""
    history = sorted(client.get_metric_history(run_id, "month/rank_ic"), key=lambda m: m.timestamp)
    values = [m.value for m in history[-months:]]
    return float(np.mean(values)) if values else float("nan")


def _served_manifest(root: Path) -> dict | None:
    import json

    from serving.publish import current

    name = current(root)
    if name is None:
        return None
    try:
        return json.loads((root / name / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _served_version(root: Path) -> str | None:
    try:
        return (_served_manifest(root) or {})["model"]["version"]
    except (KeyError, TypeError):
        return None


def _served_name(root: Path) -> str | None:
    from serving.publish import current

    return current(root)


def _export_and_publish(uri: str, model: str, run_id: str, root: Path, cfg, data: Path,
                        after_publish: Callable[[], None] = lambda: None) -> str:
    """Export the version ``run_id`` registered (parity gate) and publish it, then call
    ``after_publish`` (the alias move); returns the bundle's name.

    ``.pending.json`` (the bundle and version about to be served) is written before the swap of
    ``current`` and removed after ``after_publish``: if the process dies in between, the next
    run finishes the alias move (:func:`_recover`)."""
    import json

    from serving.export import ExportError, export_bundle
    from serving.publish import bundle_name, publish, write_json

    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        try:
            export_bundle(staging / "bundle", tracking_uri=uri, model_name=model, run_id=run_id, data=data,
                          months=cfg.retrain.serve_months, crowding_rule=cfg.crowding.build())
        except ExportError as exc:
            raise RetrainError(str(exc), PARITY_FAILED if exc.code == 3 else FAILED) from None
        manifest = json.loads((staging / "bundle" / "manifest.json").read_text())
        write_json(root / PENDING, {"name": bundle_name(manifest), "version": manifest["model"]["version"]})
        served = publish(staging / "bundle", root, keep=cfg.retrain.keep)
        after_publish()
        (root / PENDING).unlink(missing_ok=True)
        return served
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _recover(client: MlflowClient, root: Path, model: str, experiment: str, say: Say) -> None:
    """Finish or undo what a job killed part-way left (we hold the lock, so none is running):
    a publish whose alias move did not happen, bundle directories outside the history, staging
    directories, and runs of this job still marked RUNNING (closed, hidden, their model versions
    removed)."""
    import json

    from serving.publish import clean, current
    from training.tracking import CHAMPION

    pending_path = root / PENDING
    if pending_path.is_file():
        pending = json.loads(pending_path.read_text(encoding="utf-8"))
        if current(root) == pending["name"]:
            say(f"recover: finishing the promotion of version {pending['version']} (its bundle is served)")
            client.set_registered_model_alias(model, CHAMPION, pending["version"])
        pending_path.unlink()
    for name in clean(root):
        say(f"recover: removed {name}, published by a job that died before serving it")
    for stale in root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return
    for run in client.search_runs([found.experiment_id], "tags.`spotlight.job` = 'retrain' and "
                                                         "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        if tags.get("retrain.host") != HOST or psutil.pid_exists(int(tags.get("retrain.pid", "0") or 0)):
            continue  # another machine's job, or a live one (another serving root): not ours to close
        say(f"recover: closing run {run.info.run_id}, left RUNNING by a job that died")
        for mv in client.search_model_versions(f"run_id = '{run.info.run_id}'"):
            if CHAMPION not in mv.aliases:
                client.delete_model_version(model, mv.version)
        client.set_tag(run.info.run_id, "spotlight.error", "interrupted: the job died before finishing this run")
        client.set_terminated(run.info.run_id, "FAILED")
        client.delete_run(run.info.run_id)


def retrain(data: Path, root: Path, cfg, uri: str, say: Say | None = None) -> Outcome:
    """Run the job (see the module docstring) and say what it decided."""
    say = say or (lambda message: None)
    root = Path(root)
    timings: dict[str, float] = {}
    try:
        with _Lock(root):
            return _run(Path(data), root, cfg, uri, say, timings)
    except RetrainError as exc:
        decision = {LOCKED: "locked", PARITY_FAILED: "parity_failed"}.get(exc.code, "failed")
        return Outcome(exc.code, decision, str(exc), timings=timings)


def _run(data: Path, root: Path, cfg, uri: str, say: Say, timings: dict[str, float]) -> Outcome:
    from market import InvalidMarketError, MarketDataError, load_market
    from market.fingerprint import fingerprint
    from training.tracking import CANDIDATE, CHAMPION, config_hash, configure, log_training
    from training.train import train

    t0 = time.perf_counter()
    say("validate")
    try:
        market = load_market(data)
    except (InvalidMarketError, MarketDataError) as exc:
        raise RetrainError(f"{data}: {exc}") from None
    fp = fingerprint(market)
    timings["validate_s"] = time.perf_counter() - t0

    uri = configure(uri)
    client = MlflowClient(uri)
    model = cfg.registered_model
    _recover(client, root, model, cfg.experiment, say)
    champion = _alias(client, model, CHAMPION)
    if champion is not None and _served_version(root) != str(champion.version):
        say(f"repair: publishing champion version {champion.version}, which is not the one served")
        try:
            _export_and_publish(uri, model, champion.run_id, root, cfg, data)
        except RetrainError as exc:  # e.g. the champion cannot be exported on today's market: train anyway
            say(f"repair failed, going on: {exc}")
    if champion is not None:
        tags = client.get_run(champion.run_id).data.tags
        served = _served_manifest(root) or {}
        served_end = (served.get("snapshot_data") or {}).get("end", "")
        served_rule = (served.get("crowding") or {}).get("rule")  # None: exported before the crowding flag
        if ((served.get("model") or {}).get("version") == str(champion.version)
                and served_rule != cfg.crowding.build().as_dict()
                and fp["end"] >= max(tags.get("data.end", ""), served_end)):
            say(f"repair: re-publishing champion version {champion.version} under this config's crowding rule")
            try:
                _export_and_publish(uri, model, champion.run_id, root, cfg, data)
            except RetrainError as exc:
                say(f"repair failed, going on: {exc}")
        if tags.get("data.hash") == fp["hash"] and tags.get("spotlight.config_hash") == config_hash(cfg):
            return Outcome(KEPT, "up_to_date", f"champion version {champion.version} was trained on this data with "
                           "this config and is served; nothing to do", champion.run_id, str(champion.version),
                           _served_name(root), timings=timings)
        if fp["end"] < tags.get("data.end", ""):
            return Outcome(KEPT, "older_data", f"this market ends {fp['end']}, before champion version "
                           f"{champion.version}'s data ({tags['data.end']}); nothing to do", champion.run_id,
                           str(champion.version), _served_name(root), timings=timings)
    decided = _decided(client, cfg.experiment, model, fp["hash"], config_hash(cfg))
    if decided is not None:
        return Outcome(KEPT, "already_decided", f"run {decided[0]} already decided on this data and config: "
                       f"{decided[1]}; nothing to do", decided[0], None, _served_name(root), timings=timings)

    t0 = time.perf_counter()
    say("train")
    try:
        result = train(market, cfg, progress=lambda stage, done, total: say(stage) if done == 0 else None)
        logged = log_training(result, fp, uri=uri, extra_tags={"spotlight.job": "retrain", "retrain.host": HOST,
                                                                "retrain.pid": str(os.getpid())})
    except MlflowException as exc:
        raise RetrainError(f"MLflow at {uri}: {exc.message} (nothing was kept)") from None
    timings["train_s"] = time.perf_counter() - t0
    run_id, version = logged.run_id, logged.model_version
    for key, value in timings.items():
        client.log_metric(run_id, f"retrain/{key}", value)

    def tag(step: str, value: str) -> None:
        client.set_tag(run_id, f"retrain.{step}", value)

    summaries = {("lightgbm " + cfg.model if k == "score" else k.removeprefix("baseline_")): e.summary
                 for k, e in result.evaluations.items()}
    months = cfg.retrain.months
    by_date = result.evaluations["score"].by_date["rank_ic"].dropna()
    cand = float(by_date.iloc[-months:].mean())
    figures = {"gate/candidate_rank_ic": cand}
    champ = recent_rank_ic(client, champion.run_id, months) if champion is not None else None
    if champ is not None:
        figures["gate/champion_rank_ic"] = champ
    promote, why = gate(cand, champ, cfg.retrain.tolerance)
    why = (f"{why}; mean RankIC of the last {months} test months, champion version {champion.version}"
           if champion is not None else f"no champion yet; candidate {cand:+.4f} over the last {months} test months")
    for key, value in figures.items():
        client.log_metric(run_id, key, value)
    tag("gate", why)
    if not promote:
        tag("decision", "kept_champion")
        return Outcome(KEPT, "kept_champion", f"kept champion: {why}", run_id, version, _served_name(root),
                       figures, timings, summaries)

    t0 = time.perf_counter()
    say("export and publish")
    previous = champion.version if champion is not None else None
    try:
        served = _export_and_publish(uri, model, run_id, root, cfg, data,
                                     after_publish=lambda: client.set_registered_model_alias(model, CHAMPION, version))
    except RetrainError as exc:
        tag("decision", "parity_failed" if exc.code == PARITY_FAILED else "failed")
        tag("error", str(exc)[:5000])
        exc.args = (f"{exc}; champion stays {previous or 'unset'}, {CANDIDATE} is version {version}",)
        raise
    timings["publish_s"] = time.perf_counter() - t0
    client.log_metric(run_id, "retrain/publish_s", timings["publish_s"])
    tag("decision", "promoted")
    tag("served", served)
    return Outcome(PROMOTED, "promoted", f"promoted version {version} to champion ({why}); serving {served}",
                   run_id, version, served, figures, timings, summaries)


def rollback(root: Path, cfg, uri: str) -> tuple[str, str, str]:
    """Move ``champion`` to the version of the previously published bundle, then point the
    served bundle at it, all under the job's lock (alias first: if the process dies in between,
    the next retrain's repair step finishes the rollback). The version rolled back from is tagged
    ``retrain.decision = rolled_back`` so later runs on the same data do not promote it again.
    Returns (from bundle, to bundle, version)."""
    import json

    from serving.publish import PublishError
    from serving.publish import previous as bundle_before
    from serving.publish import rollback as point_back
    from training.tracking import CHAMPION, configure

    root = Path(root)
    with _Lock(root):
        try:
            now, previous = bundle_before(root)
        except PublishError as exc:
            raise RetrainError(str(exc), 2) from None
        manifest = lambda name: json.loads((root / name / "manifest.json").read_text())  # noqa: E731
        version, left = manifest(previous)["model"]["version"], manifest(now)["model"]
        client = MlflowClient(configure(uri))
        client.set_registered_model_alias(cfg.registered_model, CHAMPION, version)
        point_back(root)
        try:
            client.set_tag(left["run_id"], "retrain.decision", "rolled_back")
        except MlflowException:
            pass  # the run is gone; the alias and the bundle have moved
    return now, previous, version
