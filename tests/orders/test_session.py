"""One session's orders on hand-made books: lots, the cap and its carry-over, the suspension and
limit rules, odd-lot exits, cash, and costs to the cent."""

from __future__ import annotations

import numpy as np
import pytest

from orders import CostModel, plan, session

FREE = CostModel(commission=0.0, stamp_duty=0.0, impact_bps=0.0)


def state(n: int = 3, price: float = 10.0, median: float = 1_000_000.0, participation: float = 0.1,
          lot: float = 100, **flags: list[bool]):
    no = [False] * n
    return session(np.full(n, price), flags.get("suspended", no), flags.get("up", no), flags.get("down", no),
                   np.full(n, median), participation, lot)


def test_orders_are_whole_lots_capped_by_participation_and_say_how_many_sessions_are_left() -> None:
    # cap: 0.1 x 1,000,000 / 10 = 10,000 shares a session; 25,050 wanted -> 10,000 now, 3 sessions
    orders = plan(np.zeros(1), np.array([25_050.0]), 1e9, state(1), FREE)
    assert orders.shares.tolist() == [10_000.0] and orders.remaining.tolist() == [15_050.0]
    assert orders.sessions.tolist() == [3.0] and orders.blocked.tolist() == [None]
    small = plan(np.zeros(1), np.array([150.0]), 1e9, state(1), FREE)
    assert small.shares.tolist() == [100.0]  # an odd lot is never bought


def test_no_buy_when_suspended_or_limit_up_locked_no_sell_when_suspended_or_limit_down_locked() -> None:
    held, target = np.array([0.0, 0.0, 5_000.0, 5_000.0]), np.array([1_000.0, 1_000.0, 0.0, 0.0])
    s = state(4, suspended=[True, False, True, False], up=[False, True, False, False],
              down=[False, False, False, True])
    orders = plan(held, target, 1e9, s, FREE)
    assert orders.shares.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert orders.blocked.tolist() == ["suspended", "limit_up_locked", "suspended", "limit_down_locked"]
    assert np.isnan(orders.sessions[0]) and orders.sessions[1] == 2.0  # a limit lock may lift tomorrow
    # the other direction is allowed: a limit-up-locked stock may be sold, a limit-down-locked one bought
    flipped = plan(np.array([5_000.0, 0.0]), np.array([0.0, 1_000.0]), 1e9,
                   state(2, up=[True, False], down=[False, True]), FREE)
    assert flipped.shares.tolist() == [-5_000.0, 1_000.0]


def test_a_whole_holding_is_sold_with_its_odd_lot_but_a_trim_only_in_whole_lots() -> None:
    orders = plan(np.array([1_050.0, 1_050.0]), np.array([0.0, 500.0]), 0.0, state(2), FREE)
    assert orders.shares.tolist() == [-1_050.0, -500.0]
    capped = plan(np.array([25_050.0]), np.array([0.0]), 0.0, state(1), FREE)
    assert capped.shares.tolist() == [-10_000.0] and capped.sessions.tolist() == [3.0]


def test_buys_share_short_cash_in_whole_lots_after_the_sells_and_costs() -> None:
    costs = CostModel(commission=0.001, stamp_duty=0.001, impact_bps=0.0)
    # selling 1,000 at 10 frees 10,000 - 10 - 10 = 9,980; two buys of 1,000 shares ask 20,020
    orders = plan(np.array([1_000.0, 0.0, 0.0]), np.array([0.0, 1_000.0, 1_000.0]), 0.0, state(3), costs)
    assert orders.shares.tolist() == [-1_000.0, 400.0, 400.0]  # 9,980 / 20,020 of each, whole lots down
    assert orders.cash_after == pytest.approx(9_980.0 - 8_000.0 * 1.001)
    broke = plan(np.zeros(1), np.array([1_000.0]), 50.0, state(1), costs)
    assert broke.shares.tolist() == [0.0] and broke.blocked.tolist() == ["cash"]


def test_costs_to_the_cent_with_the_square_root_impact() -> None:
    costs = CostModel(commission=0.0003, stamp_duty=0.0005, impact_bps=100.0)
    orders = plan(np.array([10_000.0, 0.0]), np.array([0.0, 2_500.0]), 1e6, state(2, participation=1.0), costs)
    # sell 100,000 (10% of the median amount), buy 25,000 (2.5%)
    assert orders.commission.round(2).tolist() == [30.0, 7.5]
    assert orders.stamp_duty.round(2).tolist() == [50.0, 0.0]
    assert orders.impact.round(2).tolist() == [round(100_000 * 0.01 * np.sqrt(0.1), 2),
                                               round(25_000 * 0.01 * np.sqrt(0.025), 2)]


def test_no_known_liquidity_means_no_order() -> None:
    orders = plan(np.zeros(1), np.array([1_000.0]), 1e9, state(1, median=float("nan")), FREE)
    assert orders.shares.tolist() == [0.0] and orders.blocked.tolist() == ["no_liquidity"]
    assert np.isnan(orders.sessions[0])
