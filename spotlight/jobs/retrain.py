"""The retraining job behind ``spotlight retrain``: one pass from new data to a served champion.

The rules are pure functions of what is known (:func:`decide` before training, :func:`gate`
after it) and are tested without MLflow; :func:`retrain` gathers the facts and acts.

1. **Lock**: ``<root>/.retrain.lock`` (``flock``, non-blocking); if another job holds it,
   exit 75 and touch nothing. The kernel releases the lock when a job dies, even by kill -9.
2. **Validate** the market; a contract breach stops the job (exit 1) before anything is
   written or logged.
3. **Repair** (:func:`decide`): if the served bundle is not the champion's (e.g. after a manual
   ``spotlight promote``), the champion is exported and published; if it is, but was exported
   under another crowding rule and this market is not older than the champion's data or the
   served snapshot, it is re-published under this config's rule.
4. **Nothing to do?** (:func:`decide`): the champion was trained on exactly this data (same
   content hash) with these model settings (same :meth:`~training.config.TrainConfig.hash`);
   or this market ends before the champion's data; or it only adds days inside the month the
   champion's data ends in, with the same settings (the daily ``spotlight refresh`` serves
   those days; a model is retrained monthly); or an earlier run on this data and these
   settings was kept, failed parity or was rolled back. Exit 4 and change nothing.
5. **Train** the walk-forward and the final model (features rebuilt from the market), log one
   MLflow run and register the final model as ``candidate`` (:mod:`training.mlflow_run`).
6. **Gate** (:func:`gate`): the candidate's mean out-of-sample RankIC over its last
   ``retrain.months`` test months against the champion's over its own last ``retrain.months``;
   promote if there is no champion yet or the candidate trails by at most ``retrain.tolerance``.
   With ``retrain.live_evidence``, the champion's realised live RankIC (``spotlight monitor``)
   is read too: below ``monitor.rank_ic_floor`` over its last ``monitor.months`` served dates,
   the candidate replaces it even when it trails (:func:`live_gate`); the reason says so.
7. **Export** the candidate (the ONNX parity gate runs here; a failure exits 3 and keeps the
   champion), **publish** the bundle atomically into the serving root (:mod:`release.publish`,
   keeping the newest ``retrain.keep``), then move ``champion`` to it. A journal
   (``.pending.json``) spans the swap and the alias move.

Each step's outcome and time are tagged on the candidate's run (``retrain.*``) with the gate's
figures as metrics (``retrain/*_rank_ic``). Exit codes (:class:`~spotlight.exit_code.ExitCode`): 0
promoted and published, 4 champion kept, 3 parity gate failed, 1 failed (data, training,
MLflow), 75 locked.
Recovery, at the start of every run (under the lock): a promotion whose bundle was swapped
in but whose alias move did not happen is finished; bundle directories a dead job moved in
but never served, staging directories, and the runs a dead job left without a decision
(RUNNING, or FINISHED and registered but never gated or served) are removed: marked FAILED and
hidden, their model versions deleted with the ``candidate`` alias on them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import psutil
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from spotlight.config import AppConfig
from spotlight.exit_code import CommandError, ExitCode
from tracking import artifacts as names
from tracking.registry import CANDIDATE, CHAMPION, by_alias, make_champion

if TYPE_CHECKING:
    from market.load import Market

LOCK, PENDING = ".retrain.lock", ".pending.json"
HOST = socket.gethostname()
Say = Callable[[str], None]
Repair = Literal["publish", "republish"]
Verdict = Literal["train", "up_to_date", "older_data", "same_month", "already_decided"]
FINAL_DECISIONS = ("kept_champion", "parity_failed", "rolled_back")  # data and settings not trained on again


class RetrainError(CommandError):
    """The job stopped; ``code`` says how (failed, parity, locked, usage)."""


@dataclass
class Outcome:
    """What the job decided, its exit code and the figures it measured."""

    code: ExitCode
    decision: str
    message: str
    run_id: str | None = None
    version: str | None = None
    served: str | None = None
    figures: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, dict] = field(default_factory=dict)  # out-of-sample figures per model, when trained


# --- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Champion:
    """What the registry says of the champion's training run."""

    version: str
    run_id: str
    data_hash: str | None
    data_end: str
    config_hash: str | None


@dataclass(frozen=True)
class Served:
    """What the serving root's current bundle says of itself."""

    version: str | None
    snapshot_end: str
    crowding_rule: dict[str, Any] | None  # None: exported before the crowding flag


