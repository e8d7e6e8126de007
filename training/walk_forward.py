"""Walk-forward splits over unique dates (month-ends), purged and embargoed.

Rows are (date, stock) pairs; splits are made on the sorted unique dates, never on row
positions, so a date's stocks are never cut in two. With dates D[0..T-1] and a training
window ending before index e (exclusive):

- test block: D[e + purge + embargo : e + purge + embargo + refit_every] -- the model fitted
  on the window is used for ``refit_every`` months, then refitted;
- training window: D[0:e] (``expanding``; the first has ``min_train`` dates) or
  D[e - train_size:e] (``rolling``);
- inner split of the training window for early stopping: validation = its last ``valid``
  dates; fit = the dates before those, less a further ``purge`` dates before validation.

.. warning:: Look-ahead. A label at date d is known only ``HORIZON`` (21) market days after
   d. ``purge`` >= 1 month-end keeps every training label realised before the test date for
   complete months (two month-ends are then more than 21 market days apart); a trailing
   partial month can be closer, but its training labels are not realised yet, so they are
   missing and never fitted. ``embargo`` adds more distance for serially correlated
   features. :func:`training.train.check_purge` checks every gap in market days on the real
   calendar from the last labelled training date.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fold:
    """One walk-forward step: dates to fit on, to early-stop on, and to predict."""

    fit: pd.DatetimeIndex
    valid: pd.DatetimeIndex
    test: pd.DatetimeIndex

    @property
    def train(self) -> pd.DatetimeIndex:
        """The dates trained on: fit then validation (the purge gap between them excluded)."""
        return self.fit.append(self.valid) if len(self.valid) else self.fit

    def describe(self) -> dict[str, str]:
        """Each part's first and last date as ``start..end`` text."""
        def span(d: pd.DatetimeIndex) -> str:
            return f"{d[0]:%Y-%m-%d}..{d[-1]:%Y-%m-%d}" if len(d) else "-"
        return {"fit": span(self.fit), "valid": span(self.valid), "test": span(self.test)}


@dataclass(frozen=True)
class WalkForward:
    """A scikit-learn-compatible splitter (``split``/``get_n_splits``) over unique dates.

    Dates come from ``groups`` (one date per row) or from ``X["date"]``. ``split`` yields the
    rows of the training window (fit + validation, the inner purge gap left out) and of the
    test block;
    :meth:`folds` gives the dates, including the inner split.
    """

    window: Literal["expanding", "rolling"] = "expanding"
    min_train: int = 36
    train_size: int = 60
    refit_every: int = 1
    purge: int = 1
    embargo: int = 0
    valid: int = 12

    def __post_init__(self) -> None:
        if self.window not in ("expanding", "rolling"):
            raise ValueError(f"window must be expanding or rolling, got {self.window!r}")
        for name in ("min_train", "train_size", "refit_every", "purge", "valid"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.embargo < 0:
            raise ValueError(f"embargo must be >= 0, got {self.embargo}")
        first = self.min_train if self.window == "expanding" else self.train_size
        if first < self.valid + self.purge + 1:
            raise ValueError(f"a training window of {first} dates cannot hold a validation block of "
                             f"{self.valid} plus a purge of {self.purge} and at least one date to fit on")

    @property
    def gap(self) -> int:
        """Month-ends dropped between training and test: purge + embargo."""
        return self.purge + self.embargo

    def _window(self, dates: pd.DatetimeIndex, end: int) -> Fold:
        start = 0 if self.window == "expanding" else max(0, end - self.train_size)
        train = dates[start:end]
        fit_end = len(train) - self.valid - self.purge
        return Fold(fit=train[:fit_end], valid=train[len(train) - self.valid:], test=dates[:0])

    def folds(self, dates: pd.DatetimeIndex | np.ndarray | pd.Series) -> list[Fold]:
        """Every fold over the sorted unique ``dates``; none if there are too few dates."""
        d = _unique_dates(dates)
        first_end = self.min_train if self.window == "expanding" else self.train_size
        out = []
        for test_start in range(first_end + self.gap, len(d), self.refit_every):
            fold = self._window(d, test_start - self.gap)
            out.append(Fold(fold.fit, fold.valid, d[test_start:test_start + self.refit_every]))
        return out

    def final(self, dates: pd.DatetimeIndex | np.ndarray | pd.Series) -> Fold:
        """The window for the model trained on every one of ``dates`` (no test block)."""
        d = _unique_dates(dates)
        if len(d) < self.valid + self.purge + 1:
            raise ValueError(f"{len(d)} labelled dates cannot hold a validation block of {self.valid} "
                             f"plus a purge of {self.purge} and at least one date to fit on")
        return self._window(d, len(d))

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """The number of folds (scikit-learn's splitter protocol; ``groups``: the row dates)."""
        return len(self.folds(_row_dates(X, groups)))

    def split(self, X: object, y: object = None, groups: object = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Row positions of (training window, test block) for each fold."""
        rows = pd.DatetimeIndex(_row_dates(X, groups))
        for fold in self.folds(rows):
            yield np.flatnonzero(rows.isin(fold.train)), np.flatnonzero(rows.isin(fold.test))


def _unique_dates(dates: pd.DatetimeIndex | np.ndarray | pd.Series) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.unique(pd.DatetimeIndex(dates).dropna()), name="date")


def _row_dates(X: object, groups: object) -> pd.DatetimeIndex:
    if groups is not None:
        return pd.DatetimeIndex(np.asarray(groups))
    if isinstance(X, pd.DataFrame) and "date" in X.columns:
        return pd.DatetimeIndex(X["date"])
    raise ValueError("WalkForward needs the dates: pass groups=<date per row> or an X with a 'date' column")
