"""One-bar arithmetic of every indicator: the single definition used by all four forms.

The batch kernels (:mod:`tradejet.kernels.indicators`), the fused kernels
(:mod:`tradejet.kernels.fused`) and the streaming updates
(:mod:`tradejet.kernels.streaming`) all advance an indicator by calling the same
``*_step`` function here, so their outputs are equal bit for bit, not just close.

Contract: scalars in, a tuple (new state..., output) out; ``t`` is the 0-based index of
the bar being added; outputs are NaN while ``t`` is inside the warm-up (TA-Lib's
lookback). Window values the step needs (the one leaving the window, or the whole window
for an occasional exact re-sum) are passed in by the caller, which knows where they live
(the input array for batch, a ring buffer for streaming). No allocation, no exceptions.

Rounding: recurrences use ``fma(y, (p-1)/p, v/p)`` (one rounding, 4-cycle chain) where
TA-Lib computes ``(y*(p-1) + v)/p``; the difference is a few ulps and stays bounded
because the recurrence contracts. Running sums whose drift TA-Lib itself has (SMA, WMA,
the SMA inside STOCH) are replicated operation for operation, so they match TA-Lib's bits.
Rolling variance (STDDEV, BBANDS, zscore, realized_vol) and the rolling VWAP sums are
re-summed exactly every ``period`` bars around a shift, so they do not drift.
"""

from __future__ import annotations

from tradejet.kernels._core import NAN, fma, jit, window_max, window_min, window_shifted_sums, window_sum2


@jit
def sma_step(t, lb, fp, s, x, x_first):
    """Running sum in TA-Lib's order: add x, emit s/p, subtract the window's first value."""
    s = s + x
    if t >= lb:
        y = s / fp
        return s - x_first, y
    return s, NAN


@jit
def ema_step(t, p, fp, a, k, prev, x):
    """EMA seeded with the SMA of the first ``p`` values (TA-Lib's default); ``prev`` holds the sum before."""
    if t < p - 1:
        return prev + x, NAN
    if t == p - 1:
        y = (prev + x) / fp
        return y, y
    y = fma(prev, a, x * k)
    return y, y


@jit
def wma_step(t, p, fp, divider, psum, psub, trailing, x, x_first):
    """TA-Lib's WMA: running weighted sum ``psum`` and plain sum ``psub``."""
    if t < p - 1:
        return psum + x * (t + 1), psub + x, trailing, NAN
    psub = psub + x
    psub = psub - trailing
    psum = psum + x * fp
    y = psum / divider
    return psum - psub, psub, x_first, y


@jit
def var_step(t, p, inv, left, shift, s1, s2, x, x_leaving, buf, start, wrap):
    """Population variance of the last ``p`` values, re-summed exactly every ``p`` outputs.

    Between re-sums the shifted sums are updated by adding ``x - shift`` and removing
    ``x_leaving - shift``; at a re-sum ``shift`` becomes ``x`` and the window
    (``p`` values of ``buf`` from ``start``, wrapping at ``wrap``) is summed afresh.
    Returns (left, shift, s1, s2, variance); variance is NaN in the warm-up.
    """
    if t < p - 1:
        return left, shift, s1, s2, NAN
    if left == 0:
        shift = x
        s1, s2 = window_shifted_sums(buf, start, p, wrap, shift)
        left = p
    else:
        d = x - shift
        e = x_leaving - shift
        s1 = (s1 + d) - e
        s2 = (s2 + d * d) - e * e
    m = s1 * inv
    var = s2 * inv - m * m
    return left - 1, shift, s1, s2, var


@jit
def sd_value(var):
    """Standard deviation from a variance that rounding may have pushed below zero."""
    if var > 0.0:
        return var ** 0.5
    return 0.0


@jit
def zscore_value(x, shift, s1, inv, var):
    """(x - mean) / sd with the mean taken from the shifted sums; 0 for a flat window."""
    sd = sd_value(var)
    if sd > 0.0:
        return ((x - shift) - s1 * inv) / sd
    return 0.0


