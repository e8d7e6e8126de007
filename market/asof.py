"""Point-in-time as-of join: the latest fundamentals/holders row announced on or before t."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


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
    """
    if columns is None:
        columns = [c for c in right.columns if c != by]
    wanted = list(dict.fromkeys(["announce_date", "period_end", *columns]))
    keys = pd.DataFrame({
        "_pos": np.arange(len(left)),
        "_on": left[on].to_numpy(dtype="datetime64[ns]"),
        "_by": left[by].astype("str").to_numpy(),
    }).sort_values(["_on", "_pos"], kind="stable")
    r = right[[by, *wanted]].copy()
    r["_by"] = r[by].astype("str").to_numpy()
    r["_on"] = r["announce_date"].to_numpy(dtype="datetime64[ns]")
    r = r.drop(columns=[by]).sort_values(["_on", "period_end"], kind="stable")
    joined = pd.merge_asof(keys, r, on="_on", by="_by", direction="backward", allow_exact_matches=True)
    joined = joined.sort_values("_pos", kind="stable")
    out = joined[wanted]
    out.index = left.index
    return out
