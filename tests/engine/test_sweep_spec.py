"""Sweep files: validation against the real config schema (errors name the parameter), the task list."""

from __future__ import annotations

import pytest

from tradejet.engine.sweep.spec import build_config, expand, parse_spec, task_id
from tradejet.errors import ConfigError

HEAD = '[data]\npath = "bars"\n'


def spec(params: str, sweep: str = "", extra: str = ""):
    return parse_spec(f"[sweep]\n{sweep}\n{HEAD}[params]\n{params}\n{extra}", source="s.toml")


@pytest.mark.parametrize("params, key, match", [
    ('"strategies.trend_following.adx_mn" = [10.0]', "strategies.trend_following.adx_mn", "adx_min"),
    ('"strategies.trend_folowing.adx_min" = [10.0]', "strategies.trend_folowing.adx_min", "trend_following"),
    ('"risk.max_dd" = [0.2]', "risk.max_dd", "risk has no field 'max_dd'"),
    ('"universe.pairs" = [["BTC/USD"]]', "universe.pairs", "sweeps vary"),
    ('"risk" = [1]', "risk", "not"),
    ('"risk.max_drawdown.x" = [1]', "risk.max_drawdown.x", "is not a table"),
    ('[params.selector]\nwind_down = [60]', "selector.wind_down", "no field 'wind_down'"),
])
def test_unknown_parameter_is_named(params, key, match):
    text = f"{HEAD}" + (f"[params]\n{params}" if not params.startswith("[params") else params)
    with pytest.raises(ConfigError, match=match) as e:
        parse_spec(text, source="s.toml")
    assert e.value.key == key and e.value.source == "s.toml"


@pytest.mark.parametrize("params, key, match", [
    ('"risk.max_drawdown" = [0.2, 1.5]', "risk.max_drawdown", r"1\.5.*<= 1\.0"),
    ('"risk.max_drawdown" = { low = 0.0, high = 0.5, num = 3 }', "risk.max_drawdown", r"> 0\.0"),
    ('"strategies.mean_reversion.max_position_fraction" = [0.5, 2.0]',
     "strategies.mean_reversion.max_position_fraction", r"max_position_fraction must be in \(0, 1\]"),
    ('"indicators.rsi" = [1, 14]', "indicators.rsi", "rsi must be >= 2"),
    ('"indicators.ema_fast" = [60]', "indicators.ema_fast", "shorter than ema_slow"),
    ('"strategies.trend_following.adx_min" = [150.0]', "strategies.trend_following.adx_min", r"\[0\.0, 100\.0\]"),
    ('"selector.wind_down_minutes" = [-5]', "selector.wind_down_minutes", ">= 0"),
])
def test_out_of_range_value_is_named(params, key, match):
    with pytest.raises(ConfigError, match=match) as e:
        spec(params)
    assert e.value.key == key


@pytest.mark.parametrize("params, key, match", [
    ('"risk.max_drawdown" = ["a lot"]', "risk.max_drawdown", "Expected `float`, got `str`"),
    ('"indicators.rsi" = [14.5]', "indicators.rsi", "Expected `int`"),
    ('"indicators.rsi" = { low = 2.5, high = 10, step = 1 }', "indicators.rsi", "integer low/high"),
    ('"risk.leverage_enabled" = { low = 0, high = 1, num = 2 }', "risk.leverage_enabled", "numeric"),
    ('"risk.max_drawdown" = 0.2', "risk.max_drawdown", "list of values or a range"),
    ('"risk.max_drawdown" = []', "risk.max_drawdown", "empty"),
    ('"risk.max_drawdown" = { low = 0.1, high = 0.3 }', "risk.max_drawdown", "grid range needs step or num"),
    ('"risk.max_drawdown" = { low = 0.3, high = 0.1, num = 3 }', "risk.max_drawdown", "must not exceed"),
    ('"risk.max_drawdown" = { low = 0.1, high = 0.3, stride = 1 }', "risk.max_drawdown", "stride"),
])
def test_bad_type_or_shape_is_named(params, key, match):
    with pytest.raises(ConfigError, match=match) as e:
        spec(params)
    assert e.value.key == key


@pytest.mark.parametrize("text, key, match", [
    ('[sweep\nmode = "grid"', None, "not valid TOML"),
    ('[data]\npath = "x"\n[params]\n"risk.max_drawdown" = [0.2,', None, "not valid TOML"),
    ('[sweep]\nmode = "exhaustive"\n[data]\npath = "x"\n[params]\n"risk.max_drawdown" = [0.2]', "sweep.mode",
     "Invalid enum value 'exhaustive'"),
    ('[sweep]\nsamples = 0\n[data]\npath = "x"\n[params]\n"risk.max_drawdown" = [0.2]', "sweep.samples", ">= 1"),
    ('[sweep]\nspeed = 1\n[data]\npath = "x"\n[params]\n"risk.max_drawdown" = [0.2]', "sweep.speed", "unknown"),
    ('[params]\n"risk.max_drawdown" = [0.2]', "data", "missing required field"),
    ('[data]\npath = "x"\n[params]\n', "params", "empty"),
    ('[data]\npath = "x"\nstart = "yesterday"\n[params]\n"risk.max_drawdown" = [0.2]', "data.start", "ISO"),
    ('[data]\npath = "x"\n[params]\n"risk.max_drawdown" = [0.2]\n[walkforward]\ncscv_blocks = 40',
     "walkforward.cscv_blocks", "<= 24"),
])
def test_bad_file_is_named(text, key, match):
    with pytest.raises(ConfigError, match=match) as e:
        parse_spec(text, source="s.toml")
    assert e.value.key == key
    assert "s.toml" in str(e.value)


