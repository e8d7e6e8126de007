"""The backtest engine on hand-made markets: fills at the next open, limit and suspension rules,
the participation cap with carry-over, costs to the cent, and no look-ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.engine import BacktestConfig, run_backtest
from tests.helpers import DAYS, FREE, market, signal


def test_buys_at_the_next_open_with_commission_to_the_cent(tmp_path: Path) -> None:
    cfg = BacktestConfig(capital=100_000.0, **(FREE | {"commission": 0.0003}))
    result = run_backtest(market(tmp_path), signal(24, "AAA"), cfg)
    buy = result.trades.iloc[0]
    assert buy["date"] == DAYS[25] and buy["side"] == "buy" and buy["price"] == 10.0
    assert round(buy["value"], 2) == round(100_000 / 1.0003, 2) == 99_970.01
    assert round(buy["commission"], 2) == 29.99
    day = result.daily.loc[DAYS[25]]
    assert round(day["cash"], 2) == 0.0 and round(day["nav"], 2) == 99_970.01


def test_selling_pays_stamp_duty_and_commission_to_the_cent(tmp_path: Path) -> None:
    cfg = BacktestConfig(capital=100_000.0, **(FREE | {"commission": 0.001, "stamp_duty": 0.0005}))
    signals = pd.concat([signal(22, "AAA"), signal(30, "BBB")])
    result = run_backtest(market(tmp_path), signals, cfg)
    sell = result.trades[(result.trades["side"] == "sell")].iloc[0]
    bought = 100_000 / 1.001
    assert sell["date"] == DAYS[31] and round(sell["value"], 2) == round(bought, 2)
    assert round(sell["commission"], 2) == round(bought * 0.001, 2) and round(sell["stamp_duty"], 2) == round(
        bought * 0.0005, 2)


def test_orders_trade_whole_board_lots(tmp_path: Path) -> None:
    """100,000 at 10 with commission: 10,000 shares ask 100,030, so 9,900 (99 lots) are bought."""
    cfg = BacktestConfig(capital=100_000.0, **(FREE | {"commission": 0.0003, "board_lot": 100}))
    buy = run_backtest(market(tmp_path), signal(24, "AAA"), cfg).trades.iloc[0]
    assert buy["shares"] == 9_900.0 and buy["value"] == 99_000.0


def test_a_stock_locked_limit_up_all_day_gets_no_buy_order_for_the_next_session(tmp_path: Path) -> None:
    locked = {"open": 11.0, "high": 11.0, "low": 11.0, "close": 11.0}
    m = market(tmp_path, {("AAA", 24): locked, ("AAA", 25): locked})
    result = run_backtest(m, signal(24, "AAA"), BacktestConfig(capital=100_000.0, **FREE))
    assert result.trades.iloc[0]["date"] == DAYS[27]  # day 26 opens at 10, but its order was made on day 25


def test_a_stock_opening_limit_up_is_bought_the_next_day(tmp_path: Path) -> None:
    m = market(tmp_path, {("AAA", 25): {"open": 11.0, "high": 11.0, "close": 10.5}})
    result = run_backtest(m, signal(24, "AAA"), BacktestConfig(capital=100_000.0, **FREE))
    assert result.trades.iloc[0]["date"] == DAYS[26]


def test_a_suspended_stock_is_sold_the_session_after_an_evening_sees_it_trade(tmp_path: Path) -> None:
    """Orders are made the evening before: suspended on days 31 and 32, the stock gets no
    order on those evenings; day 33 trades, so its evening orders the sale for day 34."""
    m = market(tmp_path, {("AAA", 31): {"volume": 0.0, "amount": 0.0}, ("AAA", 32): {"volume": 0.0, "amount": 0.0}})
    result = run_backtest(m, pd.concat([signal(22, "AAA"), signal(30, "BBB")]),
                          BacktestConfig(capital=100_000.0, **FREE))
    sells = result.trades[result.trades["side"] == "sell"]
    assert list(sells["date"]) == [DAYS[34]]
    buys_b = result.trades[(result.trades["side"] == "buy") & (result.trades["symbol"] == "BBB")]
    assert buys_b.iloc[0]["date"] == DAYS[34]  # fully invested: the cash for BBB arrives with the sale


def test_a_stock_opening_limit_down_cannot_be_sold_that_day(tmp_path: Path) -> None:
    m = market(tmp_path, {("AAA", 31): {"open": 9.0, "low": 9.0, "close": 9.0}})
    result = run_backtest(m, pd.concat([signal(22, "AAA"), signal(30, "BBB")]),
                          BacktestConfig(capital=100_000.0, **FREE))
    assert result.trades[result.trades["side"] == "sell"].iloc[0]["date"] == DAYS[32]


def test_the_participation_cap_spreads_a_buy_over_days(tmp_path: Path) -> None:
    cfg = BacktestConfig(capital=1_000_000.0, **(FREE | {"participation": 0.25}))
    result = run_backtest(market(tmp_path), signal(22, "AAA"), cfg)
    buys = result.trades[result.trades["side"] == "buy"]
    assert list(buys["date"]) == list(DAYS[23:27])  # 250,000 a day of a 1,000,000 order
    np.testing.assert_allclose(buys["value"], 250_000.0)
    assert result.rebalances.iloc[0]["fill_ratio"] == pytest.approx(1.0)


def test_impact_follows_the_square_root_of_participation(tmp_path: Path) -> None:
    cfg = BacktestConfig(capital=250_000.0, **(FREE | {"impact_bps": 100.0}))
    buy = run_backtest(market(tmp_path), signal(22, "AAA"), cfg).trades.iloc[0]
    assert buy["impact"] == pytest.approx(buy["value"] * 0.01 * np.sqrt(buy["value"] / 1_000_000.0))


def test_nothing_done_on_a_day_uses_a_later_price(tmp_path: Path) -> None:
    full = market(tmp_path, {("AAA", i): {"open": 10.0 + 0.1 * i, "high": 14.5, "low": 9.0, "close": 10.0 + 0.1 * i,
                                          "limit_up": 15.0, "limit_down": 8.0} for i in range(40)})
    signals = pd.concat([signal(22, "AAA"), signal(30, "BBB")])
    cfg = BacktestConfig(capital=1_000_000.0, participation=0.2, top_n=1)
    whole = run_backtest(full, signals, cfg)
    cut = run_backtest(full.until(DAYS[33]), signals, cfg)
    pd.testing.assert_frame_equal(cut.daily, whole.daily.loc[:DAYS[33]])
    pd.testing.assert_frame_equal(cut.trades, whole.trades[whole.trades["date"] <= DAYS[33]].reset_index(drop=True))


def test_a_day_without_a_bar_counts_as_nothing_traded_in_the_median(tmp_path: Path) -> None:
    """Eleven of the last 20 sessions missing: the median amount is 0 and nothing can be bought."""
    import pandas as pd_

    m = market(tmp_path)
    bars = m.bars[~((m.bars["symbol"] == "AAA") & m.bars["date"].isin(DAYS[12:23]))]
    gapped = type(m)(m.source, m.securities, bars.reset_index(drop=True), None, None)
    result = run_backtest(gapped, signal(22, "AAA"), BacktestConfig(capital=100_000.0, **FREE))
    assert result.trades.empty or result.trades.iloc[0]["date"] > DAYS[23]
    assert isinstance(result.daily, pd_.DataFrame)
