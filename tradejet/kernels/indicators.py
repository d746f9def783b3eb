"""Batch indicator kernels: ``<name>_1d_nb(inputs..., params..., out...)``.

Contract: inputs are C-contiguous float64 1-D arrays of one length ``n``, finite (the
public wrappers in :mod:`tradejet.kernels.api` check that); outputs are float64 arrays of
length ``n`` passed in by the caller (allocating inside ``@njit`` is slow here), written
completely: NaN over the warm-up (TA-Lib's lookback), values after. Parameters are
already validated. Each kernel loops once and advances the indicator with its
``*_step`` function from :mod:`tradejet.kernels.steps`, so it equals the streaming
and fused forms exactly. Oracle: TA-Lib (tests/kernels/test_vs_talib.py).
"""

from __future__ import annotations

import math

import numpy as np

from tradejet.kernels._core import NAN, jit
from tradejet.kernels.steps import (
    adx_step,
    atr_step,
    dmi_step,
    ema_step,
    macd_step,
    natr_value,
    obv_step,
    ring_sma_step,
    roc_value,
    rsi_step,
    sd_value,
    sma_step,
    stoch_k_value,
    tr_value,
    track_max,
    track_min,
    var_step,
    vwap_step,
    wma_step,
    zscore_value,
)


@jit
def sma_1d_nb(x, period, out):
    """Simple moving average (TA-Lib SMA); lookback ``period - 1``."""
    lb = period - 1
    fp = float(period)
    s = 0.0
    for t in range(x.shape[0]):
        s, out[t] = sma_step(t, lb, fp, s, x[t], x[t - lb] if t >= lb else 0.0)


@jit
def ema_1d_nb(x, period, out):
    """Exponential moving average, k = 2/(period+1), SMA seed (TA-Lib EMA); lookback ``period - 1``."""
    fp = float(period)
    k = 2.0 / (fp + 1.0)
    a = 1.0 - k
    prev = 0.0
    for t in range(x.shape[0]):
        prev, out[t] = ema_step(t, period, fp, a, k, prev, x[t])


@jit
def wma_1d_nb(x, period, out):
    """Linearly weighted moving average (TA-Lib WMA); lookback ``period - 1``."""
    fp = float(period)
    divider = float((period * (period + 1)) >> 1)
    psum = 0.0
    psub = 0.0
    trailing = 0.0
    lb = period - 1
    for t in range(x.shape[0]):
        psum, psub, trailing, out[t] = wma_step(t, period, fp, divider, psum, psub, trailing, x[t],
                                                x[t - lb] if t >= lb else 0.0)


@jit
def var_1d_nb(x, period, out):
    """Population variance over ``period`` values (non-drifting, see steps.var_step)."""
    n = x.shape[0]
    inv = 1.0 / period
    left = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    for t in range(n):
        left, shift, s1, s2, out[t] = var_step(t, period, inv, left, shift, s1, s2, x[t],
                                               x[t - period] if t >= period else 0.0, x, t - period + 1, n)


@jit
def stddev_1d_nb(x, period, nbdev, out):
    """Population standard deviation times ``nbdev`` (TA-Lib STDDEV); lookback ``period - 1``."""
    n = x.shape[0]
    inv = 1.0 / period
    left = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    for t in range(n):
        left, shift, s1, s2, var = var_step(t, period, inv, left, shift, s1, s2, x[t],
                                            x[t - period] if t >= period else 0.0, x, t - period + 1, n)
        out[t] = sd_value(var) * nbdev if t >= period - 1 else NAN


@jit
def zscore_1d_nb(x, period, out):
    """(x - rolling mean) / rolling population stdev over ``period`` values; 0 for a flat window."""
    n = x.shape[0]
    inv = 1.0 / period
    left = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    for t in range(n):
        left, shift, s1, s2, var = var_step(t, period, inv, left, shift, s1, s2, x[t],
                                            x[t - period] if t >= period else 0.0, x, t - period + 1, n)
        out[t] = zscore_value(x[t], shift, s1, inv, var) if t >= period - 1 else NAN


@jit
def bbands_1d_nb(x, period, nbdev, upper, middle, lower):
    """Bollinger bands: SMA +- nbdev * population stdev (TA-Lib BBANDS, SMA, up == down)."""
    n = x.shape[0]
    lb = period - 1
    fp = float(period)
    inv = 1.0 / period
    s = 0.0
    left = 0
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    for t in range(n):
        s, mid = sma_step(t, lb, fp, s, x[t], x[t - lb] if t >= lb else 0.0)
        left, shift, s1, s2, var = var_step(t, period, inv, left, shift, s1, s2, x[t],
                                            x[t - period] if t >= period else 0.0, x, t - period + 1, n)
        w = sd_value(var) * nbdev
        middle[t] = mid
        upper[t] = mid + w
        lower[t] = mid - w


@jit
def rsi_1d_nb(x, period, out):
    """Wilder's relative strength index (TA-Lib RSI); lookback ``period``."""
    fp = float(period)
    inv = 1.0 / period
    a = (period - 1) * inv
    prevx = 0.0
    gain = 0.0
    loss = 0.0
    for t in range(x.shape[0]):
        prevx, gain, loss, out[t] = rsi_step(t, period, fp, a, inv, prevx, gain, loss, x[t])


