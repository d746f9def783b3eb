"""The one-symbol fused kernel's steady state in two halves, for two threads.

:func:`blocks_a` computes the rows of EMA, MACD, RSI, true range, ATR/NATR, DMI/ADX,
stochastic, ROC, OBV and the Donchian max; :func:`blocks_b` those of SMA, WMA, stddev,
bands, z-score, log return, realized vol, VWAP and the Donchian min (each over every bar
past the warm-up, each writing only its own rows; at 1M bars about 17 ns/bar each, the
whole kernel on one thread ~34). They are :func:`tradejet.kernels.fused._blocks` cut along its
two chain loops: the same operations in the same order (the shared vector passes and the
first loop's SMA sum are done by the half that needs them), so the rows are the same bits.
On a long series the two run at once (fused.features, ``threads``): on one core the kernel
is bound by the stores of its 27 rows once they no longer fit the caches, and two cores
issue twice as many.

fused imports this module only when it runs the halves (this module imports fused).

Numba's compile cache only checks the calling module's file: after editing fused.py or
_vec.py, delete the cached ``*.nbi``/``*.nbc`` files (``find . -name "*.nb[ic]" -delete``).
"""

from __future__ import annotations

import numpy as np

from tradejet.kernels._core import RESUM, fma, jit, jit_inline, window_wsums
from tradejet.kernels._vec import vmap
from tradejet.kernels.fused import (
    _DN,
    _DX,
    _FK,
    _GAIN,
    _HUGE,
    _LOSS,
    _LR,
    _MDM,
    _MDM1,
    _NZ,
    _PDM,
    _PDM1,
    _PVH,
    _Q1,
    _Q2,
    _RV1,
    _RV2,
    _RW1,
    _RW2,
    _RW3,
    _S1,
    _S2,
    _SDS,
    _SKS,
    _SPV,
    _SV,
    _TINY,
    _TP,
    _TRI,
    _TRS,
    _UP,
    _WS,
    _WW,
    _XS,
    ADX_P,
    ATR_P,
    BLK,
    HIST,
    LAG,
    MACD_F,
    MACD_G,
    MACD_S,
    N_SCRATCH,
    ROC_P,
    ROW,
    RSI_P,
    STOCH_K,
    STOCH_SD,
    STOCH_SK,
    P,
    _rolling_extreme,
    _v_mdiv,
    _v_ratios,
    stoch_k_value,
    typical_price,
    var_update,
    vec_bars,
    vec_check,
    vec_divs,
    vec_divs_step,
    vec_log,
    vec_log_step,
    vec_rv_vwap,
    vec_rv_vwap_step,
    vec_sd,
    vec_sk,
    vec_var,
    vec_var_step,
    vwap_update,
    wma_slide,
    wma_value,
)


def _v_roc(v, x, pc, old):
    """roc_value (fused._v_ratios' first row)."""
    return [_v_ratios(v, x, pc, old)[0]]


def _v_quot(v, x, pc):
    """The quotient of log_return_value (fused._v_ratios' second row)."""
    return [v.div(x, pc)]


def _v_fk(v, x, h0, h1, h2, h3, h4, l0, l1, l2, l3, l4):
    """fused._v_stoch's %K alone."""
    a = h0
    for b in (h1, h2, h3, h4):
        a = v.where(v.gt(b, a), b, a)
    c = l0
    for b in (l1, l2, l3, l4):
        c = v.where(v.lt(b, c), b, c)
    diff, f1 = _v_mdiv(v, v.sub(a, c), 100.0)
    z = v.k(0.0)
    return [v.where(v.ne(diff, z), v.div(v.sub(x, c), diff), z)], f1


def _v_tp(v, h, lo, x, vol):
    """fused._v_stoch's typical price and pv alone."""
    tp, f2 = _v_mdiv(v, v.add(v.add(h, lo), x), 3.0)
    return [tp, v.mul(tp, vol)], f2


vec_roc_step = vmap("vec_roc_step", 1, 3, 0, _v_roc, whole_loop=False)
vec_roc = vmap("vec_roc", 1, 3, 0, _v_roc)
vec_quot = vmap("vec_quot", 1, 2, 0, _v_quot)
vec_fk = vmap("vec_fk", 1, 11, 0, _v_fk)
vec_tp = vmap("vec_tp", 2, 4, 0, _v_tp)


