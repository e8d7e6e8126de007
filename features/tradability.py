"""What the next session allows each stock, as known at the close of t (the orders' inputs).

Per listed stock and date t:

- ``close``: the last close at or before t (a stock without a bar on t keeps its last one);
- ``suspended``: no trade on t (no bar, or zero volume);
- ``limit_up_locked`` / ``limit_down_locked``: the whole of t at the limit price (as in
  :mod:`market.load`); the next session is unlikely to fill a buy (a sell);
- ``median_amount_market_20``: :func:`features.liquidity.median_amount_through_close`, the
  median traded amount over the last 20 market days, a day without a bar counted as 0 (NaN
  for a stock with no bar on t itself: nothing after t says whether it still trades; it is
  suspended then, and gets no order either way).

Uses bars up to the close of t only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.liquidity import median_amount_through_close
from market.load import Market

COLUMNS = ("close", "suspended", "limit_up_locked", "limit_down_locked", "median_amount_market_20")


def tradability(market: Market, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """``date, symbol`` and :data:`COLUMNS` for every stock with a bar on or before each date."""
    bars = market.bars
    symbols = bars["symbol"].cat.categories.astype(str)
    cal = market.calendar
    last = int(cal.searchsorted(dates.max(), side="right"))
    cal = cal[:last]
    rows = cal.get_indexer(bars["date"].to_numpy())
    keep = rows >= 0
    rows, cols = rows[keep], bars["symbol"].cat.codes.to_numpy()[keep]

    def grid(column: str) -> np.ndarray:
        out = np.full((len(cal), len(symbols)), np.nan)
        out[rows, cols] = bars[column].to_numpy(np.float64)[keep]
        return out

    close, volume = grid("close"), grid("volume")
    median = median_amount_through_close(grid("amount"))
    last_close = pd.DataFrame(close).ffill().to_numpy()
    up, down = grid("limit_up_locked"), grid("limit_down_locked")
    frames = []
    for day in dates:
        t = int(cal.get_loc(day))
        seen = ~np.isnan(last_close[t])
        frames.append(pd.DataFrame({
            "date": day, "symbol": symbols[seen], "close": last_close[t, seen],
            "suspended": ~(np.nan_to_num(volume[t, seen]) > 0),
            "limit_up_locked": np.nan_to_num(up[t, seen]) > 0, "limit_down_locked": np.nan_to_num(down[t, seen]) > 0,
            "median_amount_market_20": median[t, seen]}))
    return pd.concat(frames, ignore_index=True)
