"""The market partitioned by symbol: readable whole by any loader, one part at a time by a worker."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from market.errors import InvalidMarketError, MarketDataError
from market.load import load_market
from market.partitioned import load_part, part_names, write_partitioned


@pytest.fixture(scope="module")
def parted(small_sim_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_partitioned(load_market(small_sim_dir), tmp_path_factory.mktemp("parted") / "m", parts=4)


def test_the_partitioned_layout_loads_whole_as_the_same_market(small_sim_dir: Path, parted: Path) -> None:
    whole, again = load_market(small_sim_dir), load_market(parted)
    for table in ("securities", "bars", "fundamentals", "holders"):
        pd.testing.assert_frame_equal(getattr(whole, table), getattr(again, table), check_exact=True)
    assert part_names(parted) == [f"part-{k:05d}.parquet" for k in range(4)]


def test_parts_hold_contiguous_whole_symbols_with_their_own_announcements(small_sim_dir: Path, parted: Path) -> None:
    whole = load_market(small_sim_dir)
    seen: list[str] = []
    sizes = []
    for part in part_names(parted):
        market = load_part(parted, part)
        symbols = list(market.securities["symbol"])
        assert list(market.bars["symbol"].cat.categories) == symbols
        assert set(market.fundamentals["symbol"].astype(str)) <= set(symbols)
        mine = whole.bars[whole.bars["symbol"].astype(str).isin(symbols)]
        assert len(market.bars) == len(mine)
        seen += symbols
        sizes.append(len(market.bars))
    assert seen == sorted(seen) and len(seen) == len(set(seen))  # contiguous ranges, each symbol once
    assert set(seen) == set(whole.bars["symbol"].astype(str))
    assert max(sizes) < 1.5 * min(sizes)  # about equal bar counts


def test_a_directory_not_partitioned_is_named_with_the_way_to_partition_it(small_sim_dir: Path) -> None:
    with pytest.raises(MarketDataError, match=r"daily_bars: rule 'partitioned by symbol'.*spotlight partition"):
        part_names(small_sim_dir)


def test_a_bad_row_in_a_part_is_named_by_table_column_and_row(parted: Path, tmp_path: Path) -> None:
    import shutil

    broken = Path(shutil.copytree(parted, tmp_path / "broken"))
    path = broken / "daily_bars" / "part-00002.parquet"
    bars = pd.read_parquet(path)
    bars.loc[5, "close"] = -1.0
    bars.to_parquet(path, index=False)
    with pytest.raises(InvalidMarketError) as error:
        load_part(broken, "part-00002.parquet")
    assert f"({bars.loc[5, 'symbol']}, {bars.loc[5, 'date']:%Y-%m-%d})" in str(error.value)
    assert "daily_bars.close" in str(error.value)


def test_market_errors_cross_process_boundaries_whole() -> None:
    error = MarketDataError("daily_bars", "close", "> 0", [("A", "2020-01-02")], count=3, detail="x")
    again = pickle.loads(pickle.dumps(InvalidMarketError("dir", [error])))
    assert str(again) == str(InvalidMarketError("dir", [error]))
    assert again.problems[0].rows == [("A", "2020-01-02")] and again.problems[0].count == 3


def test_a_partitioned_market_has_the_fingerprint_of_the_same_market_whole(dask_client, small_sim_dir: Path,
                                                                           parted: Path) -> None:
    from market.fingerprint import fingerprint
    from market.partitioned import open_partitioned

    opened = open_partitioned(parted)
    assert fingerprint(opened) == fingerprint(load_market(small_sim_dir))
    assert opened.bars == len(load_market(small_sim_dir).bars)
    assert "4 parts by symbol" in opened.summary()
