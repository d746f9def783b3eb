"""The compiled driver's bar context: each pair's fill-model rows, from that pair's own bars."""

from __future__ import annotations

import numpy as np
import pytest

from tradejet.engine.driver import bar_context_nb
from tradejet.kernels.fills import N_BAR, market_context_nb


def _bars(rng, T, n):
    mid = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, (T, n)), axis=0))
    o = mid * np.exp(rng.normal(0, 0.0005, (T, n)))
    c = mid * np.exp(rng.normal(0, 0.0005, (T, n)))
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, 0.001, (T, n))))
    lo = np.minimum(o, c) / np.exp(np.abs(rng.normal(0, 0.001, (T, n))))
    v = rng.gamma(2.0, 5.0, (T, n))
    return o, h, lo, c, v


@pytest.mark.parametrize("T", [1, 17, 40, 203])
def test_bar_context_is_each_pairs_market_context_on_its_own_bars(T):
    """Pair 0 has every bar (written straight into its rows), pair 1 misses a run and some
    scattered bars, pair 2 starts late, pair 3 has none: each equals market_context_nb on
    the bars it has, NaN rows where it has none."""
    rng = np.random.default_rng(T)
    o, h, lo, c, v = _bars(rng, T, 4)
    gone = np.zeros((T, 4), bool)
    gone[T // 3: T // 2, 1] = True
    gone[rng.random(T) < 0.1, 1] = True
    gone[: T // 2, 2] = True
    gone[:, 3] = True
    for a in (o, h, lo, c, v):
        a[gone] = np.nan
    out = np.full((4, T, N_BAR), -1.0)  # stale values must all be overwritten
    bar_context_nb(o, h, lo, c, v, 5, 7, out)
    for p in range(4):
        keep = ~gone[:, p]
        want = np.full((T, N_BAR), np.nan)
        if keep.any():
            want[keep] = market_context_nb(o[keep, p], h[keep, p], lo[keep, p], c[keep, p], v[keep, p], 5, 7)
        np.testing.assert_array_equal(out[p], want)
