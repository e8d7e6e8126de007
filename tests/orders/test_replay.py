"""The backtest and ``/rebalance`` make the same orders: replaying the endpoint's function day by
day, with the backtest's own book each evening, gives exactly the backtest's next-day fills,
but for the orders the open itself refuses (a suspension the evening could not know)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.engine import BacktestConfig, run_backtest
from features.tradability import tradability
from market.load import market_from_tables
from orders import CostModel, TradingRules
from serving.bundle import N_DRIVERS, make_book
from serving.rebalance import orders_for
from serving.schemas import Position, RebalanceRequest

DAYS = pd.bdate_range("2021-01-04", periods=60)
FIRST, SECOND = 22, 35


def _market():
    """Five stocks whose every open is the previous close (nothing changes between an evening
    and the next open), 200,000 traded a day. E turns ST on day 34; C is suspended on days
    37-38 (it gets a buy order on day 36's evening); D is locked limit-up all of day 35 and B
    locked limit-down then; A is a lot-unfriendly 13.37."""
    rng = np.random.default_rng(3)
    rows = []
    for k, symbol in enumerate("ABCDE"):
        close = (13.37 if symbol == "A" else 10.0 + k) * np.cumprod(1 + rng.normal(0, 0.01, len(DAYS)))
        for i, day in enumerate(DAYS):
            prev = close[i - 1] if i else close[i]
            row = {"symbol": symbol, "date": day, "open": prev, "close": close[i], "high": max(prev, close[i]) * 1.005,
                   "low": min(prev, close[i]) * 0.995, "volume": 200_000 / close[i], "amount": 200_000.0,
                   "adj_factor": 1.0, "shares_total": 1e7, "shares_float": 1e7, "limit_up": prev * 1.1,
                   "limit_down": prev * 0.9, "st": symbol == "E" and i >= 34}
            if symbol == "C" and i in (37, 38):
                row |= {"volume": 0.0, "amount": 0.0, "open": close[i], "high": close[i], "low": close[i]}
            if (symbol, i) in (("D", 35), ("B", 35)):
                at = prev * (1.1 if symbol == "D" else 0.9)
                close[i] = at
                row |= {"open": at, "high": at, "low": at, "close": at}
            rows.append(row)
    sec = pd.DataFrame({"symbol": list("ABCDE"), "list_date": pd.Timestamp("2010-01-04"), "delist_date": pd.NaT})
    return market_from_tables({"securities": sec, "daily_bars": pd.DataFrame(rows), "fundamentals": None,
                               "holders": None})


SCORES = {FIRST: {"A": 0.9, "B": 0.8, "E": 0.7, "C": 0.2, "D": 0.1},
          SECOND: {"A": 0.9, "C": 0.8, "D": 0.7, "B": 0.1}}  # E is ST by then: out of the universe


def _book(market, t: int):
    """Day t's book as an export writes it: the real trading state, members = not ST."""
    day = DAYS[t]
    rows = tradability(market, pd.DatetimeIndex([day]))
    st = market.bars[market.bars["date"] == day].set_index("symbol")["st"]
    rows["in_universe"] = ~rows["symbol"].map(st).fillna(False).to_numpy(bool)
    rows["exclusion_reason"] = np.where(rows["in_universe"], None, "st")
    rows = rows.assign(board="main", industry=None, market_cap=np.nan, median_amount_20=np.nan)
    for k in range(1, N_DRIVERS + 1):
        rows[f"driver{k}_feature"], rows[f"driver{k}_contribution"], rows[f"driver{k}_value"] = None, np.nan, np.nan
    scores = SCORES.get(SECOND if t >= SECOND else FIRST, {})
    signal = rows["symbol"].map(scores).to_numpy(np.float64)
    return make_book(rows, np.where(rows["in_universe"], signal, np.nan), {})


def test_replaying_the_endpoint_day_by_day_reproduces_the_backtests_fills() -> None:
    market = _market()
    costs = CostModel(commission=0.0003, stamp_duty=0.0005, impact_bps=100.0)
    cfg = BacktestConfig(capital=1_000_000.0, top_n=3, participation=0.5, board_lot=100, **costs.model_dump())
    predictions = pd.DataFrame([(DAYS[t], s, v) for t, scores in SCORES.items() for s, v in scores.items()],
                               columns=["date", "symbol", "score"])
    result = run_backtest(market, predictions, cfg)
    rules = TradingRules(board_lot=100, participation=0.5, costs=costs)
    fills = result.trades.assign(shares=result.trades["shares"].round(6))

    held: dict[str, float] = {}
    target: list[Position] | None = None
    refused, compared = [], 0
    for t in range(FIRST, len(DAYS) - 1):
        cash = cfg.capital if t == FIRST else float(result.daily.loc[DAYS[t], "cash"])
        holdings = [Position(symbol=s, shares=int(round(q))) for s, q in sorted(held.items()) if q > 0]
        if t in SCORES:
            req = RebalanceRequest(capital=cash, holdings=holdings, top_n=3)
        else:
            req = RebalanceRequest(capital=cash, holdings=holdings, target=target)
        answer = orders_for(_book(market, t), req, rules)
        target = [Position(symbol=line["symbol"], shares=line["shares"]) for line in answer["target"]]
        next_day = market.bars[market.bars["date"] == DAYS[t + 1]].set_index("symbol")
        expected = []
        for o in answer["orders"]:
            if o["shares"] == 0:
                continue
            if next_day.loc[o["symbol"], "volume"] == 0:  # suspended at the open: the evening could not know
                refused.append((t + 1, o["symbol"]))
                continue
            expected.append((o["symbol"], o["side"], float(o["shares"]), o["value"], o["commission"],
                             o["stamp_duty"], o["impact"]))
        got = fills[fills["date"] == DAYS[t + 1]]
        actual = [(r.symbol, r.side, r.shares, round(r.value, 2), round(r.commission, 2), round(r.stamp_duty, 2),
                   round(r.impact, 2)) for r in got.itertuples()]
        assert sorted(actual) == sorted(expected), DAYS[t + 1]
        compared += len(actual)
        for r in got.itertuples():
            held[r.symbol] = held.get(r.symbol, 0.0) + (r.shares if r.side == "buy" else -r.shares)
    assert compared > 20 and refused == [(37, "C")]
    # the rules were exercised: E sold for being ST, B held back by its limit-down lock, D by its limit-up lock
    reasons = {(o["symbol"], o["reason"], o["blocked"]) for o in orders_for(
        _book(market, SECOND), RebalanceRequest(capital=1e6, holdings=[Position(symbol="B", shares=100),
                                                                       Position(symbol="E", shares=100)],
                                                top_n=3), rules)["orders"]}
    assert {("E", "st", None), ("B", "not_in_target", "limit_down_locked"), ("D", "new_position", "limit_up_locked")} <= reasons
