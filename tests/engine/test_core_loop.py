"""The decision-core kernels driven together from one @njit loop over real hourly data.

Five Kraken-listed majors (Binance 1h, 2024-09 .. 2026-02, aligned on common hours),
a crude stand-in regime from BTC's 24 h return (the real regime kernels come later),
toy intents from every active strategy, and the invariants checked at every bar:
never more than 2 strategies, shares respected, no order the trading state forbids,
cash never negative (cash-only), per-strategy/per-pair limits held, the breaker holds.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from tradejet.config import RiskConfig, UniverseConfig
from tradejet.engine.risk import RiskLimits
from tradejet.engine.schedule import Schedule
from tradejet.engine.selector import Selector
from tradejet.engine.universe import Universe
from tradejet.kernels import portfolio as kpf
from tradejet.kernels import risk as kr
from tradejet.kernels.codes import Permit, Reject, StrategyStatus, TradingState
from tradejet.kernels.pairs import META_TAKER_FEE
from tradejet.kernels.schedule import permissions_nb, trading_state_nb
from tradejet.kernels.selector import selector_step_nb

SYMBOLS = ["BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD", "ADA/USD"]
FILES = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"]

# per-bar record columns
R_STATE, R_REGIME, R_N_ACTIVE, R_SHARE_SUM, R_CASH, R_EQUITY, R_TRIPPED, R_BAD_ORDER, R_LIMIT_BREACH, R_ACCEPTED, \
    R_ENTRIES = range(11)


@njit
def drive(ts, close, regimes, sched, table_s, table_w, wind_down_ns, meta, limits, cash0):
    n_bars, n_pairs = close.shape
    n_strat = 6
    account = np.zeros(kpf.N_ACC)
    account[kpf.ACC_CASH] = cash0
    pos = np.zeros((n_strat, n_pairs))
    avg = np.zeros((n_strat, n_pairs))
    realized = np.zeros((n_strat, n_pairs))
    fees = np.zeros((n_strat, n_pairs))
    shares = np.zeros(n_strat)
    status = np.zeros(n_strat, dtype=np.int64)
    deadline = np.zeros(n_strat, dtype=np.int64)
    unrec = np.zeros(n_pairs, dtype=np.bool_)
    rs = np.array([np.nan, 0.0])
    rec = np.zeros((n_bars, 11))
    for t in range(n_bars):
        mark = close[t]
        state = trading_state_nb(ts[t], sched)
        selector_step_nb(regimes[t], ts[t], table_s, table_w, wind_down_ns, shares, status, deadline, pos)
        eq = kpf.equity_nb(account, pos, avg, mark)
        kr.update_breaker_nb(rs, eq, limits[kr.LIM_MAX_DRAWDOWN])
        permits = permissions_nb(state)
        bad = 0
        breach = 0
        accepted = 0
        entries = 0
        for s in range(n_strat):
            for p in range(n_pairs):
                side = 0
                qty = 0.0
                flags = 0
                if status[s] == StrategyStatus.FLATTEN and pos[s, p] > 0.0:
                    side, qty, flags = -1, pos[s, p], kr.INTENT_FORCED | kr.INTENT_REDUCE_ONLY
                elif (t + 3 * p + 5 * s) % 7 == 0:
                    side, qty = 1, 0.2 * shares[s] * max(eq, 0.0) / mark[p] + 0.3 * (s == 3) * eq / mark[p]
                elif (t + p + s) % 11 == 0 and pos[s, p] > 0.0:
                    side, qty = -1, pos[s, p]
                if side == 0 or not (qty > 0.0):
                    continue
                eq_before = kpf.equity_nb(account, pos, avg, mark)
                reducing = side < 0 and pos[s, p] > 0.0
                code, q, px = kr.check_intent_nb(p, s, side, qty, mark[p], flags, state, meta, limits, shares,
                                                 status, unrec, account, pos, avg, mark, rs)
                if code != Reject.OK:
                    continue
                accepted += 1
                if not reducing:
                    entries += 1
                    if not (permits & Permit.NEW_ENTRY) or rs[kr.RS_TRIPPED] != 0.0:
                        bad += 1
                elif not (permits & Permit.EXIT) and not (permits & Permit.FORCED_EXIT and flags & kr.INTENT_FORCED):
                    bad += 1
                kpf.apply_fill_nb(account, pos, avg, realized, fees, s, p, side, q, px, q * px * meta[p, META_TAKER_FEE])
                if not reducing:
                    strat_gross = 0.0
                    for j in range(n_pairs):
                        strat_gross += abs(pos[s, j]) * mark[j]
                    if strat_gross > shares[s] * eq_before * (1 + 1e-9):
                        breach += 1
                    if pos[s, p] * mark[p] > limits[kr.LIM_MAX_STRATEGY_PAIR_SHARE] * eq_before * (1 + 1e-9):
                        breach += 1
        n_active = 0
        for s in range(n_strat):
            if status[s] == StrategyStatus.ACTIVE:
                n_active += 1
        rec[t, R_STATE] = state
        rec[t, R_REGIME] = regimes[t]
        rec[t, R_N_ACTIVE] = n_active
        rec[t, R_SHARE_SUM] = shares.sum()
        rec[t, R_CASH] = account[kpf.ACC_CASH]
        rec[t, R_EQUITY] = kpf.equity_nb(account, pos, avg, mark)
        rec[t, R_TRIPPED] = rs[kr.RS_TRIPPED]
        rec[t, R_BAD_ORDER] = bad
        rec[t, R_LIMIT_BREACH] = breach
        rec[t, R_ACCEPTED] = accepted
        rec[t, R_ENTRIES] = entries
    return rec, pos


def load_market(shared_data):
    series = []
    for name in FILES:
        path = shared_data / "crypto" / "binance" / f"{name}_1h_2024-09_2026-02.csv"
        a = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 4))
        series.append(dict(zip(a[:, 0].astype(np.int64), a[:, 1])))
    common = sorted(set.intersection(*(set(s) for s in series)))
    ts = np.array(common, dtype=np.int64) * 1_000_000_000
    close = np.array([[s[t] for s in series] for t in common])
    return ts, close


def stand_in_regimes(btc_close):
    r = np.full(btc_close.shape[0], 1, dtype=np.int64)
    ret = np.zeros_like(btc_close)
    ret[24:] = btc_close[24:] / btc_close[:-24] - 1.0
    r[ret > 0.02] = 0
    r[ret < -0.02] = 2
    r[ret < -0.05] = 3
    return r


@pytest.mark.parametrize("max_drawdown", [1.0, 0.05])
def test_invariants_hold_at_every_bar(shared_data, max_drawdown):
    ts, close = load_market(shared_data)
    assert close.shape[0] > 10_000
    regimes = stand_in_regimes(close[:, 0])
    u = Universe.from_config(UniverseConfig(symbols=SYMBOLS))
    sel = Selector()
    lim = RiskLimits(RiskConfig(max_drawdown=max_drawdown)).array
    rec, pos = drive(ts, close, regimes, Schedule().params, sel.table_strategy, sel.table_share,
                     sel.wind_down_ns, u.meta, lim, 100_000.0)
    assert (rec[:, R_N_ACTIVE] <= 2).all()
    assert (rec[:, R_SHARE_SUM] <= 1.0 + 1e-12).all()
    assert rec[:, R_BAD_ORDER].sum() == 0
    assert rec[:, R_LIMIT_BREACH].sum() == 0
    assert rec[:, R_CASH].min() >= -1e-6
    assert (pos >= 0.0).all()
    downtime = rec[:, R_STATE] == TradingState.DOWNTIME
    assert downtime.any() and rec[downtime, R_ENTRIES].sum() == 0
    assert rec[rec[:, R_STATE] != TradingState.TRADING, R_ENTRIES].sum() == 0
    tripped = rec[:, R_TRIPPED]
    if tripped.any():
        first = int(np.argmax(tripped > 0))
        assert (tripped[first:] == 1).all(), "the breaker let go without a reset"
        assert rec[first + 1:, R_ENTRIES].sum() == 0
        assert rec[first + 1:, R_ACCEPTED].sum() > 0  # exits continue
    if max_drawdown == 1.0:
        assert not tripped.any()
        assert rec[:, R_ACCEPTED].sum() > 500  # the run really traded
    else:
        assert tripped.any()
    # every regime showed up, and PANIC never kept non-defensive strategies active
    assert set(np.unique(regimes)) == {0, 1, 2, 3}
