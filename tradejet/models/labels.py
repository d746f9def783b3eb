"""Triple-barrier labels from ATR: "did the take-profit come before the stop-loss?".

Contract: float64 1-D ``high, low, close, atr`` of one symbol, ascending in time. For bar
``t`` the entry is ``close[t]``; the take-profit is ``close[t] + tp * atr[t]``, the
stop-loss ``close[t] - sl * atr[t]``, the time limit ``t + horizon``. Bars ``t+1 ..
t+horizon`` are scanned: the first whose high reaches the take-profit gives 1, the
first whose low reaches the stop-loss gives 0; a bar that touches both counts as the
stop-loss (we cannot know the order inside a bar; assume the worse); reaching the time
limit gives 0. Rows whose ATR is NaN (warm-up) or whose window runs past the last bar
get -1 (no label) and are never trained on.

``label_end[t]`` is the index of the last bar the label may look at (``t + horizon``):
the walk-forward split purges every training row whose ``label_end`` reaches into the
validation window, so no label peeks at validation data.

Oracle: :func:`triple_barrier_loop` below is a plain Python loop; a test checks the
kernel against it.

>>> import numpy as np
>>> c = np.array([10., 10., 12., 12., 12.])
>>> triple_barrier(c + .5, c - .5, c, np.ones(5), horizon=2, take_profit=1.0, stop_loss=1.0)[0].tolist()
[1, 1, 0, -1, -1]
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["triple_barrier", "triple_barrier_loop", "NO_LABEL"]

NO_LABEL = -1


@njit(cache=True)
def _triple_barrier_nb(high, low, close, atr, horizon, tp, sl, out, end):
    n = close.shape[0]
    for t in range(n):
        end[t] = min(t + horizon, n - 1)
        a = atr[t]
        if t + horizon >= n or not (a == a):  # NaN ATR or window past the data
            out[t] = -1
            continue
        up = close[t] + tp * a
        dn = close[t] - sl * a
        lab = 0
        for j in range(t + 1, t + horizon + 1):
            if low[j] <= dn:
                lab = 0
                break
            if high[j] >= up:
                lab = 1
                break
        out[t] = lab


def triple_barrier(high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray, *,
                   horizon: int, take_profit: float, stop_loss: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels int8, label_end int64)``: 1 = take-profit first, 0 = not, -1 = no label."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, was {horizon}")
    if not (take_profit > 0 and stop_loss > 0):
        raise ValueError(f"take_profit and stop_loss must be > 0, were {take_profit} and {stop_loss}")
    arrs = [np.ascontiguousarray(a, dtype=np.float64) for a in (high, low, close, atr)]
    n = len(arrs[2])
    if any(a.shape != (n,) for a in arrs):
        raise ValueError(f"high, low, close and atr must be 1-D of equal length, had {[a.shape for a in arrs]}")
    out = np.empty(n, dtype=np.int8)
    end = np.empty(n, dtype=np.int64)
    _triple_barrier_nb(arrs[0], arrs[1], arrs[2], arrs[3], int(horizon), float(take_profit), float(stop_loss),
                       out, end)
    return out, end


def triple_barrier_loop(high, low, close, atr, horizon, take_profit, stop_loss) -> list[int]:
    """Plain-Python oracle of :func:`triple_barrier` (labels only)."""
    n = len(close)
    labels = []
    for t in range(n):
        if t + horizon >= n or np.isnan(atr[t]):
            labels.append(-1)
            continue
        up, dn = close[t] + take_profit * atr[t], close[t] - stop_loss * atr[t]
        lab = 0
        for j in range(t + 1, t + horizon + 1):
            if low[j] <= dn:
                break
            if high[j] >= up:
                lab = 1
                break
        labels.append(lab)
    return labels
