"""SMA in rounds (indicators.sma_1d_nb): TA-Lib's running sum over one block beside three guessing
chains over the next three, then a vector pass that checks the guesses and writes the averages.

The values must be TA-Lib's bits whatever the data: the check, not luck, makes them so, and a
guess that fails it sends its chunk the plain way. Oracles: TA-Lib's SMA and an independent
plain loop of TA-Lib's formula (below), compared exactly, on series long enough for many
rounds, on data made to break guesses (powers of two crossed, integers, huge ranges) and on
every real candle file. The redone count shows the guesses hold (else the rounds would be
correct but slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

import tradejet.kernels as K
from tests.kernels.test_vs_talib import random_walk
from tradejet.kernels import indicators as I

talib = pytest.importorskip("talib")

ROUND = 4 * I.SMA_BLOCK  # bars of one round


@njit(cache=False)
def plain_sma(x, period, out):
    """TA-Lib's SMA loop as its C source has it (ta_SMA.c): add, write sum/period, subtract."""
    n = x.shape[0]
    s = 0.0
    for t in range(n):
        s += x[t]
        if t >= period - 1:
            out[t] = s / period
            s -= x[t - period + 1]
        else:
            out[t] = np.nan


def _both(x, period):
    got = np.full(len(x), -1.0)
    bad = I.sma_1d_nb(x, period, got)
    ref = np.empty(len(x))
    plain_sma(x, period, ref)
    return got, ref, bad


def _chunks(n: int, period: int) -> int:
    """How many chunks the checks see in ``n`` bars (for the redone share)."""
    rounds = max(0, (n - period + 1) // ROUND)
    per_block = 1 + math.ceil((I.SMA_BLOCK - I.SMA_FIRST) / I.SMA_CHUNK)
    return rounds * 3 * per_block


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 3 * ROUND + 700), period=st.integers(1, 300), seed=st.integers(0, 2**16),
       level=st.sampled_from([1e-3, 1.0, 100.0, 3e4, 1e7]), vol=st.sampled_from([1e-4, 0.01, 0.05]))
def test_rounds_equal_talib_and_the_plain_loop_bit_for_bit(n, period, seed, level, vol):
    x = random_walk(seed, n, level, vol)["close"]
    got, ref, bad = _both(x, period)
    assert bad == 0
    np.testing.assert_array_equal(got, ref)
    if n:
        np.testing.assert_array_equal(got, talib.SMA(x, period))


def _hard_series():
    rng = np.random.default_rng(7)
    n = 3 * ROUND + 333
    walk = np.cumsum(rng.normal(0.0, 0.003, n))
    yield "crossing 1.0 and 2.0", 1.5 + 0.6 * np.sin(np.arange(n) / 500.0) + walk * 0.01
    yield "crossing 1024", 1024.0 * np.exp(walk)
    yield "integers", rng.integers(1, 50, n).astype(np.float64)
    yield "halves and quarters", rng.integers(1, 4000, n) / 4.0
    yield "volume-like", np.round(rng.pareto(1.2, n) * 1000.0, 3)
    yield "mixed signs", rng.normal(0.0, 1.0, n)
    yield "jumps of 1e6", np.where(rng.random(n) < 0.01, 1e6, 1.0) * rng.random(n)


@pytest.mark.parametrize("period", [1, 2, 3, 20, 200, I.SMA_MAX_LOOKBACK, I.SMA_MAX_LOOKBACK + 1, 2100])
def test_rounds_hold_on_series_made_to_break_guesses(period):
    for name, x in _hard_series():
        got, ref, bad = _both(np.ascontiguousarray(x), period)
        assert bad == 0, name
        np.testing.assert_array_equal(got, ref, err_msg=name)
        np.testing.assert_array_equal(got, talib.SMA(x, period), err_msg=name)


def test_the_guesses_mostly_hold_and_a_failed_one_is_redone():
    x = random_walk(3, 200_000, 100.0, 0.01)["close"]
    out = np.empty(len(x))
    redone = I.sma_redone_nb(x, 20, out)
    np.testing.assert_array_equal(out, talib.SMA(x, 20))
    chunks = _chunks(len(x), 20)
    assert 0 < redone < 0.2 * chunks, (redone, chunks)  # some do fail (the redo path ran), few


