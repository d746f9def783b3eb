"""momentum_rotation: hold the top-k pairs by multi-horizon momentum, rebalanced on a schedule.

Every ``rebalance_bars`` bars, the pairs are ranked by the mean of their returns over
three horizons (``IP_MOM1..3``); the top ``top_k`` with momentum above ``min_momentum``
are held, each sized ``min(1/top_k, max_position_fraction)`` of the strategy's capital;
pairs that fall out are sold. Between rebalances the shared ATR stop protects.
Risk profile: a third per pair, 3 ATR trailing stop.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numba import njit

from tradejet.kernels.codes import Side, StrategyStatus
from tradejet.strategies import base as b
from tradejet.strategies._params import RiskProfile


class Params(RiskProfile, forbid_unknown_fields=True, kw_only=True):
    EXTRA: ClassVar[tuple] = (("top_k", 1, 63), ("rebalance_bars", 1, 1_000_000), ("min_momentum", -1.0, 10.0))
    max_position_fraction: float = 0.34
    stop_atr: float | None = 3.0
    take_profit_atr: float | None = None
    max_hold_bars: int | None = None
    top_k: int = 3
    rebalance_bars: int = 24
    min_momentum: float = 0.0


@njit(cache=True, _nrt=False)
def step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state, scores, t, intents, n):
    n_pairs = iv.shape[0]
    top_k = int(params[b.SP_P0])
    rebalance = int(params[b.SP_P0 + 1])
    min_mom = params[b.SP_P0 + 2]
    chosen = 0  # bitmask of the pairs to hold (at most 63 pairs)
    if t % rebalance == 0 and status == StrategyStatus.ACTIVE:
        for _ in range(min(top_k, n_pairs)):
            best = -1
            best_m = -np.inf
            for p in range(n_pairs):
                m = iv[p, b.IV_MOM]
                if have_bar[p] and not (chosen >> p) & 1 and m == m and m > best_m:
                    best, best_m = p, m
            if best < 0 or not (best_m > min_mom):
                break
            chosen |= 1 << best
    frac = min(1.0 / max(top_k, 1), params[b.SP_MAX_POS_FRAC])
    for p in range(n_pairs):
        if not have_bar[p] or pending[p] != 0.0:
            continue
        c = iv[p, b.IV_CLOSE]
        q = pos_qty[p]
        if q > 0.0:
            n = b.manage_long_nb(intents, n, p, code, params, status, pos_state[p], q, c,
                                 t % rebalance == 0 and not (chosen >> p) & 1, b.REASON_REBALANCE)
        elif q == 0.0 and (chosen >> p) & 1:
            qty = frac * share * equity / c if c > 0.0 else 0.0
            n = b.emit_nb(intents, n, p, code, Side.BUY, qty, c, np.int64(0), np.int64(b.REASON_ENTRY))
    return n
