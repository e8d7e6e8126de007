"""A running service swaps in a newly published bundle without a restart, a failed request or
a mixed answer; /model then reports the new version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from release.publish import publish
from serving.bundle import Bundle
from tests.helpers import free_port, stop, wait_ready


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {}
    except OSError as e:
        return -1, {"error": str(e)}


@pytest.mark.slow
def test_a_published_bundle_is_swapped_in_under_load(bundle_dir: Path, second_bundle_dir: Path,
                                                     tmp_path: Path) -> None:
    old, new = Bundle.load(bundle_dir), Bundle.load(second_bundle_dir)
    expected = {b.manifest.bundle_id: list(b.books[b.dates[-1]].m_symbol[:20]) for b in (old, new)}
    assert expected[old.manifest.bundle_id] != expected[new.manifest.bundle_id]  # the swap is visible
    root = tmp_path / "bundles"
    publish(shutil.copytree(bundle_dir, tmp_path / "staging-old"), root)

    port, log = free_port(), tmp_path / "serve.log"
    env = os.environ | {"BENTOML_HOME": str(tmp_path / "bentoml"), "SPOTLIGHT_RELOAD_SECONDS": "0.2"}
    env.pop("SPOTLIGHT_API_TOKEN", None)
    with open(log, "wb") as out:
        process = subprocess.Popen([str(Path(sys.executable).with_name("spotlight")), "serve", "--bundle", str(root),
                                    "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    answers: list[tuple[int, str | None, list[str]]] = []
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            status, body = _post(f"{url}/rank", {"top_n": 20})
            answers.append((status, body.get("bundle_id"), [s["symbol"] for s in body.get("stocks", [])]))

    try:
        wait_ready(url, process, log)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        swap_at = len(answers)
        published = time.monotonic()
        publish(shutil.copytree(second_bundle_dir, tmp_path / "staging-new"), root)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(a[1] == new.manifest.bundle_id for a in answers[swap_at:]):
            time.sleep(0.05)
        swapped_after = time.monotonic() - published
        time.sleep(1.0)
        done.set()
        for t in threads:
            t.join()
        with urllib.request.urlopen(f"{url}/model", timeout=10) as r:
            model = json.loads(r.read())
    finally:
        done.set()
        stop(process)

    assert len(answers) > 100 and all(status == 200 for status, _, _ in answers), \
        {s for s, _, _ in answers} | {"log": log.read_text()[-2000:]}
    assert all(symbols == expected[bundle_id] for _, bundle_id, symbols in answers)  # never a mixed answer
    ids = [bundle_id for _, bundle_id, _ in answers]
    first_new = ids.index(new.manifest.bundle_id)
    assert set(ids[:swap_at]) == {old.manifest.bundle_id}
    assert set(ids[first_new + 8:]) == {new.manifest.bundle_id}  # after the swap (4 clients in flight), only new
    assert model["bundle_id"] == new.manifest.bundle_id and model["model"]["version"] == "2"
    print(f"hot reload: {len(answers)} /rank answers from 4 clients, 0 errors, new bundle served "
          f"{swapped_after:.2f}s after publishing (poll every 0.2 s)")
