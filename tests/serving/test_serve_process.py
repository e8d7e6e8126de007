"""A real ``spotlight serve`` (``bentoml serve`` underneath) on a free localhost port, over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.helpers import free_port, stop, wait_ready

TOKEN = "test-token-123"


def call(url: str, body: dict | None = None, token: str | None = TOKEN, method: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("POST" if body is not None else "GET"))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="module")
def server(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = os.environ | {"SPOTLIGHT_API_TOKEN": TOKEN, "BENTOML_HOME": str(log.parent / "bentoml"),
                        "SPOTLIGHT_MAX_ROWS": "100", "SPOTLIGHT_MAX_HEADER_BYTES": "8192",
                        "SPOTLIGHT_HEADER_TIMEOUT_SECONDS": "1.5"}
    spotlight = Path(sys.executable).with_name("spotlight")
    with open(log, "wb") as out:
        process = subprocess.Popen([str(spotlight), "serve", "--bundle", str(bundle_dir), "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        yield url, port, process, log
    finally:
        stop(process)


def test_rank_score_and_model_over_http(server, bundle) -> None:
    url, *_ = server
    status, body = call(f"{url}/rank", {"top_n": 20})
    assert status == 200 and len(body["stocks"]) == 20 and body["model_version"] == bundle.manifest.model.version
    assert body["stocks"][0]["drivers"] and body["stocks"][0]["liquidity"]["max_position"] > 0
    row = {"symbol": "X", **{f: 0.25 for f in bundle.manifest.features}}
    status, scored = call(f"{url}/score", {"rows": [row] * 100})
    assert status == 200 and len(scored["scores"]) == 100
    status, error = call(f"{url}/score", {"rows": [row] * 101})
    assert status == 413
    status, model = call(f"{url}/model")
    assert status == 200 and model["bundle_id"] == bundle.manifest.bundle_id
    status, error = call(f"{url}/rank", {"as_of": "1990-01-31"})
    assert status == 404 and "serves 12 dates" in error["error"]


def test_the_token_is_required_everywhere_but_health(server) -> None:
    url, *_ = server
    assert call(f"{url}/rank", {}, token=None)[0] == 401
    assert call(f"{url}/model", token="wrong")[0] == 401
    assert call(f"{url}/docs.json", token=None)[0] == 401
    form = urllib.request.Request(f"{url}/rank", data=b"top_n=5", method="POST")  # not JSON and no token
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(form, timeout=10)
    assert refused.value.code == 401  # the token is checked before anything else
    for path in ("/livez", "/readyz"):
        with urllib.request.urlopen(f"{url}{path}", timeout=5) as r:
            assert r.status == 200


def test_it_listens_on_loopback_only(server) -> None:
    _, port, process, _ = server
    family = {p.pid for p in [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]}
    listening = [c.laddr.ip for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port and (c.pid is None or c.pid in family)]
    assert listening and set(listening) == {"127.0.0.1"}


def test_a_bad_bundle_exits_1_naming_the_file(tmp_path: Path) -> None:
    spotlight = Path(sys.executable).with_name("spotlight")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text("{}")
    r = subprocess.run([str(spotlight), "serve", "--bundle", str(tmp_path / "b")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "model.onnx is missing" in r.stderr


def _raw(port: int, *parts: bytes, pause: float = 0.0, wait: float = 10) -> tuple[bytes, float]:
    """Send ``parts`` over one connection (``pause`` s apart); what came back before the server
    closed it, and the seconds that took."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as conn:
        started = time.monotonic()
        try:
            for part in parts:
                conn.sendall(part)
                time.sleep(pause)
        except OSError:  # the server closed the connection mid-send
            pass
        got = b""
        while chunk := conn.recv(65536):
            got += chunk
        return got, time.monotonic() - started


def test_an_oversized_request_head_is_431_and_the_connection_closed(server) -> None:
    _, port, *_ = server
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
    head = b"GET /model HTTP/1.1\r\nHost: x\r\n" + auth + b"X-Pad: " + b"a" * 50_000 + b"\r\n\r\n"
    got, _ = _raw(port, head)
    status, _, body = got.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 431") and b"connection: close" in status
    assert "SPOTLIGHT_MAX_HEADER_BYTES" in json.loads(body)["error"]
    streamed, _ = _raw(port, b"GET /model HTTP/1.1\r\nX-Pad: ", *[b"a" * 4096] * 100)  # 400 KB, never ended
    assert streamed.startswith(b"HTTP/1.1 431")
    fits = b"GET /model HTTP/1.1\r\nHost: x\r\n" + auth + b"X-Pad: " + b"a" * 4000 + b"\r\nConnection: close\r\n\r\n"
    assert _raw(port, fits)[0].startswith(b"HTTP/1.1 200")


def test_a_slow_or_silent_request_head_is_408_and_closed(server) -> None:
    _, port, *_ = server
    got, seconds = _raw(port, b"GET /model HTTP/1.1\r\n", b"Host: x\r\n", b"X-Slow: 1\r\n", pause=0.8)
    assert got.startswith(b"HTTP/1.1 408") and seconds < 5
    assert "SPOTLIGHT_HEADER_TIMEOUT_SECONDS" in json.loads(got.partition(b"\r\n\r\n")[2])["error"]
    silent, seconds = _raw(port)  # connects and sends nothing
    assert silent.startswith(b"HTTP/1.1 408") and 1.4 < seconds < 5


def test_a_client_error_is_one_info_line_in_the_server_log(server) -> None:
    url, *_, log = server
    assert call(f"{url}/rank", {"top_n": "private-input"})[0] == 400
    deadline = time.monotonic() + 10
    while "answered 400" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = [line for line in log.read_text().splitlines() if "answered 400" in line]
    assert len(lines) == 1 and "[INFO]" in lines[0] and "POST /rank answered 400: top_n:" in lines[0]
    assert "Traceback" not in log.read_text() and "private-input" not in log.read_text()
