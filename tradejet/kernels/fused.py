"""The engine's standard feature set, fused: every indicator in one sweep over the bars.

Contract: inputs open/high/low/close/volume are float64 (1-D of length n, or 2-D
bars x symbols), finite (checked by the wrappers); ``out`` is float64 of shape
(N_FEATURES, n) or (m, N_FEATURES, n) for m symbols, reusable across calls; row ``k`` is feature
``FEATURES[k]``, NaN over its warm-up. Every value equals the separate function's value
bit for bit (same ``*_step`` arithmetic); ``open`` is checked but no standard feature
uses it yet.

The set and its parameters (fixed: they are "the standard set"; call the separate
functions for other periods):

=================  ==========================================
sma, ema, wma      period 20
stddev             period 20, nbdev 1
rsi                14
trange, atr, natr  atr/natr period 14
bb_upper/middle/   period 20, nbdev 2 (bb_middle is sma)
lower
macd, signal, hist 12, 26, 9
adx, +DI, -DI      14
stoch_k, stoch_d   5, 3, 3
roc                10
obv
max, min           period 20 (Donchian)
log_return
realized_vol       period 20, bars_per_year 1 (per-bar vol)
zscore             period 20
vwap               period 20
=================  ==========================================

The streaming form keeps the whole set's state in one float64 array
(:func:`features_init`) and advances it by one bar per :func:`features_update` call.
"""

from __future__ import annotations

import numpy as np
from numba import carray

from tradejet.kernels import _lanes2d as _L
from tradejet.kernels import _vec
from tradejet.kernels import streaming as _s
from tradejet.kernels._core import (
    NAN,
    RESUM,
    address_to_f64_pointer,
    fma,
    jit,
    window_shifted_sums,
    window_sum2,
    window_wsums,
)
from tradejet.kernels._threads import beside as _beside
from tradejet.kernels._threads import caller_cpu as _caller_cpu
from tradejet.kernels._threads import cap_when as _cap_when
from tradejet.kernels._threads import pool as _pool
from tradejet.kernels._threads import two as _two
from tradejet.kernels._vec import vmap
from tradejet.kernels.api import (  # noqa: F401 (sma: doctest)
    as_series,
    first_nonfinite_nb,
    raise_bad,
    same_length,
    sma,
)
from tradejet.kernels.indicators import (
    _rolling_extreme,
    log_return_value,
    typical_price,
)
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
    wma_slide,
    wma_value,
    zscore_value,
)

FEATURES = (
    "sma", "ema", "wma", "stddev", "rsi", "trange", "atr", "natr", "bb_upper", "bb_middle", "bb_lower",
    "macd", "macd_signal", "macd_hist", "adx", "plus_di", "minus_di", "stoch_k", "stoch_d", "roc", "obv",
    "max", "min", "log_return", "realized_vol", "zscore", "vwap",
)
N_FEATURES = len(FEATURES)

P = 20            # window of sma, ema, wma, stddev, bbands, max, min, realized_vol, zscore, vwap
RSI_P = 14
ATR_P = 14
ADX_P = 14
MACD_F, MACD_S, MACD_G = 12, 26, 9
STOCH_K, STOCH_SK, STOCH_SD = 5, 3, 3
ROC_P = 10
BB_NBDEV = 2.0
SD_NBDEV = 1.0
RV_SCALE = 1.0    # sqrt(bars_per_year) with bars_per_year = 1

# How the separate public functions produce each row (for tests and benchmarks).
SEPARATE = {
    "sma": ("sma", P), "ema": ("ema", P), "wma": ("wma", P), "stddev": ("stddev", P, SD_NBDEV),
    "rsi": ("rsi", RSI_P), "trange": ("trange",), "atr": ("atr", ATR_P), "natr": ("natr", ATR_P),
    "bb_upper": ("bbands", P, BB_NBDEV, 0), "bb_middle": ("bbands", P, BB_NBDEV, 1),
    "bb_lower": ("bbands", P, BB_NBDEV, 2),
    "macd": ("macd", MACD_F, MACD_S, MACD_G, 0), "macd_signal": ("macd", MACD_F, MACD_S, MACD_G, 1),
    "macd_hist": ("macd", MACD_F, MACD_S, MACD_G, 2),
    "adx": ("adx", ADX_P), "plus_di": ("plus_di", ADX_P), "minus_di": ("minus_di", ADX_P),
    "stoch_k": ("stoch", STOCH_K, STOCH_SK, STOCH_SD, 0), "stoch_d": ("stoch", STOCH_K, STOCH_SK, STOCH_SD, 1),
    "roc": ("roc", ROC_P), "obv": ("obv",), "max": ("rolling_max", P), "min": ("rolling_min", P),
    "log_return": ("log_returns",), "realized_vol": ("realized_vol", P, 1.0), "zscore": ("zscore", P),
    "vwap": ("rolling_vwap", P),
}


# The steady state runs in blocks of BLK bars, each in a few passes (features_1d_nb once
# did every feature in one scalar loop, ~16 divisions, 3 square roots and a log per bar, and
# was bound by the scalar divider): vector passes (tradejet.kernels._vec) for what depends
# on the bars alone (input check, true range, directional movement, RSI's up/down, stoch
# %K, typical prices); two scalar loops that carry the recurrences (each chain's fma/add
# only: numerators and denominators go to scratch rows), with the vector work that hangs
# off them (ROC and the log-return quotients, the RSI/NATR/DI/DX divisions beside the first;
# the logs (ahead), sd, bands, zscore, realized vol and VWAP beside the second) done four
# bars at a time inside them, so the divider and the logs overlap the chains; the exact
# re-sums inline at their bars; then a small scalar pass for the two chains fed
# by a division (ADX, stoch %D). The divisions by the constants 20, 3 and 100 use no
# divider (Markstein's correction, _v_mdiv). Every lane performs the same IEEE operations
# as the step functions (no fast-math; division, square root and fma correctly rounded;
# the same log, _core.flog's operations), so the values are the same bits.
WARM = 40        # bars done by the per-bar loop: every chain is past its seed (MACD's signal at bar 33)
BLK = 512        # bars per block (the block's rows and scratch stay in L1/L2)
LAG = 7          # bars a vector step inside a chain loop runs behind the loop (3 + a multiple of 4)
HIST = 24        # bars of history before a block that the block reads (>= P)
ROW = HIST + BLK  # scratch row length (4288 bytes: rows 1..63 apart do not alias modulo 4 KiB)
_TINY = 2.0 ** -960
_HUGE = 2.0 ** 1000
# scratch rows (offsets into one flat array, so one base register serves them all and
# the vectorizer sees constant distances between them, no runtime alias checks); a row's
# element HIST + i belongs to bar s + i of the block, HIST - j to the j-th bar before it
(_TRI, _PDM1, _MDM1, _UP, _DN, _TP, _PVH, _FK, _SMA, _S1, _S2, _XS, _GAIN, _LOSS, _PDM, _MDM, _TRS, _SKS,
 _RV1, _RV2, _WS, _WW, _RQ1, _RQ2, _Q1, _Q2, _RW1, _RW2, _RW3, _SPV, _SV, _NZ, _DX, _SDS, _LR) = (
    k * ROW + HIST for k in range(35))
N_SCRATCH = 35
N_WST = 33       # floats of the chains' state between the warm-up and the blocks (_warm_nb)
# rows reused before their owner writes them: the stoch extremes and range (before the chains)
_HH, _LL, _DIFF = _S1, _S2, _XS


# ---- the block's vector passes (tradejet.kernels._vec): each lane does the step functions' ops

def _v_bars(v, x, pc, h, hp, lo, lp, vol):
    """tr_value, its /ATR_P, dmi_step's +DM1/-DM1, rsi_step's up/dn times 1/RSI_P, obv's v * sign."""
    z = v.k(0.0)
    tr = _vec.tr_value(v, h, lo, pc)
    pdm1, mdm1 = _vec.dm1(v, h, hp, lp, lo)
    up, dn = _vec.up_dn(v, v.sub(x, pc))
    one = v.k(1.0)
    sgn = v.sub(v.where(v.gt(x, pc), one, z), v.where(v.lt(x, pc), one, z))
    return [tr, v.mul(tr, v.k(1.0 / ATR_P)), pdm1, mdm1, v.mul(up, v.k(1.0 / RSI_P)), v.mul(dn, v.k(1.0 / RSI_P)),
            v.mul(vol, sgn)]