@dataclass(frozen=True)
class State:
    """The facts :func:`decide` needs: today's data and settings, the champion, what is served,
    and an earlier run's final decision on this data and these settings."""

    data_hash: str
    data_end: str
    config_hash: str
    crowding_rule: dict[str, Any]
    champion: Champion | None
    served: Served | None
    decided: tuple[str, str] | None = None  # (run id, decision)


@dataclass(frozen=True)
class Decision:
    """The repair to make (if any) and whether to train (``train``) or why not."""

    repair: Repair | None
    verdict: Verdict
    reason: str = ""


def decide(state: State) -> Decision:
    """The repair to make and whether to train (see the module docstring, steps 3 and 4)."""
    champ, served = state.champion, state.served
    repair: Repair | None = None
    if champ is not None:
        if served is None or served.version != champ.version:
            repair = "publish"
        elif (served.crowding_rule != state.crowding_rule
              and state.data_end >= max(champ.data_end, served.snapshot_end)):
            repair = "republish"
        if champ.data_hash == state.data_hash and champ.config_hash == state.config_hash:
            return Decision(repair, "up_to_date", f"champion version {champ.version} was trained on this data with "
                                                  "this config and is served; nothing to do")
        if state.data_end < champ.data_end:
            return Decision(repair, "older_data", f"this market ends {state.data_end}, before champion version "
                                                  f"{champ.version}'s data ({champ.data_end}); nothing to do")
        if state.data_end[:7] == champ.data_end[:7] and state.config_hash == champ.config_hash:
            return Decision(repair, "same_month", f"this market only adds days inside {state.data_end[:7]} to "
                                                  f"champion version {champ.version}'s data (to {champ.data_end}); "
                                                  "spotlight refresh serves them, next month's data retrains")
    if state.decided is not None:
        run_id, decision = state.decided
        return Decision(repair, "already_decided", f"run {run_id} already decided on this config and this data "
                                                   f"(or this month's, {state.data_end[:7]}): {decision}; nothing "
                                                   "to do until next month's data")
    return Decision(repair, "train")


def gate(candidate: float, champion: float | None, tolerance: float) -> tuple[bool, str]:
    """Promote when there is no champion (or it has no figure) or the candidate's recent RankIC
    trails the champion's by at most ``tolerance``; the reason says which happened."""
    if champion is None or not np.isfinite(champion):
        return True, f"candidate {candidate:+.4f}; no champion figure to beat"
    gap = candidate - champion
    if gap >= 0:
        return True, f"candidate {candidate:+.4f} beats champion {champion:+.4f} by {gap:.4f}"
    if candidate >= champion - tolerance:
        return True, (f"candidate {candidate:+.4f} trails champion {champion:+.4f} by {-gap:.4f}, within the "
                      f"tolerance {tolerance}")
    return False, (f"candidate {candidate:+.4f} trails champion {champion:+.4f} by {-gap:.4f}, more than the "
                   f"tolerance {tolerance}")


def live_gate(promote: bool, why: str, live: float | None, floor: float, months: int) -> tuple[bool, str]:
    """The gate's verdict with the champion's realised live RankIC (``retrain.live_evidence``):
    a champion below ``floor`` live is replaced even by a trailing candidate; the reason always
    says what the live evidence was."""
    if live is None:
        return promote, f"{why}; no realised live figures for the champion yet"
    said = f"{why}; champion's realised RankIC over its last {months} served dates {live:+.4f}"
    if not promote and live < floor:
        return True, f"{said}, below the floor {floor:+.2f}: promoted on the live evidence"
    return promote, said


# --- the facts ---------------------------------------------------------------------------------


class JobLock:
    """The serving root's job lock (``flock`` on ``.retrain.lock``, non-blocking): one retrain or
    refresh at a time per root; held by another job, entering raises RetrainError (LOCKED)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> JobLock:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RetrainError("another retrain holds the lock; nothing was done", ExitCode.LOCKED) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


MONTH_DECISIONS = ("kept_champion", "rolled_back")  # the rest of that data's month is not trained on either


def _decided(client: MlflowClient, experiment: str, data_hash: str, data_end: str,
             config: str) -> tuple[str, str] | None:
    """(run id, decision) of an earlier retrain with this config whose decision is final: on this
    data, or (a kept champion, a rollback) on data that ended earlier in the same month. Else a
    champion kept on the 1st would be retrained on every later day of its month."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    query = names.search_tags(**{names.CONFIG_HASH: config, names.JOB: names.JOB_RETRAIN})
    for run in client.search_runs([found.experiment_id], query):
        tags = run.data.tags
        decision = tags.get(names.RETRAIN_DECISION)
        if decision not in FINAL_DECISIONS:
            continue
        end = tags.get(names.DATA_END) or ""
        if tags.get(names.DATA_HASH) == data_hash or (
                decision in MONTH_DECISIONS and end[:7] == data_end[:7] and end <= data_end):
            return run.info.run_id, decision
    return None


