"""The fused standard set of four symbols at once: one bar of four symbols in ``<4 x double>`` ops.

The 2-D (bars x symbols) panel already holds the symbols side by side: bar ``t`` of
symbols ``p0 .. p0+3`` is one vector load. The kernels here run the steady state of
:func:`tradejet.kernels.fused._blocks` (every chain past its seed) for four symbols, one
symbol per vector lane, so the recurrences that bound the one-symbol kernel by their
latency (EMA, MACD, Wilder's sums, the running sums) advance four symbols per instruction.
All symbols share the bar index, so the control flow (the exact re-sums every few bars)
is the same in every lane. Each lane performs the same IEEE operations as the step
functions (no fast-math; ``fdiv``, ``llvm.sqrt``, ``llvm.fma`` correctly rounded per lane;
the same ``log``, _core.flog's operations; Markstein's division by 3, 20 and 100, fused._v_mdiv), so every
value is the same bits as :func:`tradejet.kernels.fused.features_1d_nb`.

The set comes in two halves, PART_A (EMA, MACD, RSI, ATR, DMI/ADX, stochastic, ROC, OBV)
and PART_B (SMA, WMA, bands, Donchian, log return, realized vol, VWAP):
:func:`lanes_features_a` and :func:`lanes_features_b` each compute and write their own
rows, one after the other or at once on two threads.

A block of BLK2 bars runs in passes over a bar-major block buffer ``xb`` (NFLD vectors a
bar, with HIST bars of history before the block):

1. copy the group's inputs from the panel (one row stride for the whole block after that);
2. the work that depends on the bars alone (true range, directional movement, RSI's moves,
   OBV's increments, ROC, Donchian, stochastic %K, typical price; the log returns in a loop
   of their own: a rare C-library log (outside fdlibm's range) clobbers every vector register);
3. the exact re-sums, at the bars where each running sum restarts;
4. the recurrences, bar by bar, with everything that hangs off them; a re-sum bar takes
   its sums by a select (no branch in the loop);
5. the block's rows (feature-major scratch ``sc``), transposed in registers (4 x 4) into
   the four symbols' output rows, a row at a time (four store streams: the hardware
   prefetcher follows them), with non-temporal stores when ``nt`` (a large output with
   32-byte aligned rows: no read of each line before it is written).

Markstein's division needs its numerator within [2**-960, 2**1000] (or zero), always true
of prices; a block where a lane falls outside runs again with true divisions (pass 2 and
pass 4 each restart from the block's start state), so the results stay exact.

Measured (bench kernels, 4 symbols): the passes without the output stores take ~14.6 ns
per bar and symbol at 10k bars, the 1-D kernel ~22; the stores of 27 rows into an output
that is not in cache cost as much again. Tried and dropped: spreading the stores over the
next block's passes (four bars of every row at a time, or a row at a time): 1.5-2x slower,
108 interleaved store streams defeat the prefetcher; software prefetches of the rows.

Contract (no bounds checks): ``high, low, close, volume`` C-contiguous (n, m);
``out`` C-contiguous (m, N_FEATURES, n); ``p0 + 4 <= m``; ``WARM <= t0``; ``ls`` the lanes'
state (N_SLOTS vectors, slot ``k`` at ``ls[4k : 4k + 4]``; N_SLOTS more as the block-start
copy), ``ix`` (int64, 2 * N_IX) the shared countdowns X_*, ``xb`` (XB_SIZE floats) whose
first HIST bars hold the HIST bars before ``t0`` (fields F_H .. F_MN4), ``rs`` (RS_SIZE) and
``sc`` (SC_SIZE) scratch. Returns the number of lane-bars whose inputs are not finite,
close <= 0 or volume < 0 (PART_A; PART_B returns 0); ``ls``, ``ix`` and ``xb``'s history
hold the state at ``t1``.

Numba's compile cache only checks the calling module's file: after editing this one,
delete the cached ``*.nbi``/``*.nbc`` files (``find . -name "*.nb[ic]" -delete``).
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tradejet.kernels._vec import Lanes, dm1, tr_value, up_dn

W = 4            # lanes (symbols) per vector
BLK2 = 128       # bars per block
HIST = 24        # bars of history before a block (>= P + 1)
N_FEAT = 27
SCR = BLK2 + 2   # scratch row length in bars (rows 64 bytes apart modulo 4 KiB: no L1 set conflicts)
SC_SIZE = N_FEAT * SCR * W

(S_SMA, S_EMA, S_MF, S_MS, S_MG, S_OBV, S_GAIN, S_LOSS, S_ATR, S_PDM, S_MDM, S_TR, S_ADX,
 S_STK, S_FKM1, S_FKM2, S_STD, S_SKM1, S_SKM2, S_VSH, S_VS1, S_VS2, S_WSUM, S_WSUB,
 S_QSH, S_QS1, S_QS2, S_SPV, S_SV, S_NZ, S_BAD) = range(31)
N_SLOTS = 31
X_VLEFT, X_WLEFT, X_QLEFT, X_VWLEFT = range(4)   # the re-sum countdowns (variance, WMA, realized vol, VWAP)
N_IX = 4
# block buffer fields (vectors of a bar): inputs, then what depends on the bars alone
(F_H, F_L, F_C, F_V, F_LR, F_PV, F_TP, F_FK, F_MX4, F_MN4,
 F_UP, F_DN, F_TRI, F_PDM1, F_MDM1, F_OBV1, F_NZD) = range(17)
NFLD = 17
XB_SIZE = (HIST + BLK2) * NFLD * W
# re-sums at a restart bar (rs, per bar of the block)
R_V1, R_V2, R_WS, R_WW, R_Q1, R_Q2, R_SPV, R_SV, R_NZ = range(9)
NRS = 9
RS_SIZE = BLK2 * NRS * W
# output rows the bar-only pass writes (the rest come from the recurrences' pass)
ROW_TR, ROW_ROC, ROW_MAX, ROW_MIN, ROW_LR = 5, 19, 21, 22, 23

_ir = cgutils.ir
_F64 = _ir.DoubleType()
_I64 = _ir.IntType(64)
_I32 = _ir.IntType(32)


def _c(v):
    return _ir.Constant(_I64, v)


class _Gen:
    def __init__(self, context, builder, sig, args):
        from tradejet.kernels import (
            fused as F,  # the set's parameters (fused imports this module)
        )

        self.F = F
        b = self.b = builder
        self.v = Lanes(builder, W)
        self.vt = self.v.t
        arrs = [context.make_array(sig.args[i])(context, builder, args[i]) for i in range(10)]
        (self.hp, self.lp, self.cp, self.vp, self.op, self.lsp, self.ixp, self.xbp, self.rsp,
         self.scp) = (a.data for a in arrs)
        n, m = cgutils.unpack_tuple(b, arrs[2].shape, 2)
        self.n, self.m = n, m
        self.t0, self.t1, self.p0 = (context.cast(b, args[i], sig.args[i], types.int64) for i in (10, 11, 12))
        self.flag = cgutils.alloca_once_value(b, _c(0))

    # ---- memory
    def vld(self, ptr, idx):
        return self.b.load(self.b.bitcast(self.b.gep(ptr, [idx]), self.vt.as_pointer()), align=8)

    def vst(self, val, ptr, idx):
        self.b.store(val, self.b.bitcast(self.b.gep(ptr, [idx]), self.vt.as_pointer()), align=8)

    def xget(self, i, f, back=0):
        """Field ``f`` of block bar ``i - back`` (history before bar 0)."""
        b = self.b
        return self.vld(self.xbp, b.add(b.mul(i, _c(NFLD * W)), _c(((HIST - back) * NFLD + f) * W)))

    def xput(self, val, i, f):
        b = self.b
        self.vst(val, self.xbp, b.add(b.mul(i, _c(NFLD * W)), _c((HIST * NFLD + f) * W)))

    def rsget(self, i, f):
        b = self.b
        return self.vld(self.rsp, b.add(b.mul(i, _c(NRS * W)), _c(f * W)))

    def rsput(self, val, i, f):
        b = self.b
        self.vst(val, self.rsp, b.add(b.mul(i, _c(NRS * W)), _c(f * W)))

    def scput(self, val, i, k):
        b = self.b
        self.vst(val, self.scp, b.add(b.mul(i, _c(W)), _c(k * SCR * W)))

    def scget(self, i, k):
        b = self.b
        return self.vld(self.scp, b.add(b.mul(i, _c(W)), _c(k * SCR * W)))

    def mark(self, mask):
        """OR the lanes of ``mask`` (Markstein out of range) into the block's flag."""
        b = self.b
        bits = b.zext(b.bitcast(mask, _ir.IntType(W)), _I64)
        b.store(b.or_(b.load(self.flag), bits), self.flag)

    def mdiv(self, a, c, safe):
        if safe:
            return self.v.div(a, self.v.k(c))
        y, flag = self.F._v_mdiv(self.v, a, c)
        self.mark(flag)
        return y


# the two halves of the set (rows and the chains behind them), for two threads
PART_A = frozenset((1, 4, 5, 6, 7, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20))   # EMA, MACD, RSI, ATR, DMI, stoch, ROC, OBV
PART_B = frozenset(range(N_FEAT)) - PART_A                                # SMA, WMA, bands, Donchian, log return, vol, VWAP
_SLOTS_A = (S_EMA, S_MF, S_MS, S_MG, S_OBV, S_GAIN, S_LOSS, S_ATR, S_PDM, S_MDM, S_TR, S_ADX,
            S_STK, S_FKM1, S_FKM2, S_STD, S_SKM1, S_SKM2, S_BAD)
_SLOTS_B = (S_SMA, S_VSH, S_VS1, S_VS2, S_WSUM, S_WSUB, S_QSH, S_QS1, S_QS2, S_SPV, S_SV, S_NZ)


def _make_codegen(part):
    """The kernel's code for ``part``: ``"a"`` (the rows PART_A), ``"b"`` (PART_B) or ``"ab"`` (all)."""
    A = "a" in part
    B = "b" in part
    rows_out = sorted((PART_A if A else frozenset()) | (PART_B if B else frozenset()))
    slots = sorted((_SLOTS_A if A else ()) + (_SLOTS_B if B else ()))

    def codegen(context, builder, sig, args):
        g = _Gen(context, builder, sig, args)
        F, b, v = g.F, g.b, g.v
        P = F.P
        fp = float(P)
        z = v.k(0.0)
        one = v.k(1.0)
        nt = b.icmp_signed("!=", context.cast(b, args[13], sig.args[13], types.int64), _c(0))

        k_ema = 2.0 / (fp + 1.0)
        kf = 2.0 / (F.MACD_F + 1.0)
        ks = 2.0 / (F.MACD_S + 1.0)
        kg = 2.0 / (F.MACD_G + 1.0)
        i_rsi = 1.0 / F.RSI_P
        i_atr = 1.0 / F.ATR_P
        i_adx = 1.0 / F.ADX_P
        a_rsi = (F.RSI_P - 1) * i_rsi
        a_atr = (F.ATR_P - 1) * i_atr
        a_adx = (F.ADX_P - 1) * i_adx
        inv_div = 1.0 / float((P * (P + 1)) >> 1)
        wperiod = F.RESUM * P

        # the state, in allocas (promoted to registers), and the countdowns
        st = [cgutils.alloca_once(b, g.vt) for _ in range(N_SLOTS)]
        cnt = [cgutils.alloca_once(b, _I64) for _ in range(N_IX)]

        def load_state(copy):
            for k in slots:
                b.store(g.vld(g.lsp, _c((copy * N_SLOTS + k) * W)), st[k])
            for k in range(N_IX):
                b.store(b.load(b.gep(g.ixp, [_c(copy * N_IX + k)])), cnt[k])

        def save_state(copy):
            for k in slots:
                g.vst(b.load(st[k]), g.lsp, _c((copy * N_SLOTS + k) * W))
            for k in range(N_IX):
                b.store(b.load(cnt[k]), b.gep(g.ixp, [_c(copy * N_IX + k)]))

        def ld(k):
            return b.load(st[k])

        def put(k, val):
            b.store(val, st[k])

        def loop(start, stop, step=1):
            return cgutils.for_range_slice(b, start, stop, _c(step))

        # ---- pass 1: the group's inputs from the panel
        def copy_in(s, L):
            with loop(_c(0), L) as (i, _):
                row = b.add(b.mul(b.add(s, i), g.m), g.p0)
                for f, ptr in ((F_H, g.hp), (F_L, g.lp), (F_C, g.cp), (F_V, g.vp)):
                    g.xput(g.vld(ptr, row), i, f)

        # ---- pass 2: what depends on the bars alone
        def bars_pass(L, safe):
            if B:
                with loop(_c(0), L) as (i, _):
                    g.xput(v.log(v.div(g.xget(i, F_C), g.xget(i, F_C, 1))), i, F_LR)
            with loop(_c(0), L) as (i, _):
                x = g.xget(i, F_C)
                h = g.xget(i, F_H)
                lo = g.xget(i, F_L)
                vol = g.xget(i, F_V)
                pc = g.xget(i, F_C, 1)
                if A:
                    _, badm = F._v_check(v, x, h, lo, vol)
                    if not safe:  # counted once (the safe run repeats the same bars)
                        put(S_BAD, v.add(ld(S_BAD), v.where(badm, one, z)))
                    tr = tr_value(v, h, lo, pc)
                    g.scput(tr, i, ROW_TR)
                    g.xput(v.mul(tr, v.k(i_atr)), i, F_TRI)
                    pdm1, mdm1 = dm1(v, h, g.xget(i, F_H, 1), g.xget(i, F_L, 1), lo)
                    g.xput(pdm1, i, F_PDM1)
                    g.xput(mdm1, i, F_MDM1)
                    up, dn = up_dn(v, v.sub(x, pc))
                    g.xput(v.mul(up, v.k(i_rsi)), i, F_UP)
                    g.xput(v.mul(dn, v.k(i_rsi)), i, F_DN)
                    sgn = v.sub(v.where(v.gt(x, pc), one, z), v.where(v.lt(x, pc), one, z))
                    g.xput(v.mul(vol, sgn), i, F_OBV1)
                    roc, _ = F._v_ratios(v, x, pc, g.xget(i, F_C, F.ROC_P))
                    g.scput(roc, i, ROW_ROC)
                    # stochastic %K over the 5-bar extremes (exact in any order)
                    hh = h
                    ll = lo
                    for j in range(1, F.STOCH_K):
                        a = g.xget(i, F_H, j)
                        c = g.xget(i, F_L, j)
                        hh = v.where(v.gt(a, hh), a, hh)
                        ll = v.where(v.lt(c, ll), c, ll)
                    diff = g.mdiv(v.sub(hh, ll), 100.0, safe)
                    g.xput(v.where(v.ne(diff, z), v.div(v.sub(x, ll), diff), z), i, F_FK)
                if B:
                    g.scput(g.xget(i, F_LR), i, ROW_LR)
                    vl = g.xget(i, F_V, P)
                    g.xput(v.sub(v.where(v.gt(vol, z), one, z), v.where(v.gt(vl, z), one, z)), i, F_NZD)
                    tp = g.mdiv(v.add(v.add(h, lo), x), 3.0, safe)
                    g.xput(tp, i, F_TP)
                    g.xput(v.mul(tp, vol), i, F_PV)
                    # Donchian: the max / min of the last P closes from 4-bar maxima / minima
                    mx = x
                    mn = x
                    for j in range(1, 4):
                        c = g.xget(i, F_C, j)
                        mx = v.where(v.gt(c, mx), c, mx)
                        mn = v.where(v.lt(c, mn), c, mn)
                    g.xput(mx, i, F_MX4)
                    g.xput(mn, i, F_MN4)
                    for j in range(4, P, 4):
                        a = g.xget(i, F_MX4, j)
                        mx = v.where(v.gt(a, mx), a, mx)
                        a = g.xget(i, F_MN4, j)
                        mn = v.where(v.lt(a, mn), a, mn)
                    g.scput(mx, i, ROW_MAX)
                    g.scput(mn, i, ROW_MIN)

        # ---- pass 3: the exact re-sums at the restart bars (the orders of _core's window sums)
        def resums(L):
            def shifted(i, f, r1, r2):
                shift = g.xget(i, f)
                a1, a2 = z, z
                for j in range(P - 1, -1, -1):
                    d = v.sub(g.xget(i, f, j), shift)
                    a1 = v.add(a1, d)
                    a2 = v.add(a2, v.mul(d, d))
                g.rsput(a1, i, r1)
                g.rsput(a2, i, r2)

            with loop(b.load(cnt[X_VLEFT]), L, P) as (i, _):
                shifted(i, F_C, R_V1, R_V2)
            with loop(b.load(cnt[X_QLEFT]), L, P) as (i, _):
                shifted(i, F_LR, R_Q1, R_Q2)
            with loop(b.load(cnt[X_WLEFT]), L, wperiod) as (i, _):
                s_, w_ = z, z
                for j in range(P):
                    c = g.xget(i, F_C, P - 1 - j)
                    s_ = v.add(s_, c)
                    w_ = v.add(w_, v.mul(c, v.k(float(j + 1))))
                g.rsput(s_, i, R_WS)
                g.rsput(w_, i, R_WW)
            with loop(b.load(cnt[X_VWLEFT]), L, P) as (i, _):
                a1, a2, nz = z, z, z
                for j in range(P - 1, -1, -1):
                    a1 = v.add(a1, g.xget(i, F_PV, j))
                    vv = g.xget(i, F_V, j)
                    a2 = v.add(a2, vv)
                    nz = v.add(nz, v.where(v.gt(vv, z), one, z))
                g.rsput(a1, i, R_SPV)
                g.rsput(a2, i, R_SV)
                g.rsput(nz, i, R_NZ)

        # ---- pass 4: the recurrences
        def restart(k, period):
            """The countdown's restart flag at this bar (left == 0), and its next value."""
            left = b.load(cnt[k])
            now = b.icmp_signed("==", left, _c(0))
            b.store(b.sub(b.select(now, _c(period), left), _c(1)), cnt[k])
            return now

        def chains_a(i, x, safe):
            e = v.fma(ld(S_EMA), v.k(1.0 - k_ema), v.mul(x, v.k(k_ema)))
            put(S_EMA, e)
            mf = v.fma(ld(S_MF), v.k(1.0 - kf), v.mul(x, v.k(kf)))
            ms = v.fma(ld(S_MS), v.k(1.0 - ks), v.mul(x, v.k(ks)))
            mm = v.sub(mf, ms)
            mg = v.fma(ld(S_MG), v.k(1.0 - kg), v.mul(mm, v.k(kg)))
            put(S_MF, mf)
            put(S_MS, ms)
            put(S_MG, mg)
            obv = v.add(ld(S_OBV), g.xget(i, F_OBV1))
            put(S_OBV, obv)
            gain = v.fma(ld(S_GAIN), v.k(a_rsi), g.xget(i, F_UP))
            loss = v.fma(ld(S_LOSS), v.k(a_rsi), g.xget(i, F_DN))
            put(S_GAIN, gain)
            put(S_LOSS, loss)
            atr = v.fma(ld(S_ATR), v.k(a_atr), g.xget(i, F_TRI))
            put(S_ATR, atr)
            pdm = v.fma(ld(S_PDM), v.k(a_adx), g.xget(i, F_PDM1))
            mdm = v.fma(ld(S_MDM), v.k(a_adx), g.xget(i, F_MDM1))
            trs = v.fma(ld(S_TR), v.k(a_adx), g.scget(i, ROW_TR))
            put(S_PDM, pdm)
            put(S_MDM, mdm)
            put(S_TR, trs)
            rsi, natr, pdi, mdi, dx = F._v_divs(v, gain, loss, atr, x, pdm, mdm, trs)
            acc = ld(S_ADX)
            adx = v.where(v.ne(v.add(pdi, mdi), z), v.fma(acc, v.k(a_adx), v.mul(dx, v.k(i_adx))), acc)
            put(S_ADX, adx)
            fk = g.xget(i, F_FK)
            sk_sum = v.add(ld(S_STK), fk)
            sk = g.mdiv(sk_sum, float(F.STOCH_SK), safe)
            put(S_STK, v.sub(sk_sum, ld(S_FKM2)))
            put(S_FKM2, ld(S_FKM1))
            put(S_FKM1, fk)
            sd_sum = v.add(ld(S_STD), sk)
            sdk = g.mdiv(sd_sum, float(F.STOCH_SD), safe)
            put(S_STD, v.sub(sd_sum, ld(S_SKM2)))
            put(S_SKM2, ld(S_SKM1))
            put(S_SKM1, sk)
            return {1: e, 4: rsi, 6: atr, 7: natr, 11: mm, 12: mg, 13: v.sub(mm, mg), 14: adx, 15: pdi, 16: mdi,
                    17: sk, 18: sdk, 20: obv}

        def chains_b(i, x, safe):
            s = v.add(ld(S_SMA), x)
            mid = g.mdiv(s, fp, safe)
            put(S_SMA, v.sub(s, g.xget(i, F_C, P - 1)))

            def slide(s1k, s2k, shk, xn, xl, r1, r2, now):
                """var_update between re-sums; at a restart bar the re-sum and the new shift."""
                sh = ld(shk)
                d = v.sub(xn, sh)
                e2 = v.sub(xl, sh)
                put(s1k, b.select(now, g.rsget(i, r1), v.sub(v.add(ld(s1k), d), e2)))
                put(s2k, b.select(now, g.rsget(i, r2), v.sub(v.add(ld(s2k), v.mul(d, d)), v.mul(e2, e2))))
                put(shk, b.select(now, xn, sh))

            xl = g.xget(i, F_C, P)
            slide(S_VS1, S_VS2, S_VSH, x, xl, R_V1, R_V2, restart(X_VLEFT, P))
            sdv, bbu, bbl, zs, _ = F._v_var(v, mid, ld(S_VS1), ld(S_VS2), v.sub(x, ld(S_VSH)))
            now = restart(X_WLEFT, wperiod)
            ws, ps = ld(S_WSUM), ld(S_WSUB)
            put(S_WSUM, b.select(now, g.rsget(i, R_WW), v.add(ws, v.sub(v.mul(x, v.k(fp)), ps))))
            put(S_WSUB, b.select(now, g.rsget(i, R_WS), v.add(ps, v.sub(x, xl))))
            wma = v.mul(ld(S_WSUM), v.k(inv_div))
            slide(S_QS1, S_QS2, S_QSH, g.xget(i, F_LR), g.xget(i, F_LR, P), R_Q1, R_Q2, restart(X_QLEFT, P))
            now = restart(X_VWLEFT, P)
            put(S_SPV, b.select(now, g.rsget(i, R_SPV),
                                v.sub(v.add(ld(S_SPV), g.xget(i, F_PV)), g.xget(i, F_PV, P))))
            put(S_SV, b.select(now, g.rsget(i, R_SV), v.sub(v.add(ld(S_SV), g.xget(i, F_V)), g.xget(i, F_V, P))))
            put(S_NZ, b.select(now, g.rsget(i, R_NZ), v.add(ld(S_NZ), g.xget(i, F_NZD))))
            rv, vwap = F._v_rv_vwap(v, ld(S_QS1), ld(S_QS2), ld(S_SPV), ld(S_SV), ld(S_NZ), g.xget(i, F_TP))
            return {0: mid, 2: wma, 3: sdv, 8: bbu, 9: mid, 10: bbl, 24: rv, 25: zs, 26: vwap}

        def chains(L, safe):
            with loop(_c(0), L) as (i, _):
                x = g.xget(i, F_C)
                rows = {}
                if B:
                    rows.update(chains_b(i, x, safe))
                if A:
                    rows.update(chains_a(i, x, safe))
                for k, val in rows.items():
                    g.scput(val, i, k)

        # ---- pass 5: the rows, transposed into the four symbols' outputs
        def shuf(x, y, idx):
            return b.shuffle_vector(x, y, _ir.Constant(_ir.VectorType(_I32, len(idx)),
                                                       [_ir.Constant(_I32, q) for q in idx]))

        def flush_rows(s, count, streaming):
            """Bars s .. s+count-1 of the part's rows; ``streaming``: non-temporal stores (32-byte
            aligned rows: the caller checks)."""
            whole = b.and_(count, _c(-4))
            for k in rows_out:
                rowp = [b.gep(g.op, [b.add(b.mul(b.add(b.mul(b.add(g.p0, _c(j)), _c(N_FEAT)), _c(k)), g.n), s)])
                        for j in range(W)]
                with loop(_c(0), whole, 4) as (i, _):
                    r = [g.scget(b.add(i, _c(u)), k) for u in range(4)]
                    t0 = shuf(r[0], r[1], [0, 4, 2, 6])
                    t1 = shuf(r[0], r[1], [1, 5, 3, 7])
                    t2 = shuf(r[2], r[3], [0, 4, 2, 6])
                    t3 = shuf(r[2], r[3], [1, 5, 3, 7])
                    cols = [shuf(t0, t2, [0, 1, 4, 5]), shuf(t1, t3, [0, 1, 4, 5]),
                            shuf(t0, t2, [2, 3, 6, 7]), shuf(t1, t3, [2, 3, 6, 7])]
                    for j in range(W):
                        ptr = b.bitcast(b.gep(rowp[j], [i]), g.vt.as_pointer())
                        if streaming:
                            ins = b.store(cols[j], ptr, align=32)
                            ins.set_metadata("nontemporal", b.module.add_metadata([_ir.Constant(_I32, 1)]))
                        else:
                            b.store(cols[j], ptr, align=8)
                with loop(whole, count) as (i, _):
                    r = g.scget(i, k)
                    for j in range(W):
                        b.store(b.extract_element(r, _ir.Constant(_I32, j)), b.gep(rowp[j], [i]))

        def flush(s, count):
            with b.if_else(nt) as (yes, no):
                with yes:
                    flush_rows(s, count, True)
                with no:
                    flush_rows(s, count, False)

        def flagged():
            return b.icmp_unsigned("!=", b.load(g.flag), _c(0))

        load_state(0)
        with loop(g.t0, g.t1, BLK2) as (s, _):
            e = b.add(s, _c(BLK2))
            L = b.sub(b.select(b.icmp_signed("<", e, g.t1), e, g.t1), s)
            copy_in(s, L)
            b.store(_c(0), g.flag)
            bars_pass(L, False)
            with b.if_then(flagged(), likely=False):
                bars_pass(L, True)
            if B:
                resums(L)
            save_state(1)  # the block's start state, for a run with true divisions
            b.store(_c(0), g.flag)
            chains(L, False)
            with b.if_then(flagged(), likely=False):
                load_state(1)
                chains(L, True)
            flush(s, L)
            # the block's last HIST bars: the next block's history
            with loop(_c(0), _c(HIST * NFLD)) as (j, _):
                src = b.mul(b.add(b.mul(L, _c(NFLD)), j), _c(W))
                g.vst(g.vld(g.xbp, src), g.xbp, b.mul(j, _c(W)))
        with b.if_then(nt):  # order the non-temporal stores before whatever the caller does next
            fn = cgutils.get_or_insert_function(b.module, _ir.FunctionType(_ir.VoidType(), []), "llvm.x86.sse.sfence")
            b.call(fn, [])
        save_state(0)
        if not A:
            return _c(0)
        badv = b.load(st[S_BAD])
        total = b.extract_element(badv, _ir.Constant(_I32, 0))
        for j in range(1, W):
            total = b.fadd(total, b.extract_element(badv, _ir.Constant(_I32, j)))
        return b.fptosi(total, _I64)

    return codegen


def _intrinsic(part):
    cg = _make_codegen(part)

    def lanes(typingctx, high, low, close, volume, out, ls, ix, xb, rs, sc, t0, t1, p0, nt):
        sig = types.int64(high, low, close, volume, out, ls, ix, xb, rs, sc, t0, t1, p0, nt)
        return sig, cg

    lanes.__name__ = f"lanes_features_{part}"
    lanes.__doc__ = (f"Bars ``t0 .. t1-1`` of the standard set's rows {part!r} for symbols ``p0 .. p0+3`` (see the "
                     "module docstring); ``nt`` nonzero: non-temporal stores to ``out`` (32-byte aligned rows)")
    return intrinsic(lanes)


lanes_features_a = _intrinsic("a")    # the rows PART_A
lanes_features_b = _intrinsic("b")    # the rows PART_B (one after the other, or at once on two threads)
