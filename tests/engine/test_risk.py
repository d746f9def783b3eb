"""Risk facade: limits from config, checks of OrderIntent messages, breaker and reconciliation blocks."""

from __future__ import annotations

import math
import re

import pytest

from tradejet.config import RiskConfig, UniverseConfig, load_config
from tradejet.engine.portfolio import Portfolio
from tradejet.engine.risk import RiskDecision, RiskGate, RiskLimits
from tradejet.engine.selector import Selector
from tradejet.engine.universe import Universe
from tradejet.errors import ConfigError, DataError
from tradejet.kernels import risk as kr
from tradejet.kernels.codes import OrderType, Regime, Reject, Side, Strategy, TradingState
from tradejet.messages import OrderIntent


@pytest.fixture()
def setup():
    u = Universe.default()
    pf = Portfolio(u, cash=10_000.0)
    pf.set_marks({"BTC/USD": 50_000.0, "ETH/USD": 2_500.0})
    sel = Selector()
    sel.update(Regime.RISK_ON, 0)
    return u, pf, sel, RiskGate(u)


def intent(**kw) -> OrderIntent:
    base = dict(symbol="BTC/USD", side=Side.BUY, qty=0.02, order_type=OrderType.MARKET,
                strategy=Strategy.TREND_FOLLOWING, ts=0)
    return OrderIntent(**(base | kw))


def test_default_limits_are_cash_only():
    lim = RiskLimits()
    assert lim.cash_only
    assert lim.array.tolist() == [1.0, 0.0, 0.35, 0.8, 0.25, math.inf, 0.15]
    lev = RiskLimits(RiskConfig(leverage_enabled=True, max_leverage=3.0, allow_short=True, max_pair_notional=5e4))
    assert lev.array[kr.LIM_LEVERAGE] == 3.0 and lev.array[kr.LIM_ALLOW_SHORT] == 1.0
    assert lev.array[kr.LIM_MAX_PAIR_NOTIONAL] == 5e4 and not lev.cash_only


def test_check_intent_messages(setup):
    u, pf, sel, gate = setup
    d = gate.check_intent(intent(), pf, sel)
    assert d == RiskDecision(Reject.OK, 0.02, 50_000.0) and d.ok and d.reason == "accepted"
    d = gate.check_intent(intent(order_type=OrderType.LIMIT, limit_price=49_999.99, qty=0.020000009), pf, sel)
    assert (d.code, d.qty, d.price) == (Reject.OK, 0.02, 49_999.9)
    assert gate.check_intent(intent(), pf, sel, trading_state=TradingState.DRAINING).reason == \
        "draining before downtime: no new entries"
    assert gate.check_intent(intent(side=Side.SELL), pf, sel).code == Reject.NO_SHORTING
    assert gate.check_intent(intent(strategy=9), pf, sel).code == Reject.INVALID_INTENT
    assert gate.check_intent(intent(symbol="SOL/USD"), pf, sel).code == Reject.INVALID_INTENT  # no mark, no price
    assert gate.check_intent(intent(symbol="SOL/USD"), pf, sel, price=100.0).ok


def test_forced_exit_in_downtime(setup):
    u, pf, sel, gate = setup
    pf.apply_fill("trend_following", "BTC/USD", 1, 0.02, 50_000.0, 4.0)
    exit_ = intent(side=Side.SELL, reduce_only=True, qty=1.0)
    assert gate.check_intent(exit_, pf, sel, trading_state=TradingState.DOWNTIME).code == Reject.DOWNTIME
    d = gate.check_intent(exit_, pf, sel, trading_state=TradingState.DOWNTIME, forced=True)
    assert d.ok and d.qty == 0.02


def test_breaker_trips_holds_and_resets(setup):
    u, pf, sel, gate = setup
    assert not gate.update_equity(10_000.0)
    assert gate.update_equity(8_400.0)  # -16 % from the peak
    assert gate.update_equity(12_000.0) and gate.breaker_tripped  # holds on recovery
    assert gate.check_intent(intent(), pf, sel).code == Reject.BREAKER
    gate.reset_breaker(pf.equity())
    assert not gate.breaker_tripped and gate.check_intent(intent(), pf, sel).ok
    with pytest.raises(DataError, match="equity must be finite"):
        gate.reset_breaker(math.nan)


