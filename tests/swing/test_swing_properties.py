"""Property tests of the swing kernel on random daily paths, against independent numpy oracles."""

from __future__ import annotations

import numpy as np
from conftest import path_bars, small_config
from hypothesis import given
from hypothesis import strategies as st

from tradejet.engine.simulate import run
from tradejet.strategies.base import REASON_ENTRY, REASON_SCALE_IN


def _sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    c = np.cumsum(np.insert(x, 0, 0.0))
    out[n - 1:] = (c[n:] - c[:-n]) / n
    return out


@given(seed=st.integers(0, 2**32 - 1), drift=st.floats(-0.002, 0.004), vol=st.floats(0.005, 0.04),
       tranches=st.integers(1, 4), scale_atr=st.floats(0.2, 2.0))
def test_entries_tranches_and_sizes_follow_the_rules(seed, drift, vol, tranches, scale_atr):
    rng = np.random.default_rng(seed)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(drift, vol, 260)))
    bars = path_bars(closes)
    cfg = small_config(tranches=tranches, scale_atr=scale_atr)
    res = run(bars, cfg)
    c = bars.close[:, 0]
    trend = (c > _sma(c, 30)) & (_sma(c, 10) > _sma(c, 30))
    o = res.orders
    ok = o["code"] == 0
    buys = ok & (o["side"] > 0)
    # every accepted buy was decided on a bar in an uptrend (numpy's SMAs, not the kernel's)
    assert trend[o["bar"][buys]].all()
    # round trips never fill more tranches than configured
    assert all(int(k) <= tranches for k in res.extra["tranches"]["filled"])
    # each tranche is its share of the allocation fixed at the first one
    sizes = cfg.swing.tranche_sizes or ([0.4, 0.3, 0.3] if tranches == 3 else [1 / tranches] * tranches)
    k, alloc = 0, None
    for b, side, q, p, r in zip(o["bar"][ok], o["side"][ok], o["qty"][ok], o["price"][ok], o["reason"][ok]):
        if side > 0:
            if r == REASON_ENTRY:
                k, alloc = 0, q * p / sizes[0]
            else:
                assert r == REASON_SCALE_IN
                k += 1
                np.testing.assert_allclose(q * p, sizes[k] * alloc, rtol=1e-9)
    # long only (the position never goes below zero), cash only (cash never below zero)
    f = res.fills
    assert (np.cumsum(f["qty"] * f["side"]) >= -1e-9).all()
    assert (res.cash >= -1e-6).all()
