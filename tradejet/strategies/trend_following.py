"""trend_following: EMA cross filtered by ADX.

Entry: the fast EMA crosses above the slow EMA on this bar and ADX > ``adx_min``.
Exit: the fast EMA falls back below the slow EMA, or the shared ATR stop / take-profit /
time stop. Risk profile: 25% of the strategy's capital per pair, 3 ATR trailing stop,
no take-profit (let trends run).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numba import njit

from tradejet.kernels.codes import Side, StrategyStatus
from tradejet.strategies import base as b
from tradejet.strategies._params import RiskProfile


class Params(RiskProfile, forbid_unknown_fields=True, kw_only=True):
    EXTRA: ClassVar[tuple] = (("adx_min", 0.0, 100.0),)
    max_position_fraction: float = 0.25
    stop_atr: float | None = 3.0
    take_profit_atr: float | None = None
    max_hold_bars: int | None = None
    adx_min: float = 20.0


@njit(cache=True, _nrt=False)
def step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state, scores, t, intents, n):
    for p in range(iv.shape[0]):
        if not have_bar[p] or pending[p] != 0.0:
            continue
        c = iv[p, b.IV_CLOSE]
        q = pos_qty[p]
        if q > 0.0:
            n = b.manage_long_nb(intents, n, p, code, params, status, pos_state[p], q, c,
                                 iv[p, b.IV_EMA_FAST] < iv[p, b.IV_EMA_SLOW], b.REASON_SIGNAL_EXIT)
        elif q == 0.0 and status == StrategyStatus.ACTIVE:
            ef, es = iv[p, b.IV_EMA_FAST], iv[p, b.IV_EMA_SLOW]
            if ef > es and iv[p, b.IV_EMA_FAST_PREV] <= iv[p, b.IV_EMA_SLOW_PREV] \
                    and iv[p, b.IV_ADX] > params[b.SP_P0]:
                n = b.emit_nb(intents, n, p, code, Side.BUY, b.entry_qty_nb(params, share, equity, 0.0, c), c,
                              np.int64(0), np.int64(b.REASON_ENTRY))
    return n
