"""Figures as artifacts: ``matplotlib.figure.Figure`` objects without pyplot, and PNG files.

No pyplot: nothing global is created or selected, no display is needed, and a figure is
garbage once dropped. :func:`figure` makes one axes, :func:`no_data` turns a figure into the
readable "no data" figure that plots draw for empty input, :func:`save_png` writes a figure at
:data:`DPI` (the resolution of every logged plot and every inline report image).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

DPI = 110


def figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A constrained-layout figure of ``width`` x ``height`` inches with one axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def no_data(fig: Figure, ax: Axes, title: str) -> Figure:
    """Turn ``fig`` into the 'no data' figure titled ``title``."""
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, fontsize=14)
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (dpi 110), creating parent folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path
