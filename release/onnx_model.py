"""LightGBM -> ONNX and the parity gate between the native and the converted model (export time).

The model is converted with float32 inputs (onnxmltools, ``ai.onnx.ml`` TreeEnsembleRegressor):
its split thresholds are float32, so float32 inputs route rows exactly as the thresholds
were stored. Measured on the built-in market's final model (70 trees, 48,000 rows of ranked
features): max |diff| 2.3e-6 of the score spread with float inputs, but one row mis-routed
(1.3e-2) with double inputs, whose comparisons against float thresholds differ from
LightGBM's. LightGBM sums trees in double and onnxruntime in float, so exact equality is
not expected: :func:`parity` measures the difference and decides. Scoring lives in
:mod:`serving.scorer`, which needs only onnxruntime.

Parity gate (all must hold): max |diff| <= ``REL_TOL`` x (max - min of the native scores),
Spearman correlation >= ``MIN_SPEARMAN``, and the same top ``top_n`` set on every date
(ties broken by symbol, the service's rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import onnx
from onnxmltools import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType
from scipy.stats import spearmanr

from serving.scorer import INPUT

TARGET_OPSET = 15  # the newest opset onnxmltools 1.16 converts LightGBM to
REL_TOL = 1e-5
MIN_SPEARMAN = 0.99999


def to_onnx(booster: lgb.Booster) -> onnx.ModelProto:
    """The booster as an ONNX graph: input ``features`` float32 [N, n_features] (NaN = missing),
    output ``variable`` [N, 1]."""
    n = booster.num_feature()
    model = convert_lightgbm(booster, initial_types=[(INPUT, FloatTensorType([None, n]))],
                             target_opset=TARGET_OPSET, zipmap=False)
    model.graph.name = "spotlight"  # the converter names the graph with a random uuid: same booster, same bytes
    return model


@dataclass(frozen=True)
class Parity:
    """How far ONNX scores are from the native model's, and whether the gate passes."""

    rows: int
    max_abs_diff: float
    rel_diff: float
    spearman: float
    dates: int
    top_n_mismatched_dates: int
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no gate condition failed."""
        return not self.reasons


def _top(scores: np.ndarray, symbols: np.ndarray, n: int) -> frozenset:
    return frozenset(symbols[np.lexsort((symbols, -scores))[:n]])


def parity(native: np.ndarray, onnx_scores: np.ndarray, dates: np.ndarray, symbols: np.ndarray,
           top_n: int = 50, rel_tol: float = REL_TOL, min_spearman: float = MIN_SPEARMAN) -> Parity:
    """Compare two score vectors over the same rows (see the module docstring for the gate)."""
    native, other = np.asarray(native, dtype=np.float64), np.asarray(onnx_scores, dtype=np.float64)
    if native.shape != other.shape or len(native) != len(dates) or len(native) != len(symbols):
        raise ValueError("native scores, ONNX scores, dates and symbols must have the same length")
    if not len(native):
        raise ValueError("parity needs at least one row")
    diff = np.abs(native - other)
    spread = float(native.max() - native.min())
    max_diff = float(np.nanmax(diff))
    rel = max_diff / spread if spread > 0 else (0.0 if max_diff == 0 else np.inf)
    rho = float(spearmanr(native, other)[0]) if spread > 0 else 1.0
    dates, symbols = np.asarray(dates), np.asarray(symbols).astype(str)
    days = np.unique(dates)
    mismatched = sum(_top(native[i], symbols[i], top_n) != _top(other[i], symbols[i], top_n)
                     for i in (np.flatnonzero(dates == d) for d in days))
    reasons = []
    if not rel <= rel_tol:
        reasons.append(f"max |diff| {max_diff:.3g} is {rel:.3g} of the score spread (limit {rel_tol:g})")
    if not rho >= min_spearman:
        reasons.append(f"Spearman {rho:.7f} < {min_spearman}")
    if mismatched:
        reasons.append(f"top {top_n} differs on {mismatched} of {len(days)} dates")
    return Parity(len(native), max_diff, rel, rho, len(days), int(mismatched), reasons)
