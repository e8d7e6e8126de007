"""The model input: per-stock features ranked per date over members, segment gauges raw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.model_input import model_input


def _panel() -> pd.DataFrame:
    dates = np.repeat(pd.to_datetime(["2021-01-29", "2021-02-26"]), 4)
    return pd.DataFrame({
        "date": dates, "symbol": list("ABCD") * 2, "in_universe": [True, True, True, False] * 2,
        "turnover_5": [0.3, 0.1, 0.2, 9.0, 5.0, np.nan, 1.0, 0.0],
        "ret_20": [1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0, 0.0],
        "microcap_breadth_20": [0.6] * 4 + [0.4] * 4,
    })


def test_per_stock_features_are_ranked_per_date_over_members_only() -> None:
    X = model_input(_panel(), ["ret_20", "turnover_5", "microcap_breadth_20"])
    assert list(X.columns) == ["ret_20", "turnover_5", "microcap_breadth_20"]
    np.testing.assert_allclose(X["turnover_5"], [1.0, 0.0, 0.5, np.nan, 1.0, np.nan, 0.0, np.nan])
    np.testing.assert_allclose(X["ret_20"], [0.0, 0.5, 1.0, np.nan, 1.0, 0.5, 0.0, np.nan])
    # segment gauges keep their value (ranking would make them constant)
    np.testing.assert_allclose(X["microcap_breadth_20"], [0.6] * 4 + [0.4] * 4)
    assert (X.dtypes == "float64").all()


def test_ranks_ignore_scale_and_other_dates() -> None:
    panel = _panel()
    scaled = panel.assign(turnover_5=panel["turnover_5"] * 1000)
    pd.testing.assert_frame_equal(model_input(panel, ["turnover_5"]), model_input(scaled, ["turnover_5"]))
    one_date = panel[panel["date"] == panel["date"].iloc[0]]
    pd.testing.assert_frame_equal(model_input(one_date, ["turnover_5"]), model_input(panel, ["turnover_5"]).iloc[:4])


def test_no_transform_keeps_raw_values_and_missing_columns_are_named() -> None:
    panel = _panel()
    np.testing.assert_array_equal(model_input(panel, ["ret_20"], "none")["ret_20"], panel["ret_20"])
    with pytest.raises(KeyError, match="amihud_20"):
        model_input(panel, ["amihud_20"])
