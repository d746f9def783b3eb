"""Streaming (O(1) per bar) indicators: ``<name>_init(params) -> state``, ``<name>_update(state, ...) -> value``.

Contract: the state is a small float64 array (no jitclass): ``state[0]`` is the number of
bars seen, then the parameters, the recurrence variables and, for windowed indicators,
a ring buffer of the last ``period`` inputs (rolling max/min: the current block and
the previous block's suffix maxima, see ``steps.max_step``). ``*_init`` is plain Python and checks the
parameters (ValueError); ``*_update`` is ``@njit`` (callable from Python or from other
kernels), takes finite float64 scalars (not checked: this is the hot path) and returns
what the batch function returns at that bar, bit for bit: both advance the same
``*_step`` of :mod:`tradejet.kernels.steps`. NaN during the warm-up.

Cost per update is O(1), amortised in two places that spend O(period) once every
``period`` bars whatever the data: the exact re-sum of a rolling variance / VWAP and the
closing of a rolling max/min block.

Every ``_<name>_upd(st, o, ...)`` takes the offset ``o`` of its state inside a larger
array: :mod:`tradejet.kernels.fused` packs the whole standard set into one array.
"""

from __future__ import annotations

import math

import numpy as np

from tradejet.kernels._core import NAN, RESUM, jit, window_shifted_sums, window_sum2, window_wsums
from tradejet.kernels.api import check_number, check_period
from tradejet.kernels.indicators import log_return_value, typical_price
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
    max_step,
    min_step,
    var_update,
    var_value,
    vwap_update,
    vwap_value,
    wma_slide,
    wma_value,
    zscore_value,
)


@jit
def _inc(pos, p):
    pos += 1
    return 0 if pos == p else pos


# ---------------------------------------------------------------- SMA [t, p, s, pos, ring p]

def sma_init(period: int) -> np.ndarray:
    """Return a fresh SMA state."""
    p = check_period("period", period)
    st = np.zeros(4 + p)
    st[1] = p
    return st


@jit
def _sma_upd(st, o, x):
    t = int(st[o])
    p = int(st[o + 1])
    pos = int(st[o + 3])
    r = o + 4
    st[r + pos] = x
    pos1 = _inc(pos, p)
    s, y = sma_step(t, p - 1, float(p), st[o + 2], x, st[r + pos1])
    st[o + 2] = s
    st[o + 3] = pos1
    st[o] = t + 1
    return y


@jit
def sma_update(state, x):
    """Add one value; return the SMA at this bar."""
    return _sma_upd(state, 0, x)


# ---------------------------------------------------------------- EMA [t, p, prev]

def ema_init(period: int) -> np.ndarray:
    """Return a fresh EMA state."""
    p = check_period("period", period)
    return np.array([0.0, p, 0.0])


@jit
def _ema_upd(st, o, x):
    t = int(st[o])
    p = int(st[o + 1])
    fp = float(p)
    k = 2.0 / (fp + 1.0)
    prev, y = ema_step(t, p, fp, 1.0 - k, k, st[o + 2], x)
    st[o + 2] = prev
    st[o] = t + 1
    return y


@jit
def ema_update(state, x):
    """Add one value; return the EMA at this bar."""
    return _ema_upd(state, 0, x)


# ---------------------------------------------------------------- WMA [t, p, psum, psub, trailing, pos, left, ring p]

def wma_init(period: int) -> np.ndarray:
    """Return a fresh WMA state."""
    p = check_period("period", period)
    st = np.zeros(7 + p)
    st[1] = p
    return st


@jit
def _wma_upd(st, o, x):
    t = int(st[o])
    p = int(st[o + 1])
    pos = int(st[o + 5])
    r = o + 7
    st[r + pos] = x
    pos1 = _inc(pos, p)
    st[o + 5] = pos1
    st[o] = t + 1
    if t < p - 1:
        return NAN
    left = int(st[o + 6])
    if left == 0:
        psub, psum = window_wsums(st[r:r + p], pos1, p, p)
        left = RESUM * p
    else:
        psum, psub = wma_slide(st[o + 2], st[o + 3], st[o + 4], x, float(p))
    y = wma_value(psum, 1.0 / float((p * (p + 1)) >> 1))
    st[o + 2] = psum
    st[o + 3] = psub
    st[o + 4] = st[r + pos1]  # the window's oldest value leaves at the next bar
    st[o + 6] = left - 1
    return y


@jit
def wma_update(state, x):
    """Add one value; return the WMA at this bar."""
    return _wma_upd(state, 0, x)


