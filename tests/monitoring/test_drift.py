"""The population stability index: zero on the same distribution, large on a shifted one,
unchanged by a monotone transform of both, and a feature going missing counts as drift; the
alert's PSI reads the cross-section's shape, so a move of the whole market is not drift."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.drift import drift, psi


def test_psi_reads_stable_shifting_and_drifted() -> None:
    rng = np.random.default_rng(0)
    reference, same = rng.normal(size=20_000), rng.normal(size=5_000)
    assert psi(reference, same) < 0.02
    assert 0.1 < psi(reference, rng.normal(0.5, 1, 5_000)) < 0.5
    assert psi(reference, rng.normal(1.5, 1, 5_000)) > 1.0
    shifted = rng.normal(1.0, 1, 5_000)
    assert abs(psi(np.exp(reference), np.exp(shifted)) - psi(reference, shifted)) < 1e-12  # bins follow ranks


def test_missing_values_are_a_bin_of_their_own() -> None:
    rng = np.random.default_rng(1)
    reference, live = rng.normal(size=10_000), rng.normal(size=2_000)
    live[:1_000] = np.nan  # half the live values went missing
    assert psi(reference, live) > 1.0
    assert np.isnan(psi(np.full(10, np.nan), live))  # no reference: unknown, not zero


def _dated(months: int, n: int, **columns) -> pd.DataFrame:
    return pd.DataFrame({"date": np.repeat(pd.bdate_range("2020-01-31", periods=months, freq="BME"), n), **columns})


def test_drift_reads_the_models_input_not_the_markets_level_worst_first() -> None:
    rng = np.random.default_rng(2)
    reference = _dated(6, 500, a=rng.normal(size=3_000), b=rng.normal(size=3_000), c=rng.normal(size=3_000))
    c = rng.normal(size=500)
    c[:200] = 0.1  # 40% of the stocks on one value (locked at the limit): ties the model sees
    live = _dated(1, 500, a=rng.normal(size=500), b=rng.normal(3, 2, 500), c=c)  # b: every stock moved
    table = drift(reference, live, ["a", "b", "c"]).set_index("feature")
    assert table.index[0] == "c" and table.loc["c", "psi"] > 0.25 > max(table.loc["a", "psi"], table.loc["b", "psi"])
    assert table.loc["b", "psi_level"] > 2.0 and table.loc["a", "psi_level"] < 0.1
    raw = drift(reference, live, ["a", "b", "c"], transform="none").set_index("feature")
    assert (raw["psi"] == raw["psi_level"]).all()  # a model on raw values sees the level


def test_a_calendar_feature_read_on_another_day_of_the_month_is_not_drift() -> None:
    """Days since the last report: every stock's count is 15 days higher mid-month."""
    rng = np.random.default_rng(3)
    reference = _dated(12, 400, days=rng.integers(0, 90, 4_800).astype(float))
    live = _dated(1, 400, days=rng.integers(0, 90, 400) + 15.0)
    table = drift(reference, live, ["days"])
    assert table["psi"].iloc[0] < 0.1 < 0.5 < table["psi_level"].iloc[0]


def test_the_training_months_own_drift_is_measured_month_against_months() -> None:
    """A mostly-zero feature whose zero share wanders between 55% and 65%: its tied rank
    crosses a decile edge from month to month, in training as live."""
    rng = np.random.default_rng(5)
    share = np.repeat(rng.uniform(0.55, 0.65, 12), 400)
    values = np.where(rng.random(4_800) < share, 0.0, rng.exponential(size=4_800))
    reference = _dated(12, 400, z=values, x=rng.normal(size=4_800))
    live = _dated(1, 400, z=np.where(rng.random(400) < 0.6, 0.0, rng.exponential(size=400)), x=rng.normal(size=400))
    table = drift(reference, live, ["z", "x"]).set_index("feature")
    assert table.loc["z", "psi_training"] > 0.25 and table.loc["x", "psi_training"] < 0.1
    assert table.loc["z", "psi"] <= table.loc["z", "psi_training"]


def test_a_feature_going_missing_is_drift() -> None:
    rng = np.random.default_rng(4)
    reference = _dated(6, 500, a=rng.normal(size=3_000))
    a = rng.normal(size=500)
    a[:250] = np.nan
    assert drift(reference, _dated(1, 500, a=a), ["a"])["psi"].iloc[0] > 1.0
