"""The indicator pack of several pairs at once: one bar of ``W`` pairs in ``<W x double>`` ops.

When the pairs of a group have every bar of a block and their packs stand at the same
place (same bar counts, same ring positions: pairs that started together and never
missed a bar) and past every warm-up, each bar runs the same operations with the same
control flow for every pair. :func:`lanes_block` then advances the ``W`` packs together,
one pair per vector lane: the same operations as the per-bar step functions of
:mod:`tradejet.kernels.steps`, in the same order, without fast-math flags (``fdiv``,
``llvm.sqrt``, ``llvm.fma`` are correctly rounded per lane), so each lane gets the same
bits as the scalar path (:mod:`tradejet.strategies.indicator_block`, which gathers the
packs into the lane layout, calls this, and scatters them back).

Lane layout (``LS``, float64): vector slot ``k`` is ``LS[k*W : k*W + W]`` (lane ``j`` =
pair ``p0 + j``); the ``S_*`` slots hold the recurrence variables, the rings follow from
slot ``N_SLOTS`` on (ring element ``i`` of a ring based at slot ``r`` is slot ``r + i``).
``IX`` (float64, integer values) holds the uniform counters (positions, re-sum countdowns, ring bases and
periods), ``KC`` (float64) the uniform constants; both ``X_*`` / ``K_*`` below.

Contract: ``H, L, C, V`` are C-contiguous ``(T, n)``, ``ivb`` C-contiguous ``(B, n, N_IV)``
with ``t1 - t0 <= B``, ``p0 + W <= n``; the log returns of the block are in ``LR`` (laid out as
``C``) when ``use_lr``, else already in slots ``0 .. W-1`` of pair ``p0``'s row of ``ivb`` (read,
then overwritten by the row); no bounds checks.

Numba's compile cache only checks the calling module's file: after editing this one,
delete the cached ``*.nbi``/``*.nbc`` files (``find . -name "*.nb[ic]" -delete``).
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tradejet.kernels._vec import Lanes, dm1, sd_value, tr_value, up_dn
from tradejet.strategies.base import (
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

# ---- vector slots (one per recurrence variable)
S_YEF, S_YES, S_YEL = 0, 1, 2                      # EMA fast / slow / long
S_PH, S_PL, S_PCDM, S_PDM, S_MDM, S_TR, S_ACCDM = 3, 4, 5, 6, 7, 8, 9   # DMI / ADX
S_PXRS, S_GAIN, S_LOSS = 10, 11, 12                # RSI
S_SBB, S_SHBB, S_S1BB, S_S2BB = 13, 14, 15, 16     # Bollinger: SMA sum, variance shift and sums
S_PCAT, S_ACCAT = 17, 18                           # ATR
S_PREMX, S_PREMN = 19, 20                          # Donchian blocks' running max / min
S_SVS = 21                                         # volume SMA sum
S_SHRV, S_S1RV, S_S2RV = 22, 23, 24                # realized vol variance
S_SST, S_SSM, S_SSX = 25, 26, 27                   # SMA trend / mid / exit sums
S_PEF, S_PES, S_PHI, S_PLO, S_PVS = 28, 29, 30, 31, 32   # the "previous bar" values
S_NBDEV, S_SCALE = 33, 34                          # per-pair constants
N_SLOTS = 35

# ---- uniform integers (IX)
(X_POS_BB, X_LEFT_BB, X_P_BB, X_R_BB,
 X_POS_MX, X_P_MX, X_R_CURMX, X_R_SUFMX,
 X_POS_MN, X_P_MN, X_R_CURMN, X_R_SUFMN,
 X_POS_VS, X_P_VS, X_R_VS,
 X_POS_RV, X_LEFT_RV, X_P_RV, X_R_RV,
 X_POS_ST, X_P_ST, X_R_ST,
 X_POS_SM, X_P_SM, X_R_SM,
 X_POS_SX, X_P_SX, X_R_SX,
 X_COUNT, X_POS_C, X_RINGN, X_R_C, X_H1, X_H2, X_H3) = range(35)
N_IX = 35

# ---- uniform constants (KC)
(K_A_EF, K_K_EF, K_A_ES, K_K_ES, K_A_EL, K_K_EL,
 K_A_DM, K_INV_DM, K_A_RS, K_INV_RS, K_F_BB, K_INV_BB,
 K_A_AT, K_INV_AT, K_F_VS, K_INV_RV, K_F_ST, K_F_SM, K_F_SX) = range(19)
N_KC = 19

_ir = cgutils.ir
_F64 = _ir.DoubleType()
_I64 = _ir.IntType(64)
_I32 = _ir.IntType(32)


def _c(v):
    return _ir.Constant(_I64, v)


class _Gen:
    """IR helpers for one compiled block of ``W`` lanes."""

    def __init__(self, context, builder, sig, args, W):
        b = self.b = builder
        self.W = W
        self.ln = Lanes(builder, W)
        self.vt = self.ln.t
        ptrs = [context.make_array(sig.args[i])(context, builder, args[i]).data for i in range(8)]
        self.ls, self.kcp, self.ixp, self.hp, self.lp, self.cp, self.vp, self.ivp = ptrs
        self.t0, self.t1, self.n, self.p0 = (b.sext(a, _I64) if a.type.width < 64 else a for a in args[8:12])
        self.lrp = context.make_array(sig.args[12])(context, builder, args[12]).data
        use = context.cast(builder, args[13], sig.args[13], types.boolean)
        self.use_lr = b.icmp_unsigned("!=", use, cgutils.ir.Constant(use.type, 0))
        self.zero = self.ln.k(0.0)

    # memory
    def vld(self, ptr, idx):
        return self.b.load(self.b.bitcast(self.b.gep(ptr, [idx]), self.vt.as_pointer()), align=8)

    def vst(self, v, ptr, idx):
        self.b.store(v, self.b.bitcast(self.b.gep(ptr, [idx]), self.vt.as_pointer()), align=8)

    def slot(self, base, i=None):
        """Element index of vector slot ``base`` (+ ``i``, runtime) in LS."""
        b = self.b
        s = base if i is None else b.add(base, i)
        return b.mul(s, _c(self.W))

    def rload(self, base, i):
        return self.vld(self.ls, self.slot(base, i))

    def rstore(self, v, base, i):
        self.vst(v, self.ls, self.slot(base, i))

    def wrap(self, i, size):
        """i + 1, or 0 when that reaches ``size``."""
        b = self.b
        j = b.add(i, _c(1))
        return b.select(b.icmp_signed("==", j, size), _c(0), j)

    def store_rows(self, outs, rb):
        """Write the bar's outputs (``outs[k]``: IV_k of the W pairs) as the W pairs' rows of
        ``ivb``: transposed in registers, W rows of consecutive values instead of W * N_IV
        single-lane extracts."""
        b, W = self.b, self.W

        def shuf(x, y, idx):
            return b.shuffle_vector(x, y, _ir.Constant(_ir.VectorType(_I32, len(idx)), [_ir.Constant(_I32, i) for i in idx]))

        def store(vec, j, k, width, rb=rb):
            ptr = b.gep(self.ivp, [b.add(rb, _c(j * N_IV + k))])
            b.store(vec, b.bitcast(ptr, _ir.VectorType(_F64, width).as_pointer()), align=8)

        if W == 2:
            for k in range(0, N_IV, 2):
                x, y = outs[k], outs[k + 1]
                store(shuf(x, y, [0, 2]), 0, k, 2)
                store(shuf(x, y, [1, 3]), 1, k, 2)
            return
        assert W == 4
        self._rows4(outs, rb, shuf, store)

    def _rows4(self, outs, rb, shuf, store):
        undef = _ir.Constant(_ir.VectorType(_F64, 4), _ir.Undefined)
        for k in range(0, N_IV, 4):
            rows = [outs.get(k + i, undef) for i in range(4)]
            m = min(4, N_IV - k)
            t0 = shuf(rows[0], rows[1], [0, 4, 2, 6])
            t1 = shuf(rows[0], rows[1], [1, 5, 3, 7])
            t2 = shuf(rows[2], rows[3], [0, 4, 2, 6])
            t3 = shuf(rows[2], rows[3], [1, 5, 3, 7])
            cols = [shuf(t0, t2, [0, 1, 4, 5]), shuf(t1, t3, [0, 1, 4, 5]),
                    shuf(t0, t2, [2, 3, 6, 7]), shuf(t1, t3, [2, 3, 6, 7])]
            for j in range(4):
                col = cols[j] if m == 4 else shuf(cols[j], cols[j], list(range(m)))
                store(col, j, k, m, rb)

    def shifted_sums(self, rbase, start, count, wrap, shift):
        """_core.window_shifted_sums over a lane ring, summed in the same order."""
        b, ln = self.b, self.ln
        s1 = cgutils.alloca_once_value(b, self.zero)
        s2 = cgutils.alloca_once_value(b, self.zero)
        k = cgutils.alloca_once_value(b, start)
        b.store(self.zero, s1)
        b.store(self.zero, s2)
        b.store(start, k)
        with cgutils.for_range(b, count):
            kk = b.load(k)
            d = ln.sub(self.rload(rbase, kk), shift)
            b.store(ln.add(b.load(s1), d), s1)
            b.store(ln.add(b.load(s2), ln.mul(d, d)), s2)
            b.store(self.wrap(kk, wrap), k)
        return b.load(s1), b.load(s2)


def _codegen(W):
    def codegen(context, builder, sig, args):
        g = _Gen(context, builder, sig, args, W)
        b, ln = builder, g.ln
        zero = g.zero
        one = ln.k(1.0)
        hundred = ln.k(100.0)
        three = ln.k(3.0)

        S = []
        for k in range(N_SLOTS):
            a = cgutils.alloca_once(b, g.vt)
            b.store(g.vld(g.ls, _c(k * W)), a)
            S.append(a)

        def get(k):
            return b.load(S[k])

        def put(k, v):
            b.store(v, S[k])

        X = []
        for f in range(N_IX):
            a = cgutils.alloca_once(b, _I64)
            b.store(b.fptosi(b.load(b.gep(g.ixp, [_c(f)])), _I64), a)
            X.append(a)

        def xi(f):
            return b.load(X[f])

        def kc(f):
            return ln.k(b.load(b.gep(g.kcp, [_c(f)])))

        def rolling_var(x, ring, pos, pos1, p, fleft, s_shift, s_s1, s_s2, inv):
            """streaming._var_upd past its warm-up: x into the ring at pos (the value leaving read
            first), the shifted sums slid, or re-summed exactly when the countdown is out."""
            leaving = g.rload(ring, pos)
            g.rstore(x, ring, pos)
            with b.if_else(b.icmp_signed("==", xi(fleft), _c(0))) as (then, otherwise):
                with then:
                    s1, s2 = g.shifted_sums(ring, pos1, p, p, x)
                    put(s_shift, x)
                    put(s_s1, s1)
                    put(s_s2, s2)
                    b.store(p, X[fleft])
                with otherwise:
                    shift = get(s_shift)
                    dd = ln.sub(x, shift)
                    e = ln.sub(leaving, shift)
                    put(s_s1, ln.sub(ln.add(get(s_s1), dd), e))
                    put(s_s2, ln.sub(ln.add(get(s_s2), ln.mul(dd, dd)), ln.mul(e, e)))
            b.store(b.sub(xi(fleft), _c(1)), X[fleft])
            m = ln.mul(get(s_s1), inv)
            return ln.sub(ln.mul(get(s_s2), inv), ln.mul(m, m))

        a_ef, k_ef, a_es, k_es, a_el, k_el = (kc(f) for f in (K_A_EF, K_K_EF, K_A_ES, K_K_ES, K_A_EL, K_K_EL))
        a_dm, inv_dm, a_rs, inv_rs = kc(K_A_DM), kc(K_INV_DM), kc(K_A_RS), kc(K_INV_RS)
        f_bb, inv_bb, a_at, inv_at = kc(K_F_BB), kc(K_INV_BB), kc(K_A_AT), kc(K_INV_AT)
        f_vs, inv_rv, f_st, f_sm, f_sx = kc(K_F_VS), kc(K_INV_RV), kc(K_F_ST), kc(K_F_SM), kc(K_F_SX)
        row_stride = b.mul(g.n, _c(N_IV))

        with cgutils.for_range_slice(b, g.t0, g.t1, _c(1)) as (t, _):
            io = b.add(b.mul(t, g.n), g.p0)
            h = g.vld(g.hp, io)
            lo = g.vld(g.lp, io)
            c = g.vld(g.cp, io)
            v = g.vld(g.vp, io)
            rb = b.add(b.mul(b.sub(t, g.t0), row_stride), b.mul(g.p0, _c(N_IV)))

            outs = {}

            def out(k, vec):
                outs[k] = vec

            # the bar's log returns: the bar context's (LR, laid out as C), or the caller's pre-pass
            # (lane j in slot j of pair p0's row)
            r = g.vld(b.select(g.use_lr, g.lrp, g.ivp), b.select(g.use_lr, io, rb))
            out(IV_DON_HIGH, get(S_PHI))
            out(IV_DON_LOW, get(S_PLO))
            out(IV_VOL_SMA, get(S_PVS))
            out(IV_EMA_FAST_PREV, get(S_PEF))
            out(IV_EMA_SLOW_PREV, get(S_PES))
            # EMAs (steps.ema_step past its seed)
            ef = ln.fma(get(S_YEF), a_ef, ln.mul(c, k_ef))
            es = ln.fma(get(S_YES), a_es, ln.mul(c, k_es))
            el = ln.fma(get(S_YEL), a_el, ln.mul(c, k_el))
            put(S_YEF, ef)
            put(S_YES, es)
            put(S_YEL, el)
            out(IV_EMA_FAST, ef)
            out(IV_EMA_SLOW, es)
            out(IV_EMA_LONG, el)
            # DMI (steps.dmi_step past bar p) and ADX (steps.adx_step past its seed)
            pdm1, mdm1 = dm1(ln, h, get(S_PH), get(S_PL), lo)
            tr1 = tr_value(ln, h, lo, get(S_PCDM))
            pdm = ln.fma(get(S_PDM), a_dm, pdm1)
            mdm = ln.fma(get(S_MDM), a_dm, mdm1)
            tr = ln.fma(get(S_TR), a_dm, tr1)
            nz = ln.ne(tr, zero)
            pdi = ln.where(nz, ln.mul(hundred, ln.div(pdm, tr)), zero)
            mdi = ln.where(nz, ln.mul(hundred, ln.div(mdm, tr)), zero)
            put(S_PH, h)
            put(S_PL, lo)
            put(S_PCDM, c)
            put(S_PDM, pdm)
            put(S_MDM, mdm)
            put(S_TR, tr)
            s = ln.add(pdi, mdi)
            valid = ln.ne(s, zero)
            dx = ln.where(valid, ln.mul(hundred, ln.div(ln.fabs(ln.sub(mdi, pdi)), s)), zero)
            acc = get(S_ACCDM)
            acc = ln.where(valid, ln.fma(acc, a_dm, ln.mul(dx, inv_dm)), acc)
            put(S_ACCDM, acc)
            out(IV_ADX, acc)
            # RSI (steps.rsi_step past its seed)
            up, dn = up_dn(ln, ln.sub(c, get(S_PXRS)))
            gain = ln.fma(get(S_GAIN), a_rs, ln.mul(up, inv_rs))
            loss = ln.fma(get(S_LOSS), a_rs, ln.mul(dn, inv_rs))
            s = ln.add(gain, loss)
            put(S_PXRS, c)
            put(S_GAIN, gain)
            put(S_LOSS, loss)
            out(IV_RSI, ln.where(ln.ne(s, zero), ln.mul(hundred, ln.div(gain, s)), zero))
            # Bollinger: the SMA with the window's first value, then the variance (streaming._var_upd)
            pos = xi(X_POS_BB)
            pbb = xi(X_P_BB)
            rbb = xi(X_R_BB)
            pos1 = g.wrap(pos, pbb)
            first = g.rload(rbb, pos1)
            s = ln.add(get(S_SBB), c)
            mid = ln.div(s, f_bb)
            put(S_SBB, ln.sub(s, first))
            b.store(pos1, X[X_POS_BB])
            var = rolling_var(c, rbb, pos, pos1, pbb, X_LEFT_BB, S_SHBB, S_S1BB, S_S2BB, inv_bb)
            w = ln.mul(sd_value(ln, var), get(S_NBDEV))
            out(IV_BB_UP, ln.add(mid, w))
            out(IV_BB_MID, mid)
            out(IV_BB_LOW, ln.sub(mid, w))
            # ATR (steps.atr_step past its seed)
            tr1 = tr_value(ln, h, lo, get(S_PCAT))
            acc = ln.fma(get(S_ACCAT), a_at, ln.mul(tr1, inv_at))
            put(S_PCAT, c)
            put(S_ACCAT, acc)
            out(IV_ATR, acc)
            # Donchian (steps.max_step / min_step): this bar's values are next bar's "previous N bars"
            for x, fpos, fp, fcur, fsuf, spre, sprev, better in (
                    (h, X_POS_MX, X_P_MX, X_R_CURMX, X_R_SUFMX, S_PREMX, S_PHI, ln.gt),
                    (lo, X_POS_MN, X_P_MN, X_R_CURMN, X_R_SUFMN, S_PREMN, S_PLO, ln.lt)):
                pos = xi(fpos)
                p = xi(fp)
                cur = xi(fcur)
                suf = xi(fsuf)
                g.rstore(x, cur, pos)
                pre = get(spre)
                pre = b.select(b.icmp_signed("==", pos, _c(0)), x, ln.where(better(x, pre), x, pre))
                put(spre, pre)
                with b.if_else(b.icmp_signed("==", pos, b.sub(p, _c(1)))) as (then, otherwise):
                    with then:  # the block closes: its suffix extremes, newest to oldest
                        mm = cgutils.alloca_once_value(b, x)
                        b.store(x, mm)
                        g.rstore(x, suf, pos)
                        with cgutils.for_range(b, b.sub(p, _c(1))) as loop:
                            i = b.sub(b.sub(p, _c(2)), loop.index)
                            vv = g.rload(cur, i)
                            mv = b.load(mm)
                            mv = ln.where(better(vv, mv), vv, mv)
                            b.store(mv, mm)
                            g.rstore(mv, suf, i)
                        put(sprev, pre)
                        b.store(_c(0), X[fpos])
                    with otherwise:
                        vv = g.rload(suf, b.add(pos, _c(1)))
                        put(sprev, ln.where(better(vv, pre), vv, pre))
                        b.store(b.add(pos, _c(1)), X[fpos])
            # SMAs (streaming._sma_upd): volume (next bar's "previous N bars"), then the closes
            for x, fpos, fp, fr, fs, ff, dest in (
                    (v, X_POS_VS, X_P_VS, X_R_VS, S_SVS, f_vs, -1),
                    (c, X_POS_ST, X_P_ST, X_R_ST, S_SST, f_st, IV_SMA_TREND),
                    (c, X_POS_SM, X_P_SM, X_R_SM, S_SSM, f_sm, IV_SMA_MID),
                    (c, X_POS_SX, X_P_SX, X_R_SX, S_SSX, f_sx, IV_SMA_EXIT)):
                pos = xi(fpos)
                rr = xi(fr)
                g.rstore(x, rr, pos)
                pos1 = g.wrap(pos, xi(fp))
                s = ln.add(get(fs), x)
                y = ln.div(s, ff)
                put(fs, ln.sub(s, g.rload(rr, pos1)))
                b.store(pos1, X[fpos])
                if dest < 0:
                    put(S_PVS, y)
                else:
                    out(dest, y)
            put(S_PEF, ef)
            put(S_PES, es)
            # realized vol of the log returns (streaming._rv_upd)
            pos = xi(X_POS_RV)
            prv = xi(X_P_RV)
            rrv = xi(X_R_RV)
            pos1 = g.wrap(pos, prv)
            b.store(pos1, X[X_POS_RV])
            var = rolling_var(r, rrv, pos, pos1, prv, X_LEFT_RV, S_SHRV, S_S1RV, S_S2RV, inv_rv)
            out(IV_RV, ln.mul(sd_value(ln, var), get(S_SCALE)))
            # momentum over the ring of closes
            pos = xi(X_POS_C)
            ringn = xi(X_RINGN)
            rc = xi(X_R_C)
            g.rstore(c, rc, pos)
            mom = zero
            for fh in (X_H1, X_H2, X_H3):
                back = b.sub(pos, xi(fh))
                idx = b.select(b.icmp_signed("<", back, _c(0)), b.add(back, ringn), back)
                mom = ln.add(mom, ln.sub(ln.div(c, g.rload(rc, idx)), one))
            mom = ln.div(mom, three)
            count = b.add(xi(X_COUNT), _c(1))
            b.store(count, X[X_COUNT])
            b.store(g.wrap(pos, ringn), X[X_POS_C])
            out(IV_MOM, mom)
            out(IV_CLOSE, c)
            out(IV_VOLUME, v)
            out(IV_BARS, ln.k(b.sitofp(count, _F64)))
            g.store_rows(outs, rb)

        for k in range(N_SLOTS):
            g.vst(get(k), g.ls, _c(k * W))
        for f in range(N_IX):
            b.store(b.sitofp(xi(f), _F64), b.gep(g.ixp, [_c(f)]))
        return context.get_dummy_value()

    return codegen


def _make(W):
    def typer(typingctx, LS, KC, IX, H, L, C, V, ivb, t0, t1, n, p0, LR, use_lr):
        return types.void(LS, KC, IX, H, L, C, V, ivb, t0, t1, n, p0, LR, use_lr), _codegen(W)

    typer.__name__ = f"lanes_block_{W}"
    return intrinsic(typer)


#: ``lanes_block_W(LS, KC, IX, H, L, C, V, ivb, t0, t1, n, p0, LR, use_lr)``: advance pairs
#: ``p0 .. p0+W-1`` over bars ``t0 <= t < t1`` (see the module docstring); four lanes, or two
#: (the last pairs of a universe that is not a multiple of four). The log returns come from
#: ``LR`` ((T, n), as ``C``) when ``use_lr``, else from the caller's pre-pass in ``ivb``.
lanes_block_4 = _make(4)
lanes_block_2 = _make(2)
