"""Orders a manager can trade: one session's orders towards a target portfolio under daily limits.

The one order-generation function of Spotlight: the backtest (:mod:`backtest.engine`) calls it
every evening for the next session, and ``POST /rebalance`` / ``spotlight rebalance``
(:mod:`serving.rebalance`) call it for the session after ``as_of``.

- :mod:`orders.costs`: commission, stamp duty and square-root market impact.
- :mod:`orders.targets`: top-N weights from scores, and target positions in whole board lots.
- :mod:`orders.session`: what is known of the next session, and :func:`~orders.session.plan`.

Bottom of the import graph: numpy, pandas and pydantic only, so the service can import it.
"""

from orders.costs import CostModel, TradingRules
from orders.session import Orders, Session, plan, session
from orders.targets import target_shares, top_weights

__all__ = ["CostModel", "Orders", "Session", "TradingRules", "plan", "session", "target_shares", "top_weights"]
