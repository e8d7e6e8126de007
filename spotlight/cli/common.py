"""What every command shares: how long OpenMP threads spin, the error exit, the progress bar, and
loading the config or the market (exiting with the right :class:`~spotlight.exit_code.ExitCode`
when they are bad)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotlight.exit_code import CommandError, ExitCode

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn

    from market.load import Market
    from market.partitioned import PartitionedMarket
    from spotlight.config import AppConfig

CONFIG_HELP = "TOML file overriding the defaults (spotlight config prints them)."
ClusterOption = Annotated[str | None, typer.Option(
    "--cluster", help="Run on Dask: local, local:N (N worker processes here) or a scheduler address "
                      "(tcp://scheduler:8786). Default: SPOTLIGHT_DASK_SCHEDULER, else one process. "
                      "A market partitioned by symbol (spotlight partition) is read part by part.")]


def short_openmp_waits() -> None:
    """Before every command: an idle OpenMP thread spins 1,000 times, then sleeps
    (``GOMP_SPINCOUNT=1000``; libgomp's default is 300,000), unless the environment sets
    ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``. libgomp reads it once, when LightGBM first loads.
    With two LightGBM threads and two other processes burning the 2 CPUs, walk-forward fits ran
    4x faster than with the default spin and as fast as one thread, and quiet within 15% of
    the fastest; sleeping at once (``PASSIVE``) was 2x slower quiet (``benchmarks/threads.py``)."""
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "1000")


def fail(message: str, code: ExitCode = ExitCode.FAILED) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the returned exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(int(code))


def fail_with(exc: CommandError) -> typer.Exit:
    """The exit for a job's error: its message, its code."""
    return fail(str(exc), exc.code)


def progress(label: ProgressColumn, count: ProgressColumn) -> Progress:
    """A progress bar on stderr: LABEL, bar, COUNT, elapsed time; shown only on a terminal and
    removed when done."""
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    return Progress(label, BarColumn(), count, TimeElapsedColumn(), transient=True,
                    disable=not sys.stderr.isatty())


def load_config(path: Path | None, **overrides: Any) -> AppConfig:
    """The configuration, or exit 2 naming the key at fault."""
    from spotlight.config import ConfigError
    from spotlight.config import load_config as load

    try:
        return load(path, **overrides)
    except ConfigError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None


def load_market(path: Path) -> Market:
    """The validated market at ``path``, or exit 1 naming what breaks the contract."""
    from market import InvalidMarketError, MarketDataError
    from market import load_market as load

    try:
        return load(path)
    except (InvalidMarketError, MarketDataError) as exc:
        raise fail(str(exc)) from None


def is_partitioned(path: Path) -> bool:
    """True when ``path`` holds a market partitioned by symbol (``daily_bars/part-*.parquet``)."""
    return (path / "daily_bars").is_dir() and any((path / "daily_bars").glob("part-*.parquet"))


def open_market(path: Path, client: Any, say: Callable[[str], None]) -> Market | PartitionedMarket:
    """With a Dask client and a partitioned market: the market scanned on the cluster (never
    loaded here); otherwise the market loaded whole (with a client, ``say`` tells that only the
    work after the panel runs on the cluster). Exit 1 naming what breaks the contract."""
    from market import InvalidMarketError, MarketDataError
    from market.partitioned import open_partitioned

    if client is None or not is_partitioned(path):
        if client is not None:
            say(f"dask: {path} is not partitioned by symbol (spotlight partition writes one), so the panel is "
                "built in this process")
        return load_market(path)
    try:
        return open_partitioned(path)
    except (InvalidMarketError, MarketDataError) as exc:
        raise fail(str(exc)) from None


def parse_date(value: str | None, option: str) -> str | None:
    """``value`` if it reads as a date (None passes), else exit 2 naming the option."""
    import pandas as pd

    if value is None:
        return None
    try:
        pd.Timestamp(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date (YYYY-MM-DD)", ExitCode.USAGE) from None
    return value
