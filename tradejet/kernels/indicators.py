"""Batch indicator kernels: ``<name>_1d_nb(inputs..., params..., out...)``.

Contract: inputs are C-contiguous float64 1-D arrays of one length ``n``; outputs are float64 arrays of
length ``n`` passed in by the caller (allocating inside ``@njit`` is slow here), written
completely: NaN over the warm-up (TA-Lib's lookback), values after. Parameters are
already validated. Every kernel returns a code that is nonzero when an input element is not
finite (and, for log returns / VWAP, not > 0 / not >= 0): mostly their count: the check rides
along in the loop instead of costing a second pass over memory, and the wrapper raises
(naming the first bad index) when it is not 0; the outputs are then meaningless. Each kernel advances the indicator with its ``*_step`` function from
:mod:`tradejet.kernels.steps` (or, in a branch-free steady-state loop, the part of it
that runs after the warm-up), so it equals the streaming and fused forms exactly; where
a recurrence bounds the loop, the per-bar work hanging off it (NATR's division, STDDEV's
and BBANDS' square roots, the input checks) is done four bars at a time by the vector
intrinsics of :mod:`tradejet.kernels._simd`, with the same operations per lane (same bits);
rolling max/min use SIMD passes instead (max and min are exact, any order gives the
same values). Oracle: TA-Lib (tests/kernels/test_vs_talib.py).
"""

from __future__ import annotations

import numpy as np

from tradejet.kernels._core import (
    NAN,
    RESUM,
    flog,
    jit,
    jit_inline,
    window_shifted_sums,
    window_sum2,
    window_wsums,
)
from tradejet.kernels._simd import (
    bb_store4,
    natr_store4,
    nonfinite4,
    prefetch,
    sd_store4,
)
from tradejet.kernels._vec import vmap
from tradejet.kernels.steps import (
    adx_step,
    atr_step,
    dmi_step,
    ema_step,
    macd_step,
    max_step,
    min_step,
    natr_value,
    obv_step,
    ring_sma_step,
    roc_value,
    rsi_step,
    sd_value,
    sma_step,
    stoch_k_value,
    tr_value,
    var_update,
    var_value,
    vwap_update,
    vwap_value,
    wilder_next,
    wma_slide,
    wma_value,
    zscore_value,
)


@jit_inline
def _sma_chain(x, lb, fp, out, a, b, s):
    """TA-Lib's running sum over bars ``a..b-1`` (``a >= lb``) from ``s``, the sum before bar ``a``:
    add the bar, write sum / period, subtract the value leaving the window. Returns (bad, the
    sum before bar ``b``). Reads through offset views with a counter from 0: an index like
    ``x[t - lb]`` makes Numba emit a negative-index fix-up on every read."""
    xs = x[a:b]
    xt = x[a - lb:b - lb]
    os_ = out[a:b]
    r = b - a
    bad = 0
    for j in range(r >> 2):  # four bars a turn: the input check is one vector op for them
        k = 4 * j
        bad |= nonfinite4(xs, k)
        s, os_[k] = sma_step(lb, lb, fp, s, xs[k], xt[k])
        s, os_[k + 1] = sma_step(lb, lb, fp, s, xs[k + 1], xt[k + 1])
        s, os_[k + 2] = sma_step(lb, lb, fp, s, xs[k + 2], xt[k + 2])
        s, os_[k + 3] = sma_step(lb, lb, fp, s, xs[k + 3], xt[k + 3])
    for i in range(r & ~3, r):
        v = xs[i]
        bad += (v - v) != 0.0
        s, os_[i] = sma_step(lb, lb, fp, s, v, xt[i])
    return bad, s


# SMA rounds (sma_1d_nb): TA-Lib's chain over one block of SMA_BLOCK bars beside three guessing
# chains over the next three blocks, then _sma_fix over those in chunks of SMA_CHUNK bars (a
# multiple of 4 dividing the block), the first of each block SMA_FIRST bars: a block's guess
# most often fails its check once, near its start (at the first sum that falls exactly halfway
# between two doubles: shifted by an odd number of units in the last place, it rounds the other
# way; the shift is even from then on), and a failed chunk is redone the plain way. Measured at
# 1M bars: 2048/128/32 0.89-0.94 of TA-Lib's time; 4096 or 8192 bars per block 0.91-0.99;
# chunks of 256 1.07 (more redone). Non-temporal stores of the averages (past the cache)
# measured worse: 1.00 at 1M, 1.11 at 300k, against 0.84 and 0.90 (this machine keeps an output
# of megabytes in its large last-level cache between calls; sent past it, it goes to memory).
SMA_BLOCK = 2048
SMA_CHUNK = 128
SMA_FIRST = 32
# a window of more than this many bars (plus one) goes the plain way: each round starts its three
# guessing chains at their windows' sums, ``period - 1`` additions each, which outweigh the gain
# from about here (1M bars, against TA-Lib: period 200 0.86, 500 0.92, 700 0.89-1.06, 1000
# 1.00, 5000 1.48)
SMA_MAX_LOOKBACK = 512


