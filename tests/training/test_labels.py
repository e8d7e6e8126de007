"""Labels: T+1 entry, 21-day horizon, impossible entries, universe-relative ranks."""

from __future__ import annotations

import numpy as np
import pytest

from features import History, build_universe
from tests.helpers import OPEN_UNIVERSE, make_market
from training.labels import HORIZON, forward_return, label_attention_shift, label_excess_return_21, label_rerating

DAYS = 30


def _history(**overrides) -> tuple[History, dict[str, np.ndarray]]:
    t = np.arange(DAYS)
    stocks = {
        "AAA": {"close": 10 * 1.01**t, "open": 10 * 1.01**t * 0.995},
        "BBB": {"close": 10 * 0.99**t},
        "CCC": {"close": np.full(DAYS, 10.0)},
    }
    for symbol, spec in overrides.items():
        stocks[symbol] = {**stocks[symbol], **spec}
    market = make_market(stocks, DAYS)
    h = History(market)
    h.attach_universe(build_universe(h, OPEN_UNIVERSE)["in_universe"].to_numpy())
    rows = {s: np.flatnonzero((market.bars["symbol"] == s).to_numpy()) for s in stocks}
    return h, rows


def test_forward_return_buys_the_next_open_and_sells_21_days_later() -> None:
    h, rows = _history()
    out = forward_return(h).to_numpy()
    a = out[rows["AAA"]]
    expected = [1.01 ** (c + HORIZON) / (1.01 ** (c + 1) * 0.995) - 1 for c in range(DAYS - HORIZON)]
    np.testing.assert_allclose(a[:DAYS - HORIZON], expected)
    assert np.isnan(a[DAYS - HORIZON:]).all()  # the exit day is beyond the data


def test_no_label_where_entry_is_impossible() -> None:
    volume = np.full(DAYS, 1000.0)
    volume[4] = 0.0  # suspended on day 4: no entry for the signal of day 3
    limit = np.full(DAYS, 99.0)
    limit[6] = 10 * 0.99**6  # opens (and closes) at the limit-up price on day 6
    h, rows = _history(AAA={"volume": volume}, BBB={"limit_up": limit}, CCC={"missing": [2]})
    out = forward_return(h).to_numpy()
    assert np.isnan(out[rows["AAA"]][3]) and np.isfinite(out[rows["AAA"]][2])
    assert np.isnan(out[rows["BBB"]][5]) and np.isfinite(out[rows["BBB"]][4])
    assert np.isnan(out[rows["CCC"]][1])  # no bar on day 2


def test_without_limit_columns_a_one_price_up_bar_blocks_entry() -> None:
    close = np.full(DAYS, 10.0)
    close[7:] = 11.0  # day 7: +10%, traded at one price all day (locked limit-up)
    h, rows = _history(CCC={"close": close, "high": close, "low": close})
    out = forward_return(h).to_numpy()[rows["CCC"]]
    assert np.isnan(out[6]) and np.isfinite(out[5]) and np.isfinite(out[7])


def test_exit_at_the_last_close_when_the_stock_stops_trading() -> None:
    h, rows = _history(CCC={"close": np.r_[np.full(20, 10.0), np.full(DAYS - 20, 8.0)],
                            "missing": list(range(22, DAYS))})
    # signal day 0: buy day 1 at 10, sell day 21 at 8 (the stock has no bars after day 21)
    assert forward_return(h).to_numpy()[rows["CCC"]][0] == pytest.approx(8.0 / 10.0 - 1)
    # signal day 2: exit day 23 is missing, so the last close on or before it (day 21) counts
    assert forward_return(h).to_numpy()[rows["CCC"]][2] == pytest.approx(8.0 / 10.0 - 1)


def test_rerating_label_is_the_rank_of_the_universe_relative_return() -> None:
    h, rows = _history()
    excess = label_excess_return_21(h).to_numpy()
    rank = label_rerating(h).to_numpy()
    day0 = [rows[s][0] for s in ("AAA", "BBB", "CCC")]
    assert excess[day0].sum() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(rank[day0], [1.0, 0.0, 0.5])
    assert np.isnan(rank[rows["AAA"]][DAYS - HORIZON:]).all()


def test_attention_shift_is_next_months_turnover_percentile_minus_this_months() -> None:
    volume = np.where(np.arange(DAYS + 40) < 45, 100.0, 5000.0)
    market = make_market({"AAA": {"close": np.full(DAYS + 40, 10.0), "volume": volume},
                          "BBB": {"close": np.full(DAYS + 40, 10.0), "volume": 1000.0},
                          "CCC": {"close": np.full(DAYS + 40, 10.0), "volume": 2000.0}}, DAYS + 40)
    h = History(market)
    h.attach_universe(build_universe(h, OPEN_UNIVERSE)["in_universe"].to_numpy())
    a = label_attention_shift(h).to_numpy()[:DAYS + 40]  # AAA's rows come first
    assert a[44] == pytest.approx(5 / 6 - 1 / 6)  # day 65's window (46..65) is all high volume
    assert a[20] == pytest.approx(0.0) and np.isnan(a[-HORIZON:]).all()
