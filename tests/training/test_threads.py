"""LightGBM's thread count: ``num_threads = 0`` (the default) resolves to half the cores available."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.config import TrainConfig
from training.threads import AUTO_MAX, available_cores, quota_cores, resolve_threads
from training.train import make_gbm


@pytest.mark.parametrize(("text", "cores"), [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1),
                                             ("max 100000\n", None), ("", None)])
def test_a_cgroup_quota_reads_as_cores_rounded_up(tmp_path: Path, text: str, cores: int | None) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(text)
    assert quota_cores(path) == cores
    assert quota_cores(tmp_path / "missing") is None


def test_available_cores_are_the_affinity_lowered_to_the_quota(tmp_path: Path) -> None:
    mine = len(os.sched_getaffinity(0))
    assert available_cores(tmp_path / "missing") == mine
    path = tmp_path / "cpu.max"
    path.write_text("100000 100000\n")
    assert available_cores(path) == 1
    path.write_text(f"{(mine + 3) * 100000} 100000\n")
    assert available_cores(path) == mine


def test_auto_is_half_the_available_cores_within_1_and_the_cap_and_a_set_count_is_kept() -> None:
    assert [resolve_threads(0, cores=c) for c in (1, 2, 3, 4, 6, 2 * AUTO_MAX + 6)] == [1, 1, 1, 2, 3, AUTO_MAX]
    assert resolve_threads(3, cores=1) == 3
    assert resolve_threads(0) == max(1, min(available_cores() // 2, AUTO_MAX))


def test_the_default_model_runs_on_half_the_available_cores() -> None:
    default = TrainConfig()
    assert default.lightgbm.num_threads == 0
    assert make_gbm(default).params["num_threads"] == resolve_threads(0) == max(1, min(available_cores() // 2, AUTO_MAX))
    one = default.model_copy(update={"lightgbm": default.lightgbm.model_copy(update={"num_threads": 1})})
    assert make_gbm(one).params["num_threads"] == 1
    with pytest.raises(ValueError, match="num_threads"):
        TrainConfig.model_validate({"lightgbm": {"num_threads": -1}})
