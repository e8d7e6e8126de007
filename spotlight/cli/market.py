"""Commands on market data: validate, simulate, partition, summary, calibrate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spotlight.cli.common import fail, load_market, progress
from spotlight.exit_code import ExitCode

commands = typer.Typer()


@commands.command(epilog="Example: spotlight validate ../shared/markets/cn-dev-2010-2015")
def validate(
    market_dir: Annotated[Path, typer.Argument(help="Market directory following docs/data-contract.md.")],
) -> None:
    """Check a market directory against every contract rule.

    Exit 0 with a one-line summary, or 1 with each violation: table, column, rule and up to
    5 offending (symbol, date) rows.
    """
    market = load_market(market_dir)  # exits 1 naming the directory or file at fault
    typer.echo(f"OK {market_dir}: {market.summary()}")


@commands.command(epilog="Example: spotlight simulate --out demo/market --stocks 3000 --years 10 --seed 0")
def simulate(
    out: Annotated[Path, typer.Option(help="Directory to write the market into (replaced if present).")],
    stocks: Annotated[int, typer.Option(min=50, help="Number of securities.")] = 3000,
    years: Annotated[int, typer.Option(min=1, max=40, help="Calendar years of trading days.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, identical files.")] = 0,
    signal: Annotated[float, typer.Option(min=0.0, help="Scale of every predictable effect; 0 = none.")] = 1.0,
    start: Annotated[str, typer.Option(help="First calendar day (YYYY-MM-DD).")] = "2015-01-01",
) -> None:
    """Write the built-in simulated A-share market (contract tables + ground truth).

    Besides the contract tables, OUT gets ground_truth.parquet (each month-end's expected
    next-21-day return per stock given the latent state) and simulation.json (parameters).
    """
    from rich.progress import TextColumn

    from market.simulate import SimulationConfig, simulate_market, write_market

    try:
        config = SimulationConfig(n_stocks=stocks, years=years, seed=seed, signal=signal, start=start)
    except ValueError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    with progress(TextColumn("simulating"), TextColumn("{task.completed}/{task.total} days")) as bar:
        task = bar.add_task("days", total=None)
        sim = simulate_market(config, progress=lambda done, total: bar.update(task, completed=done, total=total))
    write_market(sim, out)
    bars = sim.tables["daily_bars"]
    typer.echo(f"wrote {out}: {len(sim.tables['securities'])} symbols, {len(bars)} stock-days, "
               f"{bars['date'].min():%Y-%m-%d}..{bars['date'].max():%Y-%m-%d}, "
               f"{len(sim.crises)} liquidity crisis(es), signal {signal:g}, seed {seed}")


@commands.command(epilog="Example: spotlight partition --data demo/market --out demo/market-parts --parts 16")
def partition(
    data: Annotated[Path, typer.Option(help="Market directory following docs/data-contract.md.")],
    out: Annotated[Path, typer.Option(help="Directory to write the partitioned market into (replaced if present).")],
    parts: Annotated[int, typer.Option(min=1, help="Parts of contiguous symbols with about equal bar counts; "
                                                   "a few per worker keeps a cluster busy.")] = 16,
) -> None:
    """Write a market partitioned by symbol, the layout --cluster reads part by part
    (docs/data-contract.md, "Partitioned by symbol"). Contract tables only, plus a simulated
    market's ground truth; written atomically. This loads DATA whole: a market too large for one
    machine is written in this layout by its own pipeline.
    """
    from market.partitioned import write_partitioned

    market = load_market(data)  # exits 1 naming what breaks the contract
    write_partitioned(market, out, parts)
    written = len(list((out / "daily_bars").glob("part-*.parquet")))
    typer.echo(f"wrote {out}: {market.summary()}, in {written} parts by symbol")


@commands.command(epilog="Example: spotlight summary demo/market")
def summary(
    market_dir: Annotated[Path, typer.Argument(help="Market directory following docs/data-contract.md.")],
) -> None:
    """Print a summary of a market: coverage, boards, sizes, liquidity, ST, suspensions."""
    from rich.console import Console

    from spotlight.cli.tables import market_table

    Console().print(market_table(load_market(market_dir)))


@commands.command(epilog="Example: spotlight calibrate demo/market ../shared/markets/cn-dev-2010-2015")
def calibrate(
    simulated: Annotated[Path, typer.Argument(help="A simulated (or any) market directory.")],
    real: Annotated[Path, typer.Argument(help="The reference market, e.g. the real dev market.")],
    tolerance: Annotated[float, typer.Option(help="Acceptable ratio simulated/real (and its inverse).")] = 1.5,
) -> None:
    """Print stylised facts of two markets side by side and which agree within TOLERANCE x.

    Volatility by size quintile, small-cap turnover, its autocorrelation, limit hits,
    suspensions, delistings, ST share and the size premium (definitions: market/calibration.py).
    """
    from rich.console import Console

    from market.calibration import compare, stylised_facts
    from spotlight.cli.tables import calibration_table

    sim_facts = stylised_facts(load_market(simulated))
    real_facts = stylised_facts(load_market(real))
    Console(width=120).print(calibration_table(compare(sim_facts, real_facts, tolerance), tolerance))