@jit
def rsi_step(t, p, fp, a, inv, prevx, gain, loss, x):
    """Wilder's RSI (TA-Lib default): seed = mean gain/loss of the first ``p`` changes."""
    if t == 0:
        return x, gain, loss, NAN
    d = x - prevx
    up = d if d > 0.0 else 0.0
    dn = -d if d < 0.0 else 0.0
    if t < p:
        return x, gain + up, loss + dn, NAN
    if t == p:
        gain = (gain + up) / fp
        loss = (loss + dn) / fp
    else:
        gain = fma(gain, a, up * inv)
        loss = fma(loss, a, dn * inv)
    s = gain + loss
    y = 100.0 * (gain / s) if s != 0.0 else 0.0
    return x, gain, loss, y


@jit
def tr_value(h, l, pc):
    """True range: max(h - l, |pc - h|, |pc - l|)."""
    g = h - l
    v = abs(pc - h)
    if v > g:
        g = v
    v = abs(pc - l)
    if v > g:
        g = v
    return g


@jit
def atr_step(t, p, fp, a, inv, pc, acc, h, l, c):
    """Wilder's ATR: seed = mean TR of bars 1..p, then ``atr = atr*(p-1)/p + tr/p``."""
    if t == 0:
        return c, acc, NAN
    tr = tr_value(h, l, pc)
    if t < p:
        return c, acc + tr, NAN
    if t == p:
        acc = (acc + tr) / fp
    else:
        acc = fma(acc, a, tr * inv)
    return c, acc, acc


@jit
def natr_value(atr, c):
    """ATR as a percentage of the close (0 when the close is 0, as TA-Lib)."""
    if c != 0.0:
        return (atr / c) * 100.0
    return 0.0


@jit
def macd_step(t, fast, slow, sig, kf, af, ks, as_, kg, ag, fema, sema, gema, x):
    """TA-Lib's MACD: both EMAs seeded at bar ``slow-1`` (fast with the SMA of its last
    ``fast`` values), the signal EMA seeded with the SMA of the first ``sig`` MACD values.

    ``fema``/``sema``/``gema`` hold running sums until their seed bar.
    Returns (fema, sema, gema, macd, signal, hist).
    """
    if t < slow - 1:
        if t >= slow - fast:
            fema = fema + x
        return fema, sema + x, gema, NAN, NAN, NAN
    if t == slow - 1:
        fema = (fema + x) / fast
        sema = (sema + x) / slow
    else:
        fema = fma(fema, af, x * kf)
        sema = fma(sema, as_, x * ks)
    m = fema - sema
    j = t - (slow - 1)
    if j < sig - 1:
        return fema, sema, gema + m, NAN, NAN, NAN
    if j == sig - 1:
        gema = (gema + m) / sig
    else:
        gema = fma(gema, ag, m * kg)
    return fema, sema, gema, m, gema, m - gema


@jit
def dmi_step(t, p, a, ph, pl, pc, pdm, mdm, tr, h, l, c):
    """Wilder's directional movement (TA-Lib's PLUS_DI/MINUS_DI/ADX core).

    Sums +DM, -DM and TR over bars 1..p-1, then smooths ``v = v*(p-1)/p + new`` from bar p.
    Returns (h, l, c, pdm, mdm, tr, +DI, -DI); the DIs are NaN before bar ``p``.
    """
    if t == 0:
        return h, l, c, pdm, mdm, tr, NAN, NAN
    diffp = h - ph
    diffm = pl - l
    pdm1 = diffp if (diffp > 0.0 and diffp > diffm) else 0.0
    mdm1 = diffm if (diffm > 0.0 and diffm > diffp) else 0.0
    tr1 = tr_value(h, l, pc)
    if t < p:
        return h, l, c, pdm + pdm1, mdm + mdm1, tr + tr1, NAN, NAN
    pdm = fma(pdm, a, pdm1)
    mdm = fma(mdm, a, mdm1)
    tr = fma(tr, a, tr1)
    if tr != 0.0:
        return h, l, c, pdm, mdm, tr, 100.0 * (pdm / tr), 100.0 * (mdm / tr)
    return h, l, c, pdm, mdm, tr, 0.0, 0.0


