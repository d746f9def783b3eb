"""mean_reversion: RSI and Bollinger band extremes, exit at the middle band.

Entry: RSI < ``rsi_low`` and the close below the lower Bollinger band. Exit: the close
back at or above the middle band, or the shared stop / take-profit / time stop.
Risk profile: 20% per pair, 2.5 ATR stop, 3 ATR take-profit, at most 48 bars held.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numba import njit

from tradejet.kernels.codes import Side, StrategyStatus
from tradejet.strategies import base as b
from tradejet.strategies._params import RiskProfile


class Params(RiskProfile, forbid_unknown_fields=True, kw_only=True):
    EXTRA: ClassVar[tuple] = (("rsi_low", 1.0, 50.0),)
    max_position_fraction: float = 0.2
    stop_atr: float | None = 2.5
    take_profit_atr: float | None = 3.0
    max_hold_bars: int | None = 48
    rsi_low: float = 30.0


@njit(cache=True, _nrt=False)
def step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state, scores, t, intents, n):
    for p in range(iv.shape[0]):
        if not have_bar[p] or pending[p] != 0.0:
            continue
        c = iv[p, b.IV_CLOSE]
        q = pos_qty[p]
        if q > 0.0:
            n = b.manage_long_nb(intents, n, p, code, params, status, pos_state[p], q, c,
                                 c >= iv[p, b.IV_BB_MID], b.REASON_SIGNAL_EXIT)
        elif q == 0.0 and status == StrategyStatus.ACTIVE:
            if iv[p, b.IV_RSI] < params[b.SP_P0] and c < iv[p, b.IV_BB_LOW]:
                n = b.emit_nb(intents, n, p, code, Side.BUY, b.entry_qty_nb(params, share, equity, 0.0, c), c,
                              np.int64(0), np.int64(b.REASON_ENTRY))
    return n
