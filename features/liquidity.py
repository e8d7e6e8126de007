"""Liquidity measures for sizing and slicing (helpers, not registered model features).

``median_amount_20``: median traded amount (currency) over the stock's last 20 sessions,
zero-volume days included; NaN with fewer than 20 sessions. Uses days up to t only.
"""

from __future__ import annotations

import pandas as pd

from features.history import History

WINDOW = 20


def median_amount_20(h: History) -> pd.Series:
    """Median of ``amount`` over the last 20 sessions of the stock."""
    return h.rolling(h.col("amount").fillna(0.0), WINDOW).median()
