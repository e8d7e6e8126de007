"""The model registry: the ``candidate`` and ``champion`` aliases and version look-ups.

``candidate`` is set on every newly registered version; ``champion`` moves only through
:func:`promote` (``spotlight promote``, the retrain gate, a rollback).
"""

from __future__ import annotations

from datetime import UTC, datetime

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

CANDIDATE, CHAMPION = "candidate", "champion"


class VersionLookupError(LookupError):
    """No registered version answers the request; the message says what exists."""


def by_alias(client: MlflowClient, model: str, alias: str) -> ModelVersion | None:
    """The version ``alias`` points at, or None when it is unset (or the model unknown)."""
    try:
        return client.get_model_version_by_alias(model, alias)
    except MlflowException:
        return None


def aliases(client: MlflowClient, model: str) -> str:
    """``alias -> version`` pairs of ``model``, for messages ('' when it has none)."""
    try:
        found = client.get_registered_model(model).aliases
    except MlflowException:
        return ""
    return ", ".join(f"{a} -> {v}" for a, v in sorted(found.items()))


def resolve_version(client: MlflowClient, model: str, alias: str | None = None,
                    run_id: str | None = None) -> ModelVersion:
    """The registered version named by ``alias`` or produced by ``run_id`` (exactly one of them);
    :class:`VersionLookupError` (or ``ValueError`` for both or neither) otherwise."""
    if (alias is None) == (run_id is None):
        raise ValueError("give exactly one of --alias and --run-id")
    if alias is not None:
        found = by_alias(client, model, alias)
        if found is None:
            hint = "; promote a version first: spotlight promote VERSION" if alias == CHAMPION else ""
            raise VersionLookupError(f"model {model!r} has no alias {alias!r}; aliases: "
                                     f"{aliases(client, model) or 'none'}{hint}")
        return found
    try:
        versions = client.search_model_versions(f"name = '{model}' and run_id = '{run_id}'")
    except MlflowException as exc:
        raise VersionLookupError(f"cannot look up run {run_id!r}: {exc.message}") from None
    if not versions:
        raise VersionLookupError(f"run {run_id} registered no version of {model!r}")
    return max(versions, key=lambda v: int(v.version))


def make_champion(client: MlflowClient, model: str, version: str, reason: str) -> None:
    """Point ``champion`` at ``version`` and add to the version's description when and why."""
    client.set_registered_model_alias(model, CHAMPION, str(version))
    described = client.get_model_version(model, str(version)).description or ""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    client.update_model_version(model, str(version), description=f"{described}\nChampion since {when}: {reason}".strip())


def promote(client: MlflowClient, version: str, model: str, reason: str = "promoted by hand (spotlight promote)"
            ) -> str | None:
    """Make ``version`` of ``model`` the champion (:func:`make_champion`); returns the version it left."""
    try:
        client.get_model_version(model, str(version))
    except MlflowException:
        known = ", ".join(sorted((str(v.version) for v in client.search_model_versions(f"name = '{model}'")),
                                 key=int)) or "none"
        raise VersionLookupError(f"model {model!r} has no version {version}; versions: {known}") from None
    left = by_alias(client, model, CHAMPION)
    make_champion(client, model, str(version), reason)
    return None if left is None else str(left.version)
