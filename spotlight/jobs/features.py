"""The feature job behind ``spotlight features``: the point-in-time panel of a market, with
optional cross-sectional transforms and labels, written atomically as Parquet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from spotlight.exit_code import CommandError, ExitCode

if TYPE_CHECKING:
    import pandas as pd

    from features.universe import UniverseConfig
    from market.load import Market
    from market.partitioned import PartitionedMarket


class FeatureJobError(CommandError):
    """A panel request that cannot be met (``code`` USAGE)."""


def check_transforms(steps: Sequence[str]) -> None:
    """Every step a known transform, else :class:`FeatureJobError` listing them."""
    from features.transforms import TRANSFORMS

    unknown = [t for t in steps if t not in TRANSFORMS]
    if unknown:
        raise FeatureJobError(f"unknown --transform {unknown}; choose from {sorted(TRANSFORMS)}", ExitCode.USAGE)


def run_job(market: Market | PartitionedMarket, out: Path, universe: UniverseConfig, *,
            freq: Literal["monthly", "daily"] = "monthly", start: str | None = None, end: str | None = None,
            as_of: str | None = None, transforms: Sequence[str] = (), labels: bool = True,
            progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Build every registered feature (and the labels) on the requested dates, apply
    ``transforms`` per date over universe members (segment gauges stay raw) and write ``out``.
    A partitioned market's panel is built on the active Dask scheduler (the same panel)."""
    from features import PanelError, apply_transforms, build_panel, registered, write_panel
    from features.dask_panel import build_panel_dask
    from market.partitioned import PartitionedMarket
    from training.labels import CROSS_SECTIONS, LABELS

    check_transforms(transforms)
    chosen = registered()
    try:
        args = dict(universe=universe, freq=freq, start=start, end=end, as_of=as_of, features=chosen,
                    extra=LABELS if labels else {}, progress=progress)
        if isinstance(market, PartitionedMarket):
            panel = build_panel_dask(market, cross_sections=CROSS_SECTIONS, **args)  # type: ignore[arg-type]
        else:
            panel = build_panel(market, **args)  # type: ignore[arg-type]
        if transforms:
            columns = [f.name for f in chosen if f.family != "segment"]
            industry = panel["symbol"].map(market.securities.set_index("symbol")["industry"])
            panel = apply_transforms(panel, transforms, columns, industry=industry)
    except (PanelError, ValueError) as exc:
        raise FeatureJobError(str(exc), ExitCode.USAGE) from None
    write_panel(panel, out)
    return panel
