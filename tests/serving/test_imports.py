"""The running service loads only its serving dependencies (the static graph is pinned in
tests/test_imports.py; this checks what a real import pulls in, transitively)."""

from __future__ import annotations

import subprocess
import sys

TRAINING_SIDE = ("training", "tracking", "release", "backtest", "mlflow", "lightgbm", "sklearn", "onnxmltools",
                 "scipy", "matplotlib", "features", "market", "pandera")


def _loaded(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_the_service_imports_no_training_side_package() -> None:
    loaded = _loaded("serving.service")
    assert {"bentoml", "onnxruntime", "fastapi", "pydantic_settings"} <= loaded
    assert not loaded & set(TRAINING_SIDE), loaded & set(TRAINING_SIDE)


def test_export_uses_features_and_mlflow_but_never_training() -> None:
    loaded = _loaded("release.export")
    assert {"features", "mlflow", "lightgbm", "serving"} <= loaded and "training" not in loaded
