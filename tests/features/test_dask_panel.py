"""The panel built on Dask (a LocalCluster of 2 worker processes) equals the panel built in one
process, to the last bit, on a simulated and on the real market."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.dask_panel import PartHistory, build_panel_dask
from features.history import History
from features.panel import build_panel
from features.universe import UniverseConfig
from market.errors import MarketDataError
from market.load import load_market
from market.partitioned import load_part, part_names, write_partitioned
from training.labels import CROSS_SECTIONS, LABELS


@pytest.fixture(scope="module")
def parted(small_sim_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_partitioned(load_market(small_sim_dir), tmp_path_factory.mktemp("dask-sim") / "m", parts=5)


@pytest.mark.parametrize("universe", [UniverseConfig(n=100), UniverseConfig(kind="cap_band", band=(5e8, 3e9))],
                         ids=["smallest_n", "cap_band"])
def test_the_dask_panel_with_labels_equals_the_single_process_panel(dask_client, small_sim_dir: Path, parted: Path,
                                                                    universe: UniverseConfig) -> None:
    one = build_panel(load_market(small_sim_dir), universe=universe, extra=LABELS)
    many = build_panel_dask(parted, universe=universe, extra=LABELS, cross_sections=CROSS_SECTIONS,
                            date_partitions=3)
    assert one["in_universe"].sum() > 1000 and one["label_rerating"].notna().sum() > 1000
    pd.testing.assert_frame_equal(one, many, check_exact=True)
    assert many.attrs["features"] == one.attrs["features"]


def test_a_daily_panel_over_a_range_is_equal_too(dask_client, small_sim_dir: Path, parted: Path) -> None:
    args = {"freq": "daily", "start": "2016-03-01", "end": "2016-04-30"}
    one = build_panel(load_market(small_sim_dir), **args)
    many = build_panel_dask(parted, **args)
    assert one["date"].nunique() > 40
    pd.testing.assert_frame_equal(one, many, check_exact=True)


@pytest.mark.slow
def test_the_dask_panel_equals_on_the_real_market(dask_client, real_market_dir: Path, tmp_path: Path) -> None:
    """18 months of every real A-share (a cut keeps CI short; `make bench-dask` runs all six years)."""
    market = load_market(real_market_dir).until("2011-06-30")
    parted = write_partitioned(market, tmp_path / "cn", parts=6)
    one = build_panel(market, extra=LABELS)
    many = build_panel_dask(parted, extra=LABELS, cross_sections=CROSS_SECTIONS)
    assert one["in_universe"].sum() > 5000
    pd.testing.assert_frame_equal(one, many, check_exact=True)


def test_a_symbol_in_two_parts_is_named_with_both(dask_client, parted: Path, tmp_path: Path) -> None:
    broken = Path(shutil.copytree(parted, tmp_path / "broken"))
    first, second = broken / "daily_bars" / "part-00000.parquet", broken / "daily_bars" / "part-00001.parquet"
    stray = pd.read_parquet(first).iloc[:3]
    pd.concat([pd.read_parquet(second), stray]).to_parquet(second, index=False)
    with pytest.raises(MarketDataError, match=rf"{stray['symbol'].iloc[0]} is in part-00000.parquet and in "
                                              "part-00001.parquet"):
        build_panel_dask(broken)


def test_a_part_refuses_to_compare_stocks_outside_a_cross_section(parted: Path) -> None:
    market = load_part(parted, part_names(parted)[0])
    whole = History(market)
    part = PartHistory(market, whole.calendar)
    turnover = part.mean(part.turnover, 20)
    for read in (lambda: part.universe_percentile(turnover), lambda: part.by_date(np.ones(part.n), np.ones(part.n, bool)),
                 lambda: part.rows_by_day):
        with pytest.raises(RuntimeError, match="reads other stocks of the day.*CrossSection"):
            read()
