"""The feature panel built on Dask from a market partitioned by symbol (:mod:`market.partitioned`).

It equals :func:`features.panel.build_panel` on the same market, value for value, and no step
holds more than one part's bars, or one group of days' rows, in one process:

1. **by symbol** (a task per part): the part against the whole market's calendar; per row,
   the universe screen (:func:`features.universe.screen`), the market cap and every
   cross-section's ``inputs`` (:mod:`features.cross_section`).
2. **shuffle to date**; per date partition (whole days, rows in symbol order): the size rule
   (``select``) and every cross-section's ``per_day`` half.
3. per-day values (one row per market day) are gathered and ``finish``-ed across days.
4. per-row values **shuffle back** to their part; per part: every feature and extra column on
   the panel's dates, reading cross-sections from the memo. Such a History refuses to read
   other stocks' rows (``rows_by_day``, ``by_date``, ``universe_percentile``), so a feature
   comparing stocks outside a cross-section fails loudly instead of comparing a part only.

Exactness: a stock's windows never leave its rows, and a day's sums run in symbol order as
on one machine, so the two paths agree to the last bit (tests check the built-in and real
markets). It runs on whatever Dask scheduler is active (``spotlight.cluster``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property, partial
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from features.cross_section import CROSS_SECTIONS, CrossSection
from features.history import History
from features.panel import Column, Freq, PanelError, assemble, panel_dates
from features.registry import Feature, registered
from features.universe import UniverseConfig, screen, select
from market.partitioned import PartitionedMarket, load_part, open_partitioned

KEYS = {"day": "int32", "code": "int32", "part": "int32"}


class PartHistory(History):
    """A History of one part's stocks against the whole calendar; cross-sections come from the memo."""

    def _refuse(self, what: str) -> None:
        raise RuntimeError(f"{what} reads other stocks of the day, which a part of the market lacks: "
                           "compute it in a features.cross_section.CrossSection")

    @property
    def rows_by_day(self) -> list[np.ndarray]:
        """Refused (see the class docstring)."""
        self._refuse("History.rows_by_day")
        return []

    def by_date(self, values: np.ndarray, mask: np.ndarray) -> pd.Series:
        """Refused (see the class docstring)."""
        self._refuse("History.by_date")
        return pd.Series(dtype="float64")

    def universe_percentile(self, x: pd.Series) -> pd.Series:
        """Refused (see the class docstring)."""
        self._refuse("History.universe_percentile")
        return x


class DayHistory(History):
    """The rows of whole days (all stocks, sorted by day then symbol) for the per-day halves;
    it has no stock histories, only ``cal_idx``, the calendar and the universe."""

    def __init__(self, cal_idx: np.ndarray, calendar: pd.DatetimeIndex) -> None:  # noqa: D107
        self.calendar = calendar
        self.cal_idx = np.asarray(cal_idx, dtype=np.int64)
        self.n = len(self.cal_idx)
        self.bars = pd.DataFrame(index=pd.RangeIndex(self.n))
        self._in_universe = None
        self._memo = {}

    @cached_property
    def rows_by_day(self) -> list[np.ndarray]:
        """Row indices of each calendar day (empty for days of other partitions)."""
        bounds = np.searchsorted(self.cal_idx, np.arange(len(self.calendar) + 1))
        return [np.arange(bounds[d], bounds[d + 1]) for d in range(len(self.calendar))]


def _global_codes(h: History, symbols: pd.Index) -> np.ndarray:
    """Per row of a part's History: the symbol's position among the whole market's symbols."""
    local = symbols.get_indexer(h.bars["symbol"].cat.categories.astype("str"))
    return local[h.symbol_code].astype(np.int32)


def _by_symbol(item: tuple[int, str], *, market_dir: str, securities: pd.DataFrame, symbols: pd.Index,
               calendar: pd.DatetimeIndex, universe: UniverseConfig,
               sections: Sequence[CrossSection]) -> pd.DataFrame:
    """Step 1 for one (number, part): keys, the universe screen, the cap and each cross-section's inputs."""
    number, part = item
    h = PartHistory(load_part(market_dir, part, securities), calendar)
    out = pd.DataFrame({"day": h.cal_idx.astype(np.int32), "code": _global_codes(h, symbols),
                        "part": np.full(h.n, number, np.int32), "screen": screen(h, universe),
                        "cap": h.bars["market_cap"].to_numpy(dtype="float64")})
    for i, section in enumerate(sections):
        inputs = section.inputs(h)
        for column in inputs:
            out[f"in{i}:{column}"] = inputs[column].to_numpy(dtype="float64")
    return out


