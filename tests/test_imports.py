"""Data flows one way, pinned: each package may import only the packages listed for it.

market -> features -> training -> (backtest, release) -> serving is the direction of the data;
``tracking`` (MLflow names and the registry) and ``orders`` (the one order-generation function,
shared by the backtest and the service) sit beside ``market`` at the bottom, and
``spotlight`` (config, CLI, jobs) is the only package that sees all of them. Every import
statement counts, including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED: dict[str, set[str]] = {
    "market": set(),
    "orders": set(),
    "features": {"market"},
    "tracking": set(),
    "training": {"market", "features", "tracking"},
    "backtest": {"market", "features", "tracking", "orders"},
    "release": {"market", "features", "tracking", "serving", "orders"},
    "serving": {"orders"},
    "monitoring": {"market", "features", "tracking", "training", "serving", "orders"},
    "spotlight": {"market", "features", "tracking", "training", "backtest", "release", "serving", "monitoring",
                  "orders"},
}
# third-party packages a package must never import (the card: features never import mlflow;
# the service runs on its own small closure, see tests/serving/test_imports.py)
FORBIDDEN: dict[str, set[str]] = {
    "market": {"mlflow", "lightgbm"},
    "orders": {"mlflow", "lightgbm", "onnxruntime", "bentoml", "sklearn", "matplotlib", "scipy"},
    "features": {"mlflow", "lightgbm", "onnxruntime", "bentoml"},
    "serving": {"mlflow", "lightgbm", "sklearn", "onnxmltools", "matplotlib", "scipy", "dask", "distributed"},
}


def imports(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Top-level names each module of ``package`` (under ``root``) imports, by module path."""
    found: dict[str, set[str]] = {}
    for path in sorted((root / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(root))] = names
    return found


def test_every_project_package_is_pinned() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in ("tests", "benchmarks")}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_data(package: str) -> None:
    project = set(ALLOWED)
    for module, names in imports(package).items():
        wrong = (names & project) - ALLOWED[package] - {package}
        assert not wrong, f"{module} imports {sorted(wrong)}; {package} may import {sorted(ALLOWED[package])}"
        banned = names & FORBIDDEN.get(package, set())
        assert not banned, f"{module} imports {sorted(banned)}"


def test_the_checker_sees_imports_inside_functions_and_type_checking_blocks(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "m.py").write_text(
        "from typing import TYPE_CHECKING\nfrom . import sibling\nif TYPE_CHECKING:\n    from release.export import X\n"
        "def f():\n    from training.train import train\n    import mlflow.tracking\n")
    assert imports("pkg", tmp_path) == {"pkg/sub/m.py": {"typing", "release", "training", "mlflow"}}
