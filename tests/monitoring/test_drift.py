"""The population stability index: zero on the same distribution, large on a shifted one,
unchanged by a monotone transform of both, and a feature going missing counts as drift."""

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


def test_drift_lists_every_feature_worst_first() -> None:
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"a": rng.normal(size=3_000), "b": rng.normal(size=3_000)})
    live = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(2, 1, 500)})
    table = drift(reference, live, ["a", "b"])
    assert list(table["feature"]) == ["b", "a"] and table["psi"].iloc[0] > 0.25 > table["psi"].iloc[1]
