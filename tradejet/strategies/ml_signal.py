"""ml_signal: enter when the ONNX model's probability clears a threshold.

The score per pair and bar comes in ``scores`` (computed outside Numba: in a backtest
in one batch before the loop, in paper/live one row at a time; NaN = no score, no
entry). Entry: score > ``enter_threshold``. Exit: score < ``exit_threshold``, or the
shared stop / take-profit / time stop. Risk profile: 20% per pair, 2 ATR stop,
3 ATR take-profit, at most 48 bars.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numba import njit

from tradejet.errors import StrategyError
from tradejet.kernels.codes import Side, StrategyStatus
from tradejet.strategies import base as b
from tradejet.strategies._params import RiskProfile


class Params(RiskProfile, forbid_unknown_fields=True, kw_only=True):
    EXTRA: ClassVar[tuple] = (("enter_threshold", 0.0, 1.0), ("exit_threshold", 0.0, 1.0))
    max_position_fraction: float = 0.2
    stop_atr: float | None = 2.0
    take_profit_atr: float | None = 3.0
    max_hold_bars: int | None = 48
    enter_threshold: float = 0.6
    exit_threshold: float = 0.45

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.exit_threshold > self.enter_threshold:
            raise StrategyError(f"exit_threshold ({self.exit_threshold}) must be <= enter_threshold "
                                f"({self.enter_threshold})")


@njit(cache=True, _nrt=False)
def step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state, scores, t, intents, n):
    for p in range(iv.shape[0]):
        if not have_bar[p] or pending[p] != 0.0:
            continue
        c = iv[p, b.IV_CLOSE]
        q = pos_qty[p]
        s = scores[p]
        if q > 0.0:
            n = b.manage_long_nb(intents, n, p, code, params, status, pos_state[p], q, c,
                                 s == s and s < params[b.SP_P0 + 1], b.REASON_SIGNAL_EXIT)
        elif q == 0.0 and status == StrategyStatus.ACTIVE and s == s and s > params[b.SP_P0]:
            n = b.emit_nb(intents, n, p, code, Side.BUY, b.entry_qty_nb(params, share, equity, 0.0, c), c,
                          np.int64(0), np.int64(b.REASON_ENTRY))
    return n
