"""Training config: TOML defaults, overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import ConfigError, load_config


def test_defaults_load_and_flatten_to_parameters() -> None:
    cfg = load_config()
    assert (cfg.label, cfg.model, cfg.walk_forward.min_train, cfg.walk_forward.purge) == ("rerating", "regressor", 36, 1)
    flat = cfg.flat()
    assert flat["lightgbm.num_leaves"] == str(cfg.lightgbm.num_leaves)
    assert flat["universe.band"] == "50000000.0,300000000.0"
    assert cfg.label_column == "label_rerating"


def test_a_file_overrides_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('model = "ranker"\n[lightgbm]\nnum_leaves = 7\n[universe]\nn = 50\n')
    cfg = load_config(path, label="attention_shift")
    assert (cfg.model, cfg.lightgbm.num_leaves, cfg.universe.n, cfg.label) == ("ranker", 7, 50, "attention_shift")
    assert cfg.lightgbm.learning_rate == load_config().lightgbm.learning_rate
    assert cfg.universe.build().n == 50


@pytest.mark.parametrize(("text", "message"), [
    ("[lightgbm]\nnum_leavs = 3\n", "unknown config key 'lightgbm.num_leavs'"),
    ("[lightgbm]\nnum_leaves = 1\n", "lightgbm.num_leaves"),
    ('model = "forest"\n', "model"),
    ('features = ["no_such_feature"]\n', "no_such_feature"),
    ("[baselines]\nsize = \"nope\"\n", "nope"),
    ("lightgbm = 3\n", "'lightgbm' must be a table"),
    ("[walk_forward\n", "not valid TOML"),
])
def test_bad_configs_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