# ------------------------------------------ rolling variance [t, p, left, shift, s1, s2, pos, ring p]
VAR_SIZE = 7


def _var_state(p: int, extra: int = 0) -> np.ndarray:
    st = np.zeros(VAR_SIZE + p + extra)
    st[1] = p
    return st


@jit
def _var_upd(st, o, x):
    """Advance the rolling variance; return (t, shift, s1, variance)."""
    t = int(st[o])
    p = int(st[o + 1])
    pos = int(st[o + 6])
    r = o + VAR_SIZE
    leaving = st[r + pos]
    st[r + pos] = x
    pos1 = _inc(pos, p)
    left = int(st[o + 2])
    shift = st[o + 3]
    s1 = st[o + 4]
    s2 = st[o + 5]
    var = NAN
    if t >= p - 1:
        if left == 0:
            shift = x
            s1, s2 = window_shifted_sums(st[r:r + p], pos1, p, p, shift)
            left = p
        else:
            s1, s2 = var_update(s1, s2, shift, x, leaving)
        left -= 1
        var = var_value(s1, s2, 1.0 / p)
    st[o + 2] = left
    st[o + 3] = shift
    st[o + 4] = s1
    st[o + 5] = s2
    st[o + 6] = pos1
    st[o] = t + 1
    return t, shift, s1, var


def stddev_init(period: int, nbdev: float = 1.0) -> np.ndarray:
    """Return a fresh STDDEV state (``nbdev`` is kept after the ring)."""
    p = check_period("period", period)
    st = _var_state(p, 1)
    st[-1] = check_number("nbdev", nbdev)
    return st


@jit
def stddev_update(state, x):
    """Add one value; return nbdev * the population sd of the last ``period`` values."""
    t, shift, s1, var = _var_upd(state, 0, x)
    p = int(state[1])
    return sd_value(var) * state[VAR_SIZE + p] if t >= p - 1 else NAN


def zscore_init(period: int) -> np.ndarray:
    """Return a fresh z-score state."""
    return _var_state(check_period("period", period, 2))


@jit
def _zscore_upd(st, o, x):
    t, shift, s1, var = _var_upd(st, o, x)
    p = int(st[o + 1])
    return zscore_value(x, shift, s1, 1.0 / p, var) if t >= p - 1 else NAN


@jit
def zscore_update(state, x):
    """Add one value; return its z-score within the last ``period`` values."""
    return _zscore_upd(state, 0, x)


# ---------------------------------------------------------------- BBANDS [nbdev, sma s, var state...]

def bbands_init(period: int = 20, nbdev: float = 2.0) -> np.ndarray:
    """Return a fresh Bollinger-bands state."""
    p = check_period("period", period)
    st = np.zeros(2 + VAR_SIZE + p)
    st[0] = check_number("nbdev", nbdev)
    st[2 + 1] = p
    return st


@jit
def _bbands_upd(st, o, x):
    v = o + 2
    t = int(st[v])
    p = int(st[v + 1])
    lb = p - 1
    r = v + VAR_SIZE
    pos = int(st[v + 6])
    pos1 = pos + 1 if pos + 1 < p else 0
    # the SMA's first window value is the oldest in the ring once x is written at pos
    first = x if p == 1 else st[r + pos1]
    s, mid = sma_step(t, lb, float(p), st[o + 1], x, first)
    st[o + 1] = s
    t, shift, s1, var = _var_upd(st, v, x)
    w = sd_value(var) * st[o]
    return mid + w, mid, mid - w


@jit
def bbands_update(state, x):
    """Add one value; return (upper, middle, lower)."""
    return _bbands_upd(state, 0, x)


# ---------------------------------------------------------------- RSI [t, p, prevx, gain, loss]

def rsi_init(period: int = 14) -> np.ndarray:
    """Return a fresh RSI state."""
    return np.array([0.0, check_period("period", period, 2), 0.0, 0.0, 0.0])


@jit
def _rsi_upd(st, o, x):
    t = int(st[o])
    p = int(st[o + 1])
    inv = 1.0 / p
    prevx, gain, loss, y = rsi_step(t, p, float(p), (p - 1) * inv, inv, st[o + 2], st[o + 3], st[o + 4], x)
    st[o + 2] = prevx
    st[o + 3] = gain
    st[o + 4] = loss
    st[o] = t + 1
    return y


@jit
def rsi_update(state, close):
    """Add one close; return the RSI at this bar."""
    return _rsi_upd(state, 0, close)


# ---------------------------------------------------------------- TRANGE [t, prevc]