@jit_inline
def _sma_round(x, lb, fp, tout, gs, t, s, B):
    """TA-Lib's chain over bars ``t..t+B-1`` (B = SMA_BLOCK) from ``s``, the sum before bar
    ``t``, writing the averages to ``tout[0..B-1]``, and beside it three chains of the same steps
    over the next three blocks, each started at its window's plain sum: block k's sums before
    each bar go to ``gs[k*(B+1) ..]``, and the sum after its last bar after them (guesses: they
    miss the drift TA-Lib's chain carried in). Returns the four chains' last sums. The four
    chains' adds wait on their own chain only: four run in the time of one."""
    b1 = t + B
    b2 = b1 + B
    b3 = b2 + B
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for i in range(lb):
        s1 += x[b1 - lb + i]
        s2 += x[b2 - lb + i]
        s3 += x[b3 - lb + i]
    x0 = x[t:b1]
    t0 = x[t - lb:b1 - lb]
    x1 = x[b1:b2]
    t1 = x[b1 - lb:b2 - lb]
    o1 = gs[0:B]
    x2 = x[b2:b3]
    t2 = x[b2 - lb:b3 - lb]
    o2 = gs[B + 1:2 * B + 1]
    x3 = x[b3:b3 + B]
    t3 = x[b3 - lb:b3 + B - lb]
    o3 = gs[2 * B + 2:3 * B + 2]
    for j in range(B):
        u = s + x0[j]
        tout[j] = u / fp
        s = u - t0[j]
        o1[j] = s1
        s1 = (s1 + x1[j]) - t1[j]
        o2[j] = s2
        s2 = (s2 + x2[j]) - t2[j]
        o3[j] = s3
        s3 = (s3 + x3[j]) - t3[j]
    gs[B] = s1
    gs[2 * B + 1] = s2
    gs[3 * B + 2] = s3
    return s, s1, s2, s3


def _sma_check(v, g, g_next, xs, x_out, d, fp):
    """_sma_fix's lanes: the average from the candidate sum ``g + d``, and a flag where TA-Lib's
    step from that candidate does not give the next candidate."""
    u = v.add(v.add(g, v.k(d)), xs)
    return [v.div(u, v.k(fp))], v.ne(v.sub(u, x_out), v.add(g_next, v.k(d)))


# sma_check4(out, t, gs, j, gs, j + 1, x, t, x, t - lb, d, fp, count) -> nonzero if a check failed
sma_check4 = vmap("sma_check4", 1, 4, 2, _sma_check)


@jit_inline
def _sma_fix(x, lb, fp, out, gs, a, c, pa, pb, B):
    """Bars ``a..a+3B-1``, the three guessed blocks of a round, from ``c``, the true sum before
    bar ``a``, and the guesses _sma_round left in ``gs``; returns (bad, chunks redone, the sum
    before bar ``a + 3B``).

    With ``d`` = true sum - guess at a chunk's first bar, it checks for every bar ``t`` of the
    chunk at once (vector ops, no chain) that TA-Lib's step from the candidate ``guess[t] + d``
    gives exactly the next candidate ``guess[t + 1] + d`` (the block's last bar: its chain's sum
    after it): if all hold, the candidates are the true sums (by induction from ``c``), and the
    averages written from them are TA-Lib's bits. Where one fails (the shift changed the
    rounding of a step: a tie, a power of two crossed; a NaN), the chunk is computed the plain
    way from its true sum. (A NaN or inf in the input is counted by _sma_rounds, from the
    chains' last sums.)"""
    bad = 0
    redone = 0
    for k in range(3):
        base = k * (B + 1)
        j = 0
        while j < B:
            L = min(SMA_FIRST if j == 0 else SMA_CHUNK, B - j)
            t = a + k * B + j
            # the next round's lines (pa..pb: 4 blocks while this pass does 3), a few per chunk
            end = min(pa + L + (L >> 1), pb)
            for q in range(pa, end, 8):
                prefetch(x, q)
                prefetch(out, q)
            pa = max(pa, end)
            g = gs[base + j]
            d = c - g
            if (g + d) != c or sma_check4(out, t, gs, base + j, gs, base + j + 1, x, t, x, t - lb, d, fp, L):
                redone += 1
                more, c = _sma_chain(x, lb, fp, out, t, t + L, c)
                bad += more
            else:
                c = gs[base + j + L] + d
            j += L
    return bad, redone, c


@jit_inline
def _count_nonfinite(x, a, b):
    bad = 0
    for i in range(a, b):
        bad += (x[i] - x[i]) != 0.0
    return bad


@jit_inline
def _sma_rounds(x, period, out):
    """sma_1d_nb's work; returns (bad count, chunks _sma_fix redid the plain way)."""
    n = x.shape[0]
    lb = period - 1
    fp = float(period)
    s = 0.0
    bad = 0
    redone = 0
    for t in range(min(lb, n)):
        v = x[t]
        bad += (v - v) != 0.0
        s, out[t] = sma_step(t, lb, fp, s, v, 0.0)
    t = lb
    B = SMA_BLOCK
    if t + 4 * B <= n and lb < SMA_MAX_LOOKBACK:
        gs = np.empty(3 * (B + 1))  # the guesses (48 KB: they stay in the cache for the check)
        while t + 4 * B <= n:
            s, s1, s2, s3 = _sma_round(x, lb, fp, out[t:t + B], gs, t, s, B)
            # a NaN or inf in a block leaves its chain's sum NaN or inf (it stays so once it is)
            if (s - s) != 0.0:
                bad += _count_nonfinite(x, t, t + B)
            if (s1 - s1) != 0.0:
                bad += _count_nonfinite(x, t + B, t + 2 * B)
            if (s2 - s2) != 0.0:
                bad += _count_nonfinite(x, t + 2 * B, t + 3 * B)
            if (s3 - s3) != 0.0:
                bad += _count_nonfinite(x, t + 3 * B, t + 4 * B)
            more, again, s = _sma_fix(x, lb, fp, out, gs, t + B, s, t + 4 * B, min(t + 8 * B, n), B)
            bad += more
            redone += again
            t += 4 * B
    if t < n:
        more, s = _sma_chain(x, lb, fp, out, t, n, s)
        bad += more
    return bad, redone


@jit
def sma_1d_nb(x, period, out):
    """Simple moving average (TA-Lib SMA); lookback ``period - 1``: TA-Lib's running sum, the same
    bits (it drifts on a long series; a sum without the drift differs from TA-Lib's by more than
    1e-9 after a million bars).

    That sum is a chain of dependent adds, which bounds TA-Lib's loop. Here, in rounds of four
    blocks: the chain over the first block beside three guessing chains over the next three
    (_sma_round: four chains run in the time of one), then one vector pass over those three that
    checks the guesses and writes the averages (_sma_fix); the bars after the last round (all
    of a series shorter than one) the plain way (_sma_chain). Measured here: 0.62 of TA-Lib's
    time at 10k bars, 0.83-0.85 at 1M (the plain chain 0.77 and 0.93). Returns the bad count
    (nonzero when an input is NaN or inf)."""
    return _sma_rounds(x, period, out)[0]