def _inputs(frame: pd.DataFrame, i: int) -> pd.DataFrame:
    prefix = f"in{i}:"
    return pd.DataFrame({c[len(prefix):]: frame[c].to_numpy() for c in frame.columns if c.startswith(prefix)})


def _day_history(frame: pd.DataFrame, calendar: pd.DatetimeIndex,
                 universe: UniverseConfig) -> tuple[pd.DataFrame, DayHistory, np.ndarray]:
    frame = frame.sort_values(["day", "code"], kind="stable").reset_index(drop=True)
    h = DayHistory(frame["day"].to_numpy(), calendar)
    code = frame["screen"].to_numpy(dtype=np.int8).copy()
    select(h, code, frame["cap"].to_numpy(), universe)
    h.attach_universe(code < 0)
    return frame, h, code


def _by_date_rows(frame: pd.DataFrame, *, calendar: pd.DatetimeIndex, universe: UniverseConfig,
                  sections: Sequence[CrossSection]) -> pd.DataFrame:
    """Step 2, per row: the universe reason code and each ``rows`` cross-section's values."""
    frame, h, code = _day_history(frame, calendar, universe)
    out = frame[list(KEYS)].copy()
    out["reason"] = code
    for i, section in enumerate(sections):
        if section.kind == "rows":
            values = section.per_day(h, _inputs(frame, i))
            for key in section.keys:
                out[key] = values[key].to_numpy(dtype="float64")
    return out


def _by_date_days(frame: pd.DataFrame, *, calendar: pd.DatetimeIndex, universe: UniverseConfig,
                  sections: Sequence[CrossSection]) -> pd.DataFrame:
    """Step 2, per day of this partition: each ``days`` cross-section's per-day half."""
    frame, h, _ = _day_history(frame, calendar, universe)
    days = np.unique(h.cal_idx)
    parts = [section.per_day(h, _inputs(frame, i)).iloc[days].add_prefix(f"{i}:")
             for i, section in enumerate(sections) if section.kind == "days"]
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=days)


def _by_symbol_panel(rows: pd.DataFrame, days: pd.DataFrame, *, parts: Sequence[str], market_dir: str,
                     securities: pd.DataFrame, symbols: pd.Index, calendar: pd.DatetimeIndex,
                     wanted: pd.DatetimeIndex, chosen: Sequence[Feature], extra: Mapping[str, Column],
                     sections: Sequence[CrossSection], partition_info: dict | None = None) -> pd.DataFrame:
    """Step 4 for one part: its rows' universe and cross-sections into the memo, then the panel rows."""
    number = int(partition_info["number"]) if partition_info else int(rows.index[0])
    h = PartHistory(load_part(market_dir, parts[number], securities), calendar)
    stride = np.int64(len(calendar) + 1)
    mine = _global_codes(h, symbols).astype(np.int64) * stride + h.cal_idx
    theirs = rows["code"].to_numpy(np.int64) * stride + rows["day"].to_numpy(np.int64)
    order = np.argsort(theirs, kind="stable")
    at = order[np.minimum(np.searchsorted(theirs[order], mine), len(order) - 1)] if len(order) else order
    if len(at) != h.n or not np.array_equal(theirs[at], mine):
        raise RuntimeError(f"part {parts[number]}: the rows back from the date step do not match its bars")
    for section in sections:
        if section.kind == "rows":
            section.store(h, pd.DataFrame({key: rows[key].to_numpy()[at] for key in section.keys}))
        else:
            section.store(h, days[list(section.keys)])
    return assemble(h, rows["reason"].to_numpy(np.int8)[at], wanted, chosen, extra)


def build_panel_dask(
    market: PartitionedMarket | str | Path,
    *,
    universe: UniverseConfig = UniverseConfig(),
    freq: Freq = "monthly",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    as_of: str | pd.Timestamp | None = None,
    dates: Sequence[pd.Timestamp] | pd.DatetimeIndex | None = None,
    features: Sequence[Feature] | None = None,
    extra: Mapping[str, Column] | None = None,
    cross_sections: Sequence[CrossSection] = (),
    date_partitions: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """:func:`features.panel.build_panel` of a partitioned market (or its directory), on the active
    Dask scheduler. ``extra`` columns that read other stocks (labels) must get those values from
    ``cross_sections`` (``training.labels.CROSS_SECTIONS``); the registered features' own run
    always. ``date_partitions`` (default: as many as parts) sets step 2's partitions."""
    lazy = panel_on_cluster(market, universe=universe, freq=freq, start=start, end=end, as_of=as_of, dates=dates,
                            features=features, extra=extra, cross_sections=cross_sections,
                            date_partitions=date_partitions, progress=progress)
    panel = lazy.compute().sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)
    panel.attrs.update(lazy.attrs)
    return panel


