"""Dispatch a strategy's step kernel by its integer code (never by passing functions:
that would defeat Numba's on-disk cache)."""

from __future__ import annotations

from numba import njit

from tradejet.kernels.codes import Strategy
from tradejet.strategies import breakout, defensive, mean_reversion, ml_signal, momentum_rotation, swing, trend_following


@njit(cache=True, _nrt=False)
def strategy_step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state, scores, t,
                     intents, n):
    """Run strategy ``code``'s step for one bar over all pairs; return the new intent count."""
    if code == Strategy.TREND_FOLLOWING:
        return trend_following.step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending,
                                       pos_state, scores, t, intents, n)
    if code == Strategy.MEAN_REVERSION:
        return mean_reversion.step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending,
                                      pos_state, scores, t, intents, n)
    if code == Strategy.BREAKOUT:
        return breakout.step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state,
                                scores, t, intents, n)
    if code == Strategy.MOMENTUM_ROTATION:
        return momentum_rotation.step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending,
                                         pos_state, scores, t, intents, n)
    if code == Strategy.ML_SIGNAL:
        return ml_signal.step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state,
                                 scores, t, intents, n)
    if code == Strategy.DEFENSIVE:
        return defensive.step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state,
                                 scores, t, intents, n)
    if code == Strategy.SWING:
        return swing.step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state,
                             scores, t, intents, n)
    return n