def _v_ratios(v, x, pc, old):
    """roc_value and the quotient of log_return_value."""
    z = v.k(0.0)
    roc = v.where(v.ne(old, z), v.mul(v.sub(v.div(x, old), v.k(1.0)), v.k(100.0)), z)
    return [roc, v.div(x, pc)]


def _v_log(v, q):
    """log_return_value's log of the quotient (_core.flog's operations), to the row and the scratch copy."""
    lr = v.log(q)
    return [lr, lr]


def _v_mdiv(v, a, c):
    """``a / c`` for a constant ``c`` (3, 20, 100) without a division, and the flag of the lanes
    it does not cover.

    Markstein: with ``rc = RN(1/c)`` within half an ulp of 1/c and ``q = RN(a * rc)``
    within one ulp of a/c (both hold for c = 3, 20, 100: 1/c's relative rounding error is
    at most 2**-54), ``r = a - q c`` is exact (one fma) and ``RN(q + r rc)`` is the correctly
    rounded a/c, i.e. IEEE division's result (also checked on 4e8 random numerators). It
    needs no underflow or overflow: a numerator outside [2**-960, 2**1000] (never a price)
    sets the flag and the caller divides that block again; a zero numerator keeps its sign
    (q = a * rc is exactly +-0)."""
    rc = v.k(1.0 / c)
    q = v.mul(a, rc)
    y = v.fma(v.fma(v.neg(q), v.k(c), a), rc, q)
    m = v.fabs(a)
    flag = v.both(v.either(v.lt(m, v.k(_TINY)), v.gt(m, v.k(_HUGE))), v.ne(a, v.k(0.0)))
    return v.where(v.eq(a, v.k(0.0)), q, y), flag


def _v_stoch(v, x, h0, h1, h2, h3, h4, l0, l1, l2, l3, l4, h, lo, vol):
    """stoch_k_value over the 5-bar extremes (exact in any order); typical_price and pv."""
    a = h0
    for b in (h1, h2, h3, h4):
        a = v.where(v.gt(b, a), b, a)
    c = l0
    for b in (l1, l2, l3, l4):
        c = v.where(v.lt(b, c), b, c)
    diff, f1 = _v_mdiv(v, v.sub(a, c), 100.0)
    z = v.k(0.0)
    fk = v.where(v.ne(diff, z), v.div(v.sub(x, c), diff), z)
    tp, f2 = _v_mdiv(v, v.add(v.add(h, lo), x), 3.0)
    return [fk, tp, v.mul(tp, vol)], v.either(f1, f2)


def _v_var(v, mid, s1, s2, xs):
    """sd_value(var_value(..)) * nbdev, the bands, zscore_value, the middle band."""
    z = v.k(0.0)
    m = v.mul(s1, v.k(1.0 / P))
    var = v.sub(v.mul(s2, v.k(1.0 / P)), v.mul(m, m))
    sd = _vec.sd_value(v, var)
    w = v.mul(sd, v.k(BB_NBDEV))
    zs = v.where(v.gt(sd, z), v.div(v.sub(xs, m), sd), z)
    return [v.mul(sd, v.k(SD_NBDEV)), v.add(mid, w), v.sub(mid, w), zs, mid]


def _v_divs(v, g, lo, atr, x, pdm, mdm, tr):
    """rsi_step's value, natr_value, dmi_step's DIs, adx_step's DX."""
    z = v.k(0.0)
    h = v.k(100.0)
    sm = v.add(g, lo)
    rsi = v.where(v.ne(sm, z), v.mul(h, v.div(g, sm)), z)
    natr = v.where(v.ne(x, z), v.mul(v.div(atr, x), h), z)
    ok = v.ne(tr, z)
    pdi = v.where(ok, v.mul(h, v.div(pdm, tr)), z)
    mdi = v.where(ok, v.mul(h, v.div(mdm, tr)), z)
    s = v.add(pdi, mdi)
    dx = v.where(v.ne(s, z), v.mul(h, v.div(v.fabs(v.sub(mdi, pdi)), s)), z)
    return [rsi, natr, pdi, mdi, dx]


def _v_rv_vwap(v, q1, q2, spv, sv, nz, tp):
    """realized vol (sd_value(var_value(..)) * scale) and vwap_value."""
    z = v.k(0.0)
    m = v.mul(q1, v.k(1.0 / P))
    var = v.sub(v.mul(q2, v.k(1.0 / P)), v.mul(m, m))
    rv = v.mul(_vec.sd_value(v, var), v.k(RV_SCALE))
    return [rv, v.where(v.gt(nz, z), v.div(spv, sv), tp)]


def _v_check(v, x, h, lo, vol):
    """The input check of features_1d_nb's loop: flag bars not finite, close <= 0 or volume < 0."""
    z = v.k(0.0)
    fin = v.eq(v.add(v.add(v.add(v.sub(h, h), v.sub(lo, lo)), v.sub(x, x)), v.sub(vol, vol)), z)
    ok = v.both(v.both(fin, v.gt(x, z)), v.ge(vol, z))
    return [], v.b.not_(ok)


def _v_sma(v, a):
    return _v_mdiv(v, a, float(P))


def _v_sk(v, a):
    return _v_mdiv(v, a, float(STOCH_SK))


def _v_sd(v, a):
    return _v_mdiv(v, a, float(STOCH_SD))


def _one(f):
    def body(v, a):
        y, flag = f(v, a)
        return [y], flag
    return body


vec_check = vmap("vec_check", 0, 4, 0, _v_check)
vec_sma = vmap("vec_sma", 1, 1, 0, _one(_v_sma))
vec_sk = vmap("vec_sk", 1, 1, 0, _one(_v_sk))
vec_sd = vmap("vec_sd", 1, 1, 0, _one(_v_sd))
vec_bars = vmap("vec_bars", 7, 7, 0, _v_bars)
vec_ratios = vmap("vec_ratios", 2, 3, 0, _v_ratios)
vec_log = vmap("vec_log", 2, 1, 0, _v_log)
vec_stoch = vmap("vec_stoch", 3, 14, 0, _v_stoch)
vec_var = vmap("vec_var", 5, 4, 0, _v_var)
vec_divs = vmap("vec_divs", 5, 7, 0, _v_divs)
vec_rv_vwap = vmap("vec_rv_vwap", 2, 6, 0, _v_rv_vwap)
vec_ratios_step = vmap("vec_ratios_step", 2, 3, 0, _v_ratios, whole_loop=False)
vec_log_step = vmap("vec_log_step", 2, 1, 0, _v_log, whole_loop=False)
vec_divs_step = vmap("vec_divs_step", 5, 7, 0, _v_divs, whole_loop=False)
vec_var_step = vmap("vec_var_step", 5, 4, 0, _v_var, whole_loop=False)
vec_rv_vwap_step = vmap("vec_rv_vwap_step", 2, 6, 0, _v_rv_vwap, whole_loop=False)



