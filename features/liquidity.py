"""The 20-day median traded amount: how much of a stock can trade in a day. One window, two views.

- :func:`median_amount_20` (the feature panel, serving's liquidity, training's liquidity
  slices): median of ``amount`` over the stock's last 20 sessions **up to and including the
  close of t**, zero-volume sessions included; NaN with fewer than 20 sessions.
- :func:`median_amount_through_close` (the orders' participation cap and impact): on a day x
  stock grid, median over the last 20 **market days** up to and including t; a market day
  without a bar between the stock's first and last bar counts as 0 traded (a suspension
  trades nothing); NaN before listing and until 20 days are known.

All use data up to the close of t only.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np
import pandas as pd

from features.history import History

WINDOW = 20


def median_amount_20(h: History) -> pd.Series:
    """Median of ``amount`` over the last 20 sessions of the stock."""
    return h.rolling(h.col("amount").fillna(0.0), WINDOW).median()


def median_amount_through_close(amount: np.ndarray) -> np.ndarray:
    """Day x stock medians of ``amount`` (NaN where a stock has no bar) over the last
    :data:`WINDOW` market days up to and including each day (see the module docstring)."""
    seen = ~np.isnan(amount)
    first = np.where(seen.any(axis=0), seen.argmax(axis=0), len(amount))
    last = len(amount) - 1 - seen[::-1].argmax(axis=0)
    day = np.arange(len(amount))[:, None]
    traded = np.where(~seen & (day >= first) & (day <= last), 0.0, amount)
    if len(amount) < WINDOW:
        return np.full(amount.shape, np.nan)
    return bn.move_median(traded, window=WINDOW, min_count=WINDOW, axis=0)

