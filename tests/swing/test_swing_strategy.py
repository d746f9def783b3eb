"""The swing strategy on hand-built daily paths: exactly 1, 2 or 3 tranches, stops, limits, config errors.

Every path is a steady rise (the trend) followed by a pullback; the expected orders are
worked out by hand from the rules in tradejet/strategies/swing.py (fills at the next
open, which equals the previous close on these paths).
"""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from conftest import path_bars, rise, small_config

from tradejet.config import Config, SwingConfig, load_config
from tradejet.engine.simulate import run
from tradejet.errors import ConfigError
from tradejet.kernels.codes import Side
from tradejet.strategies.base import REASON_ENTRY, REASON_SCALE_IN, REASON_SIGNAL_EXIT, REASON_STOP, REASON_TIME
from tradejet.strategies.swing import Params
from tradejet.testing.paper import run_paper

BASE = rise()          # 100, 103, ..., 277
TOP = BASE[-1]
ALLOC = 0.2 * 10_000   # max_symbol_allocation x initial cash


def _orders(res):
    o = res.orders
    return [(int(b), int(s), float(q), float(p), int(r)) for b, s, q, p, r, c in
            zip(o["bar"], o["side"], o["qty"], o["price"], o["reason"], o["code"]) if c == 0]


def _run(tail, **kw):
    bars = path_bars(BASE + tail)
    cfg = small_config(**kw)
    res = run(bars, cfg)
    eng = run_paper(bars, cfg)  # the event driver decides the same on the same path
    assert [tuple(x[:5]) for x in eng.log.orders] == [tuple(x[:5]) for x in zip(
        res.orders["bar"].tolist(), res.orders["pair"].tolist(), res.orders["strategy"].tolist(),
        res.orders["side"].tolist(), res.orders["qty"].tolist())]
    return res


def test_one_tranche_when_the_pullback_resolves_at_once():
    res = _run([TOP - 12, TOP - 4, TOP - 4, TOP - 4])
    assert _orders(res) == [(60, Side.BUY, pytest.approx(0.4 * ALLOC / 265.0), 265.0, REASON_ENTRY),
                            (61, Side.SELL, pytest.approx(0.4 * ALLOC / 265.0), 273.0, REASON_SIGNAL_EXIT)]
    assert res.extra["tranches"]["filled"] == {"1": 1}


def test_two_tranches_after_one_atr_against_the_fill():
    res = _run([TOP - 12, TOP - 18, TOP - 8, TOP - 8, TOP - 8])
    o = _orders(res)
    assert [(b, s, r) for b, s, _, _, r in o] == [(60, 1, REASON_ENTRY), (61, 1, REASON_SCALE_IN),
                                                  (62, -1, REASON_SIGNAL_EXIT)]
    assert o[1][2] == pytest.approx(0.3 * ALLOC / 259.0)  # the second tranche: 30 % of the allocation fixed at entry
    assert o[2][2] == pytest.approx(o[0][2] + o[1][2])
    assert res.extra["tranches"]["filled"] == {"2": 1}


def test_three_tranches_and_never_a_fourth():
    res = _run([TOP - 12, TOP - 18, TOP - 24, TOP - 30, TOP - 36, TOP - 36])
    o = _orders(res)
    buys = [x for x in o if x[1] == Side.BUY]
    assert [x[4] for x in buys] == [REASON_ENTRY, REASON_SCALE_IN, REASON_SCALE_IN]
    assert [x[2] * x[3] / ALLOC for x in buys] == pytest.approx([0.4, 0.3, 0.3])
    assert o[-1][1] == Side.SELL and o[-1][4] == REASON_STOP  # still falling: stopped, not a fourth tranche
    assert res.extra["tranches"]["filled"] == {"3": 1}


def test_three_tranches_then_the_pullback_resolves():
    res = _run([TOP - 12, TOP - 18, TOP - 24, TOP - 12, TOP - 12, TOP - 12])
    assert [x[4] for x in _orders(res)] == [REASON_ENTRY, REASON_SCALE_IN, REASON_SCALE_IN, REASON_SIGNAL_EXIT]
    assert res.extra["tranches"]["filled"] == {"3": 1}


def _wilder_atr(closes, period=5):
    """An independent ATR (Wilder) of path_bars' bars, per bar."""
    b = path_bars(closes)
    h, lo, c = b.high[:, 0], b.low[:, 0], b.close[:, 0]
    tr = np.maximum(h[1:] - lo[1:], np.maximum(abs(h[1:] - c[:-1]), abs(lo[1:] - c[:-1])))
    tr = np.concatenate([[h[0] - lo[0]], tr])
    atr = np.full(len(c), np.nan)
    atr[period - 1] = tr[:period].mean()
    for t in range(period, len(c)):
        atr[t] = (atr[t - 1] * (period - 1) + tr[t]) / period
    return atr


