"""Calibration: stylised facts of the simulated market beside the real dev market.

Simulates the default market (3,000 stocks x 10 years, seed 0) unless --sim names a market
directory, loads the real one, and prints each figure side by side with the ratio; a figure
is 'ok' within 1.5x. Exits 0 either way: it reports, it does not gate.

    .venv/bin/python benchmarks/calibration.py [--real ../shared/markets/cn-dev-2010-2015] [--sim DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

DEFAULT_REAL = Path(__file__).resolve().parents[1].parent / "shared" / "markets" / "cn-dev-2010-2015"


def main() -> None:
    import pandas as pd
    from rich.console import Console

    from market import load_market
    from market.calibration import compare, ground_truth_rankic, stylised_facts
    from market.simulate import SimulationConfig, simulate_market, write_market
    from spotlight.cli.tables import calibration_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--sim", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.real.exists():
        sys.exit(f"real market not found at {args.real}: pass --real DIR")
    with tempfile.TemporaryDirectory() as tmp:
        sim_dir = args.sim
        if sim_dir is None:
            sim_dir = write_market(simulate_market(SimulationConfig(seed=args.seed)), Path(tmp) / "market")
        sim_market = load_market(sim_dir)
        table = compare(stylised_facts(sim_market), stylised_facts(load_market(args.real)))
        truth_file = Path(sim_dir) / "ground_truth.parquet"
        ic = ground_truth_rankic(sim_market, pd.read_parquet(truth_file)) if truth_file.exists() else None
    Console(width=120).print(calibration_table(table, 1.5))
    if ic is not None:
        print(f"ground truth vs realised next-21-day returns: RankIC mean {ic.mean():.3f}, "
              f"ICIR {ic.mean() / ic.std():.2f} over {len(ic)} month-ends (the best achievable ranking)")
    missed = table.loc[~table["within"], "figure"].tolist()
    print(f"{len(table) - len(missed)}/{len(table)} figures within 1.5x" + (f"; not: {'; '.join(missed)}" if missed else ""))


if __name__ == "__main__":
    main()
