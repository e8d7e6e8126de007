"""The application config: defaults in the domain models, file and keyword overrides, errors that
name the key, and a model hash that only model settings move."""

from __future__ import annotations

from pathlib import Path

import pytest

from spotlight.config import AppConfig, ConfigError, load_config


def test_defaults_load_and_flatten_to_parameters() -> None:
    cfg = load_config()
    t = cfg.train
    assert (t.label, t.model, t.walk_forward.min_train, t.walk_forward.purge) == ("rerating", "regressor", 36, 1)
    flat = cfg.flat()
    assert flat["lightgbm.num_leaves"] == str(t.lightgbm.num_leaves)
    assert flat["universe.band"] == "50000000.0,300000000.0"
    assert flat["retrain.keep"] == "5" and flat["crowding.window"] == "252" and flat["experiment"] == "spotlight"
    assert t.label_column == "label_rerating"
    assert cfg.currency == "CNY" and flat["currency"] == "CNY"


def test_a_file_overrides_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('model = "ranker"\n[lightgbm]\nnum_leaves = 7\n[universe]\nn = 50\n')
    cfg = load_config(path, label="attention_shift").train
    assert (cfg.model, cfg.lightgbm.num_leaves, cfg.universe.n, cfg.label) == ("ranker", 7, 50, "attention_shift")
    assert cfg.lightgbm.learning_rate == load_config().train.lightgbm.learning_rate
    assert cfg.universe.min_listed_days == 250  # the universe's own default, stated once


@pytest.mark.parametrize(("text", "message"), [
    ("[lightgbm]\nnum_leavs = 3\n", "unknown config key 'lightgbm.num_leavs'"),
    ("[lightgbm]\nnum_leaves = 1\n", "lightgbm.num_leaves"),
    ('model = "forest"\n', "model"),
    ('features = ["no_such_feature"]\n', "no_such_feature"),
    ("[baselines]\nsize = \"nope\"\n", "nope"),
    ("lightgbm = 3\n", "'lightgbm' must be a table"),
    ("[walk_forward\n", "not valid TOML"),
    ('currency = "yuan"\n', "currency"),
])
def test_bad_configs_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(("text", "message"), [
    ("[crowding]\nwindow = 10\nmin_periods = 20\n", "min_periods"),
    ("[backtest]\ncapacity = [0.0]\n", "capacity"),
    ("[retrain]\nkeep = 1\n", "retrain.keep"),
    ("[universe]\nband = [3e8, 5e7]\n", "cap band"),
])
def test_domain_bounds_are_checked_once_in_their_models(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_the_model_hash_moves_with_model_settings_only(tmp_path: Path) -> None:
    base = load_config().train.hash()
    path = tmp_path / "c.toml"
    path.write_text('experiment = "other"\n[retrain]\nkeep = 9\n[backtest]\ntop_n = 7\n[crowding]\nhigh = 0.95\n')
    assert load_config(path).train.hash() == base
    for text in ("seed = 1\n", "[lightgbm]\nnum_leaves = 7\n", "[universe]\nmin_listed_days = 100\n"):
        path.write_text(text)
        assert load_config(path).train.hash() != base, text


def test_the_printed_config_reads_back_as_the_same_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('model = "ranker"\n[backtest]\ncapacity = [1e9, 1e7]\n')
    cfg = load_config(path)
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg and isinstance(cfg, AppConfig)
    assert cfg.backtest.capacity == (1e7, 1e9)