@pytest.mark.parametrize("period", [I.SMA_MAX_LOOKBACK, I.SMA_MAX_LOOKBACK + 1, 5000])
def test_a_long_window_goes_the_plain_way_above_the_limit(period):
    # rounds up to a lookback of SMA_MAX_LOOKBACK - 1 bars, the plain chain beyond (no chunk to redo)
    x = random_walk(9, 3 * ROUND + period, 100.0, 0.01)["close"]
    out = np.empty(len(x))
    redone = I.sma_redone_nb(x, period, out)
    np.testing.assert_array_equal(out, talib.SMA(x, period))
    if period - 1 >= I.SMA_MAX_LOOKBACK:
        assert redone == 0


def test_a_series_without_rounding_needs_no_redo():
    # integer values: every sum is exact, so the guesses' shift never changes a rounding
    x = np.random.default_rng(1).integers(0, 1000, 3 * ROUND).astype(np.float64)
    out = np.empty(len(x))
    assert I.sma_redone_nb(x, 20, out) == 0
    np.testing.assert_array_equal(out, talib.SMA(x, 20))


_N_BAD = 2 * ROUND + 400
_PERIOD = 30
# the first bars, the chained block, a guessed block's first and last bars, the tail; and one a
# few bars before a chunk's end, whose inf leaves the window in the next chunk (an inf passes the
# check; only the chain's last sum shows it)
_B1 = _PERIOD - 1 + I.SMA_BLOCK
_SPOTS = [0, _PERIOD - 2, _PERIOD - 1, _PERIOD + 5, _B1 - 1, _B1, _B1 + I.SMA_FIRST - 1,
          _B1 + I.SMA_FIRST + I.SMA_CHUNK - 10, _B1 + I.SMA_BLOCK + 77,
          _PERIOD - 1 + ROUND - 1, _PERIOD - 1 + ROUND + 3, _N_BAD - 1]


@pytest.mark.parametrize("what", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("at", _SPOTS)
def test_a_bad_value_anywhere_is_counted_and_named(what, at):
    x = random_walk(5, _N_BAD, 100.0, 0.01)["close"]
    x[at] = what
    out = np.empty(_N_BAD)
    assert I.sma_1d_nb(x, _PERIOD, out) != 0
    with pytest.raises(ValueError, match=f"x has {'NaN' if math.isnan(what) else 'inf'} at index {at}"):
        K.sma(x, _PERIOD)


@settings(max_examples=40, deadline=None)
@given(at=st.integers(0, _N_BAD - 1), what=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_a_bad_value_at_any_index_is_counted(at, what):
    x = random_walk(6, _N_BAD, 100.0, 0.01)["close"]
    x[at] = what
    assert I.sma_1d_nb(x, _PERIOD, np.empty(_N_BAD)) != 0


def test_finite_values_whose_sum_overflows_are_not_called_bad():
    # TA-Lib's sum overflows to inf (and inf - inf to NaN): the same values, and no input is bad
    x = np.full(ROUND + 500, 1.5e307)
    x[::7] = 1e308
    got, ref, bad = _both(x, 20)
    assert bad == 0
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got, talib.SMA(x, 20))
    K.sma(x, 20)  # does not raise


def test_streaming_equals_the_rounds_at_every_bar():
    x = random_walk(8, ROUND + 900, 100.0, 0.01)["close"]
    batch = K.sma(x, 20)
    st_ = K.sma_init(20)
    stream = np.array([K.sma_update(st_, v) for v in x])
    np.testing.assert_array_equal(stream, batch)


def test_rounds_equal_talib_on_every_real_candle_file(shared_data):
    from tests.kernels.conftest import candle_files, load_candles

    runs = 0
    for rel in candle_files():
        d = load_candles(shared_data, rel)
        for col in ("close", "high", "volume"):
            x = np.ascontiguousarray(d[col])
            if len(x) < ROUND + 20:
                continue
            for period in (2, 20, 200):
                got, ref, bad = _both(x, period)
                assert bad == 0, rel
                np.testing.assert_array_equal(got, ref, err_msg=f"{rel} {col} {period}")
                np.testing.assert_array_equal(got, talib.SMA(x, period), err_msg=f"{rel} {col} {period}")
                runs += 1
    assert runs > 0, "no candle file long enough for a round"
