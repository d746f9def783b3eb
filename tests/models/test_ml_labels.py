from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.models.labels import triple_barrier, triple_barrier_loop


@given(st.integers(0, 10_000), st.integers(5, 300), st.integers(1, 30), st.floats(0.2, 4.0), st.floats(0.2, 4.0))
def test_kernel_matches_python_loop(seed, n, horizon, tp, sl):
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    h = c * (1 + rng.uniform(0, 0.02, n))
    lo = c * (1 - rng.uniform(0, 0.02, n))
    atr = np.abs(rng.normal(1.0, 0.5, n))
    atr[: min(n, 5)] = np.nan
    y, end = triple_barrier(h, lo, c, atr, horizon=horizon, take_profit=tp, stop_loss=sl)
    assert y.tolist() == triple_barrier_loop(h, lo, c, atr, horizon, tp, sl)
    np.testing.assert_array_equal(end, np.minimum(np.arange(n) + horizon, n - 1))


def test_barrier_order_and_ties():
    c = np.full(6, 100.0)
    h, lo, atr = c.copy(), c.copy(), np.ones(6)
    h[2], lo[3] = 102.0, 98.0  # take-profit at bar 2 before stop-loss at bar 3
    y, _ = triple_barrier(h, lo, c, atr, horizon=3, take_profit=2.0, stop_loss=2.0)
    assert y[0] == 1 and y[1] == 1 and y[2] == 0  # bar 2's own high is the entry bar: not scanned
    h2, lo2 = c.copy(), c.copy()
    h2[1], lo2[1] = 102.0, 98.0  # both in one bar: the stop-loss is assumed first
    y2, _ = triple_barrier(h2, lo2, c, atr, horizon=3, take_profit=2.0, stop_loss=2.0)
    assert y2[0] == 0
    y3, _ = triple_barrier(c, c, c, atr, horizon=3, take_profit=2.0, stop_loss=2.0)
    assert y3.tolist() == [0, 0, 0, -1, -1, -1]  # time limit: 0; no full window: -1


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"horizon": 0}, "horizon must be >= 1, was 0"), ({"take_profit": 0.0}, "take_profit and stop_loss must be > 0"),
     ({"stop_loss": -1.0}, "take_profit and stop_loss must be > 0")],
)
def test_bad_arguments(kw, match):
    c = np.ones(5)
    args = {"horizon": 2, "take_profit": 1.0, "stop_loss": 1.0, **kw}
    with pytest.raises(ValueError, match=match):
        triple_barrier(c, c, c, c, **args)


def test_unequal_lengths():
    with pytest.raises(ValueError, match="equal length"):
        triple_barrier(np.ones(5), np.ones(4), np.ones(5), np.ones(5), horizon=2, take_profit=1.0, stop_loss=1.0)