@jit_inline
def _mdiv_p(a):
    """``a / P`` with fused._v_mdiv's operations on one value (the same bits as the division)."""
    m = abs(a)
    if (m < _TINY or m > _HUGE) and a != 0.0:
        return a / P
    q = a * _RC_P
    if a == 0.0:
        return q
    return fma(fma(-q, float(P), a), _RC_P, q)


_RC_P = 1.0 / P


@jit
def blocks_a(high, low, close, volume, out, w0, e_ema, r_gain, r_loss, a_acc, m_f, m_s, m_g,
             d_pdm, d_mdm, d_tr, d_acc, st_k, fkm1, fkm2, st_d, o_obv):
    """Bars ``w0..n-1`` of the rows PART_A (and the input check), given their chains' state
    (fused._blocks' parameters of the same names), then the Donchian max (row 21) over the
    whole series. Returns the number of bad bars."""
    n = close.shape[0]
    fp = float(P)
    k_ema = 2.0 / (fp + 1.0)
    a_ema = 1.0 - k_ema
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
        o1 = out[1, s:e]
        o4 = out[4, s:e]
        o5 = out[5, s:e]
        o6 = out[6, s:e]
        o7 = out[7, s:e]
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

        if vec_check(cb, H, hb, H, lw, H, vb, H, L):
            for i in range(L):
                x = cb[H + i]
                h = hb[H + i]
                lo = lw[H + i]
                vol = vb[H + i]
                bad += not (((h - h) + (lo - lo) + (x - x) + (vol - vol)) == 0.0 and x > 0.0 and vol >= 0.0)
        vec_bars(o5, 0, sc, _TRI, sc, _PDM1, sc, _MDM1, sc, _UP, sc, _DN, o20, 0,
                 cb, H, cb, H - 1, hb, H, hb, H - 1, lw, H, lw, H - 1, vb, H, L)
        if vec_fk(sc, _FK, cb, H, hb, H, hb, H - 1, hb, H - 2, hb, H - 3, hb, H - 4,
                  lw, H, lw, H - 1, lw, H - 2, lw, H - 3, lw, H - 4, L):
            for i in range(L):
                a = hb[H + i]
                c = lw[H + i]
                for j in range(1, STOCH_K):
                    a = max(a, hb[H + i - j])
                    c = min(c, lw[H + i - j])
                sc[_FK + i] = stoch_k_value(cb[H + i], a, c)

        for i in range(L):
            x = cb[H + i]
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
            if (i & 3) == 3:  # ROC and the divisions beside the chains (see fused._blocks)
                vec_roc_step(o19, i - 3, cb, H + i - 3, cb, H + i - 4, cb, H + i - 3 - ROC_P, 0)
                if i >= LAG:
                    vec_divs_step(o4, i - LAG, o7, i - LAG, o15, i - LAG, o16, i - LAG, sc, _DX + i - LAG, sc, _GAIN + i - LAG,
                                  sc, _LOSS + i - LAG, o6, i - LAG, cb, H + i - LAG, sc, _PDM + i - LAG, sc, _MDM + i - LAG,
                                  sc, _TRS + i - LAG, 0)
        r0 = L & ~3
        vec_roc(o19, r0, cb, H + r0, cb, H + r0 - 1, cb, H + r0 - ROC_P, L - r0)
        d0 = max(r0 - (LAG - 3), 0)
        vec_divs(o4, d0, o7, d0, o15, d0, o16, d0, sc, _DX + d0, sc, _GAIN + d0, sc, _LOSS + d0, o6, d0, cb, H + d0,
                 sc, _PDM + d0, sc, _MDM + d0, sc, _TRS + d0, L - d0)

        if vec_sk(o17, 0, sc, _SKS, L):
            for i in range(L):
                o17[i] = sc[_SKS + i] / f_sk
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
    # the Donchian max over the whole series (fused.features_1d_nb's pass; the min in blocks_b:
    # one each evens out the two halves' times)
    _rolling_extreme(close, np.int64(P), out[21], True)
    return bad


