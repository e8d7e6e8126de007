"""Training configuration: defaults in ``training/defaults.toml``, overrides from a TOML file.

Hyper-parameters live in TOML, never in code. :func:`load_config` reads the defaults, merges
a user file over them key by key and validates the result (unknown keys, wrong types and
impossible values are errors that name the key).
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.universe import UniverseConfig


class ConfigError(ValueError):
    """A training configuration that cannot be used; the message names the key at fault."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UniverseSection(_Section):
    kind: Literal["smallest_n", "cap_band"]
    n: int = Field(ge=1)
    band: tuple[float, float]

    def build(self) -> UniverseConfig:
        return UniverseConfig(kind=self.kind, n=self.n, band=self.band)


class WalkForwardSection(_Section):
    window: Literal["expanding", "rolling"]
    min_train: int = Field(ge=1)
    train_size: int = Field(ge=1)
    refit_every: int = Field(ge=1)
    purge: int = Field(ge=1)
    embargo: int = Field(ge=0)
    valid: int = Field(ge=1)


class LightGBMSection(_Section):
    learning_rate: float = Field(gt=0, le=1)
    num_leaves: int = Field(ge=2)
    min_data_in_leaf: int = Field(ge=1)
    feature_fraction: float = Field(gt=0, le=1)
    bagging_fraction: float = Field(gt=0, le=1)
    bagging_freq: int = Field(ge=0)
    lambda_l2: float = Field(ge=0)
    max_rounds: int = Field(ge=1)
    early_stopping: int = Field(ge=1)
    num_threads: int = Field(ge=1)


class RankerSection(_Section):
    relevance_levels: int = Field(ge=2, le=31)
    truncation_level: int = Field(ge=1)


class BaselinesSection(_Section):
    size: str
    reversal: str
    abnormal_turnover: str
    ridge_alpha: float = Field(gt=0)


class EvaluationSection(_Section):
    top_n: int = Field(ge=1)
    quantiles: int = Field(ge=2)


class RetrainSection(_Section):
    months: int = Field(ge=1)
    tolerance: float = Field(ge=0)
    keep: int = Field(ge=2)
    serve_months: int = Field(ge=1)


class BacktestSection(_Section):
    capital: float = Field(gt=0)
    top_n: int = Field(ge=1)
    weighting: Literal["equal", "score"]
    participation: float = Field(gt=0, le=1)
    commission: float = Field(ge=0)
    stamp_duty: float = Field(ge=0)
    impact_bps: float = Field(ge=0)
    delist_recovery: float = Field(ge=0, le=1)
    capacity: list[float] = Field(min_length=1)

    @field_validator("capacity")
    @classmethod
    def _capitals(cls, value: list[float]) -> list[float]:
        """Positive, then sorted and without repeats (the curve runs from the smallest)."""
        if any(not c > 0 for c in value):
            raise ValueError(f"capacity capitals must be > 0, got {value}")
        return sorted(set(value))

    def build(self, **overrides: Any):
        """The engine's :class:`training.backtest.BacktestConfig`, with non-None ``overrides``."""
        from training.backtest import BacktestConfig

        values = self.model_dump(exclude={"capacity"}) | {k: v for k, v in overrides.items() if v is not None}
        return BacktestConfig(**values)


class CrowdingSection(_Section):
    window: int = Field(ge=2)
    min_periods: int = Field(ge=1)
    high: float = Field(gt=0, le=1)
    rich: float = Field(ge=0, le=1)
    elevated: float = Field(gt=0, le=1)

    def build(self):
        from features.crowding import CrowdingRule

        return CrowdingRule(**self.model_dump())


class TrainConfig(_Section):
    """The resolved configuration of one training run."""

    label: Literal["rerating", "attention_shift"]
    model: Literal["regressor", "ranker"]
    seed: int
    features: list[str]
    transform: Literal["rank", "none"]
    experiment: str = Field(min_length=1)
    registered_model: str = Field(min_length=1)
    universe: UniverseSection
    walk_forward: WalkForwardSection
    lightgbm: LightGBMSection
    ranker: RankerSection
    baselines: BaselinesSection
    evaluation: EvaluationSection
    retrain: RetrainSection
    backtest: BacktestSection
    crowding: CrowdingSection

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

    @model_validator(mode="after")
    def _crowding_rule(self) -> TrainConfig:
        try:
            self.crowding.build()
        except ValueError as exc:
            raise ValueError(f"crowding: {exc}") from None
        return self

    @property
    def label_column(self) -> str:
        return f"label_{self.label}"

    def flat(self) -> dict[str, str]:
        """Every key as ``section.key`` -> text, for MLflow parameters."""
        out: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            else:
                out[prefix] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

        walk("", self.model_dump())
        return out


def default_text() -> str:
    return files("training").joinpath("defaults.toml").read_text(encoding="utf-8")


def _merge(base: dict[str, Any], over: dict[str, Any], path: str = "") -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        where = f"{path}{key}"
        if key not in base:
            raise ConfigError(f"unknown config key {where!r}; known: {sorted(base)}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {where!r} must be a table")
            out[key] = _merge(base[key], value, f"{where}.")
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """Defaults, then the TOML file at ``path``, then keyword ``overrides`` (top-level keys or
    ``section={...}`` tables)."""
    data = tomllib.loads(default_text())
    if path is not None:
        p = Path(path)
        try:
            user = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
        data = _merge(data, user)
    data = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid training config: {problems}") from None
