"""Training on Dask (a LocalCluster of 2 worker processes) gives the single-process results bit for bit."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from market.load import Market
from market.partitioned import open_partitioned, write_partitioned
from training.config import TrainConfig
from training.train import prepare, run_walk_forward


@pytest.fixture(scope="module")
def quick(small_config: TrainConfig) -> TrainConfig:
    return small_config.model_copy(update={"walk_forward": small_config.walk_forward.model_copy(
        update={"refit_every": 6})})


def test_the_panel_and_every_fold_on_dask_give_the_same_predictions(dask_client, signal_market: Market,
                                                                    quick: TrainConfig, tmp_path: Path) -> None:
    parted = open_partitioned(write_partitioned(signal_market, tmp_path / "parts", parts=4))
    here, there = prepare(signal_market, quick), prepare(parted, quick)
    pd.testing.assert_frame_equal(here.panel, there.panel, check_exact=True)
    pd.testing.assert_frame_equal(here.X, there.X, check_exact=True)
    assert there.calendar.equals(here.calendar)

    lines: list[str] = []
    folds, one, table_one = run_walk_forward(here, quick)
    folds_dask, many, table_many = run_walk_forward(there, quick, note=lines.append, client=dask_client)
    assert [f.describe() for f in folds_dask] == [f.describe() for f in folds] and len(folds) >= 4
    pd.testing.assert_frame_equal(one, many, check_exact=True)
    pd.testing.assert_frame_equal(table_one, table_many, check_exact=True)
    assert sorted(int(re.match(r"walk-forward: fold (\d+)/", line).group(1)) for line in lines) == list(
        range(1, len(folds) + 1))
