"""The ``spotlight`` command line: a thin typer layer over plain, testable jobs.

Commands are grouped by what they work on (:mod:`~spotlight.cli.market`,
:mod:`~spotlight.cli.research`, :mod:`~spotlight.cli.ops`) and gathered into one flat
``spotlight`` command. Heavy libraries are imported inside each command, so ``spotlight
--help`` stays fast and importing this package does nothing but define the commands; before
any command runs, :func:`~spotlight.cli.common.short_openmp_waits` bounds OpenMP's spin-waiting.
"""

from __future__ import annotations

import typer

from spotlight.cli import market, ops, research
from spotlight.cli.common import short_openmp_waits

app = typer.Typer(
    name="spotlight",
    help="Spotlight: rank micro-cap stocks that are about to be noticed.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
for group in (market, research, ops):
    app.registered_commands.extend(group.commands.registered_commands)
app.callback()(short_openmp_waits)

__all__ = ["app"]