def test_unreconciled_symbol_blocks_entries_until_released(setup):
    u, pf, sel, gate = setup
    gate.mark_unreconciled("XBTUSD")
    assert gate.check_intent(intent(), pf, sel).code == Reject.UNRECONCILED
    assert gate.check_intent(intent(symbol="ETH/USD", qty=0.5), pf, sel).ok
    gate.mark_unreconciled("BTC/USD", blocked=False)
    assert gate.check_intent(intent(), pf, sel).ok


def test_gate_refuses_bad_arguments(setup):
    u, pf, sel, gate = setup
    with pytest.raises(DataError, match="trading_state must be"):
        gate.check(pf, sel, strategy=0, symbol="BTC/USD", side=1, qty=0.01, price=1.0, trading_state=7)
    with pytest.raises(DataError, match="different universes"):
        gate.check(Portfolio(Universe.from_config(UniverseConfig(symbols=["ETH/USD"])), 1.0),
                   sel, strategy=0, symbol="BTC/USD", side=1, qty=0.01, price=1.0)
    with pytest.raises(ConfigError, match="unknown symbol"):
        gate.mark_unreconciled("FOO/USD")


@pytest.mark.parametrize(
    ("toml", "fragment", "key"),
    [
        ("max_leverage = 2.0", "max_leverage is 2.0 but leverage_enabled is false", "risk"),
        ("leverage_enabled = true\nmax_leverage = 20.0", "Expected `float` <= 10.0", "risk.max_leverage"),
        ("allow_short = true", "allow_short needs leverage_enabled", "risk"),
        ("max_pair_share = 0", "Expected `float` > 0.0", "risk.max_pair_share"),
        ("max_drawdown = 1.5", "Expected `float` <= 1.0", "risk.max_drawdown"),
        ("max_pair_notional = -5.0", "Expected `float` > 0.0", "risk.max_pair_notional"),
        ('max_top3_share = "lots"', "Expected `float`, got `str`", "risk.max_top3_share"),
    ],
)
def test_bad_risk_config_names_the_key(tmp_path, toml, fragment, key):
    f = tmp_path / "c.toml"
    f.write_text(f"[risk]\n{toml}\n")
    with pytest.raises(ConfigError) as ei:
        load_config(f, env={})
    assert fragment in str(ei.value)
    assert ei.value.key == key


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(max_pair_share=0.0), "max_pair_share must be in (0, 10]"),
        (dict(max_drawdown=1.5), "max_drawdown must be in (0, 1]"),
        (dict(leverage_enabled=True, max_leverage=20.0), "max_leverage must be in [1, 10]"),
        (dict(max_pair_notional=-1.0), "max_pair_notional must be > 0"),
    ],
)
def test_structs_built_in_python_are_checked_too(kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        RiskConfig(**kwargs)


def test_gate_runs_the_portfolio_limits_when_configured():
    import numpy as np

    from tradejet.config import PortfolioRiskConfig, RiskConfig
    from tradejet.engine.portfolio import Portfolio
    from tradejet.engine.selector import Selector
    from tradejet.engine.universe import Universe
    from tradejet.kernels.codes import Regime

    u = Universe.default()
    pf = Portfolio(u, cash=10_000.0)
    sel = Selector()
    sel.update(0, 0)
    gate = RiskGate(u, RiskConfig(portfolio=PortfolioRiskConfig(max_var_share=0.02, min_bars=20)))
    rng = np.random.default_rng(0)
    f = rng.normal(0, 0.01, 60)
    price = 100.0 * np.ones(len(u))
    for t in range(60):  # strongly correlated pairs, 1 % per bar
        price = price * (1 + f[t] + rng.normal(0, 0.002, len(u)))
        gate.update_bar(price)
        pf.mark[:] = price
    sym = u.symbols[0]
    # the selector's share allows entries; a small one passes, a large one breaks the 2 % VaR
    small = gate.check(pf, sel, strategy="trend_following", symbol=sym, side=1, qty=1.0, price=float(price[0]))
    big = gate.check(pf, sel, strategy="trend_following", symbol=sym, side=1, qty=20.0, price=float(price[0]))
    assert small.ok and big.reason == "portfolio VaR limit exceeded"
    pending = np.zeros_like(pf.pos_qty)
    pending[0, 1] = 15.0  # a working order elsewhere eats the headroom
    assert not gate.check(pf, sel, strategy="trend_following", symbol=sym, side=1, qty=10.0, price=float(price[0]),
                          pending=pending, regime=Regime.PANIC).ok
    with pytest.raises(DataError):
        gate.update_bar(price[:3])
