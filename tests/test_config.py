from __future__ import annotations

import pytest

from tradejet.config import Config, default_store_dir, load_config, tradejet_home
from tradejet.errors import ConfigError


def test_defaults_without_file_or_env():
    assert load_config(env={}) == Config()


def test_toml_then_environment_override(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('system = "swing"\nlog_level = "ERROR"\n')
    cfg = load_config(f, env={"LOG_LEVEL": "DEBUG", "DEPLOYMENT_ENV": "live"})
    assert (cfg.system, cfg.log_level, cfg.deployment_env) == ("swing", "DEBUG", "live")


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('system = "crypt"\n', "system", "Invalid enum value 'crypt'"),
        ('sytem = "crypto"\n', "sytem", "unknown field"),
        ("log_level = 3\n", "log_level", "Expected `str`, got `int`"),
    ],
)
def test_bad_field_is_named_with_file(tmp_path, text, key, fragment):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_config(f, env={})
    assert ei.value.key == key
    assert str(f) in str(ei.value)
    assert fragment in str(ei.value)


def test_broken_toml_and_missing_file(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("system = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f, env={})
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.toml", env={})


def test_bad_environment_value_is_named():
    with pytest.raises(ConfigError) as ei:
        load_config(env={"DEPLOYMENT_ENV": "prod"})
    assert ei.value.key == "deployment_env"
    assert "DEPLOYMENT_ENV" in str(ei.value)


def test_home_and_store_paths(tmp_path):
    assert tradejet_home({"TRADEJET_HOME": str(tmp_path)}) == tmp_path
    assert default_store_dir({"TRADEJET_HOME": str(tmp_path)}) == tmp_path / "data"
    assert tradejet_home({}).name == ".tradejet"
