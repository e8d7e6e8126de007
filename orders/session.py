"""One session's orders towards a target portfolio, under the daily limits.

Everything here is known the evening before the session: the last close, whether the stock
traded on the last day or was locked at a price limit all day, and the median traded amount
over the last 20 market days (a day without a bar counts as 0 traded). Positions, prices and
lots may be in any consistent unit (the backtest holds total-return-adjusted shares, the
service real ones): value = shares x price either way.

:func:`plan`, per stock, with ``wanted = target - held``:

1. **Sells** (wanted < 0): min(-wanted, cap, held), rounded down to whole lots, except that
   a sale of the whole holding may end in an odd lot. None for a stock suspended or
   limit-down-locked on the last day.
2. **Buys** (wanted > 0): min(wanted, cap), rounded down to whole lots. None for a stock
   suspended or limit-up-locked on the last day. When the cash (after the sells and every
   cost) is short, the buys are scaled down together, then rounded down to lots again.
3. **Cap**: ``participation`` x median amount / price shares per stock per session; what is
   left carries to later sessions, with an estimate of the sessions it takes.
4. **Costs**: :class:`~orders.costs.CostModel` on each order's value at the last close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orders.costs import CostModel
from orders.targets import round_down

SUSPENDED, LIMIT_UP, LIMIT_DOWN, NO_LIQUIDITY, CASH = (
    "suspended", "limit_up_locked", "limit_down_locked", "no_liquidity", "cash")


@dataclass(frozen=True)
class Session:
    """What is known of the next session per stock (aligned arrays, see the module docstring)."""

    price: np.ndarray          # the last close: orders are sized and costed at it
    suspended: np.ndarray      # no trade on the last day (no bar or zero volume)
    limit_up_locked: np.ndarray    # the whole last day at the limit-up price
    limit_down_locked: np.ndarray  # the whole last day at the limit-down price
    median_amount: np.ndarray  # median traded amount, last 20 market days (money)
    cap: np.ndarray            # shares that may trade in the session
    lot: np.ndarray            # shares per board lot (0: any fraction)


def session(price: np.ndarray, suspended: np.ndarray, limit_up_locked: np.ndarray, limit_down_locked: np.ndarray,
            median_amount: np.ndarray, participation: float, lot: np.ndarray | float) -> Session:
    """A :class:`Session` with the cap = participation x median amount / price (0 where either
    is unknown)."""
    price = np.asarray(price, np.float64)
    median_amount = np.asarray(median_amount, np.float64)
    ok = (price > 0) & (median_amount > 0)
    cap = np.divide(participation * np.nan_to_num(median_amount), price, out=np.zeros_like(price), where=ok)
    return Session(price=price, suspended=np.asarray(suspended, bool),
                   limit_up_locked=np.asarray(limit_up_locked, bool),
                   limit_down_locked=np.asarray(limit_down_locked, bool), median_amount=median_amount, cap=cap,
                   lot=np.broadcast_to(np.asarray(lot, np.float64), price.shape).copy())


@dataclass(frozen=True)
class Orders:
    """One session's orders, per stock (aligned with the session's arrays)."""

    wanted: np.ndarray      # target - held: + to buy, - to sell
    shares: np.ndarray      # this session's order: + buy, - sell, whole lots (0: none)
    value: np.ndarray       # |shares| x price
    commission: np.ndarray
    stamp_duty: np.ndarray
    impact: np.ndarray
    blocked: np.ndarray     # why a wanted trade gets no order this session, or None
    sessions: np.ndarray    # estimated sessions to complete the wanted trade (NaN: unknown)
    cash_after: float       # the cash left once the session's orders are done, costs paid

    @property
    def cost(self) -> np.ndarray:
        """Commission + stamp duty + impact of each order."""
        return self.commission + self.stamp_duty + self.impact

    @property
    def remaining(self) -> np.ndarray:
        """What is still wanted after this session: wanted - shares."""
        return self.wanted - self.shares


def afford(shares: np.ndarray, price: np.ndarray, cash: float, median_amount: np.ndarray, lot: np.ndarray,
           costs: CostModel) -> np.ndarray:
    """Buys of ``shares`` at ``price`` scaled down together, whole lots, when they and their
    commission and impact ask more than ``cash``; unchanged otherwise."""
    value = shares * price
    need = float(np.sum(value * (1 + costs.commission + costs.impact_rate(value, median_amount))))
    if need <= cash:
        return shares
    return round_down(shares * max(cash, 0.0) / need, lot)


def plan(held: np.ndarray, target: np.ndarray, cash: float, s: Session, costs: CostModel) -> Orders:
    """The next session's orders from ``held`` towards ``target`` with ``cash`` (see the module docstring)."""
    held, target = np.asarray(held, np.float64), np.asarray(target, np.float64)
    price = np.nan_to_num(s.price)
    wanted = target - held
    lot_cap = round_down(s.cap, s.lot)
    shares = np.zeros(len(held))

    sell = wanted < 0
    whole = np.minimum(-wanted, s.cap) >= held  # the order and the cap take the whole holding
    sold = np.where(whole, held, round_down(np.minimum(np.minimum(-wanted, s.cap), held), s.lot))
    sell_ok = sell & ~s.suspended & ~s.limit_down_locked & (held > 0)
    shares[sell_ok] = -sold[sell_ok]
    buy = wanted > 0
    buy_ok = buy & ~s.suspended & ~s.limit_up_locked
    shares[buy_ok] = round_down(np.minimum(wanted, s.cap), s.lot)[buy_ok]
    at_limit = (sell & s.limit_down_locked) | (buy & s.limit_up_locked)
    suspended = (sell | buy) & s.suspended
    no_liquidity = (sell | buy) & (shares == 0) & ~at_limit & ~suspended

    sells = shares < 0
    sell_value = np.where(sells, -shares * price, 0.0)
    c, d, m = costs.costs("sell", sell_value, s.median_amount)
    available = cash + float(np.sum(sell_value - c - d - m))
    buys = shares > 0
    shares[buys] = afford(shares[buys], price[buys], available, s.median_amount[buys], s.lot[buys], costs)
    short = buys & (shares == 0)
    value = np.where(shares > 0, shares * price, 0.0)
    bc, _, bm = costs.costs("buy", value, s.median_amount)
    cash_after = available - float(np.sum(value + bc + bm))

    blocked = np.full(len(held), None, dtype=object)
    for mask, reason in ((at_limit & buy, LIMIT_UP), (at_limit & sell, LIMIT_DOWN), (no_liquidity, NO_LIQUIDITY),
                         (short, CASH), (suspended, SUSPENDED)):
        if mask.any():
            blocked[mask] = reason
    sessions = np.divide(np.abs(wanted), lot_cap, out=np.full(len(held), np.nan), where=lot_cap > 0)
    sessions = np.ceil(sessions - 1e-9) + (at_limit | short)
    sessions[suspended | no_liquidity] = np.nan
    sessions[(shares != 0) & (wanted == shares)] = 1.0  # done in this session (an odd-lot sale too)
    sessions[wanted == 0] = 0.0
    return Orders(wanted=wanted, shares=shares, value=sell_value + value, commission=c + bc, stamp_duty=d,
                  impact=m + bm, blocked=blocked, sessions=sessions, cash_after=cash_after)
