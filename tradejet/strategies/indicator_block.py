"""The indicator pack advanced over a block of bars at once (the compiled driver's fast path).

Indicators do not depend on decisions, so the compiled driver advances every pair's pack
over a block of bars before deciding bar by bar. :func:`indicators_block_nb` computes
exactly what calling :func:`tradejet.strategies.base.indicators_update_nb` bar by bar
computes, bit for bit: it advances each indicator with the same ``*_step`` functions of
:mod:`tradejet.kernels.steps` (same operands, same order of operations), only with the
recurrence variables held in local variables over the block instead of being read from
and written back to the pack at every bar (loaded at the block's start, stored back at
its end). A bar a pair does not have (``have[t, p]`` False) does not advance its pack and
repeats its previous ``IV_*`` row, as the per-bar step leaves ``iv[p]`` untouched.

The event driver keeps calling the per-bar update (through ``engine.step.step_nb``); the
tests check both give the same values and the same pack state on gapped data.
"""

from __future__ import annotations

from numba import njit

from tradejet.kernels._core import NAN, jit_inline, window_shifted_sums
from tradejet.kernels.indicators import log_return_value
from tradejet.kernels.steps import (
    adx_step,
    atr_step,
    dmi_step,
    ema_step,
    max_step,
    min_step,
    rsi_step,
    sd_value,
    sma_step,
    var_update,
    var_value,
)
from tradejet.strategies.base import (
    IP_MOM1,
    IP_MOM2,
    IP_MOM3,
    IV_ADX,
    IV_ATR,
    IV_BARS,
    IV_BB_LOW,
    IV_BB_MID,
    IV_BB_UP,
    IV_CLOSE,
    IV_DON_HIGH,
    IV_DON_LOW,
    IV_EMA_FAST,
    IV_EMA_FAST_PREV,
    IV_EMA_LONG,
    IV_EMA_SLOW,
    IV_EMA_SLOW_PREV,
    IV_MOM,
    IV_RSI,
    IV_RV,
    IV_SMA_EXIT,
    IV_SMA_MID,
    IV_SMA_TREND,
    IV_VOL_SMA,
    IV_VOLUME,
    N_IV,
)

# the rolling-variance state layout of kernels.streaming (_var_upd): [t, p, left, shift, s1, s2, pos, ring p]
_VAR_SIZE = 7


@jit_inline
def _sma_b(t, p, fp, s, pos, ring, x):
    """streaming._sma_upd on locals: return (s, pos, value)."""
    ring[pos] = x
    pos1 = pos + 1
    if pos1 == p:
        pos1 = 0
    s, y = sma_step(t, p - 1, fp, s, x, ring[pos1])
    return s, pos1, y


@jit_inline
def _var_b(t, p, inv, left, shift, s1, s2, pos, ring, x):
    """streaming._var_upd on locals: return (left, shift, s1, s2, pos, variance)."""
    leaving = ring[pos]
    ring[pos] = x
    pos1 = pos + 1
    if pos1 == p:
        pos1 = 0
    var = NAN
    if t >= p - 1:
        if left == 0:
            shift = x
            s1, s2 = window_shifted_sums(ring, pos1, p, p, shift)
            left = p
        else:
            s1, s2 = var_update(s1, s2, shift, x, leaving)
        left -= 1
        var = var_value(s1, s2, inv)
    return left, shift, s1, s2, pos1, var


