"""The indicators that split their bars in pieces (trange, wma, rolling_max, rolling_min; atr, natr).

Each piece kernel (``*_part_nb``) writes only its own bars; the pieces together must write
every output exactly as the one-piece kernel does (same bits, NaN warm-up included), and
their codes must be nonzero exactly when the whole's is. The public functions run two pieces
on two threads from ``SPLIT_MIN`` bars. Oracle: the one-piece kernel, itself checked against
TA-Lib in test_vs_talib.py."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tradejet.kernels as K
from tests.kernels.test_vs_talib import random_walk
from tradejet.kernels import api as A
from tradejet.kernels import indicators as I
from tradejet.kernels._core import RESUM

_SENTINEL = -12345.0


def _by_pieces(part, n, parts, order):
    """Run ``part(out, k, parts)`` for k in ``order`` into a sentinel-filled output."""
    out = np.full(n, _SENTINEL)
    bad = 0
    for k in order:
        bad += part(out, k, parts)
    return out, bad


def _cases(x, h, lo, period):
    return [
        (I.trange_1d_nb, lambda o, k, p: I.trange_part_nb(h, lo, x, o, k, p), (h, lo, x)),
        (I.wma_1d_nb, lambda o, k, p: I.wma_part_nb(x, period, o, k, p), (x, period)),
        (I.max_1d_nb, lambda o, k, p: I.max_part_nb(x, period, o, k, p), (x, period)),
        (I.min_1d_nb, lambda o, k, p: I.min_part_nb(x, period, o, k, p), (x, period)),
    ]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 900), period=st.integers(1, 40), parts=st.integers(1, 7), seed=st.integers(0, 2**16),
       reverse=st.booleans())
def test_pieces_write_every_bar_once_and_equal_the_whole(n, period, parts, seed, reverse):
    d = random_walk(seed, n, 100.0, 0.02)
    x, h, lo = d["close"], d["high"], d["low"]
    for whole, part, args in _cases(x, h, lo, period):
        ref = np.empty(n)
        assert whole(*args, ref) == 0
        order = range(parts - 1, -1, -1) if reverse else range(parts)
        got, bad = _by_pieces(part, n, parts, order)
        assert bad == 0
        assert not (got == _SENTINEL).any(), f"{whole.__name__}: a bar no piece wrote"
        np.testing.assert_array_equal(got, ref, err_msg=whole.__name__)


def test_wma_pieces_start_on_a_resum():
    # a piece that began between two re-sums would slide from another state: other bits
    p = 5
    n = 7 * RESUM * p + 3
    x = random_walk(3, n, 50_000.0, 0.01)["close"]
    ref = np.empty(n)
    I.wma_1d_nb(x, p, ref)
    for parts in (2, 3, 4, 6, 7, 8, 9):
        got, _ = _by_pieces(lambda o, k, q: I.wma_part_nb(x, p, o, k, q), n, parts, range(parts))
        np.testing.assert_array_equal(got, ref)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 400), at=st.floats(0.0, 1.0), parts=st.integers(1, 5), what=st.sampled_from(["nan", "inf"]),
       arr=st.sampled_from(["x", "h", "lo"]))
def test_a_bad_value_in_any_piece_is_counted(n, at, parts, what, arr):
    d = random_walk(9, n, 100.0, 0.02)
    x, h, lo = d["close"].copy(), d["high"].copy(), d["low"].copy()
    i = min(int(at * n), n - 1)
    {"x": x, "h": h, "lo": lo}[arr][i] = np.nan if what == "nan" else np.inf
    for whole, part, args in _cases(x, h, lo, 4):
        if arr != "x" and whole is not I.trange_1d_nb:
            continue
        whole_bad = whole(*args, np.empty(n))
        _, bad = _by_pieces(part, n, parts, range(parts))
        assert (bad != 0) == (whole_bad != 0) and bad != 0, f"{whole.__name__}: index {i} of {n}"


@pytest.fixture(scope="module")
def long_walk():
    return random_walk(21, A.SPLIT_MIN + 1_003, 100.0, 0.02)


def test_two_threads_equal_one_from_split_min(long_walk):
    d = long_walk
    n = len(d["close"])
    assert A.threads_split(n) == (2 if (os.cpu_count() or 1) > 1 else 1)
    assert A.threads_split(n, 1) == 1 and A.threads_split(A.SPLIT_MIN - 1, 2) == 1 and A.threads_split(n, 2) == 2
    pairs = [
        (lambda t: K.trange(d["high"], d["low"], d["close"], threads=t)),
        (lambda t: K.wma(d["close"], 20, threads=t)),
        (lambda t: K.wma(d["close"], 7, threads=t)),
        (lambda t: K.rolling_max(d["close"], 20, threads=t)),
        (lambda t: K.rolling_min(d["close"], 55, threads=t)),
    ]
    for f in pairs:
        np.testing.assert_array_equal(f(2), f(1))


def test_two_threads_name_the_first_bad_value(long_walk):
    n = len(long_walk["close"])
    for where in (n - 7, n // 2, 3):
        d = {k: v.copy() for k, v in long_walk.items()}
        d["close"][where] = np.nan
        d["close"][n - 2] = np.inf  # a later bad value: the first is named
        with pytest.raises(ValueError, match=f"close has NaN at index {where}"):
            K.trange(d["high"], d["low"], d["close"], threads=2)
        for f in (K.wma, K.rolling_max, K.rolling_min):
            with pytest.raises(ValueError, match=f"x has NaN at index {where}"):
                f(d["close"], 20, threads=2)


def test_two_threads_write_into_out(long_walk):
    x = long_walk["close"]
    o = np.full(len(x), _SENTINEL)
    assert K.rolling_max(x, 20, out=o, threads=2) is o
    np.testing.assert_array_equal(o, K.rolling_max(x, 20, threads=1))


@pytest.mark.parametrize("threads", ["two", object(), 2.5j])
def test_a_threads_value_that_is_no_number_is_named(threads):
    x = np.arange(1.0, 50.0)
    for call in (lambda: K.trange(x + 1, x - 1, x, threads=threads), lambda: K.wma(x, 5, threads=threads),
                 lambda: K.atr(x + 1, x - 1, x, threads=threads), lambda: K.natr(x + 1, x - 1, x, threads=threads),
                 lambda: K.rolling_max(x, 5, threads=threads), lambda: K.rolling_min(x, 5, threads=threads)):
        with pytest.raises(ValueError, match="threads must be a whole number or None"):
            call()


def test_tradejet_threads_caps_the_default(monkeypatch, long_walk):
    # a sweep's worker sets TRADEJET_THREADS=1: its process is one of a pool that fills the CPUs
    from tradejet.kernels import fused as F

    n = len(long_walk["close"])
    monkeypatch.setenv("TRADEJET_THREADS", "1")
    assert A.threads_split(n) == 1 and F.threads_1d(n) == 1 and F.threads_2d(n, 4) == 1
    assert A.threads_split(n, 2) == 2  # a caller's explicit count still rules
    x = long_walk["close"]
    np.testing.assert_array_equal(K.rolling_min(x, 20), K.rolling_min(x, 20, threads=2))
    monkeypatch.setenv("TRADEJET_THREADS", "two")  # not a number: the default stays the CPUs
    assert A.threads_split(n) == (2 if (os.cpu_count() or 1) > 1 else 1)
    monkeypatch.delenv("TRADEJET_THREADS")
    assert F.threads_1d(n) == (2 if (os.cpu_count() or 1) > 1 else 1)


# ---- ATR / NATR: the second piece's chain starts early from a guess and must meet the first's


@settings(max_examples=60, deadline=None)
@given(n=st.integers(40, 1500), period=st.integers(1, 30), lead=st.integers(1, 400), seed=st.integers(0, 2**16),
       norm=st.booleans())
def test_atr_pieces_equal_one_thread_whatever_the_lead(n, period, lead, seed, norm):
    # a short lead often leaves the chains apart: the caller then computes the piece again
    d = random_walk(seed, n, 100.0, 0.02)
    h, lo, c = d["high"], d["low"], d["close"]
    ref = (K.natr if norm else K.atr)(h, lo, c, period, threads=1)
    got = np.full(n, _SENTINEL)
    assert A._atr_two(h, lo, c, period, got, norm, lead) == 0
    np.testing.assert_array_equal(got, ref)


def test_atr_second_piece_is_redone_when_its_chain_has_not_met():
    d = random_walk(4, 5_000, 100.0, 0.02)
    before = A.ATR_REDOS
    got = np.empty(5_000)
    A._atr_two(d["high"], d["low"], d["close"], 14, got, False, 1)  # one bar of lead: cannot have met
    assert A.ATR_REDOS == before + 1
    np.testing.assert_array_equal(got, K.atr(d["high"], d["low"], d["close"], threads=1))


def test_atr_on_two_threads_equals_one_and_meets_without_redo(long_walk):
    d = long_walk
    before = A.ATR_REDOS
    for period in (2, 14, 50):
        for f in (K.atr, K.natr):
            np.testing.assert_array_equal(f(d["high"], d["low"], d["close"], period, threads=2),
                                          f(d["high"], d["low"], d["close"], period, threads=1))
    assert A.ATR_REDOS == before  # the default lead met every time


def test_atr_on_two_threads_names_the_first_bad_value(long_walk):
    n = len(long_walk["close"])
    m = n // 2
    lead = 128 * 14
    for where, col in ((m + 5, "high"), (m - lead // 2, "low"), (m - 1, "close"), (n - 1, "close"), (10, "high")):
        d = {k: v.copy() for k, v in long_walk.items()}
        d[col][where] = np.nan
        for f in (K.atr, K.natr):
            with pytest.raises(ValueError, match=f"{col} has NaN at index {where}"):
                f(d["high"], d["low"], d["close"], threads=2)


def test_atr_pieces_meet_on_real_candles(shared_data):
    # real bars (flat ones, gaps, jumps): the second piece's chain meets the first's at the
    # default lead, so no piece is computed twice, and the values are the one-thread ones
    from tests.kernels.conftest import candle_files, load_candles

    before = A.ATR_REDOS
    runs = 0
    for rel in candle_files():
        d = load_candles(shared_data, rel)
        h, lo, c = d["high"], d["low"], d["close"]
        for period in (14, 50):
            if len(c) // 2 - _k_lead(period) <= period + 1:
                continue
            for norm in (False, True):
                got = np.empty(len(c))
                assert A._atr_two(h, lo, c, period, got, norm, _k_lead(period)) == 0
                np.testing.assert_array_equal(got, (K.natr if norm else K.atr)(h, lo, c, period, threads=1), err_msg=rel)
                runs += 1
    assert runs > 0, "no candle file long enough for the split"
    assert A.ATR_REDOS == before


def _k_lead(period: int) -> int:
    return I.ATR_LEAD_PER_PERIOD * period
