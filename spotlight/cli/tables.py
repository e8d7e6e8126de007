"""Rich tables the CLI prints (presentation only; the figures come from the packages)."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from market.load import Market


def market_table(market: Market) -> Table:
    """One row per figure of :func:`market.summary.describe`."""
    from market.summary import describe

    table = Table(title=f"market {market.source}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    for key, value in describe(market).items():
        table.add_row(key, value)
    return table


def calibration_table(frame: pd.DataFrame, tolerance: float) -> Table:
    """Each stylised fact of both markets, their ratio and whether it is within ``tolerance``."""
    table = Table(title=f"simulated vs real (within {tolerance:g}x marked ok)")
    for col in ("figure", "simulated", "real", "ratio", "ok"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for row in frame.itertuples():
        fmt = (lambda v: f"{v:.4f}") if abs(row.real) < 1 else (lambda v: f"{v:.3g}")
        table.add_row(row.figure, fmt(row.simulated), fmt(row.real), f"{row.ratio:.2f}",
                      "ok" if row.within else "[red]NO[/red]")
    return table


IC_COLUMNS = ("mean_ic", "icir", "t_stat", "positive", "dates")


def _cell(value: float, fmt: str) -> str:
    return "n/a" if pd.isna(value) else format(value, fmt)


def ic_table(summary: pd.DataFrame, label: str) -> Table:
    """One row per feature, grouped by the ``family`` column, figures from training.ic."""
    table = Table(title=f"monthly RankIC against {label} (universe members)")
    for col in ("family", "feature", *IC_COLUMNS):
        table.add_column(col, justify="left" if col in ("family", "feature") else "right")
    for name, row in summary.iterrows():
        table.add_row(row["family"], str(name), *_ic_cells(row))
    return table


def ic_markdown(summary: pd.DataFrame) -> str:
    """:func:`ic_table` as Markdown."""
    lines = ["| family | feature | " + " | ".join(IC_COLUMNS) + " |", "|---|---|" + "---|" * len(IC_COLUMNS)]
    for name, row in summary.iterrows():
        lines.append(f"| {row['family']} | {name} | " + " | ".join(_ic_cells(row)) + " |")
    return "\n".join(lines)


def _ic_cells(row: pd.Series) -> list[str]:
    return [_cell(row["mean_ic"], "+.4f"), _cell(row["icir"], "+.2f"), _cell(row["t_stat"], "+.1f"),
            _cell(row["positive"], ".0%"), str(int(row["dates"]))]


HEADLINE = (("rank_ic", "+.4f"), ("icir", "+.2f"), ("t_stat", "+.1f"), ("rank_ic_positive", ".0%"),
            ("top_decile_excess", "+.2%"), ("top50_excess", "+.2%"), ("long_short", "+.2%"),
            ("top50_turnover", ".0%"), ("months", ".0f"))


def models_table(summaries: dict[str, dict[str, float]], title: str) -> Table:
    """One row per model (the LightGBM model first, then each baseline); monthly figures."""
    table = Table(title=title)
    table.add_column("model", justify="left")
    for key, _ in HEADLINE:
        table.add_column(key, justify="right")
    for name, summary in summaries.items():
        table.add_row(name, *[_cell(summary.get(k, float("nan")), f) for k, f in HEADLINE])
    return table


def models_markdown(summaries: dict[str, dict[str, float]]) -> str:
    """:func:`models_table` as Markdown."""
    lines = ["| model | " + " | ".join(k for k, _ in HEADLINE) + " |", "|---|" + "---|" * len(HEADLINE)]
    for name, summary in summaries.items():
        lines.append(f"| {name} | " + " | ".join(_cell(summary.get(k, float("nan")), f) for k, f in HEADLINE) + " |")
    return "\n".join(lines)


def years_markdown(by_year: pd.DataFrame) -> str:
    """Rows (model, year) of ``TrainResult.by_year`` as one Markdown table, model by model."""
    cols = ("rank_ic", "icir", "top_decile_excess", "top50_excess", "months")
    fmt = dict(HEADLINE)
    lines = ["| model | year | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for (model, year), row in by_year.iterrows():
        lines.append(f"| {model} | {year} | " + " | ".join(_cell(row[c], fmt[c]) for c in cols) + " |")
    return "\n".join(lines)
