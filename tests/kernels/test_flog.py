"""_core.flog, the natural log of every log return (batch, fused, 2-D, streaming, the backtest's
bar context): fdlibm's algorithm, one value at a time (``flog``) and four at a time
(``_vec.Lanes.log``, via ``indicators.vec_logret``).

Oracles: the 80-bit long double log (``np.log`` on ``np.longdouble``) for accuracy (fdlibm's
bound: under one unit in the last place), the C library's ``math.log`` for the values outside
fdlibm's range (zero, negatives, subnormals, inf, NaN), and the scalar form for the vector one
(the same bits)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from tradejet.kernels import indicators as I
from tradejet.kernels._core import flog


@njit(cache=False)
def flog_each(x, out):
    for i in range(x.shape[0]):
        out[i] = flog(x[i])


@njit(cache=False)
def ratio_logs_scalar(x, out):
    for i in range(1, x.shape[0]):
        out[i] = I.log_return_value(x[i], x[i - 1])


def _ulps(got: np.ndarray, x: np.ndarray) -> np.ndarray:
    ref = np.log(x.astype(np.longdouble))
    return np.abs(got.astype(np.longdouble) - ref) / np.spacing(np.abs(got)).astype(np.longdouble)


def _wide_sample() -> np.ndarray:
    rng = np.random.default_rng(11)
    near_one = 1.0 + rng.normal(0.0, 1e-3, 200_000)
    very_near = 1.0 + rng.normal(0.0, 1e-7, 100_000)  # fdlibm's |f| < 2**-20 branch
    returns = np.exp(rng.normal(0.0, 0.05, 200_000))
    anywhere = np.exp(rng.uniform(-700.0, 700.0, 200_000))
    # both sides of the reduction's sqrt(2) boundary and of the two formulas' split
    edges = np.concatenate([np.sqrt(2.0) * (1 + rng.normal(0, 1e-9, 20_000)),
                            np.sqrt(0.5) * (1 + rng.normal(0, 1e-9, 20_000)),
                            rng.uniform(1.0, 2.0, 40_000)])
    return np.concatenate([near_one, very_near, returns, anywhere, edges])


def test_flog_is_within_one_ulp_of_the_long_double_log():
    x = _wide_sample()
    got = np.empty_like(x)
    flog_each(x, got)
    assert _ulps(got, x).max() < 1.0
    # and nearly always the correctly rounded value (98.9% of this sample)
    assert np.mean(got == np.log(x.astype(np.longdouble)).astype(np.float64)) > 0.98


@settings(max_examples=300, deadline=None)
@given(x=st.floats(min_value=2.0 ** -1022, max_value=1.7e308, allow_nan=False, allow_infinity=False))
def test_flog_is_within_one_ulp_anywhere_in_the_normal_range(x):
    got = np.empty(1)
    flog_each(np.array([x]), got)
    assert _ulps(got, np.array([x]))[0] < 1.0


@pytest.mark.parametrize("x", [0.0, -0.0, -1.0, -1e-300, 5e-324, 1e-310, 2.0 ** -1022 * 0.999,
                               math.inf, -math.inf, math.nan])
def test_values_outside_fdlibms_range_take_the_c_librarys_log(x):
    got = np.empty(1)
    flog_each(np.array([x]), got)
    with np.errstate(all="ignore"):
        ref = np.log(np.array([x]))[0] if x <= 0 or math.isnan(x) else math.log(x)
    np.testing.assert_array_equal(got, [ref])


def test_exact_values():
    x = np.array([1.0, 2.0, 0.5, 4.0, math.e])
    got = np.empty_like(x)
    flog_each(x, got)
    assert got[0] == 0.0
    assert got[1] == math.log(2.0) and got[2] == -math.log(2.0) and got[3] == 2 * math.log(2.0)
    assert abs(got[4] - 1.0) <= 2.2e-16


def _series_with_everything() -> np.ndarray:
    rng = np.random.default_rng(5)
    n = 50_003  # not a multiple of four: the one-lane tail too
    x = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    x[rng.random(n) < 0.1] = np.nan  # placeholder, replaced below by repeats (flat bars)
    flat = np.isnan(x)
    x[flat] = np.roll(x, 1)[flat]
    x[0] = 100.0 if math.isnan(x[0]) else x[0]
    x[1000:1100] *= 1e300  # ratios around 1e300, then 1e-300
    x[2000] = 1e-310  # subnormal price: subnormal and huge ratios
    x[3000:3004] = [1.0, 1.0 + 2.0 ** -52, 1.0, 1.0 - 2.0 ** -53]
    return x


def test_four_at_a_time_equals_one_at_a_time():
    x = _series_with_everything()
    lanes = np.empty_like(x)
    I.log_returns_1d_nb(x, lanes)
    one = np.full_like(x, np.nan)
    ratio_logs_scalar(x, one)
    np.testing.assert_array_equal(lanes, one)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(2, 300), scale=st.sampled_from([1e-300, 1e-5, 1.0, 3e4, 1e300]),
       vol=st.sampled_from([0.0, 1e-9, 0.01, 1.0, 50.0]))
def test_four_at_a_time_equals_one_at_a_time_on_random_series(seed, n, scale, vol):
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        x = scale * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    lanes = np.empty(n)
    I.log_returns_1d_nb(x, lanes)
    one = np.full(n, np.nan)
    ratio_logs_scalar(x, one)
    np.testing.assert_array_equal(lanes, one)


def test_four_at_a_time_equals_one_at_a_time_on_the_wide_sample():
    # ones between the values: the ratios are the values themselves and their reciprocals
    v = _wide_sample()
    x = np.ones(2 * v.size + 1)
    x[1::2] = v
    lanes = np.empty_like(x)
    I.log_returns_1d_nb(x, lanes)
    one = np.full_like(x, np.nan)
    ratio_logs_scalar(x, one)
    np.testing.assert_array_equal(lanes, one)
    np.testing.assert_array_equal(lanes[1::2], np.array([flog_one(a) for a in v[:2000]] + list(lanes[1::2][2000:])))


def flog_one(a: float) -> float:
    out = np.empty(1)
    flog_each(np.array([a]), out)
    return float(out[0])
