"""Point-in-time features over the micro-cap universe.

Data flows one way: a loaded market -> :class:`History` -> the universe -> every registered
feature -> a panel. Nothing here imports mlflow or anything forward-looking (labels live
in ``training.labels``).
"""

from features.history import History
from features.panel import PanelError, build_panel, panel_dates, write_panel
from features.registry import FAMILIES, REGISTRY, Feature, feature, registered
from features.transforms import TRANSFORMS, apply_transforms
from features.universe import REASONS, UniverseConfig, build_universe

__all__ = [
    "FAMILIES", "REASONS", "REGISTRY", "TRANSFORMS", "Feature", "History", "PanelError", "UniverseConfig",
    "apply_transforms", "build_panel", "build_universe", "feature", "panel_dates", "registered", "write_panel",
]
