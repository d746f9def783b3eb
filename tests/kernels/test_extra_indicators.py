"""The indicators TA-Lib lacks, against brute-force NumPy loops of their documented formulas."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tradejet.kernels as K
from tests.kernels.conftest import assert_close, candle_files, load_candles
from tests.kernels.test_vs_talib import walks


def log_returns_loop(x):
    out = np.full(x.size, np.nan)
    for t in range(1, x.size):
        out[t] = np.log(x[t] / x[t - 1])
    return out


def realized_vol_loop(x, p, bpy=1.0):
    r = log_returns_loop(x)
    out = np.full(x.size, np.nan)
    for t in range(p, x.size):
        out[t] = np.std(r[t - p + 1:t + 1]) * np.sqrt(bpy)
    return out


def zscore_loop(x, p):
    out = np.full(x.size, np.nan)
    for t in range(p - 1, x.size):
        w = x[t - p + 1:t + 1]
        sd = np.std(w)
        out[t] = 0.0 if sd == 0 else (x[t] - w.mean()) / sd
    return out


def vwap_loop(h, lo, c, v, p):
    out = np.full(c.size, np.nan)
    tp = (h + lo + c) / 3.0
    for t in range(p - 1, c.size):
        sv = v[t - p + 1:t + 1].sum()
        out[t] = tp[t] if sv == 0 else (tp[t - p + 1:t + 1] * v[t - p + 1:t + 1]).sum() / sv
    return out


def _check(d, p):
    c = d["close"]
    scale = float(np.mean(c))
    assert_close(K.log_returns(c), log_returns_loop(c), 1e-6, "log_returns")
    rv = realized_vol_loop(c, max(p, 2), 24 * 365)
    # a running variance's sd is accurate to ~sqrt(eps) of the window's scale when the sd itself is tiny
    # (cancellation; hypothesis found 1.3e-4 after ~1, and two near-equal returns): 1e-9 relative where the
    # value is not tiny against the series' scale, an absolute sqrt(eps)-sized bound where it is
    ours = K.realized_vol(c, max(p, 2), 24 * 365)
    big = float(np.nanmax(np.abs(rv))) if np.isfinite(rv).any() else 0.0
    tiny = np.abs(rv) < 1e-3 * big
    assert_close(np.where(tiny, np.nan, ours), np.where(tiny, np.nan, rv), 1e-6 * np.sqrt(24 * 365),
                 "realized_vol")
    assert np.array_equal(np.isnan(ours), np.isnan(rv))
    assert np.all(np.abs(ours[tiny] - rv[tiny]) <= 3e-8 * big), "realized_vol (tiny values)"
    # z-scores of a near-flat window are ill-conditioned: the running sums' variance (TA-Lib's
    # E[x^2] - E[x]^2) is off by ~eps * (level / sd)^2 relative, and so is the z-score; compare
    # where the window's sd is at least 1e-3 of the price there (error <= ~2e-10). The bound was
    # 1e-6 of the series' mean: hypothesis found a window at sd/price ~1e-4 (error 1.5e-8)
    z = K.zscore(c, max(p, 2))
    zl = zscore_loop(c, max(p, 2))
    sd = K.stddev(c, max(p, 2))
    ok = ~(sd < 1e-3 * np.abs(c))
    assert_close(np.where(ok, z, 0.0), np.where(ok, zl, 0.0), 1.0, "zscore")
    assert_close(K.rolling_vwap(d["high"], d["low"], c, d["volume"], p),
                 vwap_loop(d["high"], d["low"], c, d["volume"], p), scale, "rolling_vwap")


@given(d=walks, p=st.integers(1, 60))
def test_extra_indicators_match_their_formulas(d, p):
    _check(d, p)


def test_extra_indicators_on_real_files(shared_data):
    for rel in candle_files()[::8]:
        d = {k: v[:5000] for k, v in load_candles(shared_data, rel).items()}
        _check(d, 20)


def test_vwap_of_a_window_without_volume_is_the_typical_price():
    c = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    v = np.array([5.0, 0.0, 0.0, 0.0, 1.0])
    out = K.rolling_vwap(c + 1, c - 1, c, v, 2)
    assert np.isnan(out[0])
    assert out[1] == 10.0 and out[2] == 12.0 and out[3] == 13.0 and out[4] == 14.0


def test_realized_vol_annualises_by_sqrt_bars_per_year():
    x = np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, 200)))
    np.testing.assert_allclose(K.realized_vol(x, 30, 252.0), K.realized_vol(x, 30) * np.sqrt(252.0), rtol=1e-15)
