"""The serving image: lint clean, non-root, only pinned serving dependencies, and its start command
and health check work outside Docker with the image's environment and only those dependencies."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port, stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
REQUIREMENTS = ROOT / "serving" / "requirements.txt"
TRAINING_SIDE = {"mlflow", "mlflow-skinny", "lightgbm", "scikit-learn", "onnxmltools", "skl2onnx", "matplotlib",
                 "pandera", "scipy"}


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for op, arg in instructions():
        if op == "ENV":
            env |= dict(pair.split("=", 1) for pair in arg.split())
    return env


def exec_form(op: str) -> list[str]:
    """The JSON (exec) form of CMD, or of HEALTHCHECK's CMD."""
    arg = next(a for o, a in instructions() if o == op)
    return json.loads(arg[arg.index("CMD") + 3:] if op == "HEALTHCHECK" else arg)


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            out[name.lower().replace("_", "-")] = version
    return out


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_slim_base_non_root_pinned_serving_dependencies_only() -> None:
    ops = instructions()
    assert ops[0][0] == "FROM" and ops[0][1].endswith("-slim")
    user = [a for o, a in ops if o == "USER"]
    assert user and user[-1] not in ("0", "root")
    assert [a for o, a in ops if o == "EXPOSE"] == ["3000"]
    assert any(o == "HEALTHCHECK" for o, _ in ops) and any(o == "CMD" for o, _ in ops)
    copied = [a.split()[0] for o, a in ops if o == "COPY"]
    assert copied == ["serving/requirements.txt", "orders", "serving", "bundle"]  # no training code or market data
    assert any(o == "RUN" and "--requirement /app/requirements.txt" in a for o, a in ops)
    serving, everything = pins(REQUIREMENTS), pins(ROOT / "constraints.txt")
    assert {"bentoml", "onnxruntime", "pandas", "pyarrow", "pydantic", "fastapi", "uvloop", "httptools"} <= set(serving)
    assert not set(serving) & TRAINING_SIDE
    assert {k: everything.get(k) for k in serving} == serving  # the same pins as the project lock


@pytest.mark.slow
def test_the_image_start_command_serves_outside_docker(bundle_dir: Path, tmp_path: Path) -> None:
    """A fresh venv with only serving/requirements.txt, /app laid out as the image lays it out,
    the image's ENV (paths moved under tmp, a free port), then its CMD and HEALTHCHECK."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "--requirement", str(REQUIREMENTS)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    frozen = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    assert pins_from_text(frozen) == pins(REQUIREMENTS)  # nothing more, nothing less

    app = tmp_path / "app"
    for package in ("orders", "serving"):
        shutil.copytree(ROOT / package, app / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(bundle_dir, app / "bundle")
    port = free_port()
    env = {k: v.replace("/app", str(app)).replace("/tmp/bentoml", str(tmp_path / "bentoml"))
           for k, v in image_env().items()}
    env |= {"BENTOML_PORT": str(port), "BENTOML_HOST": "127.0.0.1",  # the test binds loopback
            "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(exec_form("CMD"), cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process, log)
        health = subprocess.run(exec_form("HEALTHCHECK"), cwd=app, env=env, timeout=10)
        assert health.returncode == 0
        request = urllib.request.Request(f"http://127.0.0.1:{port}/rank", data=b'{"top_n": 5}',
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            body = json.loads(r.read())
        assert r.status == 200 and len(body["stocks"]) == 5
        request = urllib.request.Request(f"http://127.0.0.1:{port}/rebalance", data=b'{"capital": 1e7}',
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200 and json.loads(r.read())["orders"]
    finally:
        stop(process)


def pins_from_text(text: str) -> dict[str, str]:
    return {line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
            for line in text.splitlines() if "==" in line}
