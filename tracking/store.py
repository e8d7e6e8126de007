"""Where runs are stored, and the life of one run.

Where it goes: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<cwd>/mlruns/mlflow.db`` with
artifacts under ``<cwd>/mlruns/artifacts`` (MLflow 3.17 refuses the plain file store).
Nothing happens at import: :func:`configure` sets the URI when a command asks for it.

A run that fails part-way is tagged with the error, marked FAILED and deleted (its lifecycle
stage becomes ``deleted``; ``mlflow gc`` purges it); the logged model and any model version it
created are deleted too (:func:`discard`), so no half-written run or model is ever visible.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from tracking import artifacts as names


def default_uri(root: str | Path = "mlruns") -> str:
    """The SQLite store under ``root`` (artifacts beside it)."""
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
        return str(found.experiment_id)
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def git_commit(cwd: str | Path = ".") -> tuple[str, bool] | None:
    """(commit, dirty) of the repository holding ``cwd``, or None outside one."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip(), bool(status.stdout.strip())


def git_tags() -> dict[str, str]:
    """The code's commit as run tags (none outside a git checkout)."""
    commit = git_commit()
    if commit is None:
        return {}
    return {names.MLFLOW_GIT_COMMIT: commit[0], names.GIT_COMMIT: commit[0], names.GIT_DIRTY: str(commit[1])}


@dataclass(frozen=True)
class LoggedRun:
    """Where a run was logged (and the model version it registered, if any)."""

    run_id: str
    experiment_id: str
    model_name: str
    model_version: str
    tracking_uri: str


def discard_run(uri: str, run_id: str, reason: str) -> None:
    """Mark ``run_id`` FAILED with ``reason`` and delete it (as a run that failed part-way)."""
    discard(MlflowClient(uri), run_id, RuntimeError(reason))


def discard(client: MlflowClient, run_id: str, exc: BaseException, model_id: str | None = None,
            model: str = "", version: str | None = None) -> None:
    """Remove what a failed run left: its model version, its logged model, then the run (soft delete)."""
    try:
        if mlflow.active_run() is not None:
            mlflow.end_run("FAILED")
        if version is not None:
            client.delete_model_version(model, version)
        if model_id is not None:
            client.delete_logged_model(model_id)
        client.set_tag(run_id, names.ERROR, f"{type(exc).__name__}: {exc}"[:5000])
        client.set_terminated(run_id, "FAILED")
        client.delete_run(run_id)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass
