"""The backtest report in a real browser (headless Chromium, driven as a subprocess): at 1400,
1000 and 600 px the page never scrolls sideways, every table fits or scrolls inside its own
box, no cell breaks a date or a number across lines, the text keeps a margin from the window's
edges and every figure loads. A full-page screenshot at 1400 px is written for a person to look at.

Needs Chromium (Debian: ``apt-get install -y chromium``; ``SPOTLIGHT_CHROMIUM`` names another
binary) and is skipped without it. ``SPOTLIGHT_REPORT=<file>`` checks that report instead of
one rendered here (``make report-check`` points it at the demo's); ``SPOTLIGHT_SCREENSHOTS=<dir>``
keeps the screenshot there as well as under pytest's ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from backtest.engine import BacktestConfig
from backtest.report import build_report, render_html
from market.load import load_market
from tests.backtest.test_report import UNIVERSE, _reversal

CHROMIUM = Path(os.environ.get("SPOTLIGHT_CHROMIUM", "/usr/bin/chromium"))
# a closed network and root: no sandbox, no GPU, nothing fetched in the background
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
MARGIN = 8  # px the text keeps from each side of the window

# Appended to a copy of the report: once the page has loaded, measure it and leave the numbers
# in a JSON script element that --dump-dom prints (an element that takes no room on the page).
PROBE = """<script>
window.addEventListener("load", () => {
  const page = document.scrollingElement;
  const lines = (node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  };
  const tables = [...document.querySelectorAll("table")].map((table) => {
    const box = table.parentElement, style = getComputedStyle(box);
    return {width: table.getBoundingClientRect().width, boxWidth: box.clientWidth,
            boxRight: box.getBoundingClientRect().right,
            scrolls: box.classList.contains("wide") && ["auto", "scroll"].includes(style.overflowX),
            broken: [...table.querySelectorAll("td")].filter((td) => lines(td) > 1).map((td) => td.textContent)};
  });
  const images = [...document.images].map((img) => ({alt: img.alt, complete: img.complete,
                                                     naturalWidth: img.naturalWidth,
                                                     right: img.getBoundingClientRect().right}));
  const blocks = [...document.body.children].filter((e) => e.tagName !== "SCRIPT")
                                            .map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0);
  const out = document.createElement("script");
  out.type = "application/json";
  out.id = "probe";
  out.textContent = JSON.stringify({
    scrollWidth: page.scrollWidth, clientWidth: page.clientWidth, scrollHeight: page.scrollHeight,
    left: Math.min(...blocks.map((r) => r.left)), right: Math.max(...blocks.map((r) => r.right)), tables, images});
  document.head.appendChild(out);
});
</script>"""


def _chromium(*args: str) -> str:
    """Run headless Chromium on a fresh, empty profile; its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _measure(page: Path, width: int) -> dict[str, Any]:
    """Open ``page`` (with :data:`PROBE` appended) in a ``width`` px wide window; what it measured."""
    probe = page.with_name(f"probe-{width}.html")
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", PROBE + "</body>") if "</body>" in text else text + PROBE,
                     encoding="utf-8")
    dom = _chromium("--virtual-time-budget=5000", f"--window-size={width},1000", "--dump-dom", probe.as_uri())
    found = re.search(r'<script type="application/json" id="probe">(.*?)</script>', dom, re.S)
    assert found, f"the probe did not run at {width} px"
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def page(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report to open: ``SPOTLIGHT_REPORT``, else one rendered like tests/backtest/test_report.py's."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (Debian) or set SPOTLIGHT_CHROMIUM")
    given = os.environ.get("SPOTLIGHT_REPORT")
    out = tmp_path_factory.mktemp("report") / "report.html"
    if given:
        shutil.copyfile(given, out)  # a missing report fails: it was asked for by name
        return out
    sim = request.getfixturevalue("small_sim_dir")  # built only when no report is given
    market = load_market(sim)
    report = build_report(market, _reversal(market), BacktestConfig(top_n=20, capital=1e7), capitals=(1e6, 1e9),
                          universe=UNIVERSE, currency="USD")
    out.write_text(render_html(report), encoding="utf-8")
    return out


@pytest.mark.parametrize("width", [1400, 1000, 600])
def test_the_report_fits_the_window_in_a_real_browser(page: Path, width: int) -> None:
    seen = _measure(page, width)
    assert seen["scrollWidth"] <= seen["clientWidth"], f"the page scrolls sideways at {width} px: {seen}"
    assert seen["left"] >= MARGIN and seen["right"] <= seen["clientWidth"] - MARGIN, \
        f"text touches the window's edge at {width} px (left {seen['left']}, right {seen['right']})"
    for i, table in enumerate(seen["tables"]):
        fits = table["width"] <= table["boxWidth"] + 1
        assert fits or table["scrolls"], f"table {i} overflows its box without scrolling at {width} px: {table}"
        assert table["boxRight"] <= seen["clientWidth"], f"table {i}'s box leaves the page at {width} px"
        assert table["broken"] == [], f"table {i} breaks cells across lines at {width} px: {table['broken'][:5]}"
    assert seen["images"], "no figure on the page"
    for img in seen["images"]:
        assert img["complete"] and img["naturalWidth"] > 0, f"figure {img['alt']!r} did not load"
        assert img["right"] <= seen["clientWidth"], f"figure {img['alt']!r} leaves the page at {width} px"


def test_a_full_page_screenshot_at_1400_px(page: Path, tmp_path: Path) -> None:
    height = min(_measure(page, 1400)["scrollHeight"], 16000)
    shot = tmp_path / "report-1400.png"
    _chromium(f"--screenshot={shot}", f"--window-size=1400,{height}", page.as_uri())
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1400, height)
    if keep := os.environ.get("SPOTLIGHT_SCREENSHOTS"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / shot.name)
