"""breakout: Donchian channel breakout confirmed by volume, ATR stop.

Entry: the close above the highest high of the previous N bars, on volume above
``volume_mult`` times the previous N-bar mean. Exit: the close below the lowest low of
the previous N_exit bars, or the shared trailing ATR stop / time stop.
Risk profile: 25% per pair, 2 ATR trailing stop, no take-profit.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numba import njit

from tradejet.kernels.codes import Side, StrategyStatus
from tradejet.strategies import base as b
from tradejet.strategies._params import RiskProfile


class Params(RiskProfile, forbid_unknown_fields=True, kw_only=True):
    EXTRA: ClassVar[tuple] = (("volume_mult", 0.0, 100.0),)
    max_position_fraction: float = 0.25
    stop_atr: float | None = 2.0
    take_profit_atr: float | None = None
    max_hold_bars: int | None = None
    volume_mult: float = 1.5


@njit(cache=True, _nrt=False)
def step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state, scores, t, intents, n):
    for p in range(iv.shape[0]):
        if not have_bar[p] or pending[p] != 0.0:
            continue
        c = iv[p, b.IV_CLOSE]
        q = pos_qty[p]
        if q > 0.0:
            n = b.manage_long_nb(intents, n, p, code, params, status, pos_state[p], q, c,
                                 c < iv[p, b.IV_DON_LOW], b.REASON_SIGNAL_EXIT)
        elif q == 0.0 and status == StrategyStatus.ACTIVE:
            if c > iv[p, b.IV_DON_HIGH] and iv[p, b.IV_VOLUME] > params[b.SP_P0] * iv[p, b.IV_VOL_SMA]:
                n = b.emit_nb(intents, n, p, code, Side.BUY, b.entry_qty_nb(params, share, equity, 0.0, c), c,
                              np.int64(0), np.int64(b.REASON_ENTRY))
    return n
