"""Each strategy's step on hand-built indicator values: what it enters, what it exits, and why."""

from __future__ import annotations

import numpy as np
import pytest

from tradejet.errors import StrategyError
from tradejet.kernels.codes import Side, Strategy, StrategyStatus
from tradejet.strategies import REGISTRY, params_table
from tradejet.strategies import base as b
from tradejet.strategies.dispatch import strategy_step_nb

ACTIVE, FLATTEN, WINDING = StrategyStatus.ACTIVE, StrategyStatus.FLATTEN, StrategyStatus.WINDING_DOWN


def _iv(n=3, **cols):
    iv = np.full((n, b.N_IV), np.nan)
    iv[:, b.IV_CLOSE] = 100.0
    iv[:, b.IV_ATR] = 2.0
    for k, v in cols.items():
        iv[:, getattr(b, f"IV_{k.upper()}")] = v
    return iv


def _step(code, iv, pos=None, status=ACTIVE, share=0.5, equity=10_000.0, scores=None, t=0, params=None,
          pos_state=None, have=None):
    n = iv.shape[0]
    table = params_table(params)
    pos = np.zeros(n) if pos is None else np.asarray(pos, float)
    ps = np.zeros((n, b.N_PS)) if pos_state is None else pos_state
    if pos_state is None:
        for p in range(n):
            b.clear_position_nb(ps[p])
    intents = np.zeros((b.MAX_INTENTS, b.N_INT))
    k = strategy_step_nb(code, table[code], status, share, equity, iv, np.ones(n, np.bool_) if have is None else have,
                         pos, np.zeros(n), ps, np.full(n, np.nan) if scores is None else scores, t, intents, 0)
    return intents[:k], ps


def test_trend_following_enters_on_a_cross_with_adx_and_sizes_from_its_share():
    iv = _iv(ema_fast=[101, 101, 99], ema_slow=[100, 100, 100], ema_fast_prev=[99, 101, 99],
             ema_slow_prev=[100, 100, 100], adx=[25, 25, 25])
    out, _ = _step(Strategy.TREND_FOLLOWING, iv)
    assert out[:, b.INT_PAIR].tolist() == [0]  # pair 1 crossed earlier, pair 2 is below
    assert out[0, b.INT_SIDE] == Side.BUY
    assert out[0, b.INT_QTY] == pytest.approx(0.25 * 0.5 * 10_000 / 100)
    iv[:, b.IV_ADX] = 15
    assert len(_step(Strategy.TREND_FOLLOWING, iv)[0]) == 0  # no trend strength, no entry


def test_trend_following_exits_when_the_fast_ema_falls_below():
    iv = _iv(ema_fast=[99], ema_slow=[100], n=1)
    out, _ = _step(Strategy.TREND_FOLLOWING, iv, pos=[3.0])
    assert out[0, b.INT_SIDE] == Side.SELL and out[0, b.INT_QTY] == 3.0
    assert out[0, b.INT_REASON] == b.REASON_SIGNAL_EXIT
    assert int(out[0, b.INT_FLAGS]) & b.FLAG_REDUCE_ONLY


def test_mean_reversion_buys_the_oversold_close_under_the_band_and_exits_at_the_middle():
    iv = _iv(rsi=[25, 35, 25], bb_low=[101, 101, 99], bb_mid=[105, 105, 105])
    out, _ = _step(Strategy.MEAN_REVERSION, iv)
    assert out[:, b.INT_PAIR].tolist() == [0]
    iv = _iv(n=1, bb_mid=[99.5], rsi=[50])
    out, _ = _step(Strategy.MEAN_REVERSION, iv, pos=[1.0])
    assert out[0, b.INT_REASON] == b.REASON_SIGNAL_EXIT


def test_breakout_needs_the_channel_and_the_volume():
    iv = _iv(don_high=[99, 99, 101], volume=[300, 100, 300], vol_sma=[100, 100, 100])
    out, _ = _step(Strategy.BREAKOUT, iv)
    assert out[:, b.INT_PAIR].tolist() == [0]  # pair 1: volume 1x < 1.5x; pair 2: below the channel


def test_momentum_rotation_holds_the_top_k_and_sells_the_rest_on_rebalance():
    mom = [0.05, 0.20, -0.01, 0.10, 0.15]
    iv = _iv(n=5, mom=mom)
    out, _ = _step(Strategy.MOMENTUM_ROTATION, iv, t=0, params={"momentum_rotation": {"top_k": 2}})
    assert sorted(out[:, b.INT_PAIR].astype(int).tolist()) == [1, 4]
    assert out[0, b.INT_QTY] == pytest.approx(min(1 / 2, 0.34) * 0.5 * 10_000 / 100)  # 1/top_k, capped
    # holding pair 0 at a rebalance bar: it is no longer top-2, so it is sold
    out, _ = _step(Strategy.MOMENTUM_ROTATION, iv, pos=[2.0, 0, 0, 0, 0], t=24,
                   params={"momentum_rotation": {"top_k": 2}})
    sells = out[out[:, b.INT_SIDE] == Side.SELL]
    assert sells[:, b.INT_PAIR].tolist() == [0] and sells[0, b.INT_REASON] == b.REASON_REBALANCE
    # between rebalances nothing moves
    assert len(_step(Strategy.MOMENTUM_ROTATION, iv, pos=[2.0, 0, 0, 0, 0], t=5)[0]) == 0


