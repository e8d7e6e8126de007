"""The target portfolio: top-N weights from scores, and positions in whole board lots.

Weights: the ``top_n`` highest scores (ties by symbol), equal (1/N each) or by score
(score minus the lowest chosen score, normalised; equal when those are all alike). A target
position is floor(weight x NAV / price / lot) lots: never more than the weight allows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd


def top_weights(symbols: np.ndarray, scores: np.ndarray, top_n: int,
                weighting: Literal["equal", "score"]) -> pd.Series:
    """Weights of the top ``top_n`` by score (NaN scores never chosen), indexed by symbol,
    best first; empty when nothing is scored."""
    frame = pd.DataFrame({"symbol": np.asarray(symbols).astype(str), "score": np.asarray(scores, np.float64)})
    top = frame.dropna(subset=["score"]).sort_values(["score", "symbol"], ascending=[False, True]).head(top_n)
    if top.empty:
        return pd.Series(dtype="float64")
    if weighting == "equal":
        w = np.full(len(top), 1.0 / len(top))
    else:
        s = top["score"].to_numpy() - top["score"].min()
        w = s / s.sum() if s.sum() > 0 else np.full(len(top), 1.0 / len(top))
    return pd.Series(w, index=top["symbol"].to_numpy())


def target_shares(weights: np.ndarray, nav: float, price: np.ndarray, lot: np.ndarray) -> np.ndarray:
    """floor(weight x nav / price / lot) x lot per stock; 0 where the price is unknown. A lot
    of 0 means any fraction may be held (no rounding)."""
    weights, price, lot = (np.asarray(a, np.float64) for a in (weights, price, lot))
    ok = (price > 0) & (weights > 0)
    raw = np.divide(weights * max(nav, 0.0), price, out=np.zeros_like(price), where=ok)
    return round_down(raw, lot)


def round_down(shares: np.ndarray, lot: np.ndarray) -> np.ndarray:
    """Whole lots at or below ``shares`` (>= 0); unchanged where the lot is 0. A hair under a
    whole lot (floating error, 1e-9 of a lot) counts as that lot."""
    shares, lot = np.asarray(shares, np.float64), np.broadcast_to(np.asarray(lot, np.float64), np.shape(shares))
    lots = np.floor(np.divide(shares, lot, out=np.zeros_like(shares), where=lot > 0) + 1e-9)
    return np.where(lot > 0, lots * lot, shares)