@njit(cache=True, error_model="numpy", _nrt=False)
def indicators_block_nb(state, off, ip, O, H, L, C, V, have, t0, t1, ivb, iv):  # noqa: C901 (one straight loop)
    """Advance every pair's pack over bars ``t0 <= t < t1`` (rows of the ``(T, n)`` bar arrays).

    Writes ``ivb[t - t0, p]`` = pair ``p``'s ``IV_*`` row after bar ``t`` (``ivb``: at least
    ``(t1 - t0, n, N_IV)``); ``iv`` ``(n, N_IV)`` holds the rows before ``t0`` (repeated over
    a pair's missing bars) and is not written.
    """
    n = C.shape[1]
    for p in range(n):
        st = state[p]
        # ---- load the recurrence variables (offsets as base._layout / streaming's layouts)
        o_ef = off[0]
        t_ef = int(st[o_ef])
        p_ef = int(st[o_ef + 1])
        f_ef = float(p_ef)
        k_ef = 2.0 / (f_ef + 1.0)
        a_ef = 1.0 - k_ef
        y_ef = st[o_ef + 2]
        o_es = off[1]
        t_es = int(st[o_es])
        p_es = int(st[o_es + 1])
        f_es = float(p_es)
        k_es = 2.0 / (f_es + 1.0)
        a_es = 1.0 - k_es
        y_es = st[o_es + 2]
        o_el = off[2]
        t_el = int(st[o_el])
        p_el = int(st[o_el + 1])
        f_el = float(p_el)
        k_el = 2.0 / (f_el + 1.0)
        a_el = 1.0 - k_el
        y_el = st[o_el + 2]

        o_dm = off[3]
        t_dm = int(st[o_dm])
        p_dm = int(st[o_dm + 1])
        inv_dm = 1.0 / p_dm
        a_dm = (p_dm - 1) * inv_dm
        f_dm = float(p_dm)
        ph = st[o_dm + 2]
        pl = st[o_dm + 3]
        pc_dm = st[o_dm + 4]
        pdm = st[o_dm + 5]
        mdm = st[o_dm + 6]
        tr = st[o_dm + 7]
        acc_dm = st[o_dm + 8]

        o_rs = off[4]
        t_rs = int(st[o_rs])
        p_rs = int(st[o_rs + 1])
        inv_rs = 1.0 / p_rs
        a_rs = (p_rs - 1) * inv_rs
        f_rs = float(p_rs)
        px_rs = st[o_rs + 2]
        gain = st[o_rs + 3]
        loss = st[o_rs + 4]

        o_bb = off[5]
        v_bb = o_bb + 2
        nbdev = st[o_bb]
        s_bb = st[o_bb + 1]
        t_bb = int(st[v_bb])
        p_bb = int(st[v_bb + 1])
        f_bb = float(p_bb)
        inv_bb = 1.0 / p_bb
        left_bb = int(st[v_bb + 2])
        shift_bb = st[v_bb + 3]
        s1_bb = st[v_bb + 4]
        s2_bb = st[v_bb + 5]
        pos_bb = int(st[v_bb + 6])
        ring_bb = st[v_bb + _VAR_SIZE:v_bb + _VAR_SIZE + p_bb]

        o_at = off[6]
        t_at = int(st[o_at])
        p_at = int(st[o_at + 1])
        inv_at = 1.0 / p_at
        a_at = (p_at - 1) * inv_at
        f_at = float(p_at)
        pc_at = st[o_at + 2]
        acc_at = st[o_at + 3]

        o_mx = off[7]
        t_mx = int(st[o_mx])
        p_mx = int(st[o_mx + 1])
        pos_mx = int(st[o_mx + 2])
        pre_mx = st[o_mx + 3]
        cur_mx = st[o_mx + 4:o_mx + 4 + p_mx]
        suf_mx = st[o_mx + 4 + p_mx:o_mx + 4 + 2 * p_mx]
        o_mn = off[8]
        t_mn = int(st[o_mn])
        p_mn = int(st[o_mn + 1])
        pos_mn = int(st[o_mn + 2])
        pre_mn = st[o_mn + 3]
        cur_mn = st[o_mn + 4:o_mn + 4 + p_mn]
        suf_mn = st[o_mn + 4 + p_mn:o_mn + 4 + 2 * p_mn]

        o_vs = off[9]
        t_vs = int(st[o_vs])
        p_vs = int(st[o_vs + 1])
        f_vs = float(p_vs)
        s_vs = st[o_vs + 2]
        pos_vs = int(st[o_vs + 3])
        ring_vs = st[o_vs + 4:o_vs + 4 + p_vs]

        o_rv = off[10]
        t_rv = int(st[o_rv])
        scale_rv = st[o_rv + 1]
        px_rv = st[o_rv + 2]
        v_rv = o_rv + 3
        u_rv = int(st[v_rv])
        p_rv = int(st[v_rv + 1])
        inv_rv = 1.0 / p_rv
        left_rv = int(st[v_rv + 2])
        shift_rv = st[v_rv + 3]
        s1_rv = st[v_rv + 4]
        s2_rv = st[v_rv + 5]
        pos_rv = int(st[v_rv + 6])
        ring_rv = st[v_rv + _VAR_SIZE:v_rv + _VAR_SIZE + p_rv]

        o_st = off[13]
        t_st = int(st[o_st])
        p_st = int(st[o_st + 1])
        f_st = float(p_st)
        s_st = st[o_st + 2]
        pos_st = int(st[o_st + 3])
        ring_st = st[o_st + 4:o_st + 4 + p_st]
        o_sm = off[14]
        t_sm = int(st[o_sm])
        p_sm = int(st[o_sm + 1])
        f_sm = float(p_sm)
        s_sm = st[o_sm + 2]
        pos_sm = int(st[o_sm + 3])
        ring_sm = st[o_sm + 4:o_sm + 4 + p_sm]
        o_sx = off[15]
        t_sx = int(st[o_sx])
        p_sx = int(st[o_sx + 1])
        f_sx = float(p_sx)
        s_sx = st[o_sx + 2]
        pos_sx = int(st[o_sx + 3])
        ring_sx = st[o_sx + 4:o_sx + 4 + p_sx]

        oc = off[11]
        count = int(st[oc])
        size = int(ip[IP_MOM1])
        m2 = int(ip[IP_MOM2])
        m3 = int(ip[IP_MOM3])
        mmax = max(size, max(m2, m3))
        ringn = mmax + 1
        pos_c = int(st[oc + 1])
        ring_c = st[oc + 2:oc + 2 + ringn]

        pv = off[12]
        prev_ef = st[pv + 0]
        prev_es = st[pv + 1]
        prev_hi = st[pv + 2]
        prev_lo = st[pv + 3]
        prev_vs = st[pv + 4]

        # the log returns of the block first, parked in each row's IV_RV slot (overwritten below):
        # libm's log in a short loop of its own instead of the long one, whose live values a call
        # makes the compiler spill and reload around it
        px = px_rv
        first = t_rv == 0
        for t in range(t0, t1):
            if have[t, p]:
                c = C[t, p]
                ivb[t - t0, p, IV_RV] = NAN if first else log_return_value(c, px)
                px = c
                first = False
        for t in range(t0, t1):
            row = ivb[t - t0, p]
            if not have[t, p]:
                src = iv[p] if t == t0 else ivb[t - t0 - 1, p]
                for k in range(N_IV):
                    row[k] = src[k]
                continue
            h = H[t, p]
            lo = L[t, p]
            c = C[t, p]
            v = V[t, p]
            row[IV_DON_HIGH] = prev_hi
            row[IV_DON_LOW] = prev_lo
            row[IV_VOL_SMA] = prev_vs
            row[IV_EMA_FAST_PREV] = prev_ef
            row[IV_EMA_SLOW_PREV] = prev_es
            # EMAs (streaming._ema_upd)
            y_ef, ef = ema_step(t_ef, p_ef, f_ef, a_ef, k_ef, y_ef, c)
            t_ef += 1
            y_es, es = ema_step(t_es, p_es, f_es, a_es, k_es, y_es, c)
            t_es += 1
            y_el, el = ema_step(t_el, p_el, f_el, a_el, k_el, y_el, c)
            t_el += 1
            row[IV_EMA_FAST] = ef
            row[IV_EMA_SLOW] = es
            row[IV_EMA_LONG] = el
            # DMI / ADX (streaming._dmi_upd)
            ph, pl, pc_dm, pdm, mdm, tr, pdi, mdi = dmi_step(t_dm, p_dm, a_dm, ph, pl, pc_dm, pdm, mdm, tr, h, lo, c)
            acc_dm, adx = adx_step(t_dm, p_dm, f_dm, a_dm, inv_dm, acc_dm, pdi, mdi)
            t_dm += 1
            row[IV_ADX] = adx
            # RSI (streaming._rsi_upd)
            px_rs, gain, loss, rsi = rsi_step(t_rs, p_rs, f_rs, a_rs, inv_rs, px_rs, gain, loss, c)
            t_rs += 1
            row[IV_RSI] = rsi
            # Bollinger (streaming._bbands_upd): the SMA's first window value, then the variance
            pos1 = pos_bb + 1 if pos_bb + 1 < p_bb else 0
            first = c if p_bb == 1 else ring_bb[pos1]
            s_bb, mid = sma_step(t_bb, p_bb - 1, f_bb, s_bb, c, first)
            left_bb, shift_bb, s1_bb, s2_bb, pos_bb, var = _var_b(t_bb, p_bb, inv_bb, left_bb, shift_bb, s1_bb,
                                                                 s2_bb, pos_bb, ring_bb, c)
            t_bb += 1
            w = sd_value(var) * nbdev
            row[IV_BB_UP] = mid + w
            row[IV_BB_MID] = mid
            row[IV_BB_LOW] = mid - w
            # ATR (streaming._atr_upd)
            pc_at, acc_at, atr = atr_step(t_at, p_at, f_at, a_at, inv_at, pc_at, acc_at, h, lo, c)
            t_at += 1
            row[IV_ATR] = atr
            # Donchian and volume SMA: this bar's values become next bar's "previous N bars"
            pos_mx, pre_mx, hi = max_step(p_mx, pos_mx, pre_mx, h, cur_mx, suf_mx)
            prev_hi = hi if t_mx >= p_mx - 1 else NAN
            t_mx += 1
            pos_mn, pre_mn, lw = min_step(p_mn, pos_mn, pre_mn, lo, cur_mn, suf_mn)
            prev_lo = lw if t_mn >= p_mn - 1 else NAN
            t_mn += 1
            s_vs, pos_vs, prev_vs = _sma_b(t_vs, p_vs, f_vs, s_vs, pos_vs, ring_vs, v)
            t_vs += 1
            prev_ef = ef
            prev_es = es
            # realized vol (streaming._rv_upd / _rv_step)
            r = row[IV_RV]  # log(c / px_rv), or NaN on the pair's first bar (the loop above)
            px_rv = c
            rv = NAN
            if t_rv > 0:
                left_rv, shift_rv, s1_rv, s2_rv, pos_rv, var = _var_b(u_rv, p_rv, inv_rv, left_rv, shift_rv, s1_rv,
                                                                     s2_rv, pos_rv, ring_rv, r)
                rv = sd_value(var) * scale_rv if u_rv >= p_rv - 1 else NAN
                u_rv += 1
            t_rv += 1
            row[IV_RV] = rv
            # SMAs of the close
            s_st, pos_st, y = _sma_b(t_st, p_st, f_st, s_st, pos_st, ring_st, c)
            t_st += 1
            row[IV_SMA_TREND] = y
            s_sm, pos_sm, y = _sma_b(t_sm, p_sm, f_sm, s_sm, pos_sm, ring_sm, c)
            t_sm += 1
            row[IV_SMA_MID] = y
            s_sx, pos_sx, y = _sma_b(t_sx, p_sx, f_sx, s_sx, pos_sx, ring_sx, c)
            t_sx += 1
            row[IV_SMA_EXIT] = y
            # momentum over the ring of closes (base.indicators_update_nb)
            ring_c[pos_c] = c
            mom = 0.0
            if count >= mmax:
                for hzn in (size, m2, m3):
                    back = pos_c - hzn  # in (-ringn, ringn): wrap without an integer division
                    past = ring_c[back + ringn if back < 0 else back]
                    mom += c / past - 1.0
                mom /= 3.0
            else:
                mom = NAN
            count += 1
            pos_c = pos_c + 1 if pos_c + 1 < ringn else 0
            row[IV_MOM] = mom
            row[IV_CLOSE] = c
            row[IV_VOLUME] = v
            row[IV_BARS] = count

        # ---- store the recurrence variables back
        st[o_ef] = t_ef
        st[o_ef + 2] = y_ef
        st[o_es] = t_es
        st[o_es + 2] = y_es
        st[o_el] = t_el
        st[o_el + 2] = y_el
        st[o_dm] = t_dm
        st[o_dm + 2] = ph
        st[o_dm + 3] = pl
        st[o_dm + 4] = pc_dm
        st[o_dm + 5] = pdm
        st[o_dm + 6] = mdm
        st[o_dm + 7] = tr
        st[o_dm + 8] = acc_dm
        st[o_rs] = t_rs
        st[o_rs + 2] = px_rs
        st[o_rs + 3] = gain
        st[o_rs + 4] = loss
        st[o_bb + 1] = s_bb
        st[v_bb] = t_bb
        st[v_bb + 2] = left_bb
        st[v_bb + 3] = shift_bb
        st[v_bb + 4] = s1_bb
        st[v_bb + 5] = s2_bb
        st[v_bb + 6] = pos_bb
        st[o_at] = t_at
        st[o_at + 2] = pc_at
        st[o_at + 3] = acc_at
        st[o_mx] = t_mx
        st[o_mx + 2] = pos_mx
        st[o_mx + 3] = pre_mx
        st[o_mn] = t_mn
        st[o_mn + 2] = pos_mn
        st[o_mn + 3] = pre_mn
        st[o_vs] = t_vs
        st[o_vs + 2] = s_vs
        st[o_vs + 3] = pos_vs
        st[o_rv] = t_rv
        st[o_rv + 2] = px_rv
        st[v_rv] = u_rv
        st[v_rv + 2] = left_rv
        st[v_rv + 3] = shift_rv
        st[v_rv + 4] = s1_rv
        st[v_rv + 5] = s2_rv
        st[v_rv + 6] = pos_rv
        st[o_st] = t_st
        st[o_st + 2] = s_st
        st[o_st + 3] = pos_st
        st[o_sm] = t_sm
        st[o_sm + 2] = s_sm
        st[o_sm + 3] = pos_sm
        st[o_sx] = t_sx
        st[o_sx + 2] = s_sx
        st[o_sx + 3] = pos_sx
        st[oc] = count
        st[oc + 1] = pos_c
        st[pv + 0] = prev_ef
        st[pv + 1] = prev_es
        st[pv + 2] = prev_hi
        st[pv + 3] = prev_lo
        st[pv + 4] = prev_vs