def panel_on_cluster(
    market: PartitionedMarket | str | Path,
    *,
    universe: UniverseConfig = UniverseConfig(),
    freq: Freq = "monthly",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    as_of: str | pd.Timestamp | None = None,
    dates: Sequence[pd.Timestamp] | pd.DatetimeIndex | None = None,
    features: Sequence[Feature] | None = None,
    extra: Mapping[str, Column] | None = None,
    cross_sections: Sequence[CrossSection] = (),
    date_partitions: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dd.DataFrame:
    """:func:`build_panel_dask`'s panel left on the cluster: a Dask DataFrame with a partition per
    part (rows by date then symbol within it), e.g. a daily panel too large for one process.
    Steps 1 to 3 run now; step 4 runs when the result is computed. ``attrs`` as build_panel's."""
    step = progress or (lambda name: None)
    step("scan")
    pm = market if isinstance(market, PartitionedMarket) else open_partitioned(market)
    root, parts, securities, symbols, calendar = str(pm.source), pm.parts, pm.securities, pm.symbols, pm.calendar
    chosen = list(features) if features is not None else registered()
    sections = list({s.keys: s for s in [*CROSS_SECTIONS.values(), *cross_sections]}.values())
    if dates is None:
        wanted = panel_dates(calendar, freq, start, end, as_of)
    else:
        wanted = pd.DatetimeIndex(sorted(set(pd.DatetimeIndex(dates))), name="date")
        unknown = wanted.difference(calendar)
        if len(unknown) or not len(wanted):
            raise PanelError(f"not trading days of this market: {[f'{d:%Y-%m-%d}' for d in unknown[:5]]}"
                             if len(unknown) else "no dates asked for")

    common = {"market_dir": root, "securities": securities, "symbols": symbols, "calendar": calendar}
    step("step 1: screen and cross-section inputs by symbol")
    first = partial(_by_symbol, universe=universe, sections=sections, **common)
    meta1 = dask.delayed(first)((0, parts[0])).compute().iloc[:0]
    by_symbol = dd.from_map(first, list(enumerate(parts)), meta=meta1, enforce_metadata=False)
    step("step 2: shuffle to date; universe and per-day halves")
    by_date = by_symbol.shuffle(on="day", npartitions=date_partitions or len(parts)).persist()
    per_day = dict(calendar=calendar, universe=universe, sections=sections)
    days_meta = _by_date_days(meta1, **per_day)
    days = by_date.map_partitions(_by_date_days, meta=days_meta, **per_day).compute()
    days = days.sort_index().reindex(pd.RangeIndex(len(calendar)))
    finished = [section.finish(days.filter(like=f"{i}:", axis=1).rename(columns=lambda c: c.split(":", 1)[1]))
                for i, section in enumerate(sections) if section.kind == "days"]
    gauges = pd.concat(finished, axis=1) if finished else pd.DataFrame(index=pd.RangeIndex(len(calendar)))

    rows_meta = _by_date_rows(meta1, **per_day)
    rows = by_date.map_partitions(_by_date_rows, meta=rows_meta, **per_day)
    step("step 3: shuffle back by symbol; features and extra columns")
    back = rows.set_index("part", divisions=[*range(len(parts)), len(parts)], sort=True)
    panel_meta = _panel_meta(chosen, extra or {})
    lazy = back.map_partitions(_by_symbol_panel, gauges, parts=parts, wanted=wanted, chosen=chosen,
                               extra=extra or {}, sections=sections, meta=panel_meta, align_dataframes=False,
                               **common)
    lazy.attrs = {"freq": "dates" if dates is not None else "as_of" if as_of is not None else freq,
                  "universe": universe.model_dump(), "features": [f.name for f in chosen], "source": root}
    return lazy


def _panel_meta(chosen: Sequence[Feature], extra: Mapping[str, Column]) -> pd.DataFrame:
    from features.universe import REASONS

    out = {"date": pd.Series(dtype="datetime64[ns]"), "symbol": pd.Series(dtype="str"),
           "in_universe": pd.Series(dtype=bool),
           "exclusion_reason": pd.Series(pd.Categorical([], categories=list(REASONS)))}
    for name in [*(f.name for f in chosen), *extra]:
        out[name] = pd.Series(dtype="float64")
    return pd.DataFrame(out)
