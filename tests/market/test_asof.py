"""As-of join: the latest row announced on or before t, nothing later, ties to the latest period."""

from __future__ import annotations

import numpy as np
import pandas as pd

from market import asof_join

RIGHT = pd.DataFrame({
    "symbol": ["A", "A", "A", "A", "B"],
    "period_end": pd.to_datetime(["2020-03-31", "2020-06-30", "2019-12-31", "2020-06-30", "2020-03-31"]),
    "announce_date": pd.to_datetime(["2020-04-20", "2020-08-10", "2020-04-20", "2020-09-01", "2020-04-25"]),
    "value": [1.0, 2.0, 0.5, 2.5, 10.0],
})
# A: 2019Q4 and 2020Q1 both announced 2020-04-20 (tie -> 2020Q1); 2020Q2 restated on 2020-09-01.


def _left(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"symbol": [s for s, _ in pairs], "date": pd.to_datetime([d for _, d in pairs])},
                        index=pd.Index([10 + i for i in range(len(pairs))]))


def test_known_answers() -> None:
    left = _left([("A", "2020-04-19"), ("A", "2020-04-20"), ("A", "2020-08-09"), ("A", "2020-08-10"),
                  ("A", "2020-12-31"), ("B", "2020-04-24"), ("B", "2020-05-01"), ("C", "2020-05-01")])
    out = asof_join(left, RIGHT, ["value"])
    assert list(out.index) == list(left.index)
    expected = [np.nan, 1.0, 1.0, 2.0, 2.5, np.nan, 10.0, np.nan]
    np.testing.assert_array_equal(out["value"].to_numpy(), expected)
    assert out.loc[11, "period_end"] == pd.Timestamp("2020-03-31")  # tie on announce_date -> latest period
    assert list(out.columns) == ["announce_date", "period_end", "value"]


def test_left_order_is_preserved_for_unsorted_input() -> None:
    left = _left([("B", "2020-05-01"), ("A", "2020-12-31"), ("A", "2020-04-20")])
    assert asof_join(left, RIGHT, ["value"])["value"].tolist() == [10.0, 2.5, 1.0]


def test_rows_announced_later_change_nothing() -> None:
    left = _left([(s, d) for s in "AB" for d in pd.date_range("2020-04-01", "2020-12-31", freq="7D").strftime("%Y-%m-%d")])
    full = asof_join(left, RIGHT, ["value"])
    for cut in pd.to_datetime(["2020-04-20", "2020-08-10", "2020-08-31"]):
        truncated = asof_join(left, RIGHT[RIGHT["announce_date"] <= cut], ["value"])
        upto = left["date"] <= cut
        pd.testing.assert_frame_equal(truncated[upto], full[upto])


def test_categorical_symbols_join_like_strings() -> None:
    left = _left([("A", "2020-08-10"), ("B", "2020-05-01")])
    cat = pd.CategoricalDtype(["A", "B", "C"])
    left_c = left.assign(symbol=left["symbol"].astype(cat))
    right_c = RIGHT.assign(symbol=RIGHT["symbol"].astype(cat))
    pd.testing.assert_frame_equal(asof_join(left_c, right_c, ["value"]), asof_join(left, RIGHT, ["value"]))
