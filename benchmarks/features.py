"""Benchmark: build the monthly feature panel (universe, every feature, labels).

Markets: the real dev market (../shared/markets/cn-dev-2010-2015, 2,833 stocks, 3.2M
stock-days; skipped if absent) and a simulated 5,000-stock 10-year market (simulated once
into bench-out/, then reused). Targets on a 2-core machine: <= 30 s (real) and <= 60 s
(simulated) to build, peak memory <= 6 GB. Each repeat runs in a fresh process, so its peak
resident memory is its own; loading the market is timed apart from the build.

    .venv/bin/python benchmarks/features.py [--repeats 3] [--stocks 5000] [--years 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This script shares its name with the ``features`` package: import the package, not itself.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
REAL = ROOT.parent / "shared" / "markets" / "cn-dev-2010-2015"
OUT = ROOT / "bench-out"
TARGET_S = {"real": 30.0, "simulated": 60.0}
TARGET_PEAK_MB = 6 * 1024


def once(market_dir: str) -> dict[str, float]:
    from features import build_panel
    from market.load import load_market
    from training.labels import LABELS

    t0 = time.perf_counter()
    market = load_market(market_dir)
    t1 = time.perf_counter()
    panel = build_panel(market, extra=LABELS)
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "build_s": t2 - t1, "stock_days": len(market.bars), "rows": len(panel),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def simulated_market(stocks: int, years: int) -> Path:
    path = OUT / f"sim-{stocks}x{years}"
    if not (path / "daily_bars.parquet").exists():
        from market.simulate import SimulationConfig, simulate_market, write_market

        print(f"simulating {stocks} stocks x {years} years into {path} (once) ...", flush=True)
        write_market(simulate_market(SimulationConfig(n_stocks=stocks, years=years, seed=0)), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--once", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(once(args.once)))
        return
    markets = {"real": REAL} if REAL.exists() else {}
    if not markets:
        print(f"real dev market absent ({REAL}): skipped")
    markets["simulated"] = simulated_market(args.stocks, args.years)
    for name, path in markets.items():
        runs = []
        for i in range(args.repeats):
            out = subprocess.run([sys.executable, __file__, f"--once={path}"], check=True, capture_output=True,
                                 text=True, cwd=ROOT).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            r = runs[-1]
            print(f"{name} run {i + 1}: load {r['load_s']:.1f} s, build {r['build_s']:.1f} s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        met = med["build_s"] <= TARGET_S[name] and med["peak_rss_mb"] <= TARGET_PEAK_MB
        print(f"{name}: {med['stock_days']:,.0f} stock-days -> {med['rows']:,.0f} panel rows; median build "
              f"{med['build_s']:.1f} s (target <= {TARGET_S[name]:.0f} s), load {med['load_s']:.1f} s, "
              f"{med['stock_days'] / med['build_s']:,.0f} stock-days/s, peak RSS {med['peak_rss_mb']:.0f} MB "
              f"(target <= {TARGET_PEAK_MB} MB): {'met' if met else 'MISSED'}", flush=True)


if __name__ == "__main__":
    main()