@jit
def _blocks(high, low, close, volume, out, ring_pv, w0,
            s_sma, v_left, v_shift, v_s1, v_s2, e_ema, w_sum, w_sub, w_left, r_gain, r_loss, a_acc,
            m_f, m_s, m_g, d_pdm, d_mdm, d_tr, d_acc, st_k, fkm1, fkm2, st_d, o_obv,
            q_left, q_shift, q_s1, q_s2, vw_left, vw_spv, vw_sv, vw_nz, vw_pos):
    """Bars ``w0..n-1`` of :func:`features_1d_nb` (all past the warm-up), given its chains' state."""
    n = close.shape[0]
    fp = float(P)
    lb = P - 1
    k_ema = 2.0 / (fp + 1.0)
    a_ema = 1.0 - k_ema
    inv_div = 1.0 / float((P * (P + 1)) >> 1)
    i_rsi = 1.0 / RSI_P
    a_rsi = (RSI_P - 1) * i_rsi
    i_atr = 1.0 / ATR_P
    a_atr = (ATR_P - 1) * i_atr
    i_adx = 1.0 / ADX_P
    a_adx = (ADX_P - 1) * i_adx
    kf = 2.0 / (MACD_F + 1.0)
    ks = 2.0 / (MACD_S + 1.0)
    kg = 2.0 / (MACD_G + 1.0)
    af = 1.0 - kf
    as_ = 1.0 - ks
    ag = 1.0 - kg
    f_sk = float(STOCH_SK)
    f_sd = float(STOCH_SD)
    H = HIST
    sc = np.empty(N_SCRATCH * ROW)
    for j in range(P):  # the VWAP ring, oldest first, as the history of the first block
        sc[_PVH - P + j] = ring_pv[(vw_pos + j) % P]
    for j in range(HIST):
        sc[_LR - HIST + j] = out[23, w0 - HIST + j]
    skm1 = out[17, w0 - 1]
    skm2 = out[17, w0 - 2]
    bad = 0
    for s in range(w0, n, BLK):
        e = min(s + BLK, n)
        L = e - s
        cb = close[s - H:e]
        hb = high[s - H:e]
        lw = low[s - H:e]
        vb = volume[s - H:e]
        o0 = out[0, s:e]
        o1 = out[1, s:e]
        o2 = out[2, s:e]
        o3 = out[3, s:e]
        o4 = out[4, s:e]
        o5 = out[5, s:e]
        o6 = out[6, s:e]
        o7 = out[7, s:e]
        o8 = out[8, s:e]
        o9 = out[9, s:e]
        o10 = out[10, s:e]
        o11 = out[11, s:e]
        o12 = out[12, s:e]
        o13 = out[13, s:e]
        o14 = out[14, s:e]
        o15 = out[15, s:e]
        o16 = out[16, s:e]
        o17 = out[17, s:e]
        o18 = out[18, s:e]
        o19 = out[19, s:e]
        o20 = out[20, s:e]
        o23 = out[23, s:e]
        o24 = out[24, s:e]
        o25 = out[25, s:e]
        o26 = out[26, s:e]

        # ---- vector passes over the bars' own inputs
        if vec_check(cb, H, hb, H, lw, H, vb, H, L):
            for i in range(L):
                x = cb[H + i]
                h = hb[H + i]
                lo = lw[H + i]
                vol = vb[H + i]
                bad += not (((h - h) + (lo - lo) + (x - x) + (vol - vol)) == 0.0 and x > 0.0 and vol >= 0.0)
        vec_bars(o5, 0, sc, _TRI, sc, _PDM1, sc, _MDM1, sc, _UP, sc, _DN, o20, 0,
                 cb, H, cb, H - 1, hb, H, hb, H - 1, lw, H, lw, H - 1, vb, H, L)
        if vec_stoch(sc, _FK, sc, _TP, sc, _PVH, cb, H, hb, H, hb, H - 1, hb, H - 2, hb, H - 3, hb, H - 4,
                     lw, H, lw, H - 1, lw, H - 2, lw, H - 3, lw, H - 4, hb, H, lw, H, vb, H, L):
            # a numerator out of Markstein's range (never a price): the step functions' divisions
            for i in range(L):
                a = hb[H + i]
                c = lw[H + i]
                for j in range(1, STOCH_K):
                    a = max(a, hb[H + i - j])
                    c = min(c, lw[H + i - j])
                sc[_FK + i] = stoch_k_value(cb[H + i], a, c)
                tp = typical_price(hb[H + i], lw[H + i], cb[H + i])
                sc[_TP + i] = tp
                sc[_PVH + i] = tp * vb[H + i]

        nv = v_left  # the bars of the variance's and the VWAP's next re-sums
        nw = vw_left
        # ---- the recurrences, bar by bar (two loops of a few independent chains each), with the
        # vector work that hangs off them done four bars at a time beside them
        for i in range(L):
            x = cb[H + i]
            s_sma = s_sma + x
            sc[_SMA + i] = s_sma
            s_sma = s_sma - cb[H + i - lb]
            e_ema = fma(e_ema, a_ema, x * k_ema)
            o1[i] = e_ema
            m_f = fma(m_f, af, x * kf)
            m_s = fma(m_s, as_, x * ks)
            mm = m_f - m_s
            m_g = fma(m_g, ag, mm * kg)
            o11[i] = mm
            o12[i] = m_g
            o13[i] = mm - m_g
            o_obv = o_obv + o20[i]
            o20[i] = o_obv
            r_gain = fma(r_gain, a_rsi, sc[_UP + i])
            r_loss = fma(r_loss, a_rsi, sc[_DN + i])
            sc[_GAIN + i] = r_gain
            sc[_LOSS + i] = r_loss
            a_acc = fma(a_acc, a_atr, sc[_TRI + i])
            o6[i] = a_acc
            d_pdm = fma(d_pdm, a_adx, sc[_PDM1 + i])
            d_mdm = fma(d_mdm, a_adx, sc[_MDM1 + i])
            d_tr = fma(d_tr, a_adx, o5[i])
            sc[_PDM + i] = d_pdm
            sc[_MDM + i] = d_mdm
            sc[_TRS + i] = d_tr
            fk = sc[_FK + i]
            st_k = st_k + fk
            sc[_SKS + i] = st_k
            st_k = st_k - fkm2
            fkm2 = fkm1
            fkm1 = fk
            if i == nv:  # the variance's exact re-sum at this bar (window_shifted_sums' order)
                shv = cb[H + i]
                a1 = 0.0
                a2 = 0.0
                for j in range(1 - P, 1):
                    d = cb[H + i + j] - shv
                    a1 += d
                    a2 += d * d
                sc[_RV1 + i] = a1
                sc[_RV2 + i] = a2
                nv += P
            if i == nw:  # the VWAP's exact re-sum (window_sum2's order over the ring)
                spv = 0.0
                sv = 0.0
                nz = 0
                for j in range(1 - P, 1):
                    spv += sc[_PVH + i + j]
                    vv = vb[H + i + j]
                    sv += vv
                    nz += vv > 0.0
                sc[_RW1 + i] = spv
                sc[_RW2 + i] = sv
                sc[_RW3 + i] = nz
                nw += P
            if (i & 3) == 3:  # vector work beside the chains: four bars' ROC and log returns (inputs
                # only), and the divisions of the four bars before the last four (stored a while ago:
                # a vector load of values stored just now would wait for the stores)
                vec_ratios_step(o19, i - 3, sc, _LR + i - 3, cb, H + i - 3, cb, H + i - 4, cb, H + i - 3 - ROC_P, 0)
                if i >= LAG:
                    vec_divs_step(o4, i - LAG, o7, i - LAG, o15, i - LAG, o16, i - LAG, sc, _DX + i - LAG, sc, _GAIN + i - LAG,
                                  sc, _LOSS + i - LAG, o6, i - LAG, cb, H + i - LAG, sc, _PDM + i - LAG, sc, _MDM + i - LAG,
                                  sc, _TRS + i - LAG, 0)
        r0 = L & ~3  # the tails of the interleaved vector work
        vec_ratios(o19, r0, sc, _LR + r0, cb, H + r0, cb, H + r0 - 1, cb, H + r0 - ROC_P, L - r0)
        d0 = max(r0 - (LAG - 3), 0)
        vec_divs(o4, d0, o7, d0, o15, d0, o16, d0, sc, _DX + d0, sc, _GAIN + d0, sc, _LOSS + d0, o6, d0, cb, H + d0,
                 sc, _PDM + d0, sc, _MDM + d0, sc, _TRS + d0, L - d0)

        # ---- exact re-sums of the windowed sums, at the bars where the chains restart
        for i in range(w_left, L, RESUM * P):
            sc[_WS + i], sc[_WW + i] = window_wsums(close, s + i - lb, P, n)
        # the logs of the quotients: the first bars now, the rest beside the second loop, ahead of it
        nlog = min(8, L)
        vec_log(o23, 0, sc, _LR, sc, _LR, nlog)
        if vec_sma(o0, 0, sc, _SMA, L):  # Markstein (see _v_mdiv); else divide
            for i in range(L):
                o0[i] = sc[_SMA + i] / fp
        for i in range(L):
            x = cb[H + i]
            if v_left == 0:
                v_shift = x
                v_s1 = sc[_RV1 + i]
                v_s2 = sc[_RV2 + i]
                v_left = P
            else:
                v_s1, v_s2 = var_update(v_s1, v_s2, v_shift, x, cb[H + i - P])
            v_left -= 1
            sc[_S1 + i] = v_s1
            sc[_S2 + i] = v_s2
            sc[_XS + i] = x - v_shift
            if w_left == 0:
                w_sub = sc[_WS + i]
                w_sum = sc[_WW + i]
                w_left = RESUM * P
            else:
                w_sum, w_sub = wma_slide(w_sum, w_sub, cb[H + i - P], x, fp)
            w_left -= 1
            o2[i] = wma_value(w_sum, inv_div)
            rt = sc[_LR + i]
            if q_left == 0:  # the realized vol's exact re-sum (window_shifted_sums' order)
                q_shift = rt
                q_s1 = 0.0
                q_s2 = 0.0
                for j in range(1 - P, 1):
                    d = sc[_LR + i + j] - rt
                    q_s1 += d
                    q_s2 += d * d
                q_left = P
            else:
                q_s1, q_s2 = var_update(q_s1, q_s2, q_shift, rt, sc[_LR + i - P])
            q_left -= 1
            sc[_Q1 + i] = q_s1
            sc[_Q2 + i] = q_s2
            if vw_left == 0:
                vw_spv = sc[_RW1 + i]
                vw_sv = sc[_RW2 + i]
                vw_nz = int(sc[_RW3 + i])
                vw_left = P
            else:
                vw_spv, vw_sv, vw_nz = vwap_update(vw_spv, vw_sv, vw_nz, sc[_PVH + i], vb[H + i],
                                                   sc[_PVH + i - P], vb[H + i - P])
            vw_left -= 1
            sc[_SPV + i] = vw_spv
            sc[_SV + i] = vw_sv
            sc[_NZ + i] = vw_nz
            if (i & 3) == 3:  # the logs of four bars ahead (or the last ones), beside the chains
                if nlog + 4 <= L:
                    vec_log_step(o23, nlog, sc, _LR + nlog, sc, _LR + nlog, 0)
                    nlog += 4
                elif nlog < L:
                    vec_log(o23, nlog, sc, _LR + nlog, sc, _LR + nlog, L - nlog)
                    nlog = L
            if (i & 3) == 3 and i >= LAG:  # the square roots and divisions of four bars, beside the chains
                vec_var_step(o3, i - LAG, o8, i - LAG, o10, i - LAG, o25, i - LAG, o9, i - LAG, o0, i - LAG, sc, _S1 + i - LAG,
                             sc, _S2 + i - LAG, sc, _XS + i - LAG, 0)
                vec_rv_vwap_step(o24, i - LAG, o26, i - LAG, sc, _Q1 + i - LAG, sc, _Q2 + i - LAG, sc, _SPV + i - LAG,
                                 sc, _SV + i - LAG, sc, _NZ + i - LAG, sc, _TP + i - LAG, 0)
        d0 = max((L & ~3) - (LAG - 3), 0)
        vec_var(o3, d0, o8, d0, o10, d0, o25, d0, o9, d0, o0, d0, sc, _S1 + d0, sc, _S2 + d0, sc, _XS + d0, L - d0)
        vec_rv_vwap(o24, d0, o26, d0, sc, _Q1 + d0, sc, _Q2 + d0, sc, _SPV + d0, sc, _SV + d0, sc, _NZ + d0,
                    sc, _TP + d0, L - d0)
        for j in range(HIST):  # the last bars' pv and log returns: the next block's history
            sc[_PVH - HIST + j] = sc[_PVH + L - HIST + j]
            sc[_LR - HIST + j] = sc[_LR + L - HIST + j]

        if vec_sk(o17, 0, sc, _SKS, L):
            for i in range(L):
                o17[i] = sc[_SKS + i] / f_sk

        # ---- the chains fed by a division: ADX (from DX), stoch %D (from %K)
        for i in range(L):
            if o15[i] + o16[i] != 0.0:
                d_acc = fma(d_acc, a_adx, sc[_DX + i] * i_adx)
            o14[i] = d_acc
            sk = o17[i]
            st_d = st_d + sk
            sc[_SDS + i] = st_d
            st_d = st_d - skm2
            skm2 = skm1
            skm1 = sk
        if vec_sd(o18, 0, sc, _SDS, L):
            for i in range(L):
                o18[i] = sc[_SDS + i] / f_sd
    return bad


