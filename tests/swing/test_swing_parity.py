"""One step, two drivers, for the swing system: compiled backtest == event driver + paper venue,
bar for bar, on the real US equity daily data (ten symbols, 1995..2020, gaps where a symbol
did not trade), with the rules alone and with a promoted model's guard in front of them."""

from __future__ import annotations

import msgspec
import numpy as np
from test_swing_guards import _equity_subset

from tradejet.config import Config, SwingConfig
from tradejet.engine.simulate import run
from tradejet.engine.swing import SwingGuard
from tradejet.testing.paper import FILL_COLUMNS, ORDER_COLUMNS, fills_array, orders_array, run_paper


def assert_same(res, eng) -> None:
    fl, ol = fills_array(eng), orders_array(eng)
    assert len(fl["qty"]) == len(res.fills["qty"]) and len(ol["qty"]) == len(res.orders["qty"])
    for k in FILL_COLUMNS:
        np.testing.assert_array_equal(fl[k], res.fills[k].astype(np.float64), err_msg=f"fills.{k}")
    for k in ORDER_COLUMNS:
        np.testing.assert_array_equal(ol[k], res.orders[k].astype(np.float64), err_msg=f"orders.{k}")
    np.testing.assert_array_equal(np.array(eng.log.equity), res.equity)
    np.testing.assert_array_equal(np.array(eng.log.cash), res.cash)
    np.testing.assert_array_equal(np.array(eng.log.ts), res.ts)


def test_parity_rules_on_the_real_equities(equities):
    cfg = Config(system="swing", deployment_env="paper", swing=SwingConfig(ml_enabled=False))
    res = run(equities, cfg)
    eng = run_paper(equities, cfg)
    assert len(res.fills["qty"]) > 1000 and np.any(~equities.have)   # it trades, and missing bars are exercised
    t = res.extra["tranches"]["filled"]
    assert set(t) == {"1", "2", "3"}                                  # every tranche count happens
    assert_same(res, eng)


def test_parity_with_the_ml_guard(equities, swing_model_home):
    bars = _equity_subset(equities)
    cfg = msgspec.structs.replace(Config(system="swing", deployment_env="paper",
                                         swing=SwingConfig(ml_threshold=0.3, feature_margin=0.5, psi_max=1e9)),
                                  home=str(swing_model_home))
    g1 = SwingGuard.from_store(cfg, bars.symbols, swing_model_home)
    g2 = SwingGuard.from_store(cfg, bars.symbols, swing_model_home)
    res = run(bars, cfg, guard=g1)
    eng = run_paper(bars, cfg, guard=g2)
    assert g1.state == g2.state == "ok" and len(res.fills["qty"]) > 20
    assert_same(res, eng)
    assert g1.status() == g2.status()