def test_stop_after_scale_in_from_the_average_price():
    tail = [TOP - 12, TOP - 18]
    atr = _wilder_atr(BASE + tail)[60]  # the ATR when the first tranche filled (bar 61, before its own bar)
    q1, q2 = 0.4 * ALLOC / 265.0, 0.3 * ALLOC / 259.0
    stop = (q1 * 265.0 + q2 * 259.0) / (q1 + q2) - 3.0 * atr
    above = _run(tail + [stop + 0.25, stop + 0.25])
    assert REASON_STOP not in [x[4] for x in _orders(above)]
    res = _run(tail + [stop - 0.25, stop - 0.25])
    o = _orders(res)
    assert [(x[0], x[4]) for x in o[:3]] == [(60, REASON_ENTRY), (61, REASON_SCALE_IN), (62, REASON_STOP)]
    assert o[2][2] == pytest.approx(q1 + q2)
    assert res.trades["pnl"][0] < 0


def test_a_deep_drop_breaks_the_trend_no_scale_in():
    """A fall through the long SMA: the stop fires and no tranche is added."""
    res = _run([TOP - 12, TOP - 60, TOP - 70, TOP - 70])
    assert [x[4] for x in _orders(res)] == [REASON_ENTRY, REASON_STOP]
    assert res.extra["tranches"]["filled"] == {"1": 1}


def test_time_stop():
    res = _run([TOP - 12] + [TOP - 14] * 12)
    o = _orders(res)
    assert (o[1][0], o[1][4]) == (70, REASON_TIME)  # entered on bar 61's open, 10 bars held


def test_no_entry_without_the_uptrend():
    down = [400.0 - 3 * t for t in range(60)]
    res = run(path_bars(down + [down[-1] - 12] * 3), small_config())
    assert len(res.orders["qty"]) == 0
    flat_then_dip = [100.0] * 60 + [88.0] * 3  # no trend either: SMA(10) == SMA(30)
    assert len(run(path_bars(flat_then_dip), small_config()).orders["qty"]) == 0


def test_max_open_symbols_is_a_portfolio_limit():
    """Two symbols with the same setup on the same bar and max_open_symbols = 1: one entry."""
    from tradejet.engine.simulate import MarketBars

    one = path_bars(BASE + [TOP - 12, TOP - 4, TOP - 4])
    two = MarketBars(symbols=["TEST", "TWIN"], ts=one.ts, open=np.hstack([one.open] * 2), high=np.hstack([one.high] * 2),
                     low=np.hstack([one.low] * 2), close=np.hstack([one.close] * 2), volume=np.hstack([one.volume] * 2),
                     timeframe_ns=one.timeframe_ns)
    cfg = small_config(max_open_symbols=1, symbols=["TEST", "TWIN"])
    res = run(two, cfg)
    entries = res.orders["reason"][res.orders["side"] > 0]
    assert len(entries) == 1
    res2 = run(two, small_config(max_open_symbols=2, symbols=["TEST", "TWIN"]))
    assert int((res2.orders["side"] > 0).sum()) == 2


def test_cash_only_refuses_what_the_cash_cannot_pay():
    """Allocation 100 % with three tranches of 50/30/20 %: the tranches fit; a 5th symbol's worth would not."""
    res = run(path_bars(BASE + [TOP - 12, TOP - 18, TOP - 24, TOP - 12, TOP - 12]),
              small_config(max_symbol_allocation=1.0, max_open_symbols=1, tranche_sizes=[0.5, 0.3, 0.2]))
    assert res.metrics["orders_rejected"] == 0 and (res.cash >= -1e-9).all()


@pytest.mark.parametrize(("toml", "key"), [
    ("[swing]\ntranches = 0\n", "swing.tranches"),
    ("[swing]\nrsi_entry = 80\n", "swing.rsi_entry"),
    ("[swing]\nmax_symbol_allocation = 1.5\n", "swing.max_symbol_allocation"),
    ("[swing]\nml_fallback = \"maybe\"\n", "swing.ml_fallback"),
    ("[swing]\nscale_atr = -1\n", "swing.scale_atr"),
    ("[swing]\nbogus = 1\n", "bogus"),
    ("[swing]\nsma_trend = \"long\"\n", "swing.sma_trend"),
])
def test_bad_swing_values_are_named(tmp_path, toml, key):
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_config(f, env={})
    assert key in str(e.value)


@pytest.mark.parametrize(("kw", "words"), [
    (dict(tranches=2, tranche_sizes=[0.5, 0.3, 0.2]), "tranche_sizes has 3 values but tranches is 2"),
    (dict(tranche_sizes=[0.5, 0.4, 0.3]), "must sum to <= 1"),
    (dict(sma_mid=200, sma_trend=50), "sma_mid (200) must be shorter than sma_trend (50)"),
    (dict(max_open_symbols=6), "more than the cash"),
])
def test_bad_swing_combinations_are_named(tmp_path, kw, words):
    f = tmp_path / "c.toml"
    f.write_text("[swing]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in kw.items()))
    with pytest.raises(ConfigError) as e:
        load_config(f, env={})
    assert words in str(e.value)


def test_config_defaults_equal_the_kernel_defaults():
    """[swing] and strategies.swing.Params hold the same defaults (two layers, one set of numbers)."""
    from tradejet.engine.swing import strategy_params

    cfg = msgspec.structs.replace(Config(system="swing"), swing=SwingConfig(ml_enabled=False))
    np.testing.assert_array_equal(strategy_params(cfg).to_array(), Params().to_array())
