"""Top-N weights and target positions in whole lots."""

from __future__ import annotations

import numpy as np

from orders import target_shares, top_weights


def test_top_n_by_score_ties_by_symbol_equal_or_score_weighted() -> None:
    symbols, scores = np.array(["C", "A", "B", "D"]), np.array([0.5, 0.9, 0.5, np.nan])
    equal = top_weights(symbols, scores, 2, "equal")
    assert equal.index.tolist() == ["A", "B"] and equal.tolist() == [0.5, 0.5]
    by_score = top_weights(symbols, scores, 3, "score")
    assert by_score.index.tolist() == ["A", "B", "C"] and by_score.tolist() == [1.0, 0.0, 0.0]
    assert top_weights(symbols, np.full(4, np.nan), 2, "equal").empty


def test_target_positions_are_whole_lots_never_above_the_weight() -> None:
    shares = target_shares(np.array([0.5, 0.5, 0.0]), 100_000.0, np.array([10.0, 33.0, 5.0]), np.array([100.0] * 3))
    assert shares.tolist() == [5_000.0, 1_500.0, 0.0]  # 50,000 / 33 = 1,515.2 -> 15 lots
    assert target_shares(np.array([1.0]), 1_000.0, np.array([3.0]), np.array([0.0])).tolist() == [1_000.0 / 3.0]