def test_ml_signal_follows_the_score_thresholds():
    iv = _iv()
    out, _ = _step(Strategy.ML_SIGNAL, iv, scores=np.array([0.7, 0.55, np.nan]))
    assert out[:, b.INT_PAIR].tolist() == [0]
    out, _ = _step(Strategy.ML_SIGNAL, iv, pos=[1, 1, 1], scores=np.array([0.4, 0.5, np.nan]))
    assert out[:, b.INT_PAIR].tolist() == [0]


def test_defensive_never_enters_and_scales_out_in_tranches():
    iv = _iv(n=1)
    assert len(_step(Strategy.DEFENSIVE, iv)[0]) == 0
    ps = np.zeros((1, b.N_PS))
    b.clear_position_nb(ps[0])
    qtys = []
    pos = 8.0
    for _ in range(4):
        out, ps = _step(Strategy.DEFENSIVE, iv, pos=[pos], pos_state=ps)
        qtys.append(out[0, b.INT_QTY])
        pos -= out[0, b.INT_QTY]
    assert qtys == [2.0, 2.0, 2.0, 2.0] and pos == 0.0


@pytest.mark.parametrize("code", list(range(6)))
def test_flatten_sells_everything_now_and_winding_down_never_enters(code):
    iv = _iv(ema_fast=101, ema_slow=100, ema_fast_prev=99, ema_slow_prev=100, adx=30, rsi=10, bb_low=200,
             bb_mid=300, don_high=50, volume=1e9, vol_sma=1, mom=0.5)
    out, _ = _step(code, iv, pos=[1.0, 0.0, 2.0], status=FLATTEN, scores=np.full(3, 0.99))
    assert out[:, b.INT_PAIR].tolist() == [0, 2]
    assert all(int(f) & b.FLAG_FORCED for f in out[:, b.INT_FLAGS])
    out, _ = _step(code, iv, pos=[0.0, 0.0, 0.0], status=WINDING, scores=np.full(3, 0.99))
    assert len(out) == 0


def test_shared_stops_fire_and_trail():
    params = params_table()[Strategy.BREAKOUT]  # 2 ATR trailing stop
    ps = np.zeros(b.N_PS)
    b.clear_position_nb(ps)
    b.on_entry_fill_nb(ps, params, 1, 100.0, 2.0, True)
    assert ps[b.PS_STOP] == 96.0
    b.advance_position_nb(ps, params, 110.0)
    assert ps[b.PS_STOP] == 106.0  # trailed under the new high
    assert b.protective_exit_nb(ps, params, 105.0) == b.REASON_STOP
    mr = params_table()[Strategy.MEAN_REVERSION]  # 3 ATR take-profit, 48 bars max
    b.clear_position_nb(ps)
    b.on_entry_fill_nb(ps, mr, 1, 100.0, 2.0, True)
    assert b.protective_exit_nb(ps, mr, 106.5) == b.REASON_TAKE_PROFIT
    ps[b.PS_BARS] = 48
    assert b.protective_exit_nb(ps, mr, 101.0) == b.REASON_TIME


def test_skips_pairs_without_a_bar_or_with_a_working_order():
    iv = _iv(ema_fast=101, ema_slow=100, ema_fast_prev=99, ema_slow_prev=100, adx=30)
    out, _ = _step(Strategy.TREND_FOLLOWING, iv, have=np.array([False, True, True]))
    assert out[:, b.INT_PAIR].tolist() == [1, 2]


def test_registry_and_parameter_errors():
    assert list(REGISTRY) == ["trend_following", "mean_reversion", "breakout", "momentum_rotation", "ml_signal",
                              "defensive", "swing"]
    with pytest.raises(StrategyError, match="unknown strategy 'scalper'"):
        params_table({"scalper": {}})
    with pytest.raises(StrategyError, match="unknown field `adx_mn`"):
        params_table({"trend_following": {"adx_mn": 3}})
    with pytest.raises(StrategyError, match="max_position_fraction must be in"):
        params_table({"breakout": {"max_position_fraction": 1.5}})
    with pytest.raises(StrategyError, match="exit_threshold"):
        params_table({"ml_signal": {"enter_threshold": 0.5, "exit_threshold": 0.6}})
    with pytest.raises(StrategyError, match="top_k must be in"):
        params_table({"momentum_rotation": {"top_k": 0}})
