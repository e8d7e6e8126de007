"""Rich tables the CLI prints (presentation only; the figures come from the packages)."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from market.load import Market


def market_table(market: Market) -> Table:
    from market.summary import describe

    table = Table(title=f"market {market.source}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    for key, value in describe(market).items():
        table.add_row(key, value)
    return table


def calibration_table(frame: pd.DataFrame, tolerance: float) -> Table:
    table = Table(title=f"simulated vs real (within {tolerance:g}x marked ok)")
    for col in ("figure", "simulated", "real", "ratio", "ok"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for row in frame.itertuples():
        fmt = (lambda v: f"{v:.4f}") if abs(row.real) < 1 else (lambda v: f"{v:.3g}")
        table.add_row(row.figure, fmt(row.simulated), fmt(row.real), f"{row.ratio:.2f}",
                      "ok" if row.within else "[red]NO[/red]")
    return table
