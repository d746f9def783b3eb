"""defensive: reduce exposure, close risk positions in an orderly way, hold cash.

It never enters. Positions it holds (for example positions adopted from the venue at
start and handed to it) are sold in tranches of ``tranche_fraction`` of the original
size every ``tranche_bars`` bars, so exits do not hit the book at once; FLATTEN sells
everything at once. Its capital share is cash held back from the other strategies.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numba import njit

from tradejet.kernels.codes import StrategyStatus
from tradejet.strategies import base as b
from tradejet.strategies._params import RiskProfile


class Params(RiskProfile, forbid_unknown_fields=True, kw_only=True):
    EXTRA: ClassVar[tuple] = (("tranche_fraction", 0.01, 1.0), ("tranche_bars", 1, 1_000_000))
    max_position_fraction: float = 1.0
    stop_atr: float | None = None
    take_profit_atr: float | None = None
    max_hold_bars: int | None = None
    tranche_fraction: float = 0.25
    tranche_bars: int = 1


@njit(cache=True, _nrt=False)
def step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state, scores, t, intents, n):
    frac = params[b.SP_P0]
    every = int(params[b.SP_P0 + 1])
    for p in range(iv.shape[0]):
        if not have_bar[p] or pending[p] != 0.0:
            continue
        q = pos_qty[p]
        if q == 0.0:
            continue
        c = iv[p, b.IV_CLOSE]
        ps = pos_state[p]
        if ps[b.PS_ENTRY_PRICE] != ps[b.PS_ENTRY_PRICE]:  # first sight: remember the size to scale out of
            ps[b.PS_ENTRY_PRICE] = c
            ps[b.PS_HIGH] = abs(q)
        ps[b.PS_BARS] += 1.0
        if status == StrategyStatus.FLATTEN:
            n = b.exit_all_nb(intents, n, p, code, q, c, np.int64(b.REASON_FLATTEN), np.bool_(True))
        elif int(ps[b.PS_BARS]) % every == 0:
            tranche = min(abs(q), frac * ps[b.PS_HIGH])
            n = b.exit_all_nb(intents, n, p, code, tranche if q > 0 else -tranche, c,
                              np.int64(b.REASON_SIGNAL_EXIT), np.bool_(False))
    return n
