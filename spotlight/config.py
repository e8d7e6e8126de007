"""The application's configuration: one TOML file for every job.

:class:`AppConfig` = the model settings (:class:`training.config.TrainConfig`), where runs
are tracked, the market's currency, the retrain job's gate and publishing (:class:`RetrainConfig`), the backtest
(:class:`backtest.engine.BacktestConfig`), the crowding rule
(:class:`features.crowding.CrowdingRule`) and the live model's alert rule
(:class:`monitoring.alerts.MonitorRule`). Each domain model states its defaults and bounds
once; ``spotlight config`` prints them all as TOML.

The file is flat: the model settings' keys and tables (``label``, ``[lightgbm]``, ...) stand
at the top level beside ``experiment``, ``registered_model``, ``[retrain]``, ``[backtest]``
and ``[crowding]``. :func:`load_config` merges a file and keyword overrides over the defaults
and validates the result: unknown keys, wrong types and impossible values are
:class:`~training.config.ConfigError` naming the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import Field, ValidationError, model_validator

from backtest.engine import BacktestConfig
from features.crowding import CrowdingRule
from monitoring.alerts import MonitorRule
from training.config import ConfigError, Section, TrainConfig, flatten

__all__ = ["AppConfig", "ConfigError", "RetrainConfig", "describe", "load_config"]


class RetrainConfig(Section):
    """``spotlight retrain``: the promotion gate and publishing."""

    months: int = Field(12, ge=1, description="compare out-of-sample RankIC over the last `months` test months")
    tolerance: float = Field(0.01, ge=0, description="promote unless the candidate trails the champion by more "
                                                     "than this")
    keep: int = Field(5, ge=2, description="published bundles kept in the serving root")
    serve_months: int = Field(12, ge=1, description="month-ends in each published bundle")
    live_evidence: bool = Field(False, description="the gate also reads the champion's realised live RankIC "
                                                   "(spotlight monitor): below [monitor].rank_ic_floor over its last "
                                                   "[monitor].months served dates, the candidate replaces it even "
                                                   "when it trails")


class AppConfig(Section):
    """Every setting of every job (see the module docstring)."""

    experiment: str = Field("spotlight", min_length=1, description="MLflow experiment of the runs")
    registered_model: str = Field("spotlight-microcap", min_length=1, description="MLflow registered model")
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$",
                          description="ISO 4217 code of the market's prices and traded amounts (the built-in market "
                                      "is A-share-like: CNY); named in the report and the service")
    train: TrainConfig = Field(default_factory=TrainConfig)  # built when asked: it checks the feature registry
    retrain: RetrainConfig = RetrainConfig()
    backtest: BacktestConfig = BacktestConfig()
    crowding: CrowdingRule = CrowdingRule()
    monitor: MonitorRule = MonitorRule()

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        """Gather the model settings' top-level keys and tables into ``train``."""
        if not isinstance(data, dict) or "train" in data:
            return data
        train = {k: data[k] for k in TrainConfig.model_fields if k in data}
        return {k: v for k, v in data.items() if k not in train} | {"train": train}

    def as_toml(self) -> dict[str, Any]:
        """The configuration in the file's flat layout."""
        values = self.model_dump(mode="json")
        return values.pop("train") | values

    def to_toml(self) -> str:
        """The configuration as a TOML file in the flat layout."""
        return tomli_w.dumps(self.as_toml())

    def flat(self) -> dict[str, str]:
        """Every key as ``section.key`` -> text (the file's layout), for MLflow parameters."""
        return flatten(self.as_toml())


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(base[key], value) if isinstance(base.get(key), dict) and isinstance(value, dict) else value
    return out


def _problem(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0] == "train":
        loc = loc[1:]
    where = ".".join(loc) or "config"
    if error["type"] == "extra_forbidden":
        return f"unknown config key {where!r}"
    if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"config key {where!r} must be a table"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def describe(exc: ValidationError) -> str:
    """pydantic's errors on one line, each naming its key (``section.key: problem``)."""
    return "; ".join(_problem(e) for e in exc.errors())


def load_config(path: str | Path | None = None, **overrides: Any) -> AppConfig:
    """Defaults, then the TOML file at ``path``, then keyword ``overrides`` (top-level keys or
    ``section={...}`` tables; None leaves a key as it is)."""
    data = _read(Path(path)) if path is not None else {}
    data = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid config: {describe(exc)}") from None