@jit
def sma_redone_nb(x, period, out):
    """sma_1d_nb, returning how many chunks its checks sent the plain way (tests watch that the
    guesses hold: the values are right either way)."""
    return _sma_rounds(x, period, out)[1]


@jit
def ema_1d_nb(x, period, out):
    """Exponential moving average, k = 2/(period+1), SMA seed (TA-Lib EMA); lookback ``period - 1``."""
    fp = float(period)
    k = 2.0 / (fp + 1.0)
    a = 1.0 - k
    prev = 0.0
    bad = 0
    for t in range(x.shape[0]):
        v = x[t]
        bad += (v - v) != 0.0
        prev, out[t] = ema_step(t, period, fp, a, k, prev, v)
    return bad


@jit
def _warm_nan(x, lb, out):
    """NaN over the first ``lb`` bars (the warm-up of a piece-wise kernel's first piece);
    returns the count of non-finite values among them."""
    bad = 0
    for t in range(min(lb, x.shape[0])):
        v = x[t]
        bad += (v - v) != 0.0
        out[t] = NAN
    return bad


@jit
def wma_1d_nb(x, period, out):
    """Linearly weighted moving average (TA-Lib WMA); lookback ``period - 1``
    (:func:`wma_part_nb` in one piece)."""
    return wma_part_nb(x, period, out, 0, 1)


