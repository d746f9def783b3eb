"""Streaming == batch at every bar, fused == separate exactly (1-D and 2-D), for every indicator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tradejet.kernels as K
import tradejet.kernels.fused as F
from tests.kernels.test_vs_talib import random_walk, walks

HLC = ("trange", "atr", "natr", "adx", "plus_di", "minus_di", "stoch")


def _inputs(name, d):
    if name in HLC:
        return (d["high"], d["low"], d["close"])
    if name == "obv":
        return (d["close"], d["volume"])
    if name == "rolling_vwap":
        return (d["high"], d["low"], d["close"], d["volume"])
    return (d["close"],)


def _params(name, p):
    return {
        "sma": (p,), "ema": (p,), "wma": (p,), "stddev": (p, 1.5), "rsi": (max(p, 2),), "trange": (),
        "atr": (p,), "natr": (p,), "bbands": (p, 2.5), "macd": (max(p // 2, 2), max(p, 2) + 3, max(p // 3, 1)),
        "adx": (max(p, 2),), "plus_di": (max(p, 2),), "minus_di": (max(p, 2),), "stoch": (p, 2, 3),
        "roc": (p,), "obv": (), "rolling_max": (p,), "rolling_min": (p,), "log_returns": (),
        "realized_vol": (max(p, 2), 365.0), "zscore": (max(p, 2),), "rolling_vwap": (p,),
    }[name]


def _stream(name, d, params):
    init = getattr(K, f"{name}_init")
    update = getattr(K, f"{name}_update")
    state = init(*params)
    cols = _inputs(name, d)
    rows = [update(state, *(float(c[t]) for c in cols)) for t in range(len(cols[0]))]
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
    return tuple(arr.T) if arr.shape[1] > 1 else arr[:, 0]


@pytest.mark.parametrize("name", K.INDICATORS)
@given(d=walks, p=st.integers(1, 40))
def test_streaming_equals_batch_at_every_bar(name, d, p):
    params = _params(name, p)
    batch = getattr(K, name)(*_inputs(name, d), *params)
    stream = _stream(name, d, params)
    if isinstance(batch, tuple):
        assert len(stream) == len(batch)
        for b, s in zip(batch, stream):
            np.testing.assert_array_equal(s, b, strict=True)
    else:
        n = len(d["close"])
        np.testing.assert_array_equal(np.asarray(stream).reshape(n), batch)


def test_streaming_equals_batch_on_a_long_series():
    # long enough for many exact re-sums of the rolling variance and VWAP
    d = random_walk(11, 3000, 60_000.0, 0.01)
    for name in K.INDICATORS:
        params = _params(name, 20)
        batch = getattr(K, name)(*_inputs(name, d), *params)
        stream = _stream(name, d, params)
        for b, s in zip(batch if isinstance(batch, tuple) else (batch,), stream if isinstance(batch, tuple) else (stream,)):
            np.testing.assert_array_equal(s, b, err_msg=name)


def separate_rows(d):
    rows = []
    for name in K.FEATURES:
        fn, *args = F.SEPARATE[name]
        idx = args.pop() if fn in ("bbands", "macd", "stoch") else None
        r = getattr(K, fn)(*_inputs(fn, d), *args)
        rows.append(r if idx is None else r[idx])
    return np.array(rows)


@given(d=walks)
def test_fused_equals_separate_exactly(d):
    fused = K.features(d["open"], d["high"], d["low"], d["close"], d["volume"])
    np.testing.assert_array_equal(fused, separate_rows(d))


def test_fused_reuses_its_out_buffer_and_equals_separate_on_real_data(shared_data):
    from tests.kernels.conftest import load_candles

    d = load_candles(shared_data, "crypto/binance/LUNAUSDT_1h_2020-08_2022-07.csv")
    buf = np.full((K.N_FEATURES, len(d["close"])), 7.0)
    out = K.features(d["open"], d["high"], d["low"], d["close"], d["volume"], out=buf)
    assert out is buf
    np.testing.assert_array_equal(out, separate_rows(d))


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), m=st.integers(1, 6))
def test_fused_2d_equals_fused_1d_per_symbol(seed, n, m):
    ds = [random_walk(seed + j, n, 10.0 ** j, 0.02) for j in range(m)]
    cols = {k: np.column_stack([d[k] for d in ds]) for k in ("open", "high", "low", "close", "volume")}
    out = K.features_2d(cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"])
    assert out.shape == (m, K.N_FEATURES, n)
    for j, d in enumerate(ds):
        np.testing.assert_array_equal(out[j], separate_rows(d))


@given(d=walks)
def test_fused_streaming_equals_fused_batch_at_every_bar(d):
    fused = K.features(d["open"], d["high"], d["low"], d["close"], d["volume"])
    state = K.features_init()
    row = np.empty(K.N_FEATURES)
    for t in range(len(d["close"])):
        K.features_update(state, d["open"][t], d["high"][t], d["low"][t], d["close"][t], d["volume"][t], row)
        np.testing.assert_array_equal(row, fused[:, t], err_msg=f"bar {t}")


def test_feature_names_are_unique_and_mapped():
    assert len(set(K.FEATURES)) == K.N_FEATURES == 27
    assert set(F.SEPARATE) == set(K.FEATURES)


@given(d=walks)
def test_features_updater_row_equals_fused_batch(d):
    fused = K.features(d["open"], d["high"], d["low"], d["close"], d["volume"])
    update, row = K.features_updater()
    for t in range(len(d["close"])):
        update(float(d["open"][t]), float(d["high"][t]), float(d["low"][t]), float(d["close"][t]), float(d["volume"][t]))
        np.testing.assert_array_equal(row, fused[:, t], err_msg=f"bar {t}")
    assert update.state.shape == (F.STATE_SIZE,)


def test_features_updater_refuses_a_foreign_state():
    import pytest as _pytest

    with _pytest.raises(ValueError, match="state must come from features_init"):
        K.features_updater(np.zeros(3))


# ---- the blocked steady state of the fused kernel (fused.WARM bars per bar, then blocks of fused.BLK)

_EDGES = sorted({1, 2, F.WARM - 1, F.WARM, F.WARM + 1, F.WARM + 4, F.WARM + F.BLK - 1, F.WARM + F.BLK,
                 F.WARM + F.BLK + 1, F.WARM + F.BLK + 3, F.WARM + 2 * F.BLK + F.P, F.WARM + 3 * F.BLK + 7})


@pytest.mark.parametrize("n", _EDGES)
def test_fused_equals_separate_at_block_boundaries(n):
    d = random_walk(n, n, 100.0, 0.02)
    fused = K.features(d["open"], d["high"], d["low"], d["close"], d["volume"])
    np.testing.assert_array_equal(fused, separate_rows(d))


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(F.WARM - 2, F.WARM + 3 * F.BLK + 30),
       level=st.sampled_from([1e-4, 1.0, 60_000.0]), vol=st.sampled_from([0.001, 0.05]))
def test_fused_blocks_equal_separate_on_random_walks(seed, n, level, vol):
    d = random_walk(seed, n, level, vol)
    fused = K.features(d["open"], d["high"], d["low"], d["close"], d["volume"])
    np.testing.assert_array_equal(fused, separate_rows(d))


@pytest.mark.parametrize("scale", [1e-300, 1e-5, 1e300])
def test_fused_constant_divisors_are_exact_at_extreme_magnitudes(scale):
    # the divisions by 20, 3 and 100 use Markstein's fma correction, exact for numerators in
    # [2**-960, 2**1000]: tiny and huge prices take the fallback division, and must still be equal
    d = random_walk(3, F.WARM + F.BLK + 50, 1.0, 0.02)
    for k in ("open", "high", "low", "close"):
        d[k] = d[k] * scale
    fused = K.features(d["open"], d["high"], d["low"], d["close"], d["volume"])
    np.testing.assert_array_equal(fused, separate_rows(d))


def test_fused_flat_stretches_and_zero_volume_equal_separate():
    # flat windows (zero variance, zero stoch range, no +DM/-DM, RSI 0/0) and windows without
    # volume (VWAP falls back to the typical price) inside the blocked steady state
    d = random_walk(9, 2 * F.BLK + 200, 50.0, 0.01)
    for k in ("open", "high", "low", "close"):
        d[k][100:160] = 50.0
        d[k][F.BLK + 70:F.BLK + 75] = 51.0
    d["volume"][120:150] = 0.0
    d["volume"][F.BLK + 60:F.BLK + 90] = 0.0
    fused = K.features(d["open"], d["high"], d["low"], d["close"], d["volume"])
    np.testing.assert_array_equal(fused, separate_rows(d))
    assert (fused[F.FEATURES.index("stddev"), 125:160] == 0.0).all()
    assert (fused[F.FEATURES.index("vwap"), 140:150] == 50.0).all()
