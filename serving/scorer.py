"""Scores rows with an ONNX model on onnxruntime: the only model code the service runs.

Inputs are cast to float32 (the converted model's input type, see :mod:`release.onnx_model`);
NaN means missing and is routed the way LightGBM routes it. Needs only numpy and onnxruntime.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import onnxruntime as ort

INPUT = "features"


class _Serializable(Protocol):
    def SerializeToString(self) -> bytes: ...  # noqa: N802 - the protobuf name


class OnnxScorer:
    """An onnxruntime CPU session over an ONNX model (``threads`` intra-op threads)."""

    def __init__(self, model: bytes | _Serializable, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        raw = model if isinstance(model, bytes) else model.SerializeToString()
        self.session = ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].name != INPUT or len(inputs[0].shape) != 2:
            raise ValueError(f"expected one 2-d input named {INPUT!r}, got {[(i.name, i.shape) for i in inputs]}")
        self.n_features = int(inputs[0].shape[1])

    def score(self, X: np.ndarray) -> np.ndarray:
        """float64 scores, one per row of ``X`` ([N, n_features])."""
        values = np.asarray(X, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {values.shape}")
        return self.session.run(None, {INPUT: values})[0].ravel().astype(np.float64)