@jit
def trange_1d_nb(high, low, close, out):
    """True range (TA-Lib TRANGE); lookback 1."""
    n = high.shape[0]
    if n > 0:
        out[0] = NAN
    for t in range(1, n):
        out[t] = tr_value(high[t], low[t], close[t - 1])


@jit
def atr_1d_nb(high, low, close, period, out):
    """Wilder's average true range (TA-Lib ATR); lookback ``period``."""
    fp = float(period)
    inv = 1.0 / period
    a = (period - 1) * inv
    pc = 0.0
    acc = 0.0
    for t in range(high.shape[0]):
        pc, acc, out[t] = atr_step(t, period, fp, a, inv, pc, acc, high[t], low[t], close[t])


@jit
def natr_1d_nb(high, low, close, period, out):
    """ATR as a percentage of the close (TA-Lib NATR); lookback ``period``."""
    fp = float(period)
    inv = 1.0 / period
    a = (period - 1) * inv
    pc = 0.0
    acc = 0.0
    for t in range(high.shape[0]):
        c = close[t]
        pc, acc, v = atr_step(t, period, fp, a, inv, pc, acc, high[t], low[t], c)
        out[t] = natr_value(v, c) if t >= period else NAN


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
    for t in range(x.shape[0]):
        fema, sema, gema, macd[t], sig[t], hist[t] = macd_step(t, fast, slow, signal, kf, af, ks, as_, kg, ag,
                                                               fema, sema, gema, x[t])


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
    for t in range(high.shape[0]):
        ph, pl, pc, pdm, mdm, tr, pdi, mdi = dmi_step(t, period, a, ph, pl, pc, pdm, mdm, tr, high[t], low[t], close[t])
        if wp:
            plus_di[t] = pdi
        if wm:
            minus_di[t] = mdi
        if wa:
            acc, adx[t] = adx_step(t, period, fp, a, inv, acc, pdi, mdi)


@jit
def stoch_1d_nb(high, low, close, fastk, slowk, slowd, out_k, out_d, ring_k, ring_d):
    """TA-Lib STOCH with SMA smoothing; lookback ``fastk + slowk + slowd - 3``.

    ``ring_k``/``ring_d`` are scratch arrays of length ``slowk``/``slowd``."""
    n = high.shape[0]
    fsk = float(slowk)
    fsd = float(slowd)
    lb = fastk + slowk + slowd - 3
    hh = -np.inf
    hh_i = -1
    ll = np.inf
    ll_i = -1
    s_k = 0.0
    s_d = 0.0
    pos_k = 0
    pos_d = 0
    sk = NAN
    sd = NAN
    for t in range(n):
        hh, hh_i = track_max(t, fastk, hh, hh_i, high[t], high, n)
        ll, ll_i = track_min(t, fastk, ll, ll_i, low[t], low, n)
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


@jit
def roc_1d_nb(x, period, out):
    """Rate of change in percent (TA-Lib ROC); lookback ``period``."""
    n = x.shape[0]
    for t in range(min(period, n)):
        out[t] = NAN
    for t in range(period, n):
        out[t] = roc_value(x[t], x[t - period])


@jit
def obv_1d_nb(close, volume, out):
    """On-balance volume (TA-Lib OBV); lookback 0."""
    prevx = 0.0
    obv = 0.0
    for t in range(close.shape[0]):
        prevx, obv = obv_step(t, prevx, obv, close[t], volume[t])
        out[t] = obv


@jit
def max_1d_nb(x, period, out):
    """Rolling maximum (TA-Lib MAX); lookback ``period - 1``."""
    n = x.shape[0]
    hi = -np.inf
    hi_i = -1
    lb = period - 1
    for t in range(n):
        hi, hi_i = track_max(t, period, hi, hi_i, x[t], x, n)
        out[t] = hi if t >= lb else NAN


@jit
def min_1d_nb(x, period, out):
    """Rolling minimum (TA-Lib MIN); lookback ``period - 1``."""
    n = x.shape[0]
    lo = np.inf
    lo_i = -1
    lb = period - 1
    for t in range(n):
        lo, lo_i = track_min(t, period, lo, lo_i, x[t], x, n)
        out[t] = lo if t >= lb else NAN


@jit
def log_return_value(x, prevx):
    return math.log(x / prevx)


@jit
def log_returns_1d_nb(x, out):
    """r[t] = ln(x[t] / x[t-1]); r[0] = NaN."""
    n = x.shape[0]
    if n > 0:
        out[0] = NAN
    for t in range(1, n):
        out[t] = log_return_value(x[t], x[t - 1])


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
        u = t - 1
        left, shift, s1, s2, var = var_step(u, period, inv, left, shift, s1, s2, r[t],
                                            r[t - period] if u >= period else 0.0, r, t - period + 1, n)
        out[t] = sd_value(var) * scale if u >= period - 1 else NAN


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
    for t in range(n):
        tp = typical_price(high[t], low[t], close[t])
        v = volume[t]
        pv[t] = tp * v
        old = t - period
        left, spv, sv, nz, out[t] = vwap_step(t, period, left, spv, sv, nz, pv[t], v,
                                              pv[old] if old >= 0 else 0.0, volume[old] if old >= 0 else 0.0,
                                              pv, volume, t - period + 1, n, tp)