@jit
def adx_step(t, p, fp, a, inv, acc, pdi, mdi):
    """ADX from the DIs: seed = mean DX of bars p..2p-1, then Wilder smoothing; a bar
    whose DX is undefined (+DI + -DI == 0) leaves it unchanged, as in TA-Lib."""
    if t < p:
        return acc, NAN
    s = pdi + mdi
    valid = s != 0.0
    dx = 100.0 * (abs(mdi - pdi) / s) if valid else 0.0
    if t < 2 * p - 1:
        return acc + dx, NAN
    if t == 2 * p - 1:
        acc = (acc + dx) / fp
    elif valid:
        acc = fma(acc, a, dx * inv)
    return acc, acc


@jit
def track_max(t, p, hi, hi_i, x, buf, wrap):
    """Rolling maximum by tracking the current maximum and its index (TA-Lib's MAX method):
    rescan the window only when the maximum leaves it. ``buf`` holds bar ``i`` at
    ``i % wrap`` (a linear array passes its length) and already holds ``x`` at ``t``."""
    ws = t - p + 1
    if ws < 0:
        ws = 0
    if hi_i < ws:
        hi, off = window_max(buf, ws % wrap, t - ws + 1, wrap)
        return hi, ws + off
    if x >= hi:
        return x, t
    return hi, hi_i


@jit
def track_min(t, p, lo, lo_i, x, buf, wrap):
    """Rolling minimum; see :func:`track_max`."""
    ws = t - p + 1
    if ws < 0:
        ws = 0
    if lo_i < ws:
        lo, off = window_min(buf, ws % wrap, t - ws + 1, wrap)
        return lo, ws + off
    if x <= lo:
        return x, t
    return lo, lo_i


@jit
def stoch_k_value(c, hh, ll):
    """TA-Lib's fast %K: (c - ll) / ((hh - ll) / 100), 0 for a flat window."""
    diff = (hh - ll) / 100.0
    if diff != 0.0:
        return (c - ll) / diff
    return 0.0


@jit
def ring_sma_step(j, p, fp, s, v, ring, pos):
    """SMA over a derived series kept in a ring of size ``p`` (TA-Lib's order, as sma_step).

    Writes ``v`` at ``pos``; returns (s, next pos, value or NaN)."""
    ring[pos] = v
    pos1 = pos + 1
    if pos1 == p:
        pos1 = 0
    s = s + v
    if j >= p - 1:
        y = s / fp
        return s - ring[pos1], pos1, y
    return s, pos1, NAN


@jit
def roc_value(x, old):
    """TA-Lib's ROC: ((x / old) - 1) * 100, 0 when old is 0."""
    if old != 0.0:
        return ((x / old) - 1.0) * 100.0
    return 0.0


@jit
def obv_step(t, prevx, obv, x, v):
    """On-balance volume starting at the first bar's volume (TA-Lib)."""
    if t == 0:
        return x, v
    sgn = (x > prevx) * 1.0 - (x < prevx) * 1.0
    return x, obv + v * sgn


@jit
def vwap_step(t, p, left, spv, sv, nz, pv, v, pv_leaving, v_leaving, pvbuf, vbuf, start, wrap, tp):
    """Rolling VWAP sums, re-summed exactly every ``p`` outputs (see :func:`var_step`).

    ``nz`` counts bars with volume > 0 in the window; with none the value is the bar's
    typical price ``tp``. Returns (left, spv, sv, nz, vwap or NaN)."""
    if t < p - 1:
        return left, spv, sv, nz, NAN
    if left == 0:
        spv, sv, nz = window_sum2(pvbuf, vbuf, start, p, wrap)
        left = p
    else:
        spv = (spv + pv) - pv_leaving
        sv = (sv + v) - v_leaving
        nz = nz + (v > 0.0) - (v_leaving > 0.0)
    if nz > 0:
        y = spv / sv
    else:
        y = tp
    return left - 1, spv, sv, nz, y