def test_base_config_errors_name_the_file(tmp_path):
    (tmp_path / "base.toml").write_text("[risk]\nmax_drawdown = 7.0\n")
    with pytest.raises(ConfigError, match="base config") as e:
        parse_spec(f'[sweep]\nconfig = "base.toml"\n{HEAD}[params]\n"risk.max_pair_share" = [0.3]',
                   source="s.toml", root=tmp_path)
    assert e.value.key == "risk.max_drawdown"
    with pytest.raises(ConfigError, match="cannot read base config"):
        parse_spec(f'[sweep]\nconfig = "nope.toml"\n{HEAD}[params]\n"risk.max_pair_share" = [0.3]',
                   source="s.toml", root=tmp_path)


def test_grid_is_the_product_in_order():
    s = spec('"strategies.trend_following.adx_min" = [15.0, 25.0]\n'
             '"indicators.ema_fast" = { low = 6, high = 18, step = 6 }\n'
             '"risk.max_drawdown" = { low = 0.1, high = 0.3, num = 3 }')
    tasks = expand(s, "d0")
    assert len(tasks) == 2 * 3 * 3
    assert [t.index for t in tasks] == list(range(18))
    assert tasks[0].params == {"strategies.trend_following.adx_min": 15.0, "indicators.ema_fast": 6,
                               "risk.max_drawdown": 0.1}
    assert tasks[-1].params == {"strategies.trend_following.adx_min": 25.0, "indicators.ema_fast": 18,
                                "risk.max_drawdown": pytest.approx(0.3)}
    assert all(isinstance(t.params["indicators.ema_fast"], int) for t in tasks)
    assert len({t.id for t in tasks}) == 18
    # the key depends on parameters, data and base config, nothing else
    assert [t.id for t in expand(s, "d0")] == [t.id for t in tasks]
    assert {t.id for t in expand(s, "d1")}.isdisjoint({t.id for t in tasks})
    assert task_id({"a": 1, "b": 2.0}, "d", "b") == task_id({"b": 2.0, "a": 1}, "d", "b")


def test_random_is_seeded_and_in_range():
    p = ('"risk.max_drawdown" = { low = 0.1, high = 0.5 }\n"indicators.rsi" = { low = 5, high = 30 }\n'
         '"fills.taker_fee" = { low = 1e-4, high = 1e-2, log = true }\n"risk.allow_short" = [false]')
    a = expand(spec(p, 'mode = "random"\nsamples = 40\nseed = 3'), "d")
    b = expand(spec(p, 'mode = "random"\nsamples = 40\nseed = 3'), "d")
    c = expand(spec(p, 'mode = "random"\nsamples = 40\nseed = 4'), "d")
    assert [t.params for t in a] == [t.params for t in b] != [t.params for t in c]
    assert len(a) == 40
    for t in a:
        assert 0.1 <= t.params["risk.max_drawdown"] <= 0.5
        assert isinstance(t.params["indicators.rsi"], int) and 5 <= t.params["indicators.rsi"] <= 30
        assert 1e-4 <= t.params["fills.taker_fee"] <= 1e-2
        build_config({}, t.params)  # every draw is a valid config


def test_a_mix_that_is_invalid_fails_its_task_not_the_file():
    s = spec('"indicators.ema_fast" = [12, 60]\n"indicators.ema_slow" = [48, 96]')
    tasks = expand(s, "d")
    assert len(tasks) == 4
    with pytest.raises(ConfigError, match="shorter than ema_slow"):
        build_config(s.base_raw, tasks[2].params)  # (60, 48)
    assert build_config(s.base_raw, tasks[3].params).indicators.ema_fast == 60


def test_nested_tables_and_selector_lists():
    s = parse_spec(f'{HEAD}[params.strategies.breakout]\nmax_position_fraction = [0.1, 0.2]\n'
                   '[params]\n"selector.panic" = [[{{strategy = "defensive", share = 1.0}}], '
                   '[{{strategy = "defensive", share = 0.5}}]]'.replace("{{", "{").replace("}}", "}"))
    tasks = expand(s, "d")
    assert len(tasks) == 4
    cfg = build_config(s.base_raw, tasks[1].params)
    assert cfg.selector.panic[0].share == 0.5
    assert cfg.strategies.breakout["max_position_fraction"] == 0.1
