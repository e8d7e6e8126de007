"""Does the live monitor tell a working model from a dead one?

For ``--signal`` 1 and 0 (each in its own process, side by side): the built-in market at the
demo's size (3,000 stocks x 10 years, seed 0), a champion trained by ``spotlight retrain`` on
the market as of 2024-04-30, then ``spotlight refresh`` (which runs the monitor) on the market
as of 2024-08-30 and 2024-12-31. Prints each refresh's realised RankIC and top-N excess by
served date and the alert with its reasons, and writes them to ``OUT/signal-S/result.json``.
About 20 minutes on 2 cores.

    .venv/bin/python benchmarks/live_alert.py --out bench-out/live-alert
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
CUTS = ("2024-04-30", "2024-08-30", "2024-12-31")


def one(signal: float, out: Path, stocks: int, years: int) -> None:
    import pandas as pd

    from market.load import load_market
    from market.simulate import SimulationConfig, simulate_market, write_market
    from market.write import write_market_tables
    from spotlight.config import load_config
    from spotlight.jobs.refresh import refresh
    from spotlight.jobs.retrain import retrain

    out.mkdir(parents=True, exist_ok=True)
    full = out / "market-full"
    if not (full / "simulation.json").is_file():
        write_market(simulate_market(SimulationConfig(n_stocks=stocks, years=years, seed=0, signal=signal)), full)
    market = load_market(full)
    cfg, uri, root = load_config(), f"sqlite:///{out / 'mlruns.db'}", out / "bundles"
    results = []
    for k, cut in enumerate(CUTS):
        day = market.calendar[market.calendar <= pd.Timestamp(cut)][-1]
        data = out / f"data-{day:%Y-%m-%d}"
        if not data.is_dir():
            write_market_tables(market.until(day), data)
        t = time.perf_counter()
        job = retrain if k == 0 else refresh
        done = job(data, root, cfg, uri, say=lambda s: None)
        row = {"signal": signal, "job": job.__name__, "data_end": f"{day:%Y-%m-%d}", "decision": done.decision,
               "seconds": round(time.perf_counter() - t, 1), "message": done.message}
        report = root / "monitor.json"
        if k and report.is_file():
            r = json.loads(report.read_text())
            row |= {"realised": r["realised"], "alert": r["alert"]}
        results.append(row)
        print(json.dumps(row), flush=True)
    (out / "result.json").write_text(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out/live-alert"))
    parser.add_argument("--stocks", type=int, default=3000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--signal", type=float, default=None, help="run one market only (the side-by-side run "
                                                                     "starts one process per signal)")
    args = parser.parse_args()
    if args.signal is not None:
        one(args.signal, args.out / f"signal-{args.signal:g}", args.stocks, args.years)
        return
    runs = [subprocess.Popen([sys.executable, __file__, "--out", str(args.out), "--stocks", str(args.stocks),
                              "--years", str(args.years), "--signal", str(s)]) for s in (1.0, 0.0)]
    codes = [p.wait() for p in runs]
    for s in (1, 0):
        path = args.out / f"signal-{s}" / "result.json"
        if not path.is_file():
            continue
        for row in json.loads(path.read_text()):
            print(f"signal {s} {row['job']:8} data to {row['data_end']}: {row['decision']} in {row['seconds']} s")
            for r in row.get("realised", []):
                print(f"    {r['date']} v{r['model_version']}: RankIC {r['rank_ic']:+.3f}, top-N excess "
                      f"{r['top_n_excess']:+.2%}")
            if "alert" in row:
                print(f"    alert: {row['alert']['state']} {row['alert']['reasons']}")
    sys.exit(max(codes))


if __name__ == "__main__":
    main()