def trange_init() -> np.ndarray:
    """Return a fresh true-range state."""
    return np.zeros(2)


@jit
def _trange_upd(st, o, h, l, c):
    t = int(st[o])
    y = tr_value(h, l, st[o + 1]) if t > 0 else NAN
    st[o + 1] = c
    st[o] = t + 1
    return y


@jit
def trange_update(state, high, low, close):
    """Add one bar; return its true range."""
    return _trange_upd(state, 0, high, low, close)


# ---------------------------------------------------------------- ATR / NATR [t, p, pc, acc]

def atr_init(period: int = 14) -> np.ndarray:
    """Return a fresh ATR state."""
    return np.array([0.0, check_period("period", period), 0.0, 0.0])


natr_init = atr_init


@jit
def _atr_upd(st, o, h, l, c):
    t = int(st[o])
    p = int(st[o + 1])
    inv = 1.0 / p
    pc, acc, y = atr_step(t, p, float(p), (p - 1) * inv, inv, st[o + 2], st[o + 3], h, l, c)
    st[o + 2] = pc
    st[o + 3] = acc
    st[o] = t + 1
    return y


@jit
def atr_update(state, high, low, close):
    """Add one bar; return the ATR."""
    return _atr_upd(state, 0, high, low, close)


@jit
def natr_update(state, high, low, close):
    """Add one bar; return the NATR."""
    y = _atr_upd(state, 0, high, low, close)
    return natr_value(y, close) if int(state[0]) > int(state[1]) else NAN


# ---------------------------------------------------------------- MACD [t, fast, slow, sig, fema, sema, gema]

def macd_init(fast: int = 12, slow: int = 26, signal: int = 9) -> np.ndarray:
    """Return a fresh MACD state (``slow < fast`` are swapped, as TA-Lib)."""
    f = check_period("fast", fast, 2)
    s = check_period("slow", slow, 2)
    g = check_period("signal", signal)
    if s < f:
        f, s = s, f
    return np.array([0.0, f, s, g, 0.0, 0.0, 0.0])


@jit
def _macd_upd(st, o, x):
    t = int(st[o])
    f = int(st[o + 1])
    s = int(st[o + 2])
    g = int(st[o + 3])
    kf = 2.0 / (f + 1.0)
    ks = 2.0 / (s + 1.0)
    kg = 2.0 / (g + 1.0)
    fema, sema, gema, m, sig, hist = macd_step(t, f, s, g, kf, 1.0 - kf, ks, 1.0 - ks, kg, 1.0 - kg,
                                               st[o + 4], st[o + 5], st[o + 6], x)
    st[o + 4] = fema
    st[o + 5] = sema
    st[o + 6] = gema
    st[o] = t + 1
    return m, sig, hist


@jit
def macd_update(state, close):
    """Add one close; return (macd, signal, hist)."""
    return _macd_upd(state, 0, close)


# ------------------------------------------------ ADX / +DI / -DI [t, p, ph, pl, pc, pdm, mdm, tr, acc]

def dmi_init(period: int = 14) -> np.ndarray:
    """Return a fresh directional-movement state (shared by adx, plus_di and minus_di)."""
    return np.array([0.0, check_period("period", period, 2), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])


def adx_init(period: int = 14) -> np.ndarray:
    """Return a fresh ADX state."""
    return dmi_init(period)


plus_di_init = dmi_init
minus_di_init = dmi_init


@jit
def _dmi_upd(st, o, h, l, c):
    """Advance; return (+DI, -DI, ADX)."""
    t = int(st[o])
    p = int(st[o + 1])
    inv = 1.0 / p
    a = (p - 1) * inv
    ph, pl, pc, pdm, mdm, tr, pdi, mdi = dmi_step(t, p, a, st[o + 2], st[o + 3], st[o + 4], st[o + 5],
                                                  st[o + 6], st[o + 7], h, l, c)
    acc, adx = adx_step(t, p, float(p), a, inv, st[o + 8], pdi, mdi)
    st[o + 2] = ph
    st[o + 3] = pl
    st[o + 4] = pc
    st[o + 5] = pdm
    st[o + 6] = mdm
    st[o + 7] = tr
    st[o + 8] = acc
    st[o] = t + 1
    return pdi, mdi, adx


@jit
def adx_update(state, high, low, close):
    """Add one bar; return the ADX."""
    return _dmi_upd(state, 0, high, low, close)[2]


@jit
def plus_di_update(state, high, low, close):
    """Add one bar; return +DI."""
    return _dmi_upd(state, 0, high, low, close)[0]