@jit
def blocks_b(high, low, close, volume, out, ring_pv, w0, s_sma, v_left, v_shift, v_s1, v_s2, w_sum, w_sub,
             w_left, q_left, q_shift, q_s1, q_s2, vw_left, vw_spv, vw_sv, vw_nz, vw_pos):
    """Bars ``w0..n-1`` of the rows PART_B, given their chains' state (fused._blocks'
    parameters of the same names), then the Donchian min (row 22) over the whole series."""
    n = close.shape[0]
    fp = float(P)
    lb = P - 1
    inv_div = 1.0 / float((P * (P + 1)) >> 1)
    H = HIST
    sc = np.empty(N_SCRATCH * ROW)
    for j in range(P):  # the VWAP ring, oldest first, as the history of the first block
        sc[_PVH - P + j] = ring_pv[(vw_pos + j) % P]
    for j in range(HIST):
        sc[_LR - HIST + j] = out[23, w0 - HIST + j]
    for s in range(w0, n, BLK):
        e = min(s + BLK, n)
        L = e - s
        cb = close[s - H:e]
        hb = high[s - H:e]
        lw = low[s - H:e]
        vb = volume[s - H:e]
        o0 = out[0, s:e]
        o2 = out[2, s:e]
        o3 = out[3, s:e]
        o8 = out[8, s:e]
        o9 = out[9, s:e]
        o10 = out[10, s:e]
        o23 = out[23, s:e]
        o24 = out[24, s:e]
        o25 = out[25, s:e]
        o26 = out[26, s:e]

        if vec_tp(sc, _TP, sc, _PVH, hb, H, lw, H, cb, H, vb, H, L):
            for i in range(L):
                tp = typical_price(hb[H + i], lw[H + i], cb[H + i])
                sc[_TP + i] = tp
                sc[_PVH + i] = tp * vb[H + i]
        vec_quot(sc, _LR, cb, H, cb, H - 1, L)
        # the variance's and VWAP's exact re-sums at their bars
        for i in range(v_left, L, P):
            shv = cb[H + i]
            a1 = 0.0
            a2 = 0.0
            for j in range(1 - P, 1):
                d = cb[H + i + j] - shv
                a1 += d
                a2 += d * d
            sc[_RV1 + i] = a1
            sc[_RV2 + i] = a2
        for i in range(vw_left, L, P):
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

        for i in range(w_left, L, RESUM * P):
            sc[_WS + i], sc[_WW + i] = window_wsums(close, s + i - lb, P, n)
        nlog = min(8, L)
        vec_log(o23, 0, sc, _LR, sc, _LR, nlog)
        for i in range(L):
            x = cb[H + i]
            # the SMA's running sum here, beside the other chains (a loop of its own would wait
            # on its two additions a bar); its quotient by Markstein as fused._v_mdiv's lanes
            s_sma = s_sma + x
            o0[i] = _mdiv_p(s_sma)
            s_sma = s_sma - cb[H + i - lb]
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
            if q_left == 0:
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
            if (i & 3) == 3:
                if nlog + 4 <= L:
                    vec_log_step(o23, nlog, sc, _LR + nlog, sc, _LR + nlog, 0)
                    nlog += 4
                elif nlog < L:
                    vec_log(o23, nlog, sc, _LR + nlog, sc, _LR + nlog, L - nlog)
                    nlog = L
            if (i & 3) == 3 and i >= LAG:
                vec_var_step(o3, i - LAG, o8, i - LAG, o10, i - LAG, o25, i - LAG, o9, i - LAG, o0, i - LAG, sc, _S1 + i - LAG,
                             sc, _S2 + i - LAG, sc, _XS + i - LAG, 0)
                vec_rv_vwap_step(o24, i - LAG, o26, i - LAG, sc, _Q1 + i - LAG, sc, _Q2 + i - LAG, sc, _SPV + i - LAG,
                                 sc, _SV + i - LAG, sc, _NZ + i - LAG, sc, _TP + i - LAG, 0)
        d0 = max((L & ~3) - (LAG - 3), 0)
        vec_var(o3, d0, o8, d0, o10, d0, o25, d0, o9, d0, o0, d0, sc, _S1 + d0, sc, _S2 + d0, sc, _XS + d0, L - d0)
        vec_rv_vwap(o24, d0, o26, d0, sc, _Q1 + d0, sc, _Q2 + d0, sc, _SPV + d0, sc, _SV + d0, sc, _NZ + d0,
                    sc, _TP + d0, L - d0)
        for j in range(HIST):
            sc[_PVH - HIST + j] = sc[_PVH + L - HIST + j]
            sc[_LR - HIST + j] = sc[_LR + L - HIST + j]
    _rolling_extreme(close, np.int64(P), out[22], False)  # the Donchian min (the max: blocks_a)
    return 0
