"""Selector kernel: allocation table and the switch rules (hand cases + invariants under hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tradejet.engine.selector import Selector
from tradejet.kernels import selector as ksel
from tradejet.kernels.codes import N_STRATEGIES, Regime, Strategy as S, StrategyStatus as SS

HOUR = 3_600_000_000_000


def fresh(sel: Selector):
    return (np.zeros(N_STRATEGIES), np.zeros(N_STRATEGIES, np.int64), np.zeros(N_STRATEGIES, np.int64))


def step(sel, state, regime, ts, pos):
    shares, status, deadline = state
    return ksel.selector_step_nb(regime, np.int64(ts), sel.table_strategy, sel.table_share, sel.wind_down_ns,
                                 shares, status, deadline, pos)


def test_default_table_as_arrays():
    sel = Selector()
    assert sel.table_strategy.tolist() == [[S.TREND_FOLLOWING, S.BREAKOUT], [S.MEAN_REVERSION, S.ML_SIGNAL],
                                           [S.MEAN_REVERSION, S.DEFENSIVE], [S.DEFENSIVE, -1]]
    assert sel.table_share.tolist() == [[0.6, 0.4], [0.5, 0.5], [0.3, 0.7], [1.0, 0.0]]
    out = np.full(N_STRATEGIES, 9.0)
    assert ksel.allocation_nb(Regime.RISK_OFF, sel.table_strategy, sel.table_share, out) == 2
    assert out.tolist() == [0.0, 0.3, 0.0, 0.0, 0.0, 0.7, 0.0]


def test_wind_down_then_deadline_then_release():
    sel = Selector()
    st_ = fresh(sel)
    pos = np.zeros((N_STRATEGIES, 3))
    assert step(sel, st_, Regime.RISK_ON, 0, pos) == (1 << S.TREND_FOLLOWING) | (1 << S.BREAKOUT)
    pos[S.TREND_FOLLOWING, 1] = 2.0
    changed = step(sel, st_, Regime.NEUTRAL, 10 * HOUR, pos)
    shares, status, deadline = st_
    assert status[S.TREND_FOLLOWING] == SS.WINDING_DOWN and deadline[S.TREND_FOLLOWING] == 34 * HOUR
    assert status[S.BREAKOUT] == SS.INACTIVE  # nothing held: nothing to wind down
    assert shares.tolist() == [0.0, 0.5, 0.0, 0.0, 0.5, 0.0, 0.0]
    assert changed == (1 << S.TREND_FOLLOWING) | (1 << S.BREAKOUT) | (1 << S.MEAN_REVERSION) | (1 << S.ML_SIGNAL)
    assert step(sel, st_, Regime.NEUTRAL, 34 * HOUR - 1, pos) == 0
    assert step(sel, st_, Regime.NEUTRAL, 34 * HOUR, pos) == 1 << S.TREND_FOLLOWING
    assert status[S.TREND_FOLLOWING] == SS.FLATTEN
    pos[S.TREND_FOLLOWING, 1] = 0.0
    assert step(sel, st_, Regime.NEUTRAL, 35 * HOUR, pos) == 1 << S.TREND_FOLLOWING
    assert status[S.TREND_FOLLOWING] == SS.INACTIVE and deadline[S.TREND_FOLLOWING] == 0


def test_panic_flattens_at_once_and_reactivation_cancels_wind_down():
    sel = Selector()
    st_ = fresh(sel)
    pos = np.zeros((N_STRATEGIES, 2))
    step(sel, st_, Regime.NEUTRAL, 0, pos)
    pos[S.MEAN_REVERSION, 0] = 1.0
    pos[S.ML_SIGNAL, 1] = 1.0
    step(sel, st_, Regime.PANIC, 5, pos)
    shares, status, deadline = st_
    assert status[S.MEAN_REVERSION] == status[S.ML_SIGNAL] == SS.FLATTEN
    assert deadline[S.MEAN_REVERSION] == 5
    assert status[S.DEFENSIVE] == SS.ACTIVE and shares[S.DEFENSIVE] == 1.0
    # back to RISK_OFF: mean_reversion is allowed again -> ACTIVE, deadline cleared
    step(sel, st_, Regime.RISK_OFF, 6, pos)
    assert status[S.MEAN_REVERSION] == SS.ACTIVE and deadline[S.MEAN_REVERSION] == 0
    assert status[S.ML_SIGNAL] == SS.FLATTEN  # still holding, still to be closed


REGIMES = st.integers(0, 3)


@given(st.lists(st.tuples(REGIMES, st.integers(0, 48), st.lists(st.booleans(), min_size=N_STRATEGIES, max_size=N_STRATEGIES)),
                min_size=1, max_size=60))
def test_invariants_over_random_regime_paths(path):
    sel = Selector()
    st_ = fresh(sel)
    shares, status, deadline = st_
    ts = 0
    held = np.zeros((N_STRATEGIES, 1))
    for regime, gap_h, holds in path:
        ts += gap_h * HOUR
        prev_status = status.copy()
        prev_deadline = deadline.copy()
        held[:, 0] = [1.0 if h else 0.0 for h in holds]
        changed = step(sel, st_, regime, ts, held)
        active = np.flatnonzero(status == SS.ACTIVE)
        assert len(active) <= 2
        assert shares.sum() <= 1.0 + 1e-12
        assert set(active) == set(np.flatnonzero(shares > 0))
        for s in range(N_STRATEGIES):
            assert bool(changed >> s & 1) == (prev_status[s] != status[s])
            if status[s] in (SS.WINDING_DOWN, SS.FLATTEN):
                assert held[s, 0] != 0.0  # only strategies still holding wind down
            if status[s] == SS.WINDING_DOWN:
                assert regime != Regime.PANIC and ts < deadline[s] <= ts + sel.wind_down_ns
            if status[s] == SS.FLATTEN and prev_status[s] != SS.FLATTEN:
                assert regime == Regime.PANIC or ts >= prev_deadline[s]
            if regime == Regime.PANIC and prev_status[s] in (SS.ACTIVE, SS.WINDING_DOWN) and shares[s] == 0:
                assert status[s] in (SS.FLATTEN, SS.INACTIVE)
