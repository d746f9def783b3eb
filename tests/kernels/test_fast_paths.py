"""The batch kernels' fast paths on long series: chunk boundaries, every pass of the rolling
max/min, WMA's re-sum cadence, ATR's branch-free loop, and the threaded 2-D form.

Oracles: a sliding-window view (max/min, exact), TA-Lib (WMA, ATR, NATR), the 1-D fused
kernel (2-D, exact), and the streaming form (bit for bit)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import tradejet.kernels as K
from tests.kernels.conftest import assert_close
from tests.kernels.test_vs_talib import random_walk
from tradejet.kernels import _threads
from tradejet.kernels import fused as F
from tradejet.kernels._core import RESUM
from tradejet.kernels.indicators import CHUNK


@pytest.mark.parametrize("p", [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 63, 64, 65, 100, CHUNK - 1, CHUNK + 3])
def test_rolling_max_min_equal_a_sliding_window_across_chunks(p):
    n = 3 * CHUNK + 77
    x = random_walk(p, n, 100.0, 0.02)["close"]
    x[::97] = x[::97].round(1)  # ties
    win = sliding_window_view(x, p)
    hi, lo = K.rolling_max(x, p), K.rolling_min(x, p)
    assert np.isnan(hi[:p - 1]).all() and np.isnan(lo[:p - 1]).all()
    np.testing.assert_array_equal(hi[p - 1:], win.max(axis=1))
    np.testing.assert_array_equal(lo[p - 1:], win.min(axis=1))


def test_rolling_max_min_short_and_bad_series():
    for n in range(0, 6):
        x = np.arange(n, dtype=float)
        assert np.isnan(K.rolling_max(x, 6)).all() and K.rolling_min(x, 6).shape == (n,)
    x = np.ones(3000)
    x[2500] = np.inf
    with pytest.raises(ValueError, match="x has inf at index 2500"):
        K.rolling_max(x, 20)
    x[2500] = 1.0
    x[3] = np.nan  # inside the warm-up
    with pytest.raises(ValueError, match="x has NaN at index 3"):
        K.rolling_min(x, 20)


@pytest.mark.parametrize("p", [1, 2, 20, 33])
def test_wma_across_resums_matches_talib_and_streaming(p):
    talib = pytest.importorskip("talib")
    d = random_walk(5, 4 * RESUM * p + 13, 60_000.0, 0.01)
    x = d["close"]
    ours = K.wma(x, p)
    assert_close(ours, talib.WMA(x, p), float(np.mean(x)), f"wma p={p}", rtol=1e-12)
    st = K.wma_init(p)
    np.testing.assert_array_equal(np.array([K.wma_update(st, float(v)) for v in x]), ours)


@pytest.mark.parametrize("p", [1, 2, 14])
def test_atr_natr_steady_loop_matches_talib_and_catches_late_bad_values(p):
    talib = pytest.importorskip("talib")
    d = random_walk(9, 5000, 100.0, 0.01)
    h, lo, c = d["high"], d["low"], d["close"]
    assert_close(K.atr(h, lo, c, p), talib.ATR(h, lo, c, p), float(np.mean(c)), f"atr p={p}")
    if p > 1:  # TA-Lib's NATR(period=1) is not ATR(1)/close (a TA-Lib quirk, as before this change)
        assert_close(K.natr(h, lo, c, p), talib.NATR(h, lo, c, p), 1.0, f"natr p={p}")
    for name in ("high", "low", "close"):
        for idx in (4321, 4999):
            for val, what in ((np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")):
                bad = {"high": h.copy(), "low": lo.copy(), "close": c.copy()}
                bad[name][idx] = val
                for fn in (K.atr, K.natr):
                    with pytest.raises(ValueError, match=f"{name} has {what} at index {idx}"):
                        fn(bad["high"], bad["low"], bad["close"], p)
                with pytest.raises(ValueError, match=f"{name} has {what} at index {idx}"):
                    K.trange(bad["high"], bad["low"], bad["close"])


def test_atr_that_overflows_is_not_an_input_error():
    h = np.full(100, 1e308)
    lo = np.full(100, -1e308)
    c = np.zeros(100)
    out = K.atr(h, lo, c, 14)
    assert np.isnan(out[:14]).all() and np.isinf(out[14:]).all()
    tr = K.trange(h, lo, c)  # its check suspects an inf true range, then counts the inputs: none is bad
    assert np.isnan(tr[0]) and np.isinf(tr[1:]).all()
    np.testing.assert_array_equal(K.natr(h, lo, np.ones(100), 14)[14:], np.inf)


def test_the_four_bar_loops_handle_every_tail_length():
    # atr, natr, sma, stddev, bbands take four bars a turn, then 0-3 single bars: every remainder,
    # and bad values in the tail, against the streaming forms (bit for bit)
    for n in range(30, 38):
        d = random_walk(n, n, 100.0, 0.01)
        h, lo, c = d["high"], d["low"], d["close"]
        for p in (1, 2, 5, 14):
            st = K.atr_init(p)
            np.testing.assert_array_equal(K.atr(h, lo, c, p), [K.atr_update(st, *v) for v in zip(h, lo, c)])
            st = K.natr_init(p)
            np.testing.assert_array_equal(K.natr(h, lo, c, p), [K.natr_update(st, *v) for v in zip(h, lo, c)])
            st = K.sma_init(p)
            np.testing.assert_array_equal(K.sma(c, p), [K.sma_update(st, v) for v in c])
            st = K.stddev_init(p, 2.0)
            np.testing.assert_array_equal(K.stddev(c, p, 2.0), [K.stddev_update(st, v) for v in c])
            st = K.bbands_init(p, 1.5)
            np.testing.assert_array_equal(np.array(K.bbands(c, p, 1.5)).T, [K.bbands_update(st, v) for v in c])
        for name in ("high", "low", "close"):
            bad = {"high": h.copy(), "low": lo.copy(), "close": c.copy()}
            bad[name][n - 1] = np.nan
            for fn in (K.atr, K.natr):
                with pytest.raises(ValueError, match=f"{name} has NaN at index {n - 1}"):
                    fn(bad["high"], bad["low"], bad["close"], 5)
        for fn in (K.sma, K.stddev, K.bbands):
            x = c.copy()
            x[n - 2] = np.inf
            with pytest.raises(ValueError, match=f"(x|close) has inf at index {n - 2}"):
                fn(x, 5)


def _panel(m, n):
    ds = [random_walk(40 + j, n, 100.0, 0.01) for j in range(m)]
    return ds, [np.column_stack([dj[k] for dj in ds]) for k in ("open", "high", "low", "close", "volume")]


def test_features_2d_on_threads_equals_1d_and_serial():
    ds, panel = _panel(3, 90_000)  # large enough for the threaded path
    threaded = K.features_2d(*panel)
    serial = K.features_2d(*panel, threads=1)
    np.testing.assert_array_equal(threaded, serial)
    for j, dj in enumerate(ds):
        np.testing.assert_array_equal(threaded[j], K.features(*(dj[k] for k in ("open", "high", "low", "close",
                                                                                 "volume"))))


@pytest.mark.parametrize("n", [30, 41, 25_000])
def test_features_2d_of_one_symbol_equals_1d(n):
    # one symbol: the kernel runs on the panels' own (contiguous) column, no copy
    ds, panel = _panel(1, n)
    out = K.features_2d(*panel)
    np.testing.assert_array_equal(out[0], K.features(*(ds[0][k] for k in ("open", "high", "low", "close", "volume"))))


def test_features_2d_on_threads_names_a_bad_value():
    _, panel = _panel(3, 90_000)
    panel[3][70_000, 1] = np.inf
    with pytest.raises(ValueError, match=r"close has inf at index \(70000, 1\) \(bar 70000, symbol 1\)"):
        K.features_2d(*panel)
    panel[3][70_000, 1] = 100.0
    panel[4][80_000, 2] = -1.0
    with pytest.raises(ValueError, match=r"volume must be >= 0, was -1.0 at flat index 240002"):
        K.features_2d(*panel)


# ---- the 2-D form's four-symbol lanes (tradejet.kernels._lanes2d): every path against the 1-D kernel

_COLS = ("open", "high", "low", "close", "volume")


def _one(dj):
    return K.features(*(dj[k] for k in _COLS))


@pytest.mark.parametrize("threads", [1, 2])
def test_features_2d_lanes_equal_1d_with_streaming_stores_and_leftover_symbols(threads):
    # 6 symbols: one group of four in lanes, two one by one; 117 MB of output: non-temporal stores
    ds, panel = _panel(6, 90_000)
    out = K.features_2d(*panel, threads=threads)
    assert out.ctypes.data % 64 == 0 and out.nbytes >= F.NT_MIN_BYTES
    for j, dj in enumerate(ds):
        np.testing.assert_array_equal(out[j], _one(dj), err_msg=f"symbol {j}")


def test_features_2d_lanes_into_an_unaligned_out_buffer():
    # an out= whose rows are not 32-byte aligned takes ordinary stores; same bits
    ds, panel = _panel(4, 90_003)
    raw = np.full(4 * K.N_FEATURES * 90_003 + 1, 7.0)
    start = 1 if raw.ctypes.data % 32 == 0 else 0
    buf = raw[start:start + 4 * K.N_FEATURES * 90_003].reshape(4, K.N_FEATURES, 90_003)
    assert buf.ctypes.data % 32 != 0
    out = K.features_2d(*panel, out=buf, threads=2)
    assert out is buf
    for j, dj in enumerate(ds):
        np.testing.assert_array_equal(out[j], _one(dj), err_msg=f"symbol {j}")


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_features_2d_lanes_outside_markstein_range_divide_exactly(scale):
    # prices whose sums leave [2**-960, 2**1000] for a stretch: those blocks run again with true
    # divisions (the fast path's division by a constant does not cover them); equal to 1-D
    ds, panel = _panel(4, 3_000)
    for k in ("open", "high", "low", "close"):
        panel[_COLS.index(k)][1_000:1_300, 2] *= scale
        ds[2][k][1_000:1_300] *= scale
    out = K.features_2d(*panel, threads=1)
    for j, dj in enumerate(ds):
        np.testing.assert_array_equal(out[j], _one(dj), err_msg=f"symbol {j}")


def test_features_2d_lanes_name_a_bad_value_in_a_lane():
    _, panel = _panel(4, 5_000)
    panel[3][4_000, 2] = np.nan
    with pytest.raises(ValueError, match=r"close has NaN at index \(4000, 2\) \(bar 4000, symbol 2\)"):
        K.features_2d(*panel)
    panel[3][4_000, 2] = 100.0
    panel[4][4_500, 3] = -1.0
    with pytest.raises(ValueError, match=r"volume must be >= 0, was -1.0 at flat index 18003"):
        K.features_2d(*panel, threads=2)


# ---- one symbol's set in two halves on two threads (tradejet.kernels._halves)

def test_features_in_halves_on_two_threads_equal_one_thread_and_separate():
    d = random_walk(11, F.PAR_MIN_1D + 1_001, 100.0, 0.02)
    cols = [d[k] for k in _COLS]
    one = K.features(*cols, threads=1)
    two = K.features(*cols, threads=2)
    np.testing.assert_array_equal(two, one)
    # a row of each half against its separate function (test_streaming_and_fused checks them all)
    hlc = (d["high"], d["low"], d["close"])
    for row, value in (("atr", K.atr(*hlc, 14)), ("adx", K.adx(*hlc, 14)), ("max", K.rolling_max(d["close"], 20)),
                       ("wma", K.wma(d["close"], 20)), ("min", K.rolling_min(d["close"], 20)),
                       ("log_return", K.log_returns(d["close"])), ("vwap", K.rolling_vwap(*hlc, d["volume"], 20))):
        np.testing.assert_array_equal(two[K.FEATURES.index(row)], value, err_msg=row)


def test_features_in_halves_name_a_bad_value():
    d = random_walk(12, F.PAR_MIN_1D + 10, 100.0, 0.02)
    d["high"][F.PAR_MIN_1D - 5] = np.inf
    with pytest.raises(ValueError, match=f"high has inf at index {F.PAR_MIN_1D - 5}"):
        K.features(*(d[k] for k in _COLS), threads=2)
    d["high"][F.PAR_MIN_1D - 5] = d["close"][F.PAR_MIN_1D - 5]
    d["volume"][7] = -2.0  # in the warm-up (counted before the halves start)
    with pytest.raises(ValueError, match="volume"):
        K.features(*(d[k] for k in _COLS), threads=2)


def _halves_in_child(q):
    d = random_walk(13, F.PAR_MIN_1D + 100, 100.0, 0.02)
    cols = [d[k] for k in _COLS]
    q.put(bool(np.array_equal(K.features(*cols, threads=2), K.features(*cols, threads=1), equal_nan=True)))


def test_features_threads_work_in_a_forked_child():
    # the parent's pool exists (its threads do not, in a child): the child must start its own
    import multiprocessing as mp

    d = random_walk(14, F.PAR_MIN_1D + 100, 100.0, 0.02)
    K.features(*(d[k] for k in _COLS), threads=2)
    assert _threads._POOL is not None
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_halves_in_child, args=(q,))
    p.start()
    p.join(60)
    alive = p.is_alive()
    if alive:
        p.kill()
    assert not alive, "the child hung on the parent's thread pool"
    assert q.get(timeout=5) is True


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux CPU affinity and two CPUs")
def test_pool_half_runs_off_the_callers_cpu_and_gets_its_cpus_back():
    before = os.sched_getaffinity(0)
    cpu = sorted(before)[0]
    seen = F._pool().submit(F._beside, cpu, lambda: (os.sched_getaffinity(0), F._caller_cpu())).result()
    assert seen[0] == before - {cpu} and seen[1] != cpu
    assert F._pool().submit(os.sched_getaffinity, 0).result() == before
    assert F._beside(-1, lambda: 7) == 7  # no CPU known: runs as it is


@pytest.mark.parametrize("threads", ["two", 1.5j, object()])
def test_a_threads_count_that_is_no_number_is_named(threads):
    d = random_walk(15, 100, 100.0, 0.02)
    with pytest.raises(ValueError, match="threads must be a whole number or None"):
        K.features(*(d[k] for k in _COLS), threads=threads)
    with pytest.raises(ValueError, match="threads must be a whole number or None"):
        K.features_2d(*(np.column_stack([d[k]]) for k in _COLS), threads=threads)
    assert F.threads_1d(10 * F.PAR_MIN_1D, 0) == 1 and F.threads_2d(100, 1, -3) == 1  # below 1: one thread