@jit
def _warm_nb(high, low, close, volume, out, rings, st):
    """Bars ``0 .. min(n, WARM) - 1`` of :func:`features_1d_nb`, bar by bar with every step
    function's seed branches, except max and min (rows 21-22).

    Leaves the chains' state in ``st`` (N_WST floats, the order of :func:`_blocks`'
    parameters from ``s_sma`` on; ``rings[2]`` holds the VWAP's pv ring). Returns the number of
    bad bars (as features_1d_nb)."""
    n = close.shape[0]
    fp = float(P)
    inv = 1.0 / P
    lb = P - 1
    k_ema = 2.0 / (fp + 1.0)
    a_ema = 1.0 - k_ema
    inv_div = 1.0 / float((P * (P + 1)) >> 1)
    f_rsi = float(RSI_P)
    i_rsi = 1.0 / RSI_P
    a_rsi = (RSI_P - 1) * i_rsi
    f_atr = float(ATR_P)
    i_atr = 1.0 / ATR_P
    a_atr = (ATR_P - 1) * i_atr
    f_adx = float(ADX_P)
    i_adx = 1.0 / ADX_P
    a_adx = (ADX_P - 1) * i_adx
    kf = 2.0 / (MACD_F + 1.0)
    ks = 2.0 / (MACD_S + 1.0)
    kg = 2.0 / (MACD_G + 1.0)
    f_sk = float(STOCH_SK)
    f_sd = float(STOCH_SD)
    stoch_lb = STOCH_K + STOCH_SK + STOCH_SD - 3
    ring_k = rings[0]
    ring_d = rings[1]
    ring_pv = rings[2]
    ring_v = rings[3]

    # the integer state starts at a non-literal zero: a literal 0 would make Numba compile _blocks
    # a second time for Literal[int](0) arguments (~3 s of cold compile)
    izero = n - n
    s_sma = 0.0
    e_ema = 0.0
    w_sum = 0.0
    w_sub = 0.0
    w_left = izero
    v_left = izero
    v_shift = 0.0
    v_s1 = 0.0
    v_s2 = 0.0
    r_prev = 0.0
    r_gain = 0.0
    r_loss = 0.0
    a_pc = 0.0
    a_acc = 0.0
    m_f = 0.0
    m_s = 0.0
    m_g = 0.0
    d_ph = 0.0
    d_pl = 0.0
    d_pc = 0.0
    d_pdm = 0.0
    d_mdm = 0.0
    d_tr = 0.0
    d_acc = 0.0
    hc = np.empty(STOCH_K)
    hs = np.full(STOCH_K, -np.inf)
    lc = np.empty(STOCH_K)
    ls = np.full(STOCH_K, np.inf)
    hpos = 0
    hpre = 0.0
    lpos = 0
    lpre = 0.0
    st_k = 0.0
    st_d = 0.0
    pos_k = 0
    pos_d = 0
    sk = NAN
    sd = NAN
    o_prev = 0.0
    o_obv = 0.0
    q_left = izero
    q_shift = 0.0
    q_s1 = 0.0
    q_s2 = 0.0
    vw_left = izero
    vw_spv = 0.0
    vw_sv = 0.0
    vw_nz = izero
    vw_pos = izero
    logret = out[23]

    bad = 0
    w0 = min(n, WARM)
    for t in range(w0):  # the warm-up, bar by bar with every step function's seed branches
        x = close[t]
        h = high[t]
        lo = low[t]
        vol = volume[t]
        bad += not (((h - h) + (lo - lo) + (x - x) + (vol - vol)) == 0.0 and x > 0.0 and vol >= 0.0)
        x_first = close[t - lb] if t >= lb else 0.0
        x_leaving = close[t - P] if t >= P else 0.0

        # sma / bb_middle, stddev, bbands, zscore: one SMA sum and one variance state
        s_sma, mid = sma_step(t, lb, fp, s_sma, x, x_first)
        var = NAN
        if t >= lb:
            if v_left == 0:
                v_shift = x
                v_s1, v_s2 = window_shifted_sums(close, t - P + 1, P, n, v_shift)
                v_left = P
            else:
                v_s1, v_s2 = var_update(v_s1, v_s2, v_shift, x, x_leaving)
            v_left -= 1
            var = var_value(v_s1, v_s2, inv)
        sdv = sd_value(var)
        out[0, t] = mid
        e_ema, out[1, t] = ema_step(t, P, fp, a_ema, k_ema, e_ema, x)
        if t >= lb:
            if w_left == 0:
                w_sub, w_sum = window_wsums(close, t - lb, P, n)
                w_left = RESUM * P
            else:
                w_sum, w_sub = wma_slide(w_sum, w_sub, x_leaving, x, fp)
            w_left -= 1
            out[2, t] = wma_value(w_sum, inv_div)
        else:
            out[2, t] = NAN
        w = sdv * BB_NBDEV
        out[8, t] = mid + w
        out[9, t] = mid
        out[10, t] = mid - w
        if t >= lb:
            out[3, t] = sdv * SD_NBDEV
            out[25, t] = zscore_value(x, v_shift, v_s1, inv, var)
        else:
            out[3, t] = NAN
            out[25, t] = NAN

        r_prev, r_gain, r_loss, out[4, t] = rsi_step(t, RSI_P, f_rsi, a_rsi, i_rsi, r_prev, r_gain, r_loss, x)

        out[5, t] = tr_value(h, lo, a_pc) if t > 0 else NAN
        a_pc, a_acc, atr = atr_step(t, ATR_P, f_atr, a_atr, i_atr, a_pc, a_acc, h, lo, x)
        out[6, t] = atr
        out[7, t] = natr_value(atr, x) if t >= ATR_P else NAN

        m_f, m_s, m_g, out[11, t], out[12, t], out[13, t] = macd_step(
            t, MACD_F, MACD_S, MACD_G, kf, 1.0 - kf, ks, 1.0 - ks, kg, 1.0 - kg, m_f, m_s, m_g, x)

        d_ph, d_pl, d_pc, d_pdm, d_mdm, d_tr, pdi, mdi = dmi_step(t, ADX_P, a_adx, d_ph, d_pl, d_pc, d_pdm,
                                                                  d_mdm, d_tr, h, lo, x)
        d_acc, out[14, t] = adx_step(t, ADX_P, f_adx, a_adx, i_adx, d_acc, pdi, mdi)
        out[15, t] = pdi
        out[16, t] = mdi

        hpos, hpre, hh5 = max_step(STOCH_K, hpos, hpre, h, hc, hs)
        lpos, lpre, ll5 = min_step(STOCH_K, lpos, lpre, lo, lc, ls)
        j = t - (STOCH_K - 1)
        if j >= 0:
            fk = stoch_k_value(x, hh5, ll5)
            st_k, pos_k, sk = ring_sma_step(j, STOCH_SK, f_sk, st_k, fk, ring_k, pos_k)
            m = j - (STOCH_SK - 1)
            if m >= 0:
                st_d, pos_d, sd = ring_sma_step(m, STOCH_SD, f_sd, st_d, sk, ring_d, pos_d)
        if t >= stoch_lb:
            out[17, t] = sk
            out[18, t] = sd
        else:
            out[17, t] = NAN
            out[18, t] = NAN

        out[19, t] = roc_value(x, close[t - ROC_P]) if t >= ROC_P else NAN
        o_prev, o_obv = obv_step(t, o_prev, o_obv, x, vol)
        out[20, t] = o_obv


        if t > 0:
            rt = log_return_value(x, close[t - 1])
            logret[t] = rt
            if t >= P:
                if q_left == 0:
                    q_shift = rt
                    q_s1, q_s2 = window_shifted_sums(logret, t - P + 1, P, n, q_shift)
                    q_left = P
                else:
                    q_s1, q_s2 = var_update(q_s1, q_s2, q_shift, rt, logret[t - P])
                q_left -= 1
                out[24, t] = sd_value(var_value(q_s1, q_s2, inv)) * RV_SCALE
            else:
                out[24, t] = NAN
        else:
            logret[t] = NAN
            out[24, t] = NAN

        tp = typical_price(h, lo, x)
        pv = tp * vol
        old_pv = ring_pv[vw_pos] if t >= P else 0.0
        old_v = ring_v[vw_pos] if t >= P else 0.0
        ring_pv[vw_pos] = pv
        ring_v[vw_pos] = vol
        vw_pos = vw_pos + 1 if vw_pos + 1 < P else 0
        if t >= lb:
            if vw_left == 0:
                vw_spv, vw_sv, vw_nz = window_sum2(ring_pv, ring_v, vw_pos, P, P)
                vw_left = P
            else:
                vw_spv, vw_sv, vw_nz = vwap_update(vw_spv, vw_sv, vw_nz, pv, vol, old_pv, old_v)
            vw_left -= 1
            out[26, t] = vwap_value(vw_spv, vw_sv, vw_nz, tp)
        else:
            out[26, t] = NAN
    # the chains' state for the steady state (_blocks' parameters, in order)
    fkm1 = ring_k[(pos_k + STOCH_SK - 1) % STOCH_SK]
    fkm2 = ring_k[(pos_k + STOCH_SK - 2) % STOCH_SK]
    st[0] = s_sma
    st[1] = v_left
    st[2] = v_shift
    st[3] = v_s1
    st[4] = v_s2
    st[5] = e_ema
    st[6] = w_sum
    st[7] = w_sub
    st[8] = w_left
    st[9] = r_gain
    st[10] = r_loss
    st[11] = a_acc
    st[12] = m_f
    st[13] = m_s
    st[14] = m_g
    st[15] = d_pdm
    st[16] = d_mdm
    st[17] = d_tr
    st[18] = d_acc
    st[19] = st_k
    st[20] = fkm1
    st[21] = fkm2
    st[22] = st_d
    st[23] = o_obv
    st[24] = q_left
    st[25] = q_shift
    st[26] = q_s1
    st[27] = q_s2
    st[28] = vw_left
    st[29] = vw_spv
    st[30] = vw_sv
    st[31] = vw_nz
    st[32] = vw_pos
    return bad


