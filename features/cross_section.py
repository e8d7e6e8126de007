"""Cross-sections: intermediates that read other stocks of the same day, split in two halves.

A feature or label that compares a stock with the rest of its day (a universe percentile, a
segment gauge, a universe-mean excess return) gets that comparison from a
:class:`CrossSection`, never by reading other rows itself:

- ``inputs(h)``: per-row values from each stock's own history (rolling windows, returns);
- ``per_day(h, inputs)``: from a day's rows of those inputs and ``h.in_universe``, either
  per-row values (``kind="rows"``) or per-day values indexed by calendar position
  (``kind="days"``), one column per key;
- ``finish(days)`` (``days`` only): from the whole calendar of per-day values to the final
  per-day values (e.g. a rolling sum across days).

On one machine both halves run on one :class:`features.history.History`. On Dask
(:mod:`features.dask_panel`) ``inputs`` runs on partitions by symbol and ``per_day`` on
partitions by date, and the results are stored in ``History.memo`` under the keys before the
features run, so a feature computes the same numbers either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from features.history import History


def _same(days: pd.DataFrame) -> pd.DataFrame:
    return days


@dataclass(frozen=True)
class CrossSection:
    """See the module docstring. ``keys`` name the memo entries (and the columns of
    ``per_day``'s result, or of ``finish``'s for ``days``)."""

    keys: tuple[str, ...]
    inputs: Callable[[History], pd.DataFrame]
    per_day: Callable[[History, pd.DataFrame], pd.DataFrame]
    kind: Literal["rows", "days"] = "rows"
    finish: Callable[[pd.DataFrame], pd.DataFrame] = _same

    def compute(self, h: History) -> pd.DataFrame:
        """Both halves on one History (one machine): per-row or per-day values, a column per key."""
        out = self.per_day(h, self.inputs(h))
        return self.finish(out) if self.kind == "days" else out

    def store(self, h: History, values: pd.DataFrame) -> None:
        """Put computed values in ``h``'s memo, a Series per key."""
        for key in self.keys:
            column = values[key]
            h.remember(key, h.series(column.to_numpy()) if self.kind == "rows" else column)

    def get(self, h: History, key: str) -> pd.Series:
        """The value under ``key``: from the memo, else computed (every key at once) and stored."""
        if key not in self.keys:
            raise KeyError(f"{key!r} is not one of this cross-section's keys {self.keys}")
        if not h.has(key):
            self.store(h, self.compute(h))
        return h.memo(key, lambda: self.compute(h)[key])


CROSS_SECTIONS: dict[tuple[str, ...], CrossSection] = {}


def cross_section(keys: tuple[str, ...], inputs: Callable[[History], pd.DataFrame],
                  per_day: Callable[[History, pd.DataFrame], pd.DataFrame], kind: Literal["rows", "days"] = "rows",
                  finish: Callable[[pd.DataFrame], pd.DataFrame] = _same) -> CrossSection:
    """Declare and register a cross-section the registered features use (Dask runs every one)."""
    made = CrossSection(keys, inputs, per_day, kind, finish)
    CROSS_SECTIONS[keys] = made
    return made
