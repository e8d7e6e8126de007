"""RankIC: exact values on hand-made cross-sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.ic import ic_summary, rank_ic_by_date


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frames = []
    for i, date in enumerate(pd.date_range("2021-01-31", periods=4, freq="ME")):
        label = rng.permutation(30) / 29
        frames.append(pd.DataFrame({
            "date": date, "in_universe": True, "label_rerating": label,
            "perfect": label * 10 + 3, "inverse": -label, "noise": rng.normal(size=30),
            "sparse": np.where(np.arange(30) < (10 if i == 0 else 30), label, np.nan),
        }))
    panel = pd.concat(frames, ignore_index=True)
    outsider = panel.iloc[:1].assign(in_universe=False, perfect=-99.0, label_rerating=2.0)
    return pd.concat([panel, outsider], ignore_index=True)


def test_rank_ic_is_plus_or_minus_one_for_monotone_features() -> None:
    panel = _panel()
    np.testing.assert_allclose(rank_ic_by_date(panel, "perfect"), 1.0)
    np.testing.assert_allclose(rank_ic_by_date(panel, "inverse"), -1.0)


def test_dates_with_too_few_members_are_skipped() -> None:
    assert len(rank_ic_by_date(_panel(), "sparse")) == 3


def test_summary_matches_scipy_spearman() -> None:
    from scipy.stats import spearmanr

    panel = _panel()
    members = panel[panel["in_universe"]]
    expected = np.mean([spearmanr(g["noise"], g["label_rerating"]).statistic for _, g in members.groupby("date")])
    summary = ic_summary(panel, ["noise", "perfect"])
    assert summary.loc["noise", "mean_ic"] == pytest.approx(expected)
    assert summary.loc["perfect", "positive"] == 1.0 and summary.loc["perfect", "dates"] == 4