@jit
def features_1d_nb(high, low, close, volume, out, rings):
    """Compute the standard set for one symbol into ``out`` (N_FEATURES, n) in one sweep.

    The first WARM bars bar by bar (:func:`_warm_nb`: every step function with its seed
    branches), the rest in blocks of BLK bars by :func:`_blocks` (see the comment above WARM).
    ``rings`` is scratch of shape (4, P) (stoch %K/%D rings and the VWAP pv ring).
    Returns the number of bars with a non-finite input, close <= 0 or volume < 0 (a
    code: the wrapper raises naming the first)."""
    n = close.shape[0]
    st = np.empty(N_WST)
    bad = _warm_nb(high, low, close, volume, out, rings, st)
    if n > WARM:
        # the steady state, in blocks (see _blocks): carry the chains' state over
        bad += _blocks(high, low, close, volume, out, rings[2], WARM,
                       st[0], int(st[1]), st[2], st[3], st[4], st[5], st[6], st[7], int(st[8]), st[9], st[10],
                       st[11], st[12], st[13], st[14], st[15], st[16], st[17], st[18], st[19], st[20], st[21],
                       st[22], st[23], int(st[24]), st[25], st[26], st[27], int(st[28]), st[29], st[30], int(st[31]),
                       int(st[32]))
    # max and min (Donchian, rows 21-22) by the batch kernel's SIMD passes: exact, so equal
    # np.int64(P), not the literal: Numba would compile the whole SIMD max/min pass again for Literal[int](20)
    _rolling_extreme(close, np.int64(P), out[21], True)
    _rolling_extreme(close, np.int64(P), out[22], False)
    return bad


