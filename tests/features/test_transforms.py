"""Cross-sectional transforms: per-date steps over universe members."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import apply_transforms


def _panel() -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.to_datetime(["2021-01-29"] * 4 + ["2021-02-26"] * 3),
        "symbol": ["A", "B", "C", "D", "A", "B", "C"],
        "in_universe": [True, True, True, False, True, True, True],
        "x": [1.0, 3.0, 2.0, 100.0, 5.0, np.nan, 5.0],
    })


def test_rank_is_per_date_in_unit_interval_over_members_only() -> None:
    out = apply_transforms(_panel(), ["rank"], ["x"])
    np.testing.assert_allclose(out["x"].iloc[:3], [0.0, 1.0, 0.5])
    assert np.isnan(out["x"].iloc[3])  # not a member
    np.testing.assert_allclose(out["x"].iloc[[4, 6]], [0.5, 0.5])  # ties
    assert np.isnan(out["x"].iloc[5]) and out.attrs["transforms"] == ["rank"]


def test_robust_z_centres_on_the_median_and_is_zero_without_spread() -> None:
    out = apply_transforms(_panel(), ["robust_z"], ["x"])
    mad = 1.4826 * 1.0
    np.testing.assert_allclose(out["x"].iloc[:3], [-1 / mad, 1 / mad, 0.0])
    np.testing.assert_allclose(out["x"].iloc[[4, 6]], [0.0, 0.0])


def test_industry_neutral_removes_each_industry_median_then_steps_chain() -> None:
    panel = _panel()
    industry = pd.Series(["bank", "bank", "media", "media", "bank", "bank", None])
    out = apply_transforms(panel, ["industry_neutral"], ["x"], industry=industry)
    np.testing.assert_allclose(out["x"].iloc[:3], [-1.0, 1.0, 0.0])
    chained = apply_transforms(panel, ["industry_neutral", "rank"], ["x"], industry=industry)
    np.testing.assert_allclose(chained["x"].iloc[:3], [0.0, 1.0, 0.5])


def test_unknown_step_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown transform"):
        apply_transforms(_panel(), ["winsorise"], ["x"])