@jit
def minus_di_update(state, high, low, close):
    """Add one bar; return -DI."""
    return _dmi_upd(state, 0, high, low, close)[1]


# ------------------------------------------------------- rolling max/min [t, p, pos, pre, cur p, suf p]

def rolling_max_init(period: int) -> np.ndarray:
    """Return a fresh rolling-maximum state."""
    p = check_period("period", period)
    st = np.zeros(4 + 2 * p)
    st[1] = p
    st[4 + p:] = -np.inf
    return st


def rolling_min_init(period: int) -> np.ndarray:
    """Return a fresh rolling-minimum state."""
    st = rolling_max_init(period)
    st[4 + int(st[1]):] = np.inf
    return st


@jit
def _max_upd(st, o, x):
    t = int(st[o])
    p = int(st[o + 1])
    c = o + 4
    pos, pre, hi = max_step(p, int(st[o + 2]), st[o + 3], x, st[c:c + p], st[c + p:c + 2 * p])
    st[o + 2] = pos
    st[o + 3] = pre
    st[o] = t + 1
    return hi if t >= p - 1 else NAN


@jit
def _min_upd(st, o, x):
    t = int(st[o])
    p = int(st[o + 1])
    c = o + 4
    pos, pre, lo = min_step(p, int(st[o + 2]), st[o + 3], x, st[c:c + p], st[c + p:c + 2 * p])
    st[o + 2] = pos
    st[o + 3] = pre
    st[o] = t + 1
    return lo if t >= p - 1 else NAN


@jit
def rolling_max_update(state, x):
    """Add one value; return the maximum of the last ``period``."""
    return _max_upd(state, np.int64(0), x)  # not the literal 0: one compile of _max_upd for every caller


@jit
def rolling_min_update(state, x):
    """Add one value; return the minimum of the last ``period``."""
    return _min_upd(state, np.int64(0), x)


# ------------------------------------------------------------------------------------- STOCH
# [t, fk, sk, sd, s_k, s_d, pos_k, pos_d] + max state(fk) on highs + min state(fk) on lows
# + ring_k(sk) + ring_d(sd)
_STOCH_HEAD = 8


def stoch_init(fastk: int = 5, slowk: int = 3, slowd: int = 3) -> np.ndarray:
    """Return a fresh stochastic-oscillator state."""
    fk = check_period("fastk", fastk)
    sk = check_period("slowk", slowk)
    sd = check_period("slowd", slowd)
    st = np.concatenate([np.array([0.0, fk, sk, sd, 0.0, 0.0, 0.0, 0.0]), rolling_max_init(fk),
                         rolling_min_init(fk), np.zeros(sk + sd)])
    return st


@jit
def _stoch_upd(st, o, h, l, c):
    t = int(st[o])
    fk = int(st[o + 1])
    sk = int(st[o + 2])
    sd = int(st[o + 3])
    mo = o + _STOCH_HEAD
    lo_ = mo + 4 + 2 * fk
    rk = lo_ + 4 + 2 * fk
    rd = rk + sk
    hh = _max_upd(st, mo, h)  # NaN only before bar fk - 1, where %K is not computed
    ll = _min_upd(st, lo_, l)
    j = t - (fk - 1)
    k = NAN
    d = NAN
    if j >= 0:
        fast = stoch_k_value(c, hh, ll)
        s_k, pos_k, k = ring_sma_step(j, sk, float(sk), st[o + 4], fast, st[rk:rk + sk], int(st[o + 6]))
        st[o + 4] = s_k
        st[o + 6] = pos_k
        m = j - (sk - 1)
        if m >= 0:
            s_d, pos_d, d = ring_sma_step(m, sd, float(sd), st[o + 5], k, st[rd:rd + sd], int(st[o + 7]))
            st[o + 5] = s_d
            st[o + 7] = pos_d
    st[o] = t + 1
    if t >= fk + sk + sd - 3:
        return k, d
    return NAN, NAN


@jit
def stoch_update(state, high, low, close):
    """Add one bar; return (slowk, slowd)."""
    return _stoch_upd(state, 0, high, low, close)


# ---------------------------------------------------------------- ROC [t, p, pos, ring p]

def roc_init(period: int = 10) -> np.ndarray:
    """Return a fresh rate-of-change state."""
    p = check_period("period", period)
    st = np.zeros(3 + p)
    st[1] = p
    return st