@jit
def _lane_start(high, low, close, volume, out, p, j, w0, st, ls, ix, xb):
    """Lane ``j`` of a group: symbol ``p``'s state after its warm-up (``st``, from :func:`_warm_nb`;
    ``out`` its rows) in the lane layout of :mod:`tradejet.kernels._lanes2d`, and the block
    buffer's history (the bars before ``w0``)."""
    for k, slot in ((0, _L.S_SMA), (5, _L.S_EMA), (12, _L.S_MF), (13, _L.S_MS), (14, _L.S_MG), (23, _L.S_OBV),
                    (9, _L.S_GAIN), (10, _L.S_LOSS), (11, _L.S_ATR), (15, _L.S_PDM), (16, _L.S_MDM),
                    (17, _L.S_TR), (18, _L.S_ADX), (19, _L.S_STK), (20, _L.S_FKM1), (21, _L.S_FKM2),
                    (22, _L.S_STD), (2, _L.S_VSH), (3, _L.S_VS1), (4, _L.S_VS2), (6, _L.S_WSUM), (7, _L.S_WSUB),
                    (25, _L.S_QSH), (26, _L.S_QS1), (27, _L.S_QS2), (29, _L.S_SPV), (30, _L.S_SV), (31, _L.S_NZ)):
        ls[slot * _L.W + j] = st[k]
    ls[_L.S_SKM1 * _L.W + j] = out[17, w0 - 1]
    ls[_L.S_SKM2 * _L.W + j] = out[17, w0 - 2]
    ls[_L.S_BAD * _L.W + j] = 0.0
    ix[_L.X_VLEFT] = int(st[1])
    ix[_L.X_WLEFT] = int(st[8])
    ix[_L.X_QLEFT] = int(st[24])
    ix[_L.X_VWLEFT] = int(st[28])
    for r in range(_L.HIST):  # the block buffer's history: the HIST bars before w0
        u = w0 - _L.HIST + r
        a = close[u, p]
        c = a
        for q in range(1, 4):
            a = max(a, close[u - q, p])
            c = min(c, close[u - q, p])
        for f, val in ((_L.F_H, high[u, p]), (_L.F_L, low[u, p]), (_L.F_C, close[u, p]), (_L.F_V, volume[u, p]),
                       (_L.F_LR, out[23, u]), (_L.F_MX4, a), (_L.F_MN4, c),
                       (_L.F_PV, typical_price(high[u, p], low[u, p], close[u, p]) * volume[u, p])):
            xb[(r * _L.NFLD + f) * _L.W + j] = val


@jit
def panel_groups(n, m):
    """Symbols computed four to a vector (``4 * groups`` of them): none when the series does not
    leave the warm-up."""
    return m // _L.W if n > WARM else 0


@jit
def panel_warm_nb(high, low, close, volume, out, ls, ix, xb):
    """The warm-up of the grouped symbols of the (n, m) panels (the first WARM bars of their
    rows of ``out``, by :func:`_warm_nb`) and each group's lane state: ``ls[g]``, ``ix[g]``,
    ``xb[g]`` for :mod:`tradejet.kernels._lanes2d`. Returns the number of bad bars."""
    n, m = close.shape
    w0 = min(n, WARM)
    rings = np.zeros((4, P))
    st = np.empty(N_WST)
    hc = np.empty(w0)
    lc = np.empty(w0)
    cc = np.empty(w0)
    vc = np.empty(w0)
    bad = 0
    for g in range(panel_groups(n, m)):
        for j in range(_L.W):
            p = g * _L.W + j
            for t in range(w0):
                hc[t] = high[t, p]
                lc[t] = low[t, p]
                cc[t] = close[t, p]
                vc[t] = volume[t, p]
            rings[:] = 0.0
            o = out[p]
            bad += _warm_nb(hc, lc, cc, vc, o, rings, st)
            _rolling_extreme(cc, np.int64(P), o[21, :w0], True)
            _rolling_extreme(cc, np.int64(P), o[22, :w0], False)
            _lane_start(high, low, close, volume, o, p, j, w0, st, ls[g], ix[g], xb[g])
    return bad


@jit
def panel_lanes_a_nb(high, low, close, volume, out, ls, ix, xb, nt):
    """Bars WARM.. of the rows PART_A of every group of four symbols (state from
    :func:`panel_warm_nb`; :func:`panel_lanes_b_nb` may run at once on another thread, with its
    own ``ls``, ``ix``, ``xb``). ``nt``: non-temporal stores (32-byte aligned rows of ``out``).
    Returns the number of bad lane-bars."""
    n, m = close.shape
    rs = np.empty(_L.RS_SIZE)
    sc = np.empty(_L.SC_SIZE)
    bad = 0
    for g in range(panel_groups(n, m)):
        bad += _L.lanes_features_a(high, low, close, volume, out, ls[g], ix[g], xb[g], rs, sc, WARM, n, g * _L.W, nt)
    return bad


@jit
def panel_lanes_b_nb(high, low, close, volume, out, ls, ix, xb, nt):
    """The rows PART_B (see :func:`panel_lanes_a_nb`)."""
    n, m = close.shape
    rs = np.empty(_L.RS_SIZE)
    sc = np.empty(_L.SC_SIZE)
    for g in range(panel_groups(n, m)):
        _L.lanes_features_b(high, low, close, volume, out, ls[g], ix[g], xb[g], rs, sc, WARM, n, g * _L.W, nt)
    return 0


