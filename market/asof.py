"""Point-in-time as-of join: the latest fundamentals/holders row announced on or before t."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def _codes(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of both key columns on one shared vocabulary."""
    if (isinstance(left.dtype, pd.CategoricalDtype) and isinstance(right.dtype, pd.CategoricalDtype)
            and left.cat.categories.equals(right.cat.categories)):
        return left.cat.codes.to_numpy().astype(np.int64), right.cat.codes.to_numpy().astype(np.int64)
    both = pd.concat([left.astype("str"), right.astype("str")], ignore_index=True)
    codes, _ = pd.factorize(both)
    return codes[: len(left)].astype(np.int64), codes[len(left):].astype(np.int64)


def asof_join(
    left: pd.DataFrame,
    right: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    on: str = "date",
    by: str = "symbol",
) -> pd.DataFrame:
    """For each ``(by, on)`` row of ``left``, the ``right`` row of the same ``by`` with the
    latest ``announce_date <= left[on]``.

    Look-ahead rule: a row announced on day t is usable on day t (the contract's
    "announce_date is the first day the numbers were public"); rows announced after t never
    are. Ties on ``announce_date`` go to the latest ``period_end``. Rows with no earlier
    announcement get missing values. Returns ``columns`` of ``right`` (default: all but
    ``by``) aligned to ``left``'s index, ``period_end`` and ``announce_date`` included.

    Implementation: one integer key (symbol code, rank of the day) per row on both sides and
    a binary search, so it is linear-logarithmic and needs no per-symbol loop.
    """
    if columns is None:
        columns = [c for c in right.columns if c != by]
    wanted = list(dict.fromkeys(["announce_date", "period_end", *columns]))
    lcode, rcode = _codes(left[by], right[by])
    lday = left[on].to_numpy(dtype="datetime64[ns]")
    rday = right["announce_date"].to_numpy(dtype="datetime64[ns]")
    days = np.unique(np.concatenate([lday, rday]))
    width = len(days) + 1
    lkey = lcode * width + np.searchsorted(days, lday)
    rkey = rcode * width + np.searchsorted(days, rday)
    order = np.lexsort((right["period_end"].to_numpy(dtype="datetime64[ns]"), rkey))
    pos = np.searchsorted(rkey[order], lkey, side="right") - 1
    safe = np.clip(pos, 0, max(len(order) - 1, 0))
    found = (pos >= 0) & (rcode[order][safe] == lcode) if len(order) else np.zeros(len(left), bool)
    taken = order[safe] if len(order) else np.zeros(len(left), np.int64)
    out = pd.DataFrame({c: _take(right[c], taken, found) for c in wanted}, index=left.index)
    return out


def _take(column: pd.Series, rows: np.ndarray, found: np.ndarray) -> np.ndarray:
    """column[rows] as an array, missing (NaN/NaT/None) where not found; ints become float."""
    if len(column) == 0:
        values = np.full(len(rows), np.nan)
        return values.astype(column.dtype) if column.dtype.kind == "M" else values
    values = column.to_numpy()[rows]
    if values.dtype.kind == "M":
        values[~found] = np.datetime64("NaT")
    elif values.dtype.kind in "iufb":
        values = values.astype("float64")
        values[~found] = np.nan
    else:
        values = values.astype(object)
        values[~found] = None
    return values
