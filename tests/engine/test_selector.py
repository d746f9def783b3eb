"""Selector facade: the default table, config validation, switch events with reasons."""

from __future__ import annotations

import numpy as np
import pytest

from tradejet.config import STRATEGY_NAMES, SelectorConfig, StrategyShare, load_config
from tradejet.engine.selector import Selector, strategy_code
from tradejet.errors import ConfigError, StrategyError
from tradejet.kernels.codes import N_STRATEGIES, STRATEGY_TEXT, Regime, Strategy as S, StrategyStatus as SS
from tradejet.messages import AllocationChanged


def test_names_agree_between_config_and_codes():
    assert STRATEGY_NAMES == STRATEGY_TEXT
    assert [strategy_code(n) for n in STRATEGY_TEXT] == list(range(N_STRATEGIES)) == list(S)


def test_default_table():
    sel = Selector()
    assert sel.select(Regime.RISK_ON) == {"trend_following": 0.6, "breakout": 0.4}
    assert sel.select(Regime.NEUTRAL) == {"mean_reversion": 0.5, "ml_signal": 0.5}
    assert sel.select(Regime.RISK_OFF) == {"mean_reversion": 0.3, "defensive": 0.7}
    assert sel.select(Regime.PANIC) == {"defensive": 1.0}
    assert sel.status.tolist() == [0] * N_STRATEGIES  # select() is pure


def test_switch_events_carry_reasons():
    sel = Selector(SelectorConfig(wind_down_minutes=90))
    ev = sel.update(Regime.RISK_ON, 1_000)
    assert isinstance(ev, AllocationChanged)
    assert ev.previous_regime == -1 and ev.regime == Regime.RISK_ON
    assert ev.reason.startswith("start in RISK_ON: trend_following INACTIVE -> ACTIVE")
    assert sel.update(Regime.RISK_ON, 2_000) is None
    pos = np.zeros((N_STRATEGIES, 10))
    pos[S.BREAKOUT, 3] = 5.0
    ev = sel.update(Regime.RISK_OFF, 3_000, pos)
    assert ev.status[S.BREAKOUT] == SS.WINDING_DOWN
    assert ev.deadlines[S.BREAKOUT] == 3_000 + 90 * 60_000_000_000
    assert ev.shares == [0.0, 0.3, 0.0, 0.0, 0.0, 0.7, 0.0]
    assert "regime RISK_ON -> RISK_OFF" in ev.reason
    assert "breakout ACTIVE -> WINDING_DOWN" in ev.reason
    assert "trend_following ACTIVE -> INACTIVE (no positions to wind down)" in ev.reason
    assert ev.reason.endswith("active: mean_reversion 30%, defensive 70%")
    ev = sel.update(Regime.RISK_OFF, ev.deadlines[S.BREAKOUT], pos)
    assert "breakout WINDING_DOWN -> FLATTEN (wind-down deadline passed)" in ev.reason
    ev = sel.update(Regime.PANIC, 10**13, pos)
    assert "regime RISK_OFF -> PANIC" in ev.reason and "mean_reversion ACTIVE -> INACTIVE" in ev.reason
    pos[S.BREAKOUT, 3] = 0.0
    ev = sel.update(Regime.PANIC, 10**13 + 1, pos)
    assert "breakout FLATTEN -> INACTIVE (positions closed)" in ev.reason
    assert sel.status_text()["breakout"] == "INACTIVE" and sel.status_text()["defensive"] == "ACTIVE"


def test_panic_entry_flattens_holders_at_once():
    sel = Selector()
    sel.update(Regime.RISK_ON, 0)
    pos = np.zeros((N_STRATEGIES, 2))
    pos[S.TREND_FOLLOWING, 0] = 1.0
    ev = sel.update(Regime.PANIC, 7, pos)
    assert ev.status[S.TREND_FOLLOWING] == SS.FLATTEN and ev.deadlines[S.TREND_FOLLOWING] == 7
    assert "trend_following ACTIVE -> FLATTEN (PANIC: flatten at once)" in ev.reason


@pytest.mark.parametrize(
    ("toml", "fragment", "key"),
    [
        ('panic = [{strategy = "defensive", share = 0.5}, {strategy = "breakout", share = 0.2}, '
         '{strategy = "ml_signal", share = 0.1}]', "at most 2 strategies", "selector"),
        ('neutral = [{strategy = "mean_reversion", share = 0.7}, {strategy = "ml_signal", share = 0.5}]',
         "shares must sum to <= 1, was 1.2", "selector"),
        ('risk_on = [{strategy = "trend", share = 0.5}]', "unknown strategy 'trend'", "selector.risk_on[0]"),
        ('risk_on = [{strategy = "breakout", share = 0}]', "Expected `float` > 0.0", "selector.risk_on[0].share"),
        ('risk_on = [{strategy = "breakout", share = 0.3}, {strategy = "breakout", share = 0.3}]',
         "strategy listed twice", "selector"),
        ("wind_down_minutes = -1", "Expected `int` >= 0", "selector.wind_down_minutes"),
        ("calm = []", "unknown field `calm`", "selector"),
    ],
)
def test_bad_selector_config_names_the_key(tmp_path, toml, fragment, key):
    f = tmp_path / "c.toml"
    f.write_text(f"[selector]\n{toml}\n")
    with pytest.raises(ConfigError) as ei:
        load_config(f, env={})
    assert fragment in str(ei.value)
    assert ei.value.key == key


def test_custom_table_from_toml(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[selector]\nrisk_on = [{strategy = "momentum_rotation", share = 0.8}]\npanic = []\n')
    sel = Selector(load_config(f, env={}).selector)
    assert sel.select(Regime.RISK_ON) == {"momentum_rotation": 0.8}
    assert sel.select(Regime.PANIC) == {}
    assert sel.table_strategy[Regime.PANIC].tolist() == [-1, -1]


def test_structs_built_in_python_are_checked():
    with pytest.raises(ValueError, match=r"share of breakout must be in \(0, 1\], was 1.5"):
        StrategyShare(strategy="breakout", share=1.5)
    with pytest.raises(ValueError, match="risk_on: at most 2 strategies"):
        SelectorConfig(risk_on=[StrategyShare(strategy=n, share=0.1) for n in STRATEGY_NAMES[:3]])


def test_unvalidated_structs_are_still_refused():
    # The constructor alone does not run msgspec validation on nested lists built by hand.
    cfg = SelectorConfig()
    cfg.neutral = [StrategyShare(strategy="breakout", share=0.7), StrategyShare(strategy="ml_signal", share=0.7)]
    with pytest.raises(StrategyError, match=r"selector.neutral: shares must sum to <= 1, was 1.4"):
        Selector(cfg)


@pytest.mark.parametrize("regime", [-1, 4, 1.0, True, "PANIC"])
def test_bad_regime_is_refused(regime):
    with pytest.raises(StrategyError, match="regime must be a code"):
        Selector().select(regime)


def test_bad_positions_shape_is_refused():
    with pytest.raises(StrategyError, match="pos_qty must have shape"):
        Selector().update(Regime.RISK_ON, 0, np.zeros((3, 10)))
    with pytest.raises(StrategyError, match="unknown strategy 'x'"):
        strategy_code("x")
