"""--cluster / SPOTLIGHT_DASK_SCHEDULER: one process by default, a LocalCluster, or a scheduler address."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from market.load import load_market
from market.partitioned import write_partitioned
from spotlight import cluster
from spotlight.cli import app
from spotlight.exit_code import ExitCode

runner = CliRunner()


def test_one_process_unless_an_option_or_the_environment_names_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cluster.ENV, raising=False)
    with cluster.connect(None) as client:
        assert client is None
    monkeypatch.setenv(cluster.ENV, "tcp://scheduler:8786")
    assert cluster.target(None) == "tcp://scheduler:8786"
    assert cluster.target("local:2") == "local:2"
    assert cluster.is_remote("scheduler:8786") and cluster.is_remote("tls://10.0.0.1:8786")
    assert not cluster.is_remote("local:2")


@pytest.mark.parametrize("spec", ["local:0", "local:two", "yarn", "kubernetes://x"])
def test_a_cluster_that_means_nothing_is_a_usage_error(spec: str) -> None:
    with pytest.raises(cluster.ClusterError, match="--cluster must be local, local:N") as error, cluster.connect(spec):
        pass
    assert error.value.code == ExitCode.USAGE


def test_an_unreachable_scheduler_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    with pytest.raises(cluster.ClusterError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 2 s"), \
            cluster.connect("tcp://127.0.0.1:9"):
        pass


def test_local_starts_worker_processes_and_stops_them() -> None:
    lines: list[str] = []
    with cluster.connect("local:1", say=lines.append) as client:
        assert len(client.scheduler_info()["workers"]) == 1
    assert client.status == "closed"
    assert lines[0].startswith("dask: LocalCluster of 1 worker processes")


def test_features_on_a_scheduler_write_the_panel_of_one_process(dask_client, small_sim_dir: Path, tmp_path: Path) -> None:
    parted = write_partitioned(load_market(small_sim_dir), tmp_path / "parts", parts=3)
    args = ["features", "--n", "80"]
    one = runner.invoke(app, [*args, "--data", str(small_sim_dir), "--out", str(tmp_path / "one.parquet")])
    many = runner.invoke(app, [*args, "--data", str(parted), "--out", str(tmp_path / "many.parquet"),
                               "--cluster", dask_client.scheduler.address])
    assert one.exit_code == 0 and many.exit_code == 0, one.output + many.output
    assert f"dask: scheduler {dask_client.scheduler.address}, 2 workers" in many.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "many.parquet"),
                                  check_exact=True)


def test_features_on_a_cluster_name_a_bad_row_of_a_part_and_write_nothing(dask_client, small_sim_dir: Path,
                                                                         tmp_path: Path) -> None:
    parted = write_partitioned(load_market(small_sim_dir), tmp_path / "parts", parts=3)
    path = parted / "daily_bars" / "part-00001.parquet"
    bars = pd.read_parquet(path)
    bars.loc[7, "volume"] = -5.0
    bars.to_parquet(path, index=False)
    result = runner.invoke(app, ["features", "--data", str(parted), "--out", str(tmp_path / "p.parquet"),
                                 "--cluster", dask_client.scheduler.address])
    assert result.exit_code == 1
    assert "daily_bars.volume" in result.output and f"({bars.loc[7, 'symbol']}, {bars.loc[7, 'date']:%Y-%m-%d})" in result.output
    assert not (tmp_path / "p.parquet").exists()