def recent_rank_ic(client: MlflowClient, run_id: str, months: int) -> float:
    """Mean of the run's last ``months`` monthly out-of-sample RankICs (``month/rank_ic``)."""
    history = sorted(client.get_metric_history(run_id, names.MONTH_RANK_IC), key=lambda m: m.timestamp)
    values = [m.value for m in history[-months:]]
    return float(np.mean(values)) if values else float("nan")


def served_manifest(root: Path) -> dict | None:
    """The manifest of the bundle the serving root serves, or None."""
    from release.publish import current

    name = current(root)
    if name is None:
        return None
    try:
        return json.loads((root / name / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _served(root: Path) -> Served | None:
    manifest = served_manifest(root)
    if manifest is None:
        return None
    return Served(version=(manifest.get("model") or {}).get("version"),
                  snapshot_end=(manifest.get("snapshot_data") or {}).get("end", ""),
                  crowding_rule=(manifest.get("crowding") or {}).get("rule"))


def champion_of(client: MlflowClient, model: str) -> Champion | None:
    """What the registry says of ``model``'s champion, or None."""
    found = by_alias(client, model, CHAMPION)
    if found is None:
        return None
    run_id = str(found.run_id)
    tags = client.get_run(run_id).data.tags
    return Champion(str(found.version), run_id, tags.get(names.DATA_HASH), tags.get(names.DATA_END, ""),
                    tags.get(names.CONFIG_HASH))


# --- acting ------------------------------------------------------------------------------------


def export_and_publish(uri: str, model: str, run_id: str, root: Path, cfg: AppConfig, data: Path,
                        after_publish: Callable[[], None] = lambda: None) -> str:
    """Export the version ``run_id`` registered (parity gate) and publish it, then call
    ``after_publish`` (the alias move); returns the bundle's name.

    ``.pending.json`` (the bundle and version about to be served) is written before the swap of
    ``current`` and removed after ``after_publish``: if the process dies in between, the next
    run finishes the alias move (:func:`recover`)."""
    from release.export import ExportError, ParityError, export_bundle
    from release.publish import bundle_name, publish, write_json

    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        try:
            export_bundle(staging / "bundle", tracking_uri=uri, model_name=model, run_id=run_id, data=data,
                          months=cfg.retrain.serve_months, crowding_rule=cfg.crowding, published_as=CHAMPION,
                          currency=cfg.currency, trading=cfg.backtest.trading_rules())
        except ExportError as exc:
            code = ExitCode.PARITY_FAILED if isinstance(exc, ParityError) else ExitCode.FAILED
            raise RetrainError(str(exc), code) from None
        manifest = json.loads((staging / "bundle" / "manifest.json").read_text())
        write_json(root / PENDING, {"name": bundle_name(manifest), "version": manifest["model"]["version"]})
        served = publish(staging / "bundle", root, keep=cfg.retrain.keep)
        after_publish()
        (root / PENDING).unlink(missing_ok=True)
        return served
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def recover(client: MlflowClient, root: Path, model: str, experiment: str, say: Say) -> None:
    """Finish or undo what a job killed part-way left (we hold the lock, so none is running):
    a publish whose alias move did not happen (its run is then tagged promoted), bundle
    directories outside the history, staging directories, and runs of this job that a dead
    process left without a decision, RUNNING or FINISHED: marked FAILED and hidden, their model
    versions deleted (and with them the ``candidate`` alias), so the registry reads as if the
    killed job never ran."""
    from release.publish import clean, current

    pending_path = root / PENDING
    if pending_path.is_file():
        pending = json.loads(pending_path.read_text(encoding="utf-8"))
        if current(root) == pending["name"]:
            say(f"recover: finishing the promotion of version {pending['version']} (its bundle is served)")
            make_champion(client, model, pending["version"], "promoted by the retrain gate; the promotion was "
                          "finished by the next run (the job died between serving it and moving the alias)")
        pending_path.unlink()
    for name in clean(root):
        say(f"recover: removed {name}, published by a job that died before serving it")
    for stale in root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return
    champion = by_alias(client, model, CHAMPION)  # search results carry no aliases: ask the registry
    for run in client.search_runs([found.experiment_id], names.search_tags(**{names.JOB: names.JOB_RETRAIN})):
        tags, run_id = run.data.tags, run.info.run_id
        if run.info.status not in ("RUNNING", "FINISHED") or names.RETRAIN_DECISION in tags:
            continue  # failed and hidden already, or decided
        if tags.get(names.RETRAIN_HOST) != HOST or psutil.pid_exists(int(tags.get(names.RETRAIN_PID, "0") or 0)):
            continue  # another machine's job, or a live one (another serving root): not ours to close
        versions = client.search_model_versions(f"run_id = '{run_id}'")
        if champion is not None and champion.run_id == run_id:  # its promotion was finished above
            client.set_tag(run_id, names.RETRAIN_DECISION, "promoted")
            continue
        say(f"recover: removing run {run_id} and its model version, left undecided by a job that died")
        for mv in versions:
            client.delete_model_version(model, mv.version)
        client.set_tag(run_id, names.ERROR, "interrupted: the job died before deciding on this run")
        client.set_terminated(run_id, "FAILED")
        client.delete_run(run_id)


def validated(data: Path, say: Say, timings: dict[str, float]) -> Market:
    """The market at ``data``, checked against the contract (``validate_s`` timed); a breach is
    a RetrainError naming it, before anything is written or logged."""
    from market import InvalidMarketError, MarketDataError, load_market

    t0 = time.perf_counter()
    say("validate")
    try:
        market = load_market(data)
    except (InvalidMarketError, MarketDataError) as exc:
        raise RetrainError(f"{data}: {exc}") from None
    timings["validate_s"] = time.perf_counter() - t0
    return market


def run_locked(root: Path, act: Callable[[dict[str, float]], Outcome]) -> Outcome:
    """``act(timings)`` under the serving root's :class:`JobLock`; a :class:`RetrainError` (the
    lock held, a parity failure, any failed step) becomes the outcome, with its exit code."""
    timings: dict[str, float] = {}
    try:
        with JobLock(root):
            return act(timings)
    except RetrainError as exc:
        decision = {ExitCode.LOCKED: "locked", ExitCode.PARITY_FAILED: "parity_failed"}.get(exc.code, "failed")
        return Outcome(exc.code, decision, str(exc), timings=timings)


def retrain(data: Path, root: Path, cfg: AppConfig, uri: str, say: Say | None = None) -> Outcome:
    """Run the job (see the module docstring) and say what it decided."""
    said: Say = say or (lambda message: None)
    root = Path(root)
    return run_locked(root, lambda timings: _act(Path(data), root, cfg, uri, said, timings))


def _act(data: Path, root: Path, cfg: AppConfig, uri: str, say: Say, timings: dict[str, float]) -> Outcome:
    from market.fingerprint import fingerprint
    from release.publish import current
    from tracking.store import configure
    from training.mlflow_run import log_training, training_run
    from training.train import train

    market = validated(data, say, timings)
    fp = fingerprint(market)

    uri = configure(uri)
    client = MlflowClient(uri)
    model, settings = cfg.registered_model, cfg.train.hash()
    recover(client, root, model, cfg.experiment, say)
    champion = champion_of(client, model)
    state = State(str(fp["hash"]), str(fp["end"]), settings, cfg.crowding.as_dict(), champion, _served(root),
                  _decided(client, cfg.experiment, str(fp["hash"]), str(fp["end"]), settings))
    plan = decide(state)
    if plan.repair is not None and champion is not None:
        say(f"repair: publishing champion version {champion.version}, which is not the one served"
            if plan.repair == "publish" else
            f"repair: re-publishing champion version {champion.version} under this config's crowding rule")
        try:
            export_and_publish(uri, model, champion.run_id, root, cfg, data)
        except RetrainError as exc:  # e.g. the champion cannot be exported on today's market: train anyway
            say(f"repair failed, going on: {exc}")
    if plan.verdict != "train":
        run_id, version = (champion.run_id, champion.version) if champion is not None else (None, None)
        if plan.verdict == "already_decided" and state.decided is not None:
            run_id, version = state.decided[0], None
        return Outcome(ExitCode.KEPT, plan.verdict, plan.reason, run_id, version, current(root),
                       timings=timings)

    t0 = time.perf_counter()
    say("train")
    tags = {names.JOB: names.JOB_RETRAIN, names.RETRAIN_HOST: HOST, names.RETRAIN_PID: str(os.getpid())}
    try:  # the run opens now, so its duration is the training's; a failure leaves it FAILED and hidden
        with training_run(cfg.train, fp, experiment=cfg.experiment, uri=uri, extra_tags=tags,
                          params=cfg.flat()) as run_id:
            result = train(market, cfg.train, progress=lambda stage, done, total: say(stage) if done == 0 else None,
                           note=say)
            logged = log_training(result, fp, experiment=cfg.experiment, model_name=model, uri=uri,
                                  config_text=cfg.to_toml(), run_id=run_id)
    except MlflowException as exc:
        raise RetrainError(f"MLflow at {uri}: {exc.message} (nothing was kept)") from None
    timings["train_s"] = time.perf_counter() - t0
    run_id, version = logged.run_id, logged.model_version
    for key, value in timings.items():
        client.log_metric(run_id, f"retrain/{key}", value)

    def tag(step: str, value: str) -> None:
        client.set_tag(run_id, f"{names.RETRAIN}{step}", value)

    summaries = {("lightgbm " + cfg.train.model if k == "score" else k.removeprefix("baseline_")): e.summary
                 for k, e in result.evaluations.items()}
    months = cfg.retrain.months
    by_date = result.evaluations["score"].by_date["rank_ic"].dropna()
    cand = float(by_date.iloc[-months:].mean())
    figures = {"retrain/candidate_rank_ic": cand}
    champ = recent_rank_ic(client, champion.run_id, months) if champion is not None else None
    if champ is not None:
        figures["retrain/champion_rank_ic"] = champ
    promote, why = gate(cand, champ, cfg.retrain.tolerance)
    why = (f"{why}; mean RankIC of the last {months} test months, champion version {champion.version}"
           if champion is not None else f"no champion yet; candidate {cand:+.4f} over the last {months} test months")
    if champion is not None and cfg.retrain.live_evidence:
        from spotlight.jobs.monitor import live_rank_ic

        live = live_rank_ic(root, champion.version, cfg.monitor.months)
        if live is not None:
            figures["retrain/champion_live_rank_ic"] = live
        promote, why = live_gate(promote, why, live, cfg.monitor.rank_ic_floor, cfg.monitor.months)
    for key, value in figures.items():
        client.log_metric(run_id, key, value)
    tag("gate", why)
    if not promote:
        tag("decision", "kept_champion")
        return Outcome(ExitCode.KEPT, "kept_champion", f"kept champion: {why}", run_id, version, current(root),
                       figures, timings, summaries)

    t0 = time.perf_counter()
    say("export and publish")
    previous = champion.version if champion is not None else None
    try:
        served = export_and_publish(uri, model, run_id, root, cfg, data,
                                     after_publish=lambda: make_champion(client, model, version, f"retrain gate: {why}"))
    except RetrainError as exc:
        tag("decision", "parity_failed" if exc.code == ExitCode.PARITY_FAILED else "failed")
        tag("error", str(exc)[:5000])
        exc.args = (f"{exc}; champion stays {previous or 'unset'}, {CANDIDATE} is version {version}",)
        raise
    timings["publish_s"] = time.perf_counter() - t0
    client.log_metric(run_id, "retrain/publish_s", timings["publish_s"])
    tag("decision", "promoted")
    tag("served", served)
    return Outcome(ExitCode.OK, "promoted", f"promoted version {version} to champion ({why}); serving {served}",
                   run_id, version, served, figures, timings, summaries)


def rollback(root: Path, cfg: AppConfig, uri: str) -> tuple[str, str, str]:
    """Move ``champion`` to the version of the previously published bundle, then point the
    served bundle at it, all under the job's lock (alias first: if the process dies in between,
    the next retrain's repair step finishes the rollback). The version rolled back from is tagged
    ``retrain.decision = rolled_back`` so later runs on the same data do not promote it again.
    Returns (from bundle, to bundle, version)."""
    from release.publish import PublishError
    from release.publish import previous as bundle_before
    from release.publish import rollback as point_back
    from tracking.store import configure

    root = Path(root)
    with JobLock(root):
        try:
            now, previous = bundle_before(root)
        except PublishError as exc:
            raise RetrainError(str(exc), ExitCode.USAGE) from None

        def manifest(name: str) -> dict:
            return json.loads((root / name / "manifest.json").read_text())

        version, left = manifest(previous)["model"]["version"], manifest(now)["model"]
        client = MlflowClient(configure(uri))
        make_champion(client, cfg.registered_model, version, f"rollback from version {left['version']}")
        point_back(root)
        try:
            client.set_tag(left["run_id"], names.RETRAIN_DECISION, "rolled_back")
        except MlflowException:
            pass  # the run is gone; the alias and the bundle have moved
    return now, previous, version