def panel_state(m: int):
    """Empty lane state for :func:`panel_warm_nb` / :func:`panel_lanes_a_nb` (``m`` symbols)."""
    g = max(m // _L.W, 1)
    return (np.zeros((g, 2 * _L.N_SLOTS * _L.W)), np.zeros((g, 2 * _L.N_IX), np.int64),
            np.zeros((g, _L.XB_SIZE)))


# ------------------------------------------------------------------------------ streaming

def _layout():
    parts = [
        ("sma_bb", _s.bbands_init(P, BB_NBDEV)),       # SMA, BB, stddev and zscore share one variance state
        ("ema", _s.ema_init(P)),
        ("wma", _s.wma_init(P)),
        ("rsi", _s.rsi_init(RSI_P)),
        ("atr", _s.atr_init(ATR_P)),
        ("macd", _s.macd_init(MACD_F, MACD_S, MACD_G)),
        ("dmi", _s.dmi_init(ADX_P)),
        ("stoch", _s.stoch_init(STOCH_K, STOCH_SK, STOCH_SD)),
        ("roc", _s.roc_init(ROC_P)),
        ("obv", _s.obv_init()),
        ("max", _s.rolling_max_init(P)),
        ("min", _s.rolling_min_init(P)),
        ("rv", _s.realized_vol_init(P, 1.0)),
        ("vwap", _s.rolling_vwap_init(P)),
    ]
    offsets = {}
    o = 1  # state[0]: bars seen
    for name, st in parts:
        offsets[name] = o
        o += st.size
    offsets["row"] = o  # the last N_FEATURES floats: the latest outputs (features_step writes them)
    state = np.zeros(o + N_FEATURES)
    for name, st in parts:
        state[offsets[name]:offsets[name] + st.size] = st
    return offsets, state


_OFFSETS, _STATE0 = _layout()
O_BB = _OFFSETS["sma_bb"]
O_EMA = _OFFSETS["ema"]
O_WMA = _OFFSETS["wma"]
O_RSI = _OFFSETS["rsi"]
O_ATR = _OFFSETS["atr"]
O_MACD = _OFFSETS["macd"]
O_DMI = _OFFSETS["dmi"]
O_STOCH = _OFFSETS["stoch"]
O_ROC = _OFFSETS["roc"]
O_OBV = _OFFSETS["obv"]
O_MAX = _OFFSETS["max"]
O_MIN = _OFFSETS["min"]
O_RV = _OFFSETS["rv"]
O_VWAP = _OFFSETS["vwap"]
O_ROW = _OFFSETS["row"]
STATE_SIZE = _STATE0.size


def features_init() -> np.ndarray:
    """Return a fresh state for :func:`features_update` (one float64 array for the whole set;
    its last N_FEATURES floats hold the latest row written by :func:`features_step`)."""
    return _STATE0.copy()


@jit
def features_step(state, open_, high, low, close, volume):
    """Add one bar; write the N_FEATURES values into the state's last N_FEATURES floats."""
    features_update(state, open_, high, low, close, volume, state[O_ROW:])


@jit
def features_step_at(address, open_, high, low, close, volume):
    """:func:`features_step` on the state array at ``address`` (``state.ctypes.data``).

    Takes only scalars, so a call from Python unboxes no array (the cheapest call)."""
    state = carray(address_to_f64_pointer(address), (STATE_SIZE,))
    features_update(state, open_, high, low, close, volume, state[O_ROW:])


def features_updater(state: np.ndarray | None = None):
    """Return ``(update, row)`` for the fastest per-bar call from Python.

    ``update(open, high, low, close, volume)`` advances ``state`` (a fresh one by default)
    by one bar; ``row`` is a view of the N_FEATURES latest values (row[k] = FEATURES[k]),
    overwritten by every call. ``update`` calls the compiled :func:`features_step_at`
    directly with the state's address: no type dispatch, no array unboxing. It keeps the
    state alive (``update.state``). Inputs are not checked (hot path).

    >>> update, row = features_updater()
    >>> update(100.0, 101.0, 99.0, 100.5, 10.0)
    >>> float(row[FEATURES.index("obv")])
    10.0
    """
    import functools

    from numba import types

    if state is None:
        state = features_init()
    if not (isinstance(state, np.ndarray) and state.dtype == np.float64 and state.shape == (STATE_SIZE,)
            and state.flags.c_contiguous):
        raise ValueError(f"state must come from features_init() (float64, shape ({STATE_SIZE},))")
    f64 = types.float64
    sig = (types.intp, f64, f64, f64, f64, f64)
    features_step_at.compile(sig)
    update = functools.partial(features_step_at.overloads[sig].entry_point, state.ctypes.data)
    update.state = state  # the compiled function holds only the address
    return update, state[O_ROW:]

@jit
def features_update(state, open_, high, low, close, volume, out):
    """Add one bar to the whole standard set; write the N_FEATURES values into ``out``.

    Equal at every bar to row ``t`` of :func:`tradejet.kernels.fused` over the same bars.
    Inputs are not checked here (hot path): pass finite floats, ``close > 0``, ``volume >= 0``."""
    t = int(state[0])
    state[0] = t + 1
    # bbands state = [nbdev, sma sum, variance state]; its variance state also gives sd and z-score
    up, mid, lowb = _s._bbands_upd(state, O_BB, close)
    v = O_BB + 2
    sh = state[v + 3]
    s1 = state[v + 4]
    s2 = state[v + 5]
    inv = 1.0 / P
    m = s1 * inv
    var = s2 * inv - m * m
    out[0] = mid
    out[1] = _s._ema_upd(state, O_EMA, close)
    out[2] = _s._wma_upd(state, O_WMA, close)
    if t >= P - 1:
        out[3] = sd_value(var) * SD_NBDEV
        out[25] = zscore_value(close, sh, s1, inv, var)
    else:
        out[3] = NAN
        out[25] = NAN
    out[4] = _s._rsi_upd(state, O_RSI, close)
    pc = state[O_ATR + 2]
    out[5] = tr_value(high, low, pc) if t > 0 else NAN
    atr = _s._atr_upd(state, O_ATR, high, low, close)
    out[6] = atr
    out[7] = natr_value(atr, close) if t >= ATR_P else NAN
    out[8] = up
    out[9] = mid
    out[10] = lowb
    out[11], out[12], out[13] = _s._macd_upd(state, O_MACD, close)
    pdi, mdi, adx = _s._dmi_upd(state, O_DMI, high, low, close)
    out[14] = adx
    out[15] = pdi
    out[16] = mdi
    out[17], out[18] = _s._stoch_upd(state, O_STOCH, high, low, close)
    out[19] = _s._roc_upd(state, O_ROC, close)
    out[20] = _s._obv_upd(state, O_OBV, close, volume)
    out[21] = _s._max_upd(state, np.int64(O_MAX), close)  # int64, not a literal: one compile of _max_upd
    out[22] = _s._min_upd(state, np.int64(O_MIN), close)
    out[23] = log_return_value(close, state[O_RV + 2]) if t > 0 else NAN
    out[24] = _s._rv_upd(state, O_RV, close)
    out[26] = _s._vwap_upd(state, O_VWAP, high, low, close, volume)


# ------------------------------------------------------------------------------ wrappers

def _panel(name: str, x, scan: bool = True) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != np.float64:
        if a.dtype.kind in "biuf" and np.can_cast(a.dtype, np.float64, "safe"):
            a = a.astype(np.float64)
        else:
            raise ValueError(f"{name} must be float64 (or safely convertible: int, bool, float32), "
                             f"got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (bars x symbols), got shape {a.shape}")
    if scan:
        _scan_panel(name, np.ascontiguousarray(a))
    return a


def _scan_panel(name: str, a: np.ndarray) -> None:
    i = first_nonfinite_nb(a.reshape(-1))
    if i >= 0:
        bar, sym = divmod(i, a.shape[1])
        what = "NaN" if np.isnan(a.flat[i]) else "inf"
        raise ValueError(f"{name} has {what} at index ({bar}, {sym}) (bar {bar}, symbol {sym})")


def _check_ohlcv(arrays) -> None:
    close = arrays["close"]
    bad = np.flatnonzero((close <= 0.0).reshape(-1))
    if bad.size:
        raise ValueError(f"close must be > 0 (log returns), was {close.flat[bad[0]]} at flat index {bad[0]}")
    vol = arrays["volume"]
    bad = np.flatnonzero((vol < 0.0).reshape(-1))
    if bad.size:
        raise ValueError(f"volume must be >= 0, was {vol.flat[bad[0]]} at flat index {bad[0]}")


def _out_buf(out, shape):
    if out is None:
        return np.empty(shape)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != shape or not out.flags.c_contiguous:
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"out must be a C-contiguous float64 array of shape {shape}, got {got}")
    return out


