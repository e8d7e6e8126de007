"""The training configuration: what the model is, how it is fitted and evaluated.

Model settings only; where runs are logged and what jobs do with the model live in
:class:`spotlight.config.AppConfig`, which reads the TOML file. Each default and bound is
stated once, here, as a pydantic field; :meth:`TrainConfig.hash` covers every field and
nothing else, so two runs with the same hash trained the same model on the same data.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.universe import UniverseConfig


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key at fault."""


class Section(BaseModel):
    """A table of the configuration: unknown keys are errors, values cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WalkForwardSection(Section):
    """How the walk-forward splits month-ends (see :class:`training.walk_forward.WalkForward`)."""

    window: Literal["expanding", "rolling"] = Field("expanding", description="expanding | rolling")
    min_train: int = Field(36, ge=1, description="month-ends in the first training window (expanding)")
    train_size: int = Field(60, ge=1, description="month-ends per training window (rolling)")
    refit_every: int = Field(1, ge=1, description="months each model is used for before the next refit")
    purge: int = Field(1, ge=1, description="month-ends dropped between the last training and first test date")
    embargo: int = Field(0, ge=0, description="further month-ends dropped after the purge")
    valid: int = Field(12, ge=1, description="inner validation block (early stopping), purged from its "
                                             "training part")


class LightGBMSection(Section):
    """LightGBM's settings (``max_rounds`` and ``early_stopping`` go to the training loop)."""

    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    min_data_in_leaf: int = Field(200, ge=1)
    feature_fraction: float = Field(0.7, gt=0, le=1)
    bagging_fraction: float = Field(0.7, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(10.0, ge=0)
    max_rounds: int = Field(1000, ge=1)
    early_stopping: int = Field(50, ge=1, description="rounds without a better validation RankIC")
    num_threads: int = Field(0, ge=0, description="LightGBM threads; 0 = auto: half the cores this process may "
                                                  "run on (affinity, cgroup quota), 1..4 (training.threads)")


class RankerSection(Section):
    """LambdaRank's settings (``model = "ranker"``)."""

    relevance_levels: int = Field(10, ge=2, le=31, description="per-date label quantiles used as LambdaRank "
                                                               "relevance 0..levels-1")
    truncation_level: int = Field(50, ge=1, description="LambdaRank cares about the top of each date's list")


class BaselinesSection(Section):
    """The baselines' features and the ridge's penalty."""

    size: str = "log_market_cap"
    reversal: str = "ret_20"
    abnormal_turnover: str = "abnormal_turnover_20_120"
    ridge_alpha: float = Field(10.0, gt=0)


class EvaluationSection(Section):
    """Out-of-sample evaluation: the top-N portfolio size and the number of quantiles."""

    top_n: int = Field(50, ge=1)
    quantiles: int = Field(10, ge=2)


class TrainConfig(Section):
    """The resolved model settings of one training run."""

    label: Literal["rerating", "attention_shift"] = Field("rerating", description="rerating | attention_shift")
    model: Literal["regressor", "ranker"] = Field("regressor", description="regressor (on the rank label) | "
                                                                            "ranker (LambdaRank, query = date)")
    seed: int = 0
    features: list[str] = Field(default_factory=list, description="empty = every registered feature")
    transform: Literal["rank", "none"] = Field("rank", description="per-date rank of per-stock features "
                                                                   "(segment gauges stay raw) | none")
    universe: UniverseConfig = UniverseConfig()
    walk_forward: WalkForwardSection = WalkForwardSection()
    lightgbm: LightGBMSection = LightGBMSection()
    ranker: RankerSection = RankerSection()
    baselines: BaselinesSection = BaselinesSection()
    evaluation: EvaluationSection = EvaluationSection()

    @model_validator(mode="after")
    def _known_features(self) -> TrainConfig:
        from features.registry import registered

        known = {f.name for f in registered()}
        named = list(self.features) + [self.baselines.size, self.baselines.reversal,
                                       self.baselines.abnormal_turnover]
        unknown = [n for n in named if n not in known]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; see docs/features.md")
        return self

    @property
    def label_column(self) -> str:
        """The panel column of the label (``label_<label>``)."""
        return f"label_{self.label}"

    def hash(self) -> str:
        """SHA-256 (16 hex digits) of every setting: the same settings, the same hash."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]

    def flat(self) -> dict[str, str]:
        """Every key as ``section.key`` -> text, for MLflow parameters."""
        return flatten(self.model_dump())


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested tables as ``section.key`` -> text (lists and tuples joined with commas)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out |= flatten(value, name)
        else:
            out[name] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return out
