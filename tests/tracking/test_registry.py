"""The registry: champion moves only to a version that exists; look-ups by alias or run say what
exists when they fail."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tracking.registry import CANDIDATE, CHAMPION, VersionLookupError, by_alias, promote, resolve_version
from tracking.store import configure, default_uri, experiment_id

MODEL = "registry-test"


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlflowClient, str, str]:
    """(client, run id, version) of one tiny LightGBM model registered with alias candidate."""
    uri = configure(default_uri(tmp_path_factory.mktemp("mlruns")))
    client = MlflowClient(uri)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 5)
    run = client.create_run(experiment_id("registry", uri))
    with mlflow.start_run(run_id=run.info.run_id):
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=["lightgbm"])
    version = mlflow.register_model(info.model_uri, MODEL).version
    client.set_registered_model_alias(MODEL, CANDIDATE, version)
    return client, run.info.run_id, str(version)


def test_promote_moves_champion_only_to_a_real_version(registered) -> None:
    client, _, version = registered
    assert by_alias(client, MODEL, CHAMPION) is None
    assert promote(client, version, MODEL) is None
    assert str(by_alias(client, MODEL, CHAMPION).version) == version
    with pytest.raises(VersionLookupError, match=f"no version 99; versions: {version}"):
        promote(client, "99", MODEL)
    assert str(by_alias(client, MODEL, CHAMPION).version) == version
    assert promote(client, version, MODEL) == version  # returns the version it left
    description = client.get_model_version(MODEL, version).description
    assert description.count("Champion since ") == 2 and description.endswith("promoted by hand (spotlight promote)")


def test_versions_are_found_by_alias_or_run_and_misses_say_what_exists(registered, tmp_path: Path) -> None:
    client, run_id, version = registered
    assert str(resolve_version(client, MODEL, alias=CANDIDATE).version) == version
    assert str(resolve_version(client, MODEL, run_id=run_id).version) == version
    with pytest.raises(VersionLookupError, match=f"no alias 'staging'; aliases: .*candidate -> {version}"):
        resolve_version(client, MODEL, alias="staging")
    with pytest.raises(VersionLookupError, match="registered no version"):
        resolve_version(client, MODEL, run_id="0" * 32)
    with pytest.raises(ValueError, match="exactly one"):
        resolve_version(client, MODEL, alias=CANDIDATE, run_id=run_id)
