"""The feature registry: one small function per feature plus a ``@feature`` registration.

The function name is the feature name; its docstring's first paragraph is the intuition
(formula and look-ahead rule). A feature takes a :class:`features.history.History` and
returns a float Series aligned to its bars rows.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.history import History

FAMILIES = ("turnover", "price_volume", "valuation", "ownership", "segment")
NEEDS = ("fundamentals", "holders", "limits", "universe")

FeatureFn = Callable[[History], pd.Series]


@dataclass(frozen=True)
class Feature:
    """A registered feature.

    ``label``: a few words a portfolio manager reads in a ranking's drivers ("Return, last
    month"); ``lookback``: sessions of the stock's own bars the value needs (market days for segment
    features); ``scale_free``: unchanged when prices and currency amounts are all scaled by
    the same factor; ``needs``: optional inputs without which the value is NaN
    (``universe`` marks features that read other stocks of the same day). A value of
    +-inf (a ratio over a zero denominator, e.g. a stock without trading for a whole window)
    is undefined and becomes NaN.
    """

    name: str
    family: str
    lookback: int
    intuition: str
    func: FeatureFn
    scale_free: bool = True
    needs: frozenset[str] = frozenset()
    label: str = ""

    @property
    def cross_sectional(self) -> bool:
        """True when the feature needs the day's universe (computed across stocks on a date)."""
        return "universe" in self.needs

    def __call__(self, history: History) -> pd.Series:
        """The feature's values, one per row of ``history``."""
        out = self.func(history)
        if not isinstance(out, pd.Series) or len(out) != history.n:
            raise TypeError(f"feature {self.name} must return a Series aligned to the bars rows")
        out = out.astype("float64")
        return out.where(~np.isinf(out.to_numpy()))


REGISTRY: dict[str, Feature] = {}


def feature(*, lookback: int, family: str, label: str, scale_free: bool = True,
            needs: tuple[str, ...] = ()) -> Callable[[FeatureFn], FeatureFn]:
    """Register the decorated function as a feature (see :class:`Feature`)."""
    if not 0 < len(label) <= 40:
        raise ValueError(f"a feature's label has 1 to 40 characters, got {label!r}")
    if family not in FAMILIES:
        raise ValueError(f"unknown feature family {family!r}; expected one of {FAMILIES}")
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"unknown needs {sorted(unknown)}; expected among {NEEDS}")
    if lookback < 1:
        raise ValueError("lookback must be >= 1")

    def register(func: FeatureFn) -> FeatureFn:
        name = func.__name__
        if name in REGISTRY and REGISTRY[name].func is not func:
            raise ValueError(f"feature {name!r} is registered twice")
        summary = inspect.cleandoc(func.__doc__ or "").split("\n\n")[0]
        if not summary:
            raise ValueError(f"feature {name!r} needs a docstring whose first paragraph is its intuition")
        intuition = " ".join(summary.split())
        REGISTRY[name] = Feature(name, family, lookback, intuition, func, scale_free, frozenset(needs), label)
        return func

    return register


def registered(families: tuple[str, ...] | None = None) -> list[Feature]:
    """Registered features (every family module imported), in family then definition order."""
    import features.ownership  # noqa: F401 - registers the family
    import features.price_volume  # noqa: F401 - registers the family
    import features.segment  # noqa: F401 - registers the family
    import features.turnover  # noqa: F401 - registers the family
    import features.valuation  # noqa: F401 - registers the family

    chosen = [f for f in REGISTRY.values() if families is None or f.family in families]
    return sorted(chosen, key=lambda f: FAMILIES.index(f.family))


def catalogue() -> str:
    """docs/features.md: every registered feature by family (regenerate with ``make docs``)."""
    lines = ["# Feature catalogue", "",
             "Generated from the registry (`make docs`); a test keeps it in sync. `lookback` counts",
             "the stock's own sessions (market days for segment features); `needs` lists optional",
             "inputs without which the value is NaN; scale-free features ignore the currency unit.", ""]
    for family in FAMILIES:
        lines += [f"## {family}", "", "| feature | label | lookback | needs | scale-free | intuition |",
                  "|---|---|---|---|---|---|"]
        for f in registered((family,)):
            needs = ", ".join(sorted(f.needs)) or "-"
            lines.append(f"| `{f.name}` | {f.label} | {f.lookback} | {needs} | {'yes' if f.scale_free else 'no'} | "
                         f"{f.intuition.replace('|', chr(92) + '|')} |")
        lines.append("")
    return "\n".join(lines)