@jit
def wma_part_nb(x, period, out, k, parts):
    """Piece ``k`` of ``parts`` of :func:`wma_1d_nb`: whole runs (below), the runs spread evenly
    over the pieces (the first piece also writes the warm-up's NaNs). A run starts from an exact
    re-sum, so a piece needs nothing from the one before: the pieces can run at once, the
    same bits; their codes add up to the whole's.

    Runs of ``RESUM * period`` outputs: an exact re-sum of the window, then a loop of
    slides without a branch (``steps.wma_slide``, one addition per dependency chain)."""
    n = x.shape[0]
    fp = float(period)
    inv_div = 1.0 / float((period * (period + 1)) >> 1)
    lb = period - 1
    bad = _warm_nan(x, lb, out) if k == 0 else 0
    if n <= lb:
        return bad
    run = RESUM * period
    runs = (n - lb + run - 1) // run
    t = lb + run * (runs * k // parts)
    end = min(lb + run * (runs * (k + 1) // parts), n)
    while t < end:
        e = min(t + run, end)
        psum, wsum = window_wsums(x, t - lb, period, n)
        v = x[t]
        bad += (v - v) != 0.0
        out[t] = wma_value(wsum, inv_div)
        xs = x[t + 1:e]
        xl = x[t + 1 - period:e - period]
        os_ = out[t + 1:e]
        for i in range(e - t - 1):
            v = xs[i]
            bad += (v - v) != 0.0
            wsum, psum = wma_slide(wsum, psum, xl[i], v, fp)
            os_[i] = wma_value(wsum, inv_div)
        t = e
    return bad


@jit
def var_1d_nb(x, period, out):
    """Population variance over ``period`` values (non-drifting, see steps.var_step)."""
    n = x.shape[0]
    inv = 1.0 / period
    left = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    bad = 0
    for t in range(n):
        bad += (x[t] - x[t]) != 0.0
        var = NAN
        if t >= period - 1:
            if left == 0:
                shift = x[t]
                s1, s2 = window_shifted_sums(x, t - period + 1, period, n, shift)
                left = period
            else:
                s1, s2 = var_update(s1, s2, shift, x[t], x[t - period])
            left -= 1
            var = var_value(s1, s2, inv)
        out[t] = var
    return bad


@jit
def stddev_1d_nb(x, period, nbdev, out):
    """Population standard deviation times ``nbdev`` (TA-Lib STDDEV); lookback ``period - 1``.

    The steady-state loop takes four bars a turn: four slides (or re-sums) of the shifted
    sums by ``_var_slide``, then ``_simd.sd_store4`` turns the four pairs of sums into
    four outputs with one vector op each (``var_value``, ``sd_value``'s square root,
    ``* nbdev``: the same operations per lane, the same bits) beside the sums' chains,
    where four scalar square roots competed with them for the ports; the input check is
    one vector op per four bars (``_simd.nonfinite4``)."""
    n = x.shape[0]
    inv = 1.0 / period
    lb = period - 1
    bad = 0
    m = min(lb, n)
    for t in range(m):
        bad += (x[t] - x[t]) != 0.0
        out[t] = NAN
    if n <= lb:
        return bad
    # first output: exact sum of the first window
    v = x[lb]
    bad += (v - v) != 0.0
    shift = v
    s1, s2 = window_shifted_sums(x, 0, period, n, shift)
    left = period - 1
    out[lb] = sd_value(var_value(s1, s2, inv)) * nbdev
    xs = x[period:]
    os_ = out[period:]
    m = n - period
    for i in range(m >> 2):
        j = 4 * i
        bad |= nonfinite4(xs, j)
        s1, s2, left, shift = _var_slide(x, xs, j, period, n, left, shift, s1, s2)
        p0, q0 = s1, s2
        s1, s2, left, shift = _var_slide(x, xs, j + 1, period, n, left, shift, s1, s2)
        p1, q1 = s1, s2
        s1, s2, left, shift = _var_slide(x, xs, j + 2, period, n, left, shift, s1, s2)
        p2, q2 = s1, s2
        s1, s2, left, shift = _var_slide(x, xs, j + 3, period, n, left, shift, s1, s2)
        sd_store4(os_, j, p0, p1, p2, s1, q0, q1, q2, s2, inv, nbdev)
    for j in range(m & ~3, m):
        v = xs[j]
        bad += (v - v) != 0.0
        s1, s2, left, shift = _var_slide(x, xs, j, period, n, left, shift, s1, s2)
        os_[j] = sd_value(var_value(s1, s2, inv)) * nbdev
    return bad


@jit_inline
def _var_slide(x, xs, j, period, n, left, shift, s1, s2):
    """The rolling variance's sums at bar ``period + j`` (``xs[j]``): an exact re-sum of
    the window every ``period`` bars (``left`` == 0), a ``var_update`` slide between."""
    v = xs[j]
    if left == 0:
        shift = v
        s1, s2 = window_shifted_sums(x, j + 1, period, n, shift)
        left = period
    else:
        s1, s2 = var_update(s1, s2, shift, v, x[j])
    return s1, s2, left - 1, shift


@jit
def zscore_1d_nb(x, period, out):
    """(x - rolling mean) / rolling population stdev over ``period`` values; 0 for a flat window."""
    n = x.shape[0]
    inv = 1.0 / period
    left = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    bad = 0
    for t in range(n):
        bad += (x[t] - x[t]) != 0.0
        var = NAN
        if t >= period - 1:
            if left == 0:
                shift = x[t]
                s1, s2 = window_shifted_sums(x, t - period + 1, period, n, shift)
                left = period
            else:
                s1, s2 = var_update(s1, s2, shift, x[t], x[t - period])
            left -= 1
            var = var_value(s1, s2, inv)
        out[t] = zscore_value(x[t], shift, s1, inv, var) if t >= period - 1 else NAN
    return bad


@jit
def bbands_1d_nb(x, period, nbdev, upper, middle, lower):
    """Bollinger bands: SMA +- nbdev * population stdev (TA-Lib BBANDS, SMA, up == down).

    Four bars a turn as :func:`stddev_1d_nb`: the SMA and variance steps per bar, then
    ``_simd.bb_store4`` does the four square roots and bands as vector ops (same bits)."""
    n = x.shape[0]
    lb = period - 1
    fp = float(period)
    inv = 1.0 / period
    s = 0.0
    bad = 0
    m = min(lb, n)
    for t in range(m):
        v = x[t]
        bad += (v - v) != 0.0
        s, mid = sma_step(t, lb, fp, s, v, 0.0)
        middle[t] = mid
        upper[t] = NAN
        lower[t] = NAN
    if n <= lb:
        return bad
    v = x[lb]
    bad += (v - v) != 0.0
    s, mid = sma_step(lb, lb, fp, s, v, x[0])
    shift = v
    s1, s2 = window_shifted_sums(x, 0, period, n, shift)
    left = period - 1
    w = sd_value(var_value(s1, s2, inv)) * nbdev
    middle[lb] = mid
    upper[lb] = mid + w
    lower[lb] = mid - w
    xs = x[period:]
    xf = x[1:]
    us = upper[period:]
    ms = middle[period:]
    ls = lower[period:]
    r = n - period
    for i in range(r >> 2):
        j = 4 * i
        bad |= nonfinite4(xs, j)
        s, m0 = sma_step(lb, lb, fp, s, xs[j], xf[j])
        s1, s2, left, shift = _var_slide(x, xs, j, period, n, left, shift, s1, s2)
        p0, q0 = s1, s2
        s, m1 = sma_step(lb, lb, fp, s, xs[j + 1], xf[j + 1])
        s1, s2, left, shift = _var_slide(x, xs, j + 1, period, n, left, shift, s1, s2)
        p1, q1 = s1, s2
        s, m2 = sma_step(lb, lb, fp, s, xs[j + 2], xf[j + 2])
        s1, s2, left, shift = _var_slide(x, xs, j + 2, period, n, left, shift, s1, s2)
        p2, q2 = s1, s2
        s, m3 = sma_step(lb, lb, fp, s, xs[j + 3], xf[j + 3])
        s1, s2, left, shift = _var_slide(x, xs, j + 3, period, n, left, shift, s1, s2)
        bb_store4(us, ms, ls, j, m0, m1, m2, m3, p0, p1, p2, s1, q0, q1, q2, s2, inv, nbdev)
    for j in range(r & ~3, r):
        v = xs[j]
        bad += (v - v) != 0.0
        s, mid = sma_step(j + period, lb, fp, s, v, xf[j])
        s1, s2, left, shift = _var_slide(x, xs, j, period, n, left, shift, s1, s2)
        w = sd_value(var_value(s1, s2, inv)) * nbdev
        ms[j] = mid
        us[j] = mid + w
        ls[j] = mid - w
    return bad


@jit
def rsi_1d_nb(x, period, out):
    """Wilder's relative strength index (TA-Lib RSI); lookback ``period``."""
    fp = float(period)
    inv = 1.0 / period
    a = (period - 1) * inv
    prevx = 0.0
    gain = 0.0
    loss = 0.0
    bad = 0
    for t in range(x.shape[0]):
        v = x[t]
        bad += (v - v) != 0.0
        prevx, gain, loss, out[t] = rsi_step(t, period, fp, a, inv, prevx, gain, loss, v)
    return bad


@jit
def trange_1d_nb(high, low, close, out):
    """True range (TA-Lib TRANGE); lookback 1 (:func:`trange_part_nb` in one piece)."""
    return trange_part_nb(high, low, close, out, 0, 1)


@jit
def trange_part_nb(high, low, close, out, k, parts):
    """Piece ``k`` of ``parts`` of :func:`trange_1d_nb`: the bars ``1 + (n-1)*k//parts`` up to the
    next piece's first (the first piece also writes bar 0's NaN). Pieces touch no common
    output, so they can run at once; their codes add up to the whole's.

    The loop has no recurrence and vectorizes (offset views, selects, an integer count).
    Its input check is two operations a bar: a non-finite high or low makes the true
    range non-finite (see :func:`atr_1d_nb`), a close is checked itself; when a bar looks
    suspect the inputs are counted exactly (a true range that overflowed is not an error)."""
    n = high.shape[0]
    if n == 0:
        return 0
    a = 1 + (n - 1) * k // parts
    b = 1 + (n - 1) * (k + 1) // parts
    bad = 0
    if k == 0:
        out[0] = NAN
        bad += ((high[0] - high[0]) + (low[0] - low[0])) != 0.0
    if k == parts - 1:
        bad += (close[n - 1] - close[n - 1]) != 0.0
    hs = high[a:b]
    ls = low[a:b]
    pcs = close[a - 1:b - 1]
    os_ = out[a:b]
    chk = 0
    for i in range(b - a):
        pc = pcs[i]
        y = tr_value(hs[i], ls[i], pc)
        chk += ((y - y) + (pc - pc)) != 0.0
        os_[i] = y
    if chk != 0:
        bad += _count_bad3(hs, ls, pcs)
    return bad


# bars ahead that ATR's and NATR's loops ask the CPU to fetch their three inputs (1 KB): with
# three read streams and one write stream their loops waited on memory at 1M bars (the
# hardware prefetcher alone: 1.38-1.52 ns/bar; with these hints 1.23-1.27; 64 and 256 bars:
# the same within noise)
AHEAD = 128


@jit
def _atr_head(high, low, close, period, out):
    """Bars 0..period of the ATR (warm-up and seed) by ``atr_step``; returns (bad, atr)."""
    fp = float(period)
    inv = 1.0 / period
    a = (period - 1) * inv
    pc = 0.0
    acc = 0.0
    bad = 0
    for t in range(min(period + 1, high.shape[0])):
        h = high[t]
        lo = low[t]
        c = close[t]
        bad += ((h - h) + (lo - lo) + (c - c)) != 0.0
        pc, acc, out[t] = atr_step(t, period, fp, a, inv, pc, acc, h, lo, c)
    return bad, acc


@jit
def _count_bad3(a, b, c):
    """Count the indices where a, b or c is not finite (the slow path of the ATR check)."""
    bad = 0
    for i in range(a.shape[0]):
        bad += ((a[i] - a[i]) + (b[i] - b[i]) + (c[i] - c[i])) != 0.0
    return bad


@jit
def atr_1d_nb(high, low, close, period, out):
    """Wilder's average true range (TA-Lib ATR); lookback ``period``.

    The warm-up and seed by ``atr_step`` (:func:`_atr_head`), then :func:`_atr_steady`."""
    n = high.shape[0]
    bad, acc = _atr_head(high, low, close, period, out)
    if n <= period + 1:
        return bad
    more, acc = _atr_steady(high, low, close, period, out, period + 1, n, acc, False)
    return bad + more


@jit
def natr_1d_nb(high, low, close, period, out):
    """ATR as a percentage of the close (TA-Lib NATR); lookback ``period``; see :func:`atr_1d_nb`."""
    n = high.shape[0]
    bad, acc = _atr_head(high, low, close, period, out)
    if n > period:
        out[period] = natr_value(acc, close[period])
    if n <= period + 1:
        return bad
    more, acc = _atr_steady(high, low, close, period, out, period + 1, n, acc, True)
    return bad + more


@jit
def _atr_steady(high, low, close, period, out, s, e, acc, norm):
    """Bars ``s..e-1`` (``s > period``) of the ATR (``norm`` False) or the NATR (True), from
    ``acc``, the ATR at bar ``s - 1``; returns (bad-input count of those bars, the ATR at bar
    ``e - 1``).

    A loop without branches doing what ``atr_step`` does after its seed (``wilder_next`` of
    the true range), eight bars a turn: its FMA dependency chain (4 cycles a bar) and the
    memory traffic are the bound, so the input check is kept off the scalar ports: an inf
    or NaN high or low makes the true range, hence the ATR, inf or NaN for good; a close
    only enters through ``|pc - h|`` and ``|pc - l|``, which drop a NaN, so the closes are
    checked four at a time by one vector op (``_simd.nonfinite4``, or for the NATR inside
    ``_simd.natr_store4``, which does four ``natr_value`` divisions as one vector division
    beside the chain: same operations per lane, same bits). On a suspect result the inputs
    are counted exactly (an ATR that overflowed is not an error)."""
    inv = 1.0 / period
    a = (period - 1) * inv
    hs = high[s:e]
    ls = low[s:e]
    cs = close[s:e]
    pcs = close[s - 1:e - 1]
    os_ = out[s:e]
    m = e - s
    chk = 0
    if norm:
        for j in range(m >> 3):
            k = 8 * j
            prefetch(hs, k + AHEAD)
            prefetch(ls, k + AHEAD)
            prefetch(cs, k + AHEAD)
            a0 = wilder_next(acc, a, inv, tr_value(hs[k], ls[k], pcs[k]))
            a1 = wilder_next(a0, a, inv, tr_value(hs[k + 1], ls[k + 1], pcs[k + 1]))
            a2 = wilder_next(a1, a, inv, tr_value(hs[k + 2], ls[k + 2], pcs[k + 2]))
            acc = wilder_next(a2, a, inv, tr_value(hs[k + 3], ls[k + 3], pcs[k + 3]))
            chk |= natr_store4(os_, k, a0, a1, a2, acc, cs)
            a0 = wilder_next(acc, a, inv, tr_value(hs[k + 4], ls[k + 4], pcs[k + 4]))
            a1 = wilder_next(a0, a, inv, tr_value(hs[k + 5], ls[k + 5], pcs[k + 5]))
            a2 = wilder_next(a1, a, inv, tr_value(hs[k + 6], ls[k + 6], pcs[k + 6]))
            acc = wilder_next(a2, a, inv, tr_value(hs[k + 7], ls[k + 7], pcs[k + 7]))
            chk |= natr_store4(os_, k + 4, a0, a1, a2, acc, cs)
        for k in range(m & ~7, m):
            c = cs[k]
            chk += (c - c) != 0.0
            acc = wilder_next(acc, a, inv, tr_value(hs[k], ls[k], pcs[k]))
            os_[k] = natr_value(acc, c)
    else:
        for j in range(m >> 3):
            k = 8 * j
            prefetch(hs, k + AHEAD)
            prefetch(ls, k + AHEAD)
            prefetch(cs, k + AHEAD)
            chk |= nonfinite4(cs, k) | nonfinite4(cs, k + 4)
            for u in range(8):
                acc = wilder_next(acc, a, inv, tr_value(hs[k + u], ls[k + u], pcs[k + u]))
                os_[k + u] = acc
        for k in range(m & ~7, m):
            c = cs[k]
            chk += (c - c) != 0.0
            acc = wilder_next(acc, a, inv, tr_value(hs[k], ls[k], pcs[k]))
            os_[k] = acc
    bad = 0
    if chk != 0 or acc - acc != 0.0:
        bad = _count_bad3(hs, ls, cs)
    return bad, acc


# The two-thread ATR/NATR (from api.SPLIT_MIN bars). Wilder's smoothing forgets its start:
# two runs of the chain from different states over the same true ranges differ by a factor
# (p-1)/p less each bar until they are an ulp apart, then meet for good (at each bar the
# chance is ~1/p that one rounding takes them to the same double; from there every
# operation is the same). So the second piece starts its chain ATR_LEAD_PER_PERIOD * p bars
# early from a guess, and the caller compares: if its chain and the piece's agree bit for
# bit at the piece's first bar, every later value is the sequential one (same state, same
# operations); if not (a bad input, or a start that had not met), the caller computes the
# piece again from its own state. Only the speed rests on the argument above, never a value.
ATR_LEAD_PER_PERIOD = 128


@jit
def atr_front_nb(high, low, close, period, out, m, norm):
    """The first piece of the two-thread ATR/NATR: bars ``0..m-1`` as :func:`atr_1d_nb` /
    :func:`natr_1d_nb` (``m > period + 1``); returns (bad, the ATR at bar ``m - 1``)."""
    bad, acc = _atr_head(high, low, close, period, out)
    if norm:
        out[period] = natr_value(acc, close[period])
    more, acc = _atr_steady(high, low, close, period, out, period + 1, m, acc, norm)
    return bad + more, acc


@jit
def atr_back_nb(high, low, close, period, out, m, lead, norm):
    """The second piece: bars ``m..n-1`` from a chain started ``lead`` bars before ``m``
    (``m - lead > period + 1``) at that bar's true range; returns (bad count of bars
    ``m..n-1``, its ATR at bar ``m - 1``: the caller's must equal it bit for bit, or the caller
    computes the piece again)."""
    s0 = m - lead
    inv = 1.0 / period
    a = (period - 1) * inv
    acc = tr_value(high[s0], low[s0], close[s0 - 1])
    for t in range(s0 + 1, m):
        acc = wilder_next(acc, a, inv, tr_value(high[t], low[t], close[t - 1]))
    bad, _ = _atr_steady(high, low, close, period, out, m, high.shape[0], acc, norm)
    return bad, acc


@jit
def atr_redo_nb(high, low, close, period, out, m, acc, norm):
    """The second piece again, from the caller's ATR at bar ``m - 1`` (the bad count is the
    second piece's already)."""
    _atr_steady(high, low, close, period, out, m, high.shape[0], acc, norm)


@jit
def macd_1d_nb(x, fast, slow, signal, macd, sig, hist):
    """TA-Lib MACD (EMA fast/slow, EMA signal); lookback ``slow + signal - 2``; needs fast <= slow."""
    kf = 2.0 / (fast + 1.0)
    ks = 2.0 / (slow + 1.0)
    kg = 2.0 / (signal + 1.0)
    af = 1.0 - kf
    as_ = 1.0 - ks
    ag = 1.0 - kg
    fema = 0.0
    sema = 0.0
    gema = 0.0
    bad = 0
    for t in range(x.shape[0]):
        v = x[t]
        bad += (v - v) != 0.0
        fema, sema, gema, macd[t], sig[t], hist[t] = macd_step(t, fast, slow, signal, kf, af, ks, as_, kg, ag,
                                                               fema, sema, gema, v)
    return bad


@jit
def dmi_1d_nb(high, low, close, period, plus_di, minus_di, adx):
    """+DI, -DI and ADX in one pass (TA-Lib PLUS_DI, MINUS_DI, ADX).

    Lookbacks: DIs ``period``, ADX ``2*period - 1``. Any of the outputs may be a length-0
    array to skip writing it."""
    fp = float(period)
    inv = 1.0 / period
    a = (period - 1) * inv
    ph = 0.0
    pl = 0.0
    pc = 0.0
    pdm = 0.0
    mdm = 0.0
    tr = 0.0
    acc = 0.0
    wp = plus_di.shape[0] > 0
    wm = minus_di.shape[0] > 0
    wa = adx.shape[0] > 0
    bad = 0
    for t in range(high.shape[0]):
        h = high[t]
        lo = low[t]
        c = close[t]
        bad += ((h - h) + (lo - lo) + (c - c)) != 0.0
        ph, pl, pc, pdm, mdm, tr, pdi, mdi = dmi_step(t, period, a, ph, pl, pc, pdm, mdm, tr, h, lo, c)
        if wp:
            plus_di[t] = pdi
        if wm:
            minus_di[t] = mdi
        if wa:
            acc, adx[t] = adx_step(t, period, fp, a, inv, acc, pdi, mdi)
    return bad


@jit
def stoch_1d_nb(high, low, close, fastk, slowk, slowd, out_k, out_d, ring_k, ring_d):
    """TA-Lib STOCH with SMA smoothing; lookback ``fastk + slowk + slowd - 3``.

    ``ring_k``/``ring_d`` are scratch arrays of length ``slowk``/``slowd``."""
    n = high.shape[0]
    fsk = float(slowk)
    fsd = float(slowd)
    lb = fastk + slowk + slowd - 3
    hc = np.empty(fastk)
    hs = np.full(fastk, -np.inf)
    lc = np.empty(fastk)
    ls = np.full(fastk, np.inf)
    hpos = 0
    hpre = 0.0
    lpos = 0
    lpre = 0.0
    s_k = 0.0
    s_d = 0.0
    pos_k = 0
    pos_d = 0
    sk = NAN
    sd = NAN
    bad = 0
    for t in range(n):
        h = high[t]
        lo = low[t]
        c = close[t]
        bad += ((h - h) + (lo - lo) + (c - c)) != 0.0
        hpos, hpre, hh = max_step(fastk, hpos, hpre, h, hc, hs)
        lpos, lpre, ll = min_step(fastk, lpos, lpre, lo, lc, ls)
        j = t - (fastk - 1)
        if j >= 0:
            fk = stoch_k_value(close[t], hh, ll)
            s_k, pos_k, sk = ring_sma_step(j, slowk, fsk, s_k, fk, ring_k, pos_k)
            m = j - (slowk - 1)
            if m >= 0:
                s_d, pos_d, sd = ring_sma_step(m, slowd, fsd, s_d, sk, ring_d, pos_d)
        if t >= lb:
            out_k[t] = sk
            out_d[t] = sd
        else:
            out_k[t] = NAN
            out_d[t] = NAN
    return bad


@jit
def roc_1d_nb(x, period, out):
    """Rate of change in percent (TA-Lib ROC); lookback ``period``."""
    n = x.shape[0]
    bad = 0
    m = min(period, n)
    for t in range(m):
        out[t] = NAN
        bad += (x[t] - x[t]) != 0.0
    xs = x[m:]
    os_ = out[m:]
    for i in range(n - m):
        v = xs[i]
        bad += (v - v) != 0.0
        os_[i] = roc_value(v, x[i])
    return bad


@jit
def obv_1d_nb(close, volume, out):
    """On-balance volume (TA-Lib OBV); lookback 0."""
    prevx = 0.0
    obv = 0.0
    bad = 0
    for t in range(close.shape[0]):
        c = close[t]
        v = volume[t]
        bad += ((c - c) + (v - v)) != 0.0
        prevx, obv = obv_step(t, prevx, obv, c, v)
        out[t] = obv
    return bad


CHUNK = 1024  # outputs per chunk of the rolling max/min passes (their scratch stays in L1)


@jit
def _vmax(a, b):
    return a if a > b else b


@jit
def _vmin(a, b):
    return a if a < b else b


@jit
def _max4_pass(src, dst, w, count):
    s1 = src[w:]
    s2 = src[2 * w:]
    s3 = src[3 * w:]
    for i in range(count):
        dst[i] = _vmax(_vmax(src[i], s1[i]), _vmax(s2[i], s3[i]))


@jit
def _min4_pass(src, dst, w, count):
    s1 = src[w:]
    s2 = src[2 * w:]
    s3 = src[3 * w:]
    for i in range(count):
        dst[i] = _vmin(_vmin(src[i], s1[i]), _vmin(s2[i], s3[i]))


@jit
def _max_last(src, out, xs, terms, w, last):
    """The last pass into ``out``: the maximum of ``terms`` (1..5) windows of width ``w``
    at offsets 0, w, 2w, .. and ``last`` (their union is the period); also counts the
    non-finite values of ``xs`` (the chunk's inputs)."""
    count = xs.shape[0]
    s1 = src[min(w, last):]
    s2 = src[min(2 * w, last):]
    s3 = src[min(3 * w, last):]
    s4 = src[min(4 * w, last):]
    if terms == 2:
        s1 = src[last:]
    elif terms == 3:
        s2 = src[last:]
    elif terms == 4:
        s3 = src[last:]
    elif terms == 5:
        s4 = src[last:]
    bad = 0
    if terms == 1:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = src[i]
    elif terms == 2:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = _vmax(src[i], s1[i])
    elif terms == 3:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = _vmax(_vmax(src[i], s1[i]), s2[i])
    elif terms == 4:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = _vmax(_vmax(src[i], s1[i]), _vmax(s2[i], s3[i]))
    elif terms == 5:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = _vmax(_vmax(_vmax(src[i], s1[i]), _vmax(s2[i], s3[i])), s4[i])
    return bad


@jit
def _min_last(src, out, xs, terms, w, last):
    """The last pass into ``out``: the minimum of ``terms`` (1..5) windows of width ``w``
    at offsets 0, w, 2w, .. and ``last`` (their union is the period); also counts the
    non-finite values of ``xs`` (the chunk's inputs)."""
    count = xs.shape[0]
    s1 = src[min(w, last):]
    s2 = src[min(2 * w, last):]
    s3 = src[min(3 * w, last):]
    s4 = src[min(4 * w, last):]
    if terms == 2:
        s1 = src[last:]
    elif terms == 3:
        s2 = src[last:]
    elif terms == 4:
        s3 = src[last:]
    elif terms == 5:
        s4 = src[last:]
    bad = 0
    if terms == 1:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = src[i]
    elif terms == 2:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = _vmin(src[i], s1[i])
    elif terms == 3:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = _vmin(_vmin(src[i], s1[i]), s2[i])
    elif terms == 4:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = _vmin(_vmin(src[i], s1[i]), _vmin(s2[i], s3[i]))
    elif terms == 5:
        for i in range(count):
            v = xs[i]
            bad += (v - v) != 0.0
            out[i] = _vmin(_vmin(_vmin(src[i], s1[i]), _vmin(s2[i], s3[i])), s4[i])
    return bad


@jit
def _rolling_extreme(x, period, out, is_max):
    """Rolling maximum (``is_max``) or minimum: :func:`_extreme_part` in one piece."""
    return _extreme_part(x, period, out, is_max, 0, 1)


@jit
def _extreme_part(x, period, out, is_max, k, parts):
    """Piece ``k`` of ``parts`` of the rolling maximum (``is_max``) or minimum: the outputs from
    ``lb + (n-lb)*k//parts`` up to the next piece's first (the first piece also writes the
    warm-up's NaNs); pieces touch no common output, so they can run at once.

    By widening windows, a chunk at a time. Over a chunk, ``m_W[i]`` = the extreme of
    ``x[i .. i+W-1]`` is built for W = 4, 16, .. by vectorised passes, each combining 4
    windows of the previous width, until p <= 5W; the last pass combines the (at most 5)
    windows of width W at offsets 0, W, 2W, .. and p - W. About log4(p) passes of SIMD max
    over data in L1 (one for p <= 20), no branch on the data (TA-Lib rescans the window
    whenever its extreme leaves it). Max and min are exact, so the values equal
    :func:`steps.max_step`'s (the streaming form). Returns the count of non-finite values in
    the piece's bars of ``x``."""
    n = x.shape[0]
    lb = period - 1
    bad = _warm_nan(x, lb, out) if k == 0 else 0
    if n <= lb:
        return bad
    a = np.empty(CHUNK + period)
    b = np.empty(CHUNK + period)
    s = lb + (n - lb) * k // parts
    end = lb + (n - lb) * (k + 1) // parts
    while s < end:
        e = min(s + CHUNK, end)
        length = e - s + lb
        src = x[s - lb:e]
        dst = a
        w = np.int64(1)  # not the literal: Numba compiled each pass once more for Literal[int](1)
        while period > 5 * w:
            if is_max:
                _max4_pass(src, dst, w, length - 4 * w + 1)
            else:
                _min4_pass(src, dst, w, length - 4 * w + 1)
            src = dst
            dst = b if dst is a else a
            w *= 4
        terms = (period + w - 1) // w
        if is_max:
            bad += _max_last(src, out[s:e], x[s:e], terms, w, period - w)
        else:
            bad += _min_last(src, out[s:e], x[s:e], terms, w, period - w)
        s = e
    return bad


@jit
def max_1d_nb(x, period, out):
    """Rolling maximum (TA-Lib MAX); lookback ``period - 1``."""
    return _rolling_extreme(x, period, out, True)


@jit
def min_1d_nb(x, period, out):
    """Rolling minimum (TA-Lib MIN); lookback ``period - 1``."""
    return _rolling_extreme(x, period, out, False)


@jit
def max_part_nb(x, period, out, k, parts):
    """Piece ``k`` of ``parts`` of :func:`max_1d_nb` (see :func:`_extreme_part`)."""
    return _extreme_part(x, period, out, True, k, parts)


@jit
def min_part_nb(x, period, out, k, parts):
    """Piece ``k`` of ``parts`` of :func:`min_1d_nb` (see :func:`_extreme_part`)."""
    return _extreme_part(x, period, out, False, k, parts)


@jit
def log_return_value(x, prevx):
    """log(x / prevx), by _core.flog (fdlibm's log; the fused and 2-D kernels run the same
    operations four at a time)."""
    return flog(x / prevx)


def _v_logret(v, x, prevx):
    """log_return_value lane-wise, and a flag where ``x`` is not finite and > 0."""
    bad = v.either(v.ne(v.sub(x, x), v.k(0.0)), v.b.fcmp_unordered("<=", x, v.k(0.0)))
    return [v.log(v.div(x, prevx))], bad


# vec_logret(out, k, x, k, x, k - 1, count): out[k + i] = log_return_value(x[k + i], x[k + i - 1]),
# four bars a step; nonzero if one of those x is not finite and > 0
vec_logret = vmap("vec_logret", 1, 2, 0, _v_logret)


@jit
def log_returns_1d_nb(x, out):
    """r[t] = ln(x[t] / x[t-1]); r[0] = NaN. Nonzero where a value is not finite and > 0."""
    n = x.shape[0]
    if n == 0:
        return 0
    out[0] = NAN
    bad = int(not ((x[0] - x[0]) == 0.0 and x[0] > 0.0))
    return bad + vec_logret(out, 1, x, 1, x, 0, n - 1)


@jit
def realized_vol_1d_nb(r, period, scale, out):
    """Population stdev of the last ``period`` log returns times ``scale``; lookback ``period``.

    ``r`` is the output of :func:`log_returns_1d_nb` (r[0] is NaN and never read)."""
    n = r.shape[0]
    inv = 1.0 / period
    left = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    if n > 0:
        out[0] = NAN
    for t in range(1, n):
        if t >= period:
            if left == 0:
                shift = r[t]
                s1, s2 = window_shifted_sums(r, t - period + 1, period, n, shift)
                left = period
            else:
                s1, s2 = var_update(s1, s2, shift, r[t], r[t - period])
            left -= 1
            out[t] = sd_value(var_value(s1, s2, inv)) * scale
        else:
            out[t] = NAN


@jit
def typical_price(h, l, c):
    return (h + l + c) / 3.0


@jit
def vwap_1d_nb(high, low, close, volume, period, out, pv):
    """Rolling VWAP of the typical price over ``period`` bars; ``pv`` is scratch of length n."""
    n = high.shape[0]
    left = 0
    spv = 0.0
    sv = 0.0
    nz = 0
    bad = 0
    for t in range(n):
        h = high[t]
        lo = low[t]
        c = close[t]
        v = volume[t]
        bad += not (((h - h) + (lo - lo) + (c - c) + (v - v)) == 0.0 and v >= 0.0)
        tp = typical_price(h, lo, c)
        pv[t] = tp * v
        if t >= period - 1:
            if left == 0:
                spv, sv, nz = window_sum2(pv, volume, t - period + 1, period, n)
                left = period
            else:
                spv, sv, nz = vwap_update(spv, sv, nz, pv[t], v, pv[t - period], volume[t - period])
            left -= 1
            out[t] = vwap_value(spv, sv, nz, tp)
        else:
            out[t] = NAN
    return bad
