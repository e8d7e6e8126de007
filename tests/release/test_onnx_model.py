"""ONNX conversion and the parity gate: a converted model passes, a changed one fails and says why."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from release.onnx_model import parity, to_onnx
from serving.scorer import OnnxScorer


@pytest.fixture(scope="module")
def model_and_rows():
    rng = np.random.default_rng(0)
    n, k = 6000, 12
    # ranked-feature-like inputs: per-date ranks in [0, 1], some missing
    X = np.floor(rng.random((n, k)) * 300) / 299
    X[rng.random((n, k)) < 0.05] = np.nan
    y = np.nan_to_num(X[:, 0]) - (np.nan_to_num(X[:, 1]) - 0.5) ** 2 + rng.normal(0, 0.2, n)
    booster = lgb.train({"objective": "regression", "num_leaves": 15, "min_data_in_leaf": 50, "verbosity": -1,
                         "seed": 0, "num_threads": 1}, lgb.Dataset(X, y), 80)
    dates = np.repeat(np.arange(20), n // 20)
    symbols = np.tile(np.array([f"S{i:03d}" for i in range(n // 20)]), 20)
    return booster, X, dates, symbols


def test_the_converted_model_passes_the_gate(model_and_rows) -> None:
    booster, X, dates, symbols = model_and_rows
    scorer = OnnxScorer(to_onnx(booster))
    report = parity(booster.predict(X), scorer.score(X), dates, symbols)
    assert report.passed, report.reasons
    assert report.rel_diff <= 1e-5 and report.spearman >= 0.99999 and report.top_n_mismatched_dates == 0
    assert report.rows == len(X) and report.dates == 20


def test_serialised_bytes_score_the_same(model_and_rows) -> None:
    booster, X, _, _ = model_and_rows
    model = to_onnx(booster)
    assert model.SerializeToString() == to_onnx(booster).SerializeToString()  # deterministic conversion
    np.testing.assert_array_equal(OnnxScorer(model).score(X[:100]), OnnxScorer(model.SerializeToString()).score(X[:100]))
    with pytest.raises(ValueError, match="12 features"):
        OnnxScorer(model).score(X[:5, :3])


def test_a_different_model_fails_with_reasons(model_and_rows) -> None:
    booster, X, dates, symbols = model_and_rows
    native = booster.predict(X)
    shifted = native.copy()
    shifted[::97] += 0.05  # a few rows scored differently
    report = parity(native, shifted, dates, symbols)
    assert not report.passed
    assert any("of the score spread" in r for r in report.reasons)
    assert report.top_n_mismatched_dates > 0 and any("top 50 differs" in r for r in report.reasons)


def test_a_swap_at_the_top_boundary_is_caught_even_when_differences_are_tiny() -> None:
    dates = np.zeros(60, int)
    symbols = np.array([f"S{i:02d}" for i in range(60)])
    native = np.linspace(1.0, 0.0, 60)
    other = native.copy()
    other[49], other[50] = native[50] - 1e-9, native[49] + 1e-9  # ranks 50 and 51 swap
    report = parity(native, other, dates, symbols, rel_tol=1e-3, min_spearman=0.99)
    assert report.top_n_mismatched_dates == 1 and not report.passed
