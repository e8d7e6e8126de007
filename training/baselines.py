"""The baselines every walk-forward fold scores beside LightGBM, registered by name.

Each entry builds a fresh, unfitted :class:`~training.models.Model` from the config's
``[baselines]`` table and the run's features; adding a baseline is one function and one
decorator. Their out-of-sample scores become ``baseline_<name>`` columns, in registration
order.

- ``size``, ``reversal``, ``abnormal_turnover``: one feature each (:class:`SingleFactor`, its
  sign learned on the training rows);
- ``ridge``: ridge regression on the model's per-stock features (segment gauges left out: they
  are the same for every stock on a date).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from features.registry import REGISTRY
from training.config import BaselinesSection
from training.models import Model, RidgeRanks, SingleFactor

Factory = Callable[[BaselinesSection, Sequence[str]], Model]
BASELINES: dict[str, Factory] = {}


def baseline(name: str) -> Callable[[Factory], Factory]:
    """Register ``factory(settings, features) -> Model`` under ``name``."""
    def register(factory: Factory) -> Factory:
        if name in BASELINES:
            raise ValueError(f"baseline {name!r} is registered twice")
        BASELINES[name] = factory
        return factory
    return register


@baseline("size")
def size(b: BaselinesSection, features: Sequence[str]) -> Model:
    """Size alone (``baselines.size``): small caps have done better."""
    return SingleFactor(b.size)


@baseline("reversal")
def reversal(b: BaselinesSection, features: Sequence[str]) -> Model:
    """Short-term reversal alone (``baselines.reversal``)."""
    return SingleFactor(b.reversal)


@baseline("abnormal_turnover")
def abnormal_turnover(b: BaselinesSection, features: Sequence[str]) -> Model:
    """Abnormal turnover alone (``baselines.abnormal_turnover``), its sign learned."""
    return SingleFactor(b.abnormal_turnover)


@baseline("ridge")
def ridge(b: BaselinesSection, features: Sequence[str]) -> Model:
    """Ridge on the ranked per-stock features."""
    return RidgeRanks([f for f in features if REGISTRY[f].family != "segment"], alpha=b.ridge_alpha)