def features(open, high, low, close, volume, *, out=None, threads: int | None = None) -> np.ndarray:  # noqa: A002
    """Return the standard feature set of one symbol as an (N_FEATURES, n) array (row k = FEATURES[k]).

    One pass over the bars; pass the previous result as ``out=`` to reuse its memory.
    Each row equals the separate function (see ``SEPARATE``) exactly. From PAR_MIN_1D bars
    on, the set's two halves run at once on two threads (``threads``, see :func:`threads_1d`;
    :mod:`tradejet.kernels._halves`), the same bits.

    >>> import numpy as np
    >>> c = np.linspace(100.0, 110.0, 50)
    >>> f = features(c, c + 1, c - 1, c, np.ones(50))
    >>> f.shape, float(f[FEATURES.index("sma"), -1]) == float(sma(c, 20)[-1])
    ((27, 50), True)
    """
    arrays = {k: as_series(k, v, k == "open") for k, v in
              (("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume))}
    n = same_length(**arrays)
    o = _aligned_empty((N_FEATURES, n)) if out is None else _out_buf(out, (N_FEATURES, n))
    h, lo, c, v = (arrays[k] for k in ("high", "low", "close", "volume"))
    if threads_1d(n, threads) > 1:
        bad = _features_halves(h, lo, c, v, o)
    else:
        bad = features_1d_nb(h, lo, c, v, o, np.zeros((4, P)))
    raise_bad(bad, *((k, arrays[k]) for k in ("high", "low", "close", "volume")), positive="close",
              nonnegative="volume")
    return o


def _features_halves(h, lo, c, v, o) -> int:
    """features_1d_nb with its steady state in two halves on two threads (n > WARM)."""
    from tradejet.kernels import _halves

    st = np.empty(N_WST)
    rings = np.zeros((4, P))
    bad = int(_warm_nb(h, lo, c, v, o, rings, st))
    a = (h, lo, c, v, o, WARM, *(st[k] for k in (5, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)))
    b = (h, lo, c, v, o, rings[2], WARM, st[0], int(st[1]), st[2], st[3], st[4], st[6], st[7], int(st[8]),
         int(st[24]), st[25], st[26], st[27], int(st[28]), st[29], st[30], int(st[31]), int(st[32]))
    # one half on a pool thread, the other on this one: with both on the pool (and this thread
    # waiting) 1M bars took 20.2-24.7 ns/bar, two modes, against 19.5-20.6 (8 alternating runs each)
    # (the pool's thread takes the lighter half, blocks_a: it starts later, after its wake-up)
    return bad + _two(_halves.blocks_b, b, _halves.blocks_a, a)


# one symbol's set runs in two halves on two threads from this many bars; a 2-D computation
# from this many bar-symbols (measured with the halves placed as _features_halves does: at 20k
# both gain a fifth; at 10k the thread's wake-up and the two CPUs' shared resources cost more
# than the half saves)
PAR_MIN_1D = 20_000
PAR_MIN = 20_000
# outputs of at least this many bytes are written with non-temporal stores (past any cache:
# no read of each line before it is written), when their rows are 32-byte aligned
NT_MIN_BYTES = 64 << 20
def _aligned_empty(shape) -> np.ndarray:
    """An uninitialised float64 array whose data starts on a 64-byte boundary."""
    size = int(np.prod(shape))
    raw = np.empty(size + 8)
    skip = (-raw.ctypes.data % 64) // 8
    return raw[skip:skip + size].reshape(shape)


def threads_1d(n: int, threads: int | None = None) -> int:
    """The threads :func:`features` uses for ``n`` bars: two (its halves at once) from
    PAR_MIN_1D bars when ``threads`` (default: TRADEJET_THREADS if set, else the CPUs) allows,
    else one."""
    return 2 if _cap_when(n >= max(PAR_MIN_1D, WARM + 1), threads) > 1 else 1


def threads_2d(n: int, m: int, threads: int | None = None) -> int:
    """The threads :func:`features_2d` uses for ``n`` bars of ``m`` symbols: one below PAR_MIN
    bar-symbols, else up to two (the set's halves of the four-symbol groups run at once; the
    symbols left over one by one on the threads), capped by ``threads`` (default: TRADEJET_THREADS if
    set, else the CPUs)."""
    cap = _cap_when(n * m >= PAR_MIN, threads)
    if cap == 1:
        return 1
    tasks = (2 if panel_groups(n, m) else 0) + (m - panel_groups(n, m) * _L.W)
    return max(1, min(cap, tasks))


def features_2d(open, high, low, close, volume, *, out=None, threads: int | None = None) -> np.ndarray:  # noqa: A002
    """Return the standard set for (bars x symbols) inputs as an (m, N_FEATURES, n) array.

    ``out[j]`` equals ``features(...)`` of column ``j`` exactly. Symbols go four to a vector
    (:mod:`tradejet.kernels._lanes2d`: the panel holds them side by side), the rest one by
    one (:func:`features_1d_nb`). On ``threads`` threads (default: one per CPU; serial below
    PAR_MIN bar-symbols), the set's two halves (PART_A, PART_B) of the same symbols run at
    once, each writing its own rows; the kernels release the GIL. A fresh result (``out=None``)
    is 64-byte aligned, so a large one is written with non-temporal stores; pass it back as
    ``out=`` to keep that. The kernels count bad inputs as they go; only then are the inputs
    scanned, to name the first bad one.
    """
    arrays = {k: _panel(k, v, k == "open") for k, v in
              (("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume))}
    shapes = {k: v.shape for k, v in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"open, high, low, close and volume must have the same shape, got {shapes}")
    n, m = arrays["close"].shape
    o = _aligned_empty((m, N_FEATURES, n)) if out is None else _out_buf(out, (m, N_FEATURES, n))
    h, lo, c, v = (np.ascontiguousarray(arrays[k]) for k in ("high", "low", "close", "volume"))
    nt = int(o.ctypes.data % 32 == 0 and n % 4 == 0 and o.nbytes >= NT_MIN_BYTES)
    ls, ix, xb = panel_state(m)
    groups = panel_groups(n, m)
    if threads_2d(n, m, threads) > 1:
        bad = panel_warm_nb(h, lo, c, v, o, ls, ix, xb)
        tasks = []
        if groups:
            # PART_A and PART_B of every group, each with its own state (the warm-up's)
            tasks += [(panel_lanes_a_nb, ls, ix, xb), (panel_lanes_b_nb, ls.copy(), ix.copy(), xb.copy())]
        tasks += [(p,) for p in range(groups * _L.W, m)]

        def run(task) -> int:
            if len(task) == 1:
                return _panel_column(h, lo, c, v, o, task[0], None)
            return int(task[0](h, lo, c, v, o, *task[1:], nt))

        # the first task on this thread, the others on the pool's (one thread fewer to wake; see
        # _features_halves)
        cpu = _caller_cpu()
        rest = [_pool().submit(_beside, cpu, run, t) for t in tasks[1:]]
        bad += run(tasks[0]) + sum(f.result() for f in rest)
    else:
        # one thread: the same kernels one after the other (called from here, not from a compiled
        # driver: linking them into one would compile them a second time, ~3 s of a cold start)
        bad = int(panel_warm_nb(h, lo, c, v, o, ls, ix, xb))
        if groups:
            ls2, ix2, xb2 = ls.copy(), ix.copy(), xb.copy()  # PART_B starts from the warm-up's state too
            bad += int(panel_lanes_a_nb(h, lo, c, v, o, ls, ix, xb, nt))
            panel_lanes_b_nb(h, lo, c, v, o, ls2, ix2, xb2, nt)
        cols = np.empty((4, n)) if m - groups * _L.W > 1 else None  # one copy buffer for the leftovers
        for p in range(groups * _L.W, m):
            bad += _panel_column(h, lo, c, v, o, p, cols)
    if bad:
        for k in ("high", "low", "close", "volume"):
            _scan_panel(k, np.ascontiguousarray(arrays[k]))
        _check_ohlcv(arrays)
        raise AssertionError(f"the fused kernel counted {bad} bad inputs that no check found")
    return o


def _panel_column(h, lo, c, v, o, p: int, cols) -> int:
    """Symbol ``p`` of the panels (one not in a group of four) by :func:`features_1d_nb`: on the
    panels' own column when it is contiguous (one symbol), else on a copy in ``cols`` (a (4, n)
    buffer, None: a fresh one). Copied by NumPy here: a kernel that copied the columns into fresh
    arrays of its own paid ~15 ns/bar in page faults and 7 in its copy loop, against 51 for the set."""
    if h.shape[1] == 1:
        return int(features_1d_nb(h[:, 0], lo[:, 0], c[:, 0], v[:, 0], o[p], np.zeros((4, P))))
    if cols is None:
        cols = np.empty((4, h.shape[0]))
    for k, a in enumerate((h, lo, c, v)):
        np.copyto(cols[k], a[:, p])
    return int(features_1d_nb(cols[0], cols[1], cols[2], cols[3], o[p], np.zeros((4, P))))
