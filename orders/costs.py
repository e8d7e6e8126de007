"""What a trade costs: the cost model the backtest and the orders endpoint share.

For a trade of value v (shares x price) in a stock whose 20-day median traded amount is A:

- commission = ``commission`` x v (both sides);
- stamp duty = ``stamp_duty`` x v (sells only);
- impact = v x ``impact_bps`` x 1e-4 x sqrt(v / A) (the square-root law; 0 where A is 0 or
  unknown: such a stock gets no order, its cap is 0).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class CostModel(BaseModel):
    """Commission, stamp duty and impact rates (the backtest's and ``/rebalance``'s)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commission: float = Field(0.0003, ge=0, description="both sides, share of traded value")
    stamp_duty: float = Field(0.0005, ge=0, description="sells only")
    impact_bps: float = Field(100.0, ge=0, description="market impact: impact_bps x sqrt(trade / 20-day "
                                                        "median amount)")

    def impact_rate(self, value: np.ndarray, median_amount: np.ndarray) -> np.ndarray:
        """Impact as a fraction of each trade's value (0 for no trade or no known amount)."""
        value, median_amount = np.asarray(value, np.float64), np.asarray(median_amount, np.float64)
        ok = (value > 0) & (median_amount > 0)
        share = np.divide(value, median_amount, out=np.zeros_like(value), where=ok)
        return np.where(ok, self.impact_bps * 1e-4 * np.sqrt(share), 0.0)

    def costs(self, side: Literal["buy", "sell"], value: np.ndarray,
              median_amount: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(commission, stamp duty, impact) of each trade, in money."""
        value = np.asarray(value, np.float64)
        stamp = value * self.stamp_duty if side == "sell" else np.zeros_like(value)
        return value * self.commission, stamp, value * self.impact_rate(value, median_amount)


class TradingRules(BaseModel):
    """How a book trades: shares per board lot, the default daily participation cap and the
    costs (the backtest's ``[backtest]`` settings, recorded in each bundle for ``/rebalance``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    board_lot: int = Field(100, ge=0, description="shares per board lot (0 = any fraction)")
    participation: float = Field(0.1, gt=0, le=1, description="default daily cap per stock, share of its "
                                                                "20-day median traded amount")
    costs: CostModel = CostModel()
