"""kill -9 during training, registration and publishing: afterwards champion, the served bundle and
earlier runs are unchanged and readable, and the next retrain succeeds."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from release.publish import current
from serving.bundle import Bundle, resolve
from spotlight.config import load_config
from spotlight.exit_code import ExitCode
from spotlight.jobs.retrain import retrain
from tests.helpers import RETRAIN_CONFIG as SMALL

RUNNER = Path(__file__).with_name("fault_runner.py")


def _kill_at(point: str, data: Path, root: Path, config: Path, uri: str, tmp: Path) -> None:
    marker = tmp / f"paused-{point}"
    process = subprocess.Popen([sys.executable, str(RUNNER), point, str(marker), str(data), str(root), str(config),
                                uri], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"the job ended before pausing at {point}: {process.stderr.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"never reached {point}")
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("point", ["training", "registration", "publish"])
def test_kill_9_leaves_champion_bundle_and_runs_intact(point: str, markets, tmp_path: Path) -> None:  # noqa: F811
    earlier, full = markets
    config = tmp_path / "small.toml"
    config.write_text(SMALL + "tolerance = 10.0\n")  # appended to [retrain]: the gate always promotes
    cfg, uri, root = load_config(config), f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", tmp_path / "bundles"
    client = MlflowClient(uri)
    first = retrain(earlier, root, cfg, uri)
    assert first.code == ExitCode.OK, first.message
    served = current(root)

    _kill_at(point, full, root, config, uri, tmp_path)

    champion = client.get_model_version_by_alias("spotlight-microcap", "champion")
    assert str(champion.version) == "1" and current(root) == served
    bundle = Bundle.load(resolve(root))  # the served bundle is whole
    assert bundle.manifest.model.version == "1"
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["retrain.decision"] == "promoted"
    assert {"bundle", "feature_spec.json", "oos_predictions.parquet"} <= {a.path for a in
                                                                         client.list_artifacts(first.run_id)}

    after = retrain(full, root, cfg, uri)
    assert after.code == ExitCode.OK, after.message
    assert current(root) == after.served != served
    assert str(client.get_model_version_by_alias("spotlight-microcap", "champion").version) == after.version
    others = [r for r in client.search_runs([run.info.experiment_id], run_view_type=ViewType.ALL)
              if r.info.run_id not in (first.run_id, after.run_id)]
    # training (its run opened when training began), registering, or publishing a complete candidate:
    # the run is hidden, its model version removed
    assert len(others) == 1 and others[0].info.status == "FAILED" and others[0].info.lifecycle_stage == "deleted"
    assert not client.search_model_versions(f"run_id = '{others[0].info.run_id}'")
    versions = {str(v.version) for v in client.search_model_versions("name = 'spotlight-microcap'")}
    assert versions == {"1", after.version}  # as if the killed job never registered its version
    assert str(client.get_model_version_by_alias("spotlight-microcap", "candidate").version) == after.version
    assert not [p for p in root.iterdir() if p.name.startswith((".staging", ".pending"))]
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("v")) == sorted({served, after.served})


@pytest.mark.slow
def test_kill_9_between_the_swap_and_the_alias_is_finished_by_the_next_run(markets, tmp_path: Path) -> None:  # noqa: F811
    earlier, full = markets
    config = tmp_path / "small.toml"
    config.write_text(SMALL + "tolerance = 10.0\n")
    cfg, uri, root = load_config(config), f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", tmp_path / "bundles"
    client = MlflowClient(uri)
    first = retrain(earlier, root, cfg, uri)
    _kill_at("promotion", full, root, config, uri, tmp_path)

    swapped = current(root)
    assert swapped != first.served and Bundle.load(resolve(root)).manifest.model.version == "2"  # whole and served
    assert str(client.get_model_version_by_alias("spotlight-microcap", "champion").version) == "1"
    assert (root / ".pending.json").is_file()

    after = retrain(full, root, cfg, uri)  # recovery moves champion to the served version; then nothing to do
    assert after.code == ExitCode.KEPT and after.decision == "up_to_date", after.message
    champion = client.get_model_version_by_alias("spotlight-microcap", "champion")
    assert str(champion.version) == "2"
    promoted = client.get_run(champion.run_id)  # the champion's run stays visible, its decision recorded
    assert promoted.info.lifecycle_stage == "active" and promoted.data.tags["retrain.decision"] == "promoted"
    assert current(root) == swapped and not (root / ".pending.json").exists()
