"""The simulated market: contract-valid, deterministic per seed, and its ground truth is honest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market import load_market
from market.calibration import ground_truth_rankic
from market.simulate import HORIZON, SimulationConfig, simulate_market, trading_calendar, write_market


def _digest(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())}


def test_output_validates_and_has_every_table(small_sim_dir: Path) -> None:
    m = load_market(small_sim_dir)
    assert m.tables_found == ["securities", "daily_bars", "fundamentals", "holders"]
    assert {"ground_truth.parquet", "simulation.json"} <= {p.name for p in small_sim_dir.iterdir()}
    # both suspension forms of the contract occur: missing rows and zero-volume rows
    assert m.bars["suspended"].any()
    assert m.bars["limit_up_locked"].any() and m.bars["limit_down_locked"].any()
    assert m.bars["st"].any()
    assert (m.bars["adj_factor"] != 1.0).any()


def test_same_seed_identical_files_other_seed_differs(tmp_path: Path) -> None:
    cfg = SimulationConfig(n_stocks=120, years=2, seed=11)
    a = _digest(write_market(simulate_market(cfg), tmp_path / "a"))
    b = _digest(write_market(simulate_market(cfg), tmp_path / "b"))
    c = _digest(write_market(simulate_market(SimulationConfig(n_stocks=120, years=2, seed=12)), tmp_path / "c"))
    assert a == b
    assert a["daily_bars.parquet"] != c["daily_bars.parquet"]


def test_write_replaces_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    sim = simulate_market(SimulationConfig(n_stocks=60, years=1, seed=1))
    out = tmp_path / "market"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    write_market(sim, out)
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["market"]


def test_calendar_about_244_days_a_year() -> None:
    cal = trading_calendar("2015-01-01", 10)
    assert 2400 <= len(cal) <= 2480
    assert not ((cal.month == 10) & (cal.day <= 7)).any()


def _rank_ic(frame: tuple, column: str) -> pd.Series:
    market, truth = frame
    return ground_truth_rankic(market, truth, column, horizon=HORIZON)


@pytest.fixture(scope="module")
def signal_markets(tmp_path_factory: pytest.TempPathFactory) -> dict[float, tuple]:
    out = {}
    for signal in (0.0, 1.0):
        cfg = SimulationConfig(n_stocks=500, years=4, seed=3, signal=signal)
        root = write_market(simulate_market(cfg), tmp_path_factory.mktemp(f"sig{signal:g}") / "m")
        out[signal] = (load_market(root), pd.read_parquet(root / "ground_truth.parquet"))
    return out


def test_signal_one_ground_truth_predicts_realised_returns(signal_markets) -> None:
    ic = _rank_ic(signal_markets[1.0], "expected_return")
    assert ic.mean() > 0.12, ic.describe()
    assert ic.mean() / ic.std() > 1.0
    for part in ("er_attention", "er_reversal", "er_size"):
        assert _rank_ic(signal_markets[1.0], part).mean() > 0.03, part


def test_signal_zero_has_no_predictable_structure(signal_markets) -> None:
    frame = signal_markets[0.0]
    assert np.allclose(frame[1][["er_attention", "er_reversal", "er_size", "er_trap", "er_crisis"]], 0.0)
    # the only non-zero part is the mechanical catch-up of a price held at its limit
    assert abs(_rank_ic(frame, "expected_return").mean()) < 0.03
    # latent attention still moves turnover, but it no longer says anything about returns
    state = frame[1].assign(s=frame[1]["attention_state"].astype(float))
    assert abs(_rank_ic((frame[0], state), "s").mean()) < 0.03


def test_attention_shows_in_turnover_before_it_pays(small_sim_dir: Path) -> None:
    """Stocks in accumulation trade more than dormant ones at the same month-end (faintly)."""
    m = load_market(small_sim_dir)
    truth = pd.read_parquet(small_sim_dir / "ground_truth.parquet")
    bars = m.bars.assign(symbol=m.bars["symbol"].astype(str))
    t20 = bars.groupby("symbol")["turnover"].transform(lambda s: s.rolling(20, min_periods=20).mean())
    t120 = bars.groupby("symbol")["turnover"].transform(lambda s: s.rolling(120, min_periods=120).mean())
    abnormal = (t20 / t120).rename("abnormal")
    frame = truth.merge(bars[["symbol", "date"]].join(abnormal), on=["symbol", "date"]).dropna()
    by_state = frame.groupby("attention_state")["abnormal"].median()
    assert by_state[1] > by_state[0] * 1.05
    assert by_state[2] > by_state[1]


def test_rejects_degenerate_sizes() -> None:
    with pytest.raises(ValueError):
        simulate_market(SimulationConfig(n_stocks=10))