@jit
def _roc_upd(st, o, x):
    t = int(st[o])
    p = int(st[o + 1])
    pos = int(st[o + 2])
    old = st[o + 3 + pos]
    st[o + 3 + pos] = x
    st[o + 2] = _inc(pos, p)
    st[o] = t + 1
    return roc_value(x, old) if t >= p else NAN


@jit
def roc_update(state, x):
    """Add one value; return the rate of change."""
    return _roc_upd(state, 0, x)


# ---------------------------------------------------------------- OBV [t, prevx, obv]

def obv_init() -> np.ndarray:
    """Return a fresh OBV state."""
    return np.zeros(3)


@jit
def _obv_upd(st, o, c, v):
    t = int(st[o])
    prevx, obv = obv_step(t, st[o + 1], st[o + 2], c, v)
    st[o + 1] = prevx
    st[o + 2] = obv
    st[o] = t + 1
    return obv


@jit
def obv_update(state, close, volume):
    """Add one bar; return the OBV."""
    return _obv_upd(state, 0, close, volume)


# ---------------------------------------------------------------- log returns [t, prevx]

def log_returns_init() -> np.ndarray:
    """Return a fresh log-return state."""
    return np.zeros(2)


@jit
def _logret_upd(st, o, x):
    t = int(st[o])
    y = log_return_value(x, st[o + 1]) if t > 0 else NAN
    st[o + 1] = x
    st[o] = t + 1
    return y


@jit
def log_returns_update(state, x):
    """Add one value (> 0); return ln(x / previous)."""
    return _logret_upd(state, 0, x)


# ------------------------------------------- realized vol [t, scale, prevx] + variance state on returns

def realized_vol_init(period: int, bars_per_year: float = 1.0) -> np.ndarray:
    """Return a fresh realized-volatility state."""
    p = check_period("period", period, 2)
    bpy = check_number("bars_per_year", bars_per_year)
    if bpy <= 0.0:
        raise ValueError(f"bars_per_year must be > 0, was {bpy}")
    st = np.zeros(3 + VAR_SIZE + p)
    st[1] = math.sqrt(bpy)
    st[3 + 1] = p
    return st


@jit
def _rv_step(st, o, r):
    """Advance with a log return already computed (NaN at the first bar); return the vol."""
    t = int(st[o])
    st[o] = t + 1
    if t == 0:
        return NAN
    u, shift, s1, var = _var_upd(st, o + 3, r)
    p = int(st[o + 4])
    return sd_value(var) * st[o + 1] if u >= p - 1 else NAN


@jit
def _rv_upd(st, o, x):
    t = int(st[o])
    r = log_return_value(x, st[o + 2]) if t > 0 else NAN
    st[o + 2] = x
    return _rv_step(st, o, r)


@jit
def realized_vol_update(state, close):
    """Add one close (> 0); return the realized volatility."""
    return _rv_upd(state, 0, close)


# ------------------------------------------- rolling VWAP [t, p, left, spv, sv, nz, pos, ring_pv p, ring_v p]

def rolling_vwap_init(period: int) -> np.ndarray:
    """Return a fresh rolling-VWAP state."""
    p = check_period("period", period)
    st = np.zeros(7 + 2 * p)
    st[1] = p
    return st


@jit
def _vwap_upd(st, o, h, l, c, v):
    t = int(st[o])
    p = int(st[o + 1])
    pos = int(st[o + 6])
    rp = o + 7
    rv = rp + p
    tp = typical_price(h, l, c)
    pv = tp * v
    old_pv = st[rp + pos] if t >= p else 0.0
    old_v = st[rv + pos] if t >= p else 0.0
    st[rp + pos] = pv
    st[rv + pos] = v
    pos1 = _inc(pos, p)
    left = int(st[o + 2])
    spv = st[o + 3]
    sv = st[o + 4]
    nz = int(st[o + 5])
    y = NAN
    if t >= p - 1:
        if left == 0:
            spv, sv, nz = window_sum2(st[rp:rp + p], st[rv:rv + p], pos1, p, p)
            left = p
        else:
            spv, sv, nz = vwap_update(spv, sv, nz, pv, v, old_pv, old_v)
        left -= 1
        y = vwap_value(spv, sv, nz, tp)
    st[o + 2] = left
    st[o + 3] = spv
    st[o + 4] = sv
    st[o + 5] = nz
    st[o + 6] = pos1
    st[o] = t + 1
    return y


@jit
def rolling_vwap_update(state, high, low, close, volume):
    """Add one bar (volume >= 0); return the rolling VWAP."""
    return _vwap_upd(state, 0, high, low, close, volume)
