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
because the recurrence contracts. Running sums whose drift TA-Lib itself has (SMA, the SMA inside STOCH) are replicated
operation for operation, so they match TA-Lib's bits. Rolling variance (STDDEV, BBANDS,
zscore, realized_vol) and the rolling VWAP sums are re-summed exactly every ``period``
bars around a shift, WMA's every ``RESUM * period`` bars, so they do not drift; those steps
take no arrays (a step that does stays a real call in the loop, 3-4x slower), the callers
do the re-sum with ``_core.window_shifted_sums`` / ``_core.window_sum2``.
"""

from __future__ import annotations

import math

from tradejet.kernels._core import NAN, fma
from tradejet.kernels._core import jit_inline as jit


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
def wma_slide(wsum, psum, trailing, x, fp):
    """Slide WMA's sums by one value: ``wsum`` the weighted sum (weights 1..p, newest
    heaviest), ``psum`` the plain sum, both of the window ending at the previous bar.

    ``W' = W + (p*x - S)`` and ``S' = S + (x - trailing)``: one addition on each
    dependency chain (TA-Lib's order has two), within a few ulps of TA-Lib. Callers
    re-sum both exactly every ``RESUM * p`` outputs (``_core.window_wsums``): a pure
    running sum drifts (8e-9 at 1M bars), TA-Lib 0.8's WMA does not."""
    return wsum + (x * fp - psum), psum + (x - trailing)


@jit
def wma_value(wsum, inv_divider):
    """The WMA from the weighted sum: ``wsum * (1 / (p(p+1)/2))`` (TA-Lib divides: a
    division per bar bounds its loop; the product is within an ulp of the quotient)."""
    return wsum * inv_divider


@jit
def var_update(s1, s2, shift, x, x_leaving):
    """Slide the shifted sums of a rolling variance by one value (between exact re-sums).

    The callers re-sum the window exactly every ``p`` outputs (``shift`` = the value at
    that bar, sums from ``_core.window_shifted_sums``) and slide it in between: no drift."""
    d = x - shift
    e = x_leaving - shift
    return (s1 + d) - e, (s2 + d * d) - e * e


@jit
def var_value(s1, s2, inv):
    """Population variance from shifted sums over a window of 1/inv values."""
    m = s1 * inv
    return s2 * inv - m * m


@jit
def sd_value(var):
    """Standard deviation from a variance that rounding may have pushed below zero."""
    if var > 0.0:
        return math.sqrt(var)
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
    g = v if v > g else g  # selects, not branches: the comparisons are unpredictable
    v = abs(pc - l)
    return v if v > g else g


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
        acc = wilder_next(acc, a, inv, tr)
    return c, acc, acc


@jit
def wilder_next(acc, a, inv, v):
    """Wilder's smoothing after the seed: ``fma(acc, (p-1)/p, v/p)`` (ATR's steady state)."""
    return fma(acc, a, v * inv)


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
    pdm1 = diffp if ((diffp > 0.0) & (diffp > diffm)) else 0.0  # & not and: no branch
    mdm1 = diffm if ((diffm > 0.0) & (diffm > diffp)) else 0.0
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
def max_step(p, pos, pre, x, cur, suf):
    """Rolling maximum of the last ``p`` values by van Herk / Gil-Werman blocks.

    ``cur`` (size p) collects the current block of ``p`` bars, ``pre`` is its running
    maximum, ``suf`` (size p, -inf before the first block closes) holds the suffix maxima
    of the previous block; the window's maximum is max(suf[pos + 1], pre). No branch
    depends on the data; closing a block costs ``p`` steps once every ``p`` bars.
    Before bar ``p - 1`` the value is the maximum so far. Returns (pos, pre, max)."""
    cur[pos] = x
    if pos == 0:
        pre = x
    else:
        pre = x if x > pre else pre
    if pos == p - 1:
        m = x
        suf[pos] = m
        for i in range(p - 2, -1, -1):
            v = cur[i]
            m = v if v > m else m
            suf[i] = m
        return 0, pre, pre
    v = suf[pos + 1]
    return pos + 1, pre, (v if v > pre else pre)


@jit
def min_step(p, pos, pre, x, cur, suf):
    """Rolling minimum; see :func:`max_step` (``suf`` starts at +inf)."""
    cur[pos] = x
    if pos == 0:
        pre = x
    else:
        pre = x if x < pre else pre
    if pos == p - 1:
        m = x
        suf[pos] = m
        for i in range(p - 2, -1, -1):
            v = cur[i]
            m = v if v < m else m
            suf[i] = m
        return 0, pre, pre
    v = suf[pos + 1]
    return pos + 1, pre, (v if v < pre else pre)


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
def vwap_update(spv, sv, nz, pv, v, pv_leaving, v_leaving):
    """Slide the rolling VWAP sums by one bar (exact re-sum every ``p`` outputs by the callers).

    ``nz`` counts bars with volume > 0 in the window."""
    return (spv + pv) - pv_leaving, (sv + v) - v_leaving, nz + (v > 0.0) - (v_leaving > 0.0)


@jit
def vwap_value(spv, sv, nz, tp):
    """VWAP from the window sums; the bar's typical price ``tp`` when no volume traded in the window."""
    if nz > 0:
        return spv / sv
    return tp
