"""The feature panel: one row per (date, stock) with universe membership and every feature.

``build_panel`` computes everything from the market each time (nothing is cached between
builds), so a build restricted by ``start``/``end``/``as_of`` equals the matching rows of
a full build exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from features.history import History
from features.registry import Feature, registered
from features.universe import REASONS, UniverseConfig, screen, select
from market.atomic import atomic_path
from market.load import Market

Freq = Literal["monthly", "daily"]
KEY_COLUMNS = ("date", "symbol", "in_universe", "exclusion_reason")
Column = Callable[[History], pd.Series]


class PanelError(ValueError):
    """A panel request that cannot be met (a date outside the market, an empty range)."""


def panel_dates(calendar: pd.DatetimeIndex, freq: Freq = "monthly", start: str | pd.Timestamp | None = None,
                end: str | pd.Timestamp | None = None, as_of: str | pd.Timestamp | None = None) -> pd.DatetimeIndex:
    """Dates a panel covers: ``as_of`` alone (it must be a trading day), else every trading
    day (``daily``) or each month's last trading day in the calendar (``monthly``) within
    [start, end]."""
    if as_of is not None:
        day = pd.Timestamp(as_of)
        if day not in calendar:
            before = calendar[calendar <= day]
            hint = f"; the last trading day before it is {before[-1]:%Y-%m-%d}" if len(before) else ""
            raise PanelError(f"--as-of {day:%Y-%m-%d} is not a trading day of this market{hint}")
        return pd.DatetimeIndex([day], name="date")
    if freq not in ("monthly", "daily"):
        raise PanelError(f"freq must be monthly or daily, got {freq!r}")
    days = calendar
    if freq == "monthly":
        month = days.year * 12 + days.month
        last = np.r_[month[1:] != month[:-1], True] if len(days) else np.zeros(0, bool)
        days = days[last]
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    if lo is not None and hi is not None and lo > hi:
        raise PanelError(f"--start {lo:%Y-%m-%d} is after --end {hi:%Y-%m-%d}")
    keep = np.ones(len(days), bool)
    if lo is not None:
        keep &= days >= lo
    if hi is not None:
        keep &= days <= hi
    if not keep.any():
        span = f"{calendar[0]:%Y-%m-%d}..{calendar[-1]:%Y-%m-%d}" if len(calendar) else "no dates"
        raise PanelError(f"no {freq} dates between --start and --end; the market covers {span}")
    return pd.DatetimeIndex(days[keep], name="date")


def build_panel(
    market: Market,
    *,
    universe: UniverseConfig = UniverseConfig(),
    freq: Freq = "monthly",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    as_of: str | pd.Timestamp | None = None,
    dates: Sequence[pd.Timestamp] | pd.DatetimeIndex | None = None,
    features: Sequence[Feature] | None = None,
    extra: Mapping[str, Column] | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Build the panel: ``date``, ``symbol``, ``in_universe``, ``exclusion_reason``, one column
    per feature (default: the whole registry) and one per ``extra`` column (e.g. labels,
    which live outside this package), sorted by date then symbol.

    ``dates`` (trading days of the market) replaces ``freq``/``start``/``end``/``as_of`` when
    given. ``progress`` is called with each step's name as it starts.
    """
    chosen = list(features) if features is not None else registered()
    dates_given = dates is not None
    if dates is None:
        days = panel_dates(market.calendar, freq, start, end, as_of)
    else:
        days = pd.DatetimeIndex(sorted(set(pd.DatetimeIndex(dates))), name="date")
        unknown = days.difference(market.calendar)
        if len(unknown) or not len(days):
            raise PanelError(f"not trading days of this market: {[f'{d:%Y-%m-%d}' for d in unknown[:5]]}"
                             if len(unknown) else "no dates asked for")
    step = progress or (lambda name: None)

    step("universe")
    h = History(market)
    code = screen(h, universe)
    select(h, code, h.bars["market_cap"].to_numpy(), universe)
    panel = assemble(h, code, days, chosen, extra, step)
    panel.attrs.update({"freq": "dates" if dates_given else "as_of" if as_of is not None else freq,
                        "universe": universe.model_dump(), "features": [f.name for f in chosen],
                        "source": str(market.source)})
    return panel


def assemble(h: History, code: np.ndarray, days: pd.DatetimeIndex, chosen: Sequence[Feature],
             extra: Mapping[str, Column] | None = None, step: Callable[[str], None] = lambda name: None,
             ) -> pd.DataFrame:
    """The panel's rows on ``days`` from a History and its rows' universe reason codes
    (:func:`features.universe.screen` then ``select``; -1 = member), sorted by date then
    symbol: the key columns, each feature, each ``extra`` column."""
    h.attach_universe(code < 0)
    day_wanted = np.zeros(len(h.calendar), bool)
    day_wanted[np.searchsorted(h.calendar, days)] = True
    rows = np.flatnonzero(day_wanted[h.cal_idx])
    rows = rows[np.lexsort((h.symbol_code[rows], h.cal_idx[rows]))]

    out: dict[str, object] = {
        "date": h.bars["date"].to_numpy()[rows],
        "symbol": h.bars["symbol"].astype("str").to_numpy()[rows],
        "in_universe": code[rows] < 0,
        "exclusion_reason": pd.Categorical.from_codes(code[rows], categories=list(REASONS)),
    }
    for f in chosen:
        step(f.name)
        out[f.name] = f(h).to_numpy()[rows]
    for name, column in (extra or {}).items():
        step(name)
        out[name] = np.asarray(column(h), dtype="float64")[rows]
    return pd.DataFrame(out)


def write_panel(panel: pd.DataFrame, out: str | Path) -> Path:
    """Write the panel as Parquet atomically (:mod:`market.atomic`)."""
    with atomic_path(out) as tmp:
        panel.to_parquet(tmp, index=False)
    return Path(out)
