"""History: everything a feature may see, row by row, with grouped rolling windows.

A :class:`History` wraps a loaded :class:`market.load.Market`. Its rows are the market's bars
(sorted by symbol, then date; one row per stock per session). Every helper is causal: the
value on a row uses that stock's rows up to and including it, fundamentals/holders announced
on or before its date, and cross-sections of dates up to its date. So removing all data
after t leaves every value as of t unchanged, to the last bit (each stock's windows restart
at its first row, and pandas' rolling kernels are sequential within a window run).

Windows count the stock's own sessions (its bars); ``min_periods`` always equals the
window, so a value without a full window is NaN, never a warm-up on fewer days.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

from market.asof import asof_join
from market.load import Market

FUNDAMENTAL_COLUMNS = ("net_income_ttm", "revenue_ttm", "book_equity", "operating_cash_flow_ttm")
HOLDER_COLUMNS = ("holder_count", "top10_ratio", "prev_holder_count", "prev_top10_ratio")


class _GroupWindow(BaseIndexer):
    """Trailing window of ``window_size`` rows that never reaches before the row's group start."""

    def get_window_bounds(self, num_values: int = 0, min_periods: int | None = None,
                          center: bool | None = None, closed: str | None = None,
                          step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        end = self.ends[:num_values]
        return np.maximum(end - self.window_size, self.group_start[:num_values]), end


class History:
    """Causal view of a market for feature functions (see the module docstring).

    Attributes: ``bars`` (the market's bars), ``calendar`` (market trading days),
    ``cal_idx`` (each row's position in the calendar), ``group_start`` (row index of each
    row's first same-symbol row), ``fundamentals``/``holders`` (latest announced values
    as of each row, aligned to ``bars``; all-NaN when the market lacks the table), and,
    once :meth:`attach_universe` ran, ``in_universe``.
    """

    def __init__(self, market: Market, calendar: pd.DatetimeIndex | None = None) -> None:
        """``calendar`` overrides the market's trading days (it must contain every bar date;
        used to compute a subset of stocks against the whole market's calendar)."""
        self.market = market
        self.bars = market.bars
        self.securities = market.securities
        self.calendar = market.calendar if calendar is None else calendar
        self.n = len(self.bars)
        dates = self.bars["date"].to_numpy(dtype="datetime64[ns]")
        self.cal_idx = np.searchsorted(self.calendar.to_numpy(), dates).astype(np.int64)
        codes = self.bars["symbol"].cat.codes.to_numpy().astype(np.int64)
        self.symbol_code = codes
        first = np.r_[True, codes[1:] != codes[:-1]] if self.n else np.zeros(0, bool)
        starts = np.flatnonzero(first)
        self.group_start = np.repeat(starts, np.diff(np.r_[starts, self.n])).astype(np.int64)
        self.session = np.arange(self.n, dtype=np.int64) - self.group_start
        self._in_universe: np.ndarray | None = None
        self._ends = np.arange(1, self.n + 1, dtype=np.int64)
        self._memo: dict[str, pd.Series] = {}

    def memo(self, key: str, compute: Callable[[], pd.Series]) -> pd.Series:
        """``compute()`` once per History under ``key`` (for intermediates several features share)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def remember(self, key: str, value: pd.Series) -> None:
        """Store ``value`` under ``key`` (what :meth:`memo` then returns)."""
        self._memo[key] = value

    def has(self, key: str) -> bool:
        """True when :meth:`memo` holds ``key``."""
        return key in self._memo

    # ---- rows and raw columns -------------------------------------------------------------
    def col(self, name: str) -> pd.Series:
        """A bars column as float64 (NaN where the optional column is absent)."""
        if name not in self.bars:
            return pd.Series(np.nan, index=self.bars.index, dtype="float64")
        return self.bars[name].astype("float64")

    def series(self, values: np.ndarray | pd.Series) -> pd.Series:
        """Values aligned to the bars rows as a float64 Series."""
        return pd.Series(np.asarray(values, dtype="float64"), index=self.bars.index)

    @cached_property
    def turnover(self) -> pd.Series:
        """volume / shares_float (0 on a zero-volume day)."""
        return self.col("turnover")

    @cached_property
    def daily_return(self) -> pd.Series:
        """adj_close_t / adj_close_(previous session) - 1; NaN on the stock's first row."""
        return self.ret(1)

    # ---- grouped windows --------------------------------------------------------------------
    def rolling(self, x: pd.Series, window: int):
        """``x.rolling`` over the last ``window`` sessions of the same stock, min_periods=window."""
        indexer = _GroupWindow(window_size=window, group_start=self.group_start, ends=self._ends)
        return x.rolling(indexer, min_periods=window)

    def mean(self, x: pd.Series, window: int) -> pd.Series:
        """Mean over the window."""
        return self.rolling(x, window).mean()

    def sum(self, x: pd.Series, window: int) -> pd.Series:
        """Sum over the window."""
        return self.rolling(x, window).sum()

    def std(self, x: pd.Series, window: int) -> pd.Series:
        """Sample standard deviation (ddof=1) over the window."""
        return self.rolling(x, window).std()

    def max(self, x: pd.Series, window: int) -> pd.Series:
        """Maximum over the window."""
        return self.rolling(x, window).max()

    def min(self, x: pd.Series, window: int) -> pd.Series:
        """Minimum over the window."""
        return self.rolling(x, window).min()

    def corr(self, x: pd.Series, y: pd.Series, window: int) -> pd.Series:
        """Pearson correlation over the window; NaN where either side is constant."""
        out = self.rolling(x, window).corr(y)
        return out.where(np.isfinite(out))

    def percentile(self, x: pd.Series, window: int) -> pd.Series:
        """Rank of the current value among the window's values, in (0, 1] (average ties)."""
        return self.rolling(x, window).rank(pct=True)

    def shift(self, x: pd.Series, k: int) -> pd.Series:
        """x from k sessions earlier of the same stock (NaN before its first row)."""
        values = np.asarray(x, dtype="float64")
        out = np.full(self.n, np.nan)
        if k < self.n:
            src = np.arange(self.n - k)
            ok = self.session[k:] >= k
            out[k:][ok] = values[src[ok]]
        return self.series(out)

    def ret(self, k: int) -> pd.Series:
        """Total return over the last k sessions: adj_close_t / adj_close_(t-k) - 1."""
        close = self.col("adj_close")
        return close / self.shift(close, k) - 1.0

    def market_days_spanned(self, window: int) -> pd.Series:
        """Market days from the stock's session ``window-1`` back to today, inclusive (NaN if short)."""
        past = self.shift(self.series(self.cal_idx), window - 1)
        return self.series(self.cal_idx) - past + 1.0

    @cached_property
    def row_key(self) -> np.ndarray:
        """symbol_code x (calendar days + 1) + calendar position: ascending along the rows."""
        return self.symbol_code * (len(self.calendar) + 1) + self.cal_idx

    @cached_property
    def row_grid(self) -> np.ndarray:
        """row_grid[symbol_code, calendar position] = that stock's row that day, or -1."""
        n_symbols = len(self.bars["symbol"].cat.categories)
        grid = np.full((n_symbols, len(self.calendar)), -1, dtype=np.int64)
        grid[self.symbol_code, self.cal_idx] = np.arange(self.n)
        return grid

    def rows_at_offset(self, k: int) -> np.ndarray:
        """Row of the same stock exactly k market days away (k < 0: earlier), or -1."""
        target = self.cal_idx + k
        inside = (target >= 0) & (target < len(self.calendar))
        out = np.full(self.n, -1, dtype=np.int64)
        out[inside] = self.row_grid[self.symbol_code[inside], target[inside]]
        return out

    def lag_market_days(self, x: pd.Series | np.ndarray, k: int) -> pd.Series:
        """x of the same stock exactly k market days earlier; NaN if it had no row that day."""
        rows = self.rows_at_offset(-k)
        values = np.asarray(x, dtype="float64")
        return self.series(np.where(rows >= 0, values[rows], np.nan))

    def day_number(self, dates: np.ndarray) -> np.ndarray:
        """Calendar position of each date (the first trading day on or after it); dates before
        the calendar starts count weekdays back from it (negative). NaT gives NaN."""
        dates = np.asarray(dates, dtype="datetime64[ns]")
        cal = self.calendar.to_numpy()
        out = np.searchsorted(cal, dates).astype("float64")
        if len(cal):
            before = (dates < cal[0]) & ~np.isnat(dates)
            out[before] = -np.busday_count(dates[before].astype("datetime64[D]"), cal[0].astype("datetime64[D]"))
        out[np.isnat(dates)] = np.nan
        return out

    # ---- point-in-time tables -----------------------------------------------------------------
    @cached_property
    def fundamentals(self) -> pd.DataFrame:
        """Latest announced fundamentals as of each row (NaN where none yet or no table)."""
        table = self.market.fundamentals
        if table is None or table.empty:
            return pd.DataFrame({c: np.nan for c in FUNDAMENTAL_COLUMNS}, index=self.bars.index)
        cols = [c for c in FUNDAMENTAL_COLUMNS if c in table]
        out = asof_join(self.bars[["symbol", "date"]], table, cols)
        for c in FUNDAMENTAL_COLUMNS:
            out[c] = out[c].astype("float64") if c in out else np.nan
        return out

    @cached_property
    def holders(self) -> pd.DataFrame:
        """Latest announced holders disclosure as of each row, with the one before it
        (``prev_*``: the same stock's previous row in announcement order)."""
        table = self.market.holders
        if table is None or table.empty:
            out = pd.DataFrame({c: np.nan for c in HOLDER_COLUMNS}, index=self.bars.index)
            out["announce_date"] = pd.NaT
            return out
        table = table.copy()
        grouped = table.groupby("symbol", observed=True, sort=False)
        table["prev_holder_count"] = grouped["holder_count"].shift(1).astype("float64")
        table["prev_top10_ratio"] = grouped["top10_ratio"].shift(1).astype("float64")
        out = asof_join(self.bars[["symbol", "date"]], table, list(HOLDER_COLUMNS))
        for c in HOLDER_COLUMNS:
            out[c] = out[c].astype("float64")
        return out

    # ---- universe ------------------------------------------------------------------------------
    def attach_universe(self, in_universe: np.ndarray) -> None:
        """Record each row's universe membership (built from data known at its date)."""
        self._in_universe = np.asarray(in_universe, dtype=bool)

    @property
    def in_universe(self) -> np.ndarray:
        """Per row: the stock is a universe member that day (after :meth:`attach_universe`)."""
        if self._in_universe is None:
            raise RuntimeError("History.in_universe: attach_universe() has not been called")
        return self._in_universe

    @cached_property
    def rows_by_day(self) -> list[np.ndarray]:
        """Row indices of each calendar day, in row (symbol) order."""
        order = np.argsort(self.cal_idx, kind="stable")
        bounds = np.searchsorted(self.cal_idx[order], np.arange(len(self.calendar) + 1))
        return [order[bounds[d]:bounds[d + 1]] for d in range(len(self.calendar))]

    def by_date(self, values: np.ndarray, mask: np.ndarray) -> pd.Series:
        """Per-calendar-day sum of ``values`` over rows where ``mask`` (index: calendar position)."""
        v = np.where(mask, np.asarray(values, dtype="float64"), 0.0)
        return pd.Series(np.bincount(self.cal_idx, weights=v, minlength=len(self.calendar)))

    def broadcast(self, per_date: pd.Series | np.ndarray) -> pd.Series:
        """A per-calendar-day series spread onto every row of that day."""
        return self.series(np.asarray(per_date, dtype="float64")[self.cal_idx])

    def universe_percentile(self, x: pd.Series) -> pd.Series:
        """Where x sits within that day's universe: (#members below + half #equal) / #members.

        Defined for every row (members and others) whose value and day's universe are
        non-empty; uses only that day's cross-section.
        """
        values = np.asarray(x, dtype="float64")
        member = self.in_universe & ~np.isnan(values)
        out = np.full(self.n, np.nan)
        for rows in self.rows_by_day:
            ref = np.sort(values[rows[member[rows]]])
            if len(ref) == 0:
                continue
            v = values[rows]
            below = np.searchsorted(ref, v, side="left")
            equal = np.searchsorted(ref, v, side="right") - below
            pct = (below + 0.5 * equal) / len(ref)
            out[rows] = np.where(np.isnan(v), np.nan, pct)
        return self.series(out)
