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

import numpy as np
from numba import carray, cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from tradejet.kernels._byaddr import native_address
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
from tradejet.strategies import indicator_lanes as IL
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


# ---------------------------------------------------------------- several pairs per vector
# The lane scratch (lane_scratch) starts with tables built once in Python from the pack's layout
# and periods, so the compiled side is a few generic loops (short to compile):
_HDR = 0        # [0] pack row length, [1..16] the offsets it was built for, [17..20] table lengths
_KC0 = 32       # the uniform constants (indicator_lanes.K_*), as the pair path computes them
_IX0 = 64       # the uniform counters (indicator_lanes.X_*): ring bases and periods fixed, the rest per block
_MAP0 = 112     # vector slot -> pack offset (indicator_lanes.S_*)
_RING0 = 160    # per ring: (pack offset, length, first lane slot)
_DYN0 = 208     # per counter that moves: (X_* index, pack offset)
_UNI0 = 240     # pack offsets every lane of a group must share (counts, positions, periods)
_STEADY0 = 304  # past the warm-ups: (pack offset a, pack offset b or -1, m, c): st[a] >= m * st[b] + c
_CNT0 = 464     # pack offsets of the bar counts (+ nb after a block in lanes)
_LS0 = 496      # then per group of pairs: [live flag, IX (the group's counters), its lane layout], then one flag per pair
_G_IX = 16      # a group's IX within its region
_G_LS = 64      # a group's lane layout within its region (indicator_lanes: slot k of lane j at k * W + j)
_W = 4          # pairs per vector (<4 x double>)
_N_RINGS = 11
_ADDR = 21       # header slots: the lanes' C function's address, a group region's length, the scratch's
_GROUP = 22
_SIZE = 23


def lane_scratch(state, off, ip, code: bool = True) -> np.ndarray:
    """The scratch array :func:`indicators_block_nb` runs groups of pairs in vector lanes with,
    for packs laid out as ``state``/``off`` with periods ``ip`` (another layout: no lanes).

    ``code=False``: without the lanes' compiled code (no compile; every pair one at a time)."""
    st = state[0] if state.shape[0] else None
    off = [int(x) for x in off]
    if st is None or int(st[off[5] + 3]) < 2:  # no pairs, or a one-bar Bollinger window: no lanes
        return np.full(_LS0, -1.0)
    o_bb, o_rv, oc, pv, o_dm = off[5], off[10], off[11], off[12], off[3]
    v_bb, v_rv = o_bb + 2, o_rv + 3
    per = {i: int(st[off[i] + 1]) for i in (0, 1, 2, 3, 4, 6, 7, 8, 9, 13, 14, 15)}
    p_bb, p_rv = int(st[v_bb + 1]), int(st[v_rv + 1])
    mom = [int(ip[IP_MOM1]), int(ip[IP_MOM2]), int(ip[IP_MOM3])]
    ringn = max(mom) + 1
    rings = [(v_bb + _VAR_SIZE, p_bb), (off[7] + 4, per[7]), (off[7] + 4 + per[7], per[7]), (off[8] + 4, per[8]),
             (off[8] + 4 + per[8], per[8]), (off[9] + 4, per[9]), (v_rv + _VAR_SIZE, p_rv), (off[13] + 4, per[13]),
             (off[14] + 4, per[14]), (off[15] + 4, per[15]), (oc + 2, ringn)]
    bases = list(np.cumsum([IL.N_SLOTS] + [c for _, c in rings])[:-1])
    total = bases[-1] + ringn
    n_pairs = state.shape[0]
    group = _G_LS + _W * total
    out = np.zeros(_LS0 + (n_pairs // _W + 1) * group + n_pairs)
    kc = out[_KC0:_IX0]
    for i, ka in ((0, IL.K_A_EF), (1, IL.K_A_ES), (2, IL.K_A_EL)):
        k = 2.0 / (float(per[i]) + 1.0)
        kc[ka], kc[ka + 1] = 1.0 - k, k
    for i, ka in ((3, IL.K_A_DM), (4, IL.K_A_RS), (6, IL.K_A_AT)):
        inv = 1.0 / per[i]
        kc[ka], kc[ka + 1] = (per[i] - 1) * inv, inv
    kc[IL.K_F_BB], kc[IL.K_INV_BB] = float(p_bb), 1.0 / p_bb
    kc[IL.K_F_VS], kc[IL.K_INV_RV] = float(per[9]), 1.0 / p_rv
    kc[IL.K_F_ST], kc[IL.K_F_SM], kc[IL.K_F_SX] = float(per[13]), float(per[14]), float(per[15])
    ix = out[_IX0:_MAP0]
    for x, v in ((IL.X_P_BB, p_bb), (IL.X_R_BB, bases[0]), (IL.X_P_MX, per[7]), (IL.X_R_CURMX, bases[1]),
                 (IL.X_R_SUFMX, bases[2]), (IL.X_P_MN, per[8]), (IL.X_R_CURMN, bases[3]), (IL.X_R_SUFMN, bases[4]),
                 (IL.X_P_VS, per[9]), (IL.X_R_VS, bases[5]), (IL.X_P_RV, p_rv), (IL.X_R_RV, bases[6]),
                 (IL.X_P_ST, per[13]), (IL.X_R_ST, bases[7]), (IL.X_P_SM, per[14]), (IL.X_R_SM, bases[8]),
                 (IL.X_P_SX, per[15]), (IL.X_R_SX, bases[9]), (IL.X_RINGN, ringn), (IL.X_R_C, bases[10]),
                 (IL.X_H1, mom[0]), (IL.X_H2, mom[1]), (IL.X_H3, mom[2])):
        ix[x] = v
    slots = {IL.S_YEF: off[0] + 2, IL.S_YES: off[1] + 2, IL.S_YEL: off[2] + 2, IL.S_PH: o_dm + 2,
             IL.S_PL: o_dm + 3, IL.S_PCDM: o_dm + 4, IL.S_PDM: o_dm + 5, IL.S_MDM: o_dm + 6, IL.S_TR: o_dm + 7,
             IL.S_ACCDM: o_dm + 8, IL.S_PXRS: off[4] + 2, IL.S_GAIN: off[4] + 3, IL.S_LOSS: off[4] + 4,
             IL.S_SBB: o_bb + 1, IL.S_SHBB: v_bb + 3, IL.S_S1BB: v_bb + 4, IL.S_S2BB: v_bb + 5,
             IL.S_PCAT: off[6] + 2, IL.S_ACCAT: off[6] + 3, IL.S_PREMX: off[7] + 3, IL.S_PREMN: off[8] + 3,
             IL.S_SVS: off[9] + 2, IL.S_SHRV: v_rv + 3, IL.S_S1RV: v_rv + 4, IL.S_S2RV: v_rv + 5,
             IL.S_SST: off[13] + 2, IL.S_SSM: off[14] + 2, IL.S_SSX: off[15] + 2, IL.S_PEF: pv + 0,
             IL.S_PES: pv + 1, IL.S_PHI: pv + 2, IL.S_PLO: pv + 3, IL.S_PVS: pv + 4, IL.S_NBDEV: o_bb,
             IL.S_SCALE: o_rv + 1}
    assert sorted(slots) == list(range(IL.N_SLOTS))
    for k, o in slots.items():
        out[_MAP0 + k] = o
    for r, ((src, count), b) in enumerate(zip(rings, bases)):
        out[_RING0 + 3 * r:_RING0 + 3 * r + 3] = (src, count, b)
    dyn = [(IL.X_POS_BB, v_bb + 6), (IL.X_LEFT_BB, v_bb + 2), (IL.X_POS_MX, off[7] + 2), (IL.X_POS_MN, off[8] + 2),
           (IL.X_POS_VS, off[9] + 3), (IL.X_POS_RV, v_rv + 6), (IL.X_LEFT_RV, v_rv + 2),
           (IL.X_POS_ST, off[13] + 3), (IL.X_POS_SM, off[14] + 3), (IL.X_POS_SX, off[15] + 3),
           (IL.X_COUNT, oc), (IL.X_POS_C, oc + 1)]
    for d, (x, o) in enumerate(dyn):
        out[_DYN0 + 2 * d:_DYN0 + 2 * d + 2] = (x, o)
    counts = [off[i] for i in (0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 13, 14, 15)] + [v_bb, v_rv]
    uniform = counts + [o for _, o in dyn] + [off[i] + 1 for i in per] + [v_bb + 1, v_rv + 1]
    # (a, b, m, c): st[a] >= m * st[b] + c (b = -1: st[a] >= c; b = -2: st[a] == c, the periods of the tables)
    steady = [(off[i], off[i] + 1, 1.0, 0.0) for i in (0, 1, 2)]            # EMAs past their seed
    steady += [(o_dm, o_dm + 1, 2.0, 0.0), (off[4], off[4] + 1, 1.0, 1.0), (off[6], off[6] + 1, 1.0, 1.0)]
    steady += [(v_bb, v_bb + 1, 1.0, -1.0), (o_rv, -1, 0.0, 1.0), (v_rv, v_rv + 1, 1.0, -1.0), (oc, -1, 0.0, ringn - 1)]
    steady += [(off[i], off[i] + 1, 1.0, -1.0) for i in (7, 8, 9, 13, 14, 15)]
    steady += [(off[i] + 1, -2, 0.0, float(v)) for i, v in per.items()]
    steady += [(v_bb + 1, -2, 0.0, float(p_bb)), (v_rv + 1, -2, 0.0, float(p_rv))]
    assert len(uniform) <= _STEADY0 - _UNI0 and 4 * len(steady) <= _CNT0 - _STEADY0 and len(counts) <= _LS0 - _CNT0
    for i, o in enumerate(uniform):
        out[_UNI0 + i] = o
    for i, row in enumerate(steady):
        out[_STEADY0 + 4 * i:_STEADY0 + 4 * i + 4] = row
    for i, o in enumerate(counts):
        out[_CNT0 + i] = o
    out[_HDR] = state.shape[1]
    out[_HDR + 1:_HDR + 17] = off
    out[_HDR + 17:_HDR + 21] = (len(uniform), len(steady), len(counts), total)
    out[_HDR + _ADDR] = float(_lanes_address()) if code else 0.0
    out[_HDR + _GROUP] = group
    out[_HDR + _SIZE] = out.shape[0]
    return out


_LANES_C_SIG = types.void(
    types.CPointer(types.float64), types.int64, types.int64,     # state, its shape
    types.CPointer(types.int64),                                 # off (16)
    types.CPointer(types.float64), types.CPointer(types.float64),
    types.CPointer(types.float64), types.CPointer(types.float64),  # H, L, C, V
    types.int64, types.int64,                                    # their shape (T, n)
    types.voidptr,                                               # have (T, n) booleans
    types.int64, types.int64,                                    # t0, t1
    types.CPointer(types.float64), types.int64,                  # ivb, its rows
    types.CPointer(types.float64), types.int64,                  # lanes, its length
    types.CPointer(types.float64), types.int64)                  # the log returns (T, n), their rows (0: none)


def _lanes_c(sp, n_pairs, row, op, hp, lp, cp, vp, T, n, havep, t0, t1, ivbp, rows, lsp, size, lrp, lr_rows):
    """Run each group of four pairs in lockstep (:func:`_lockstep_nb`) over the block in vector
    lanes (gather the packs into the lane layout, :func:`indicator_lanes.lanes_block_4`, scatter
    back) and flag its pairs done in ``lanes``' last ``n`` values (1.0); the others 0.0.

    A C function (compiled by :func:`_lanes_address`) over the arrays' data and shapes, which
    :func:`indicators_block_nb` has checked (C-contiguous, consistent shapes)."""
    state = carray(sp, (n_pairs, row))
    off = carray(op, (16,))
    H = carray(hp, (T, n))
    L = carray(lp, (T, n))
    C = carray(cp, (T, n))
    V = carray(vp, (T, n))
    have = carray(havep, (T, n), np.bool_)
    ivb = carray(ivbp, (rows, n, N_IV))
    lanes = carray(lsp, (size,))
    LR = carray(lrp, (lr_rows, n))
    done = lanes[size - n:]
    gsize = int(lanes[_HDR + _GROUP])
    p = np.int64(0)  # int64, not literals: one compile of each helper
    while p + 2 <= n:  # groups of four, then one of two
        w = np.int64(_W) if p + _W <= n else np.int64(2)
        g = _LS0 + (p // _W) * gsize
        ix = lanes[g + _G_IX:g + _G_LS]
        ls = lanes[g + _G_LS:g + gsize]
        live = lanes[g] == 1.0  # the group's lanes hold its packs (the packs themselves are behind)
        if t1 <= t0:  # an empty block: bring the packs up to date
            if live:
                _ungroup(state, lanes, ix, ls, p, w)
                lanes[g] = 0.0
            p += w
            continue
        if live:
            for t in range(t0, t1):
                for j in range(w):
                    live = live and have[t, p + j]
            if not live:  # a bar missing: the pair path takes over from the packs
                _ungroup(state, lanes, ix, ls, p, w)
                lanes[g] = 0.0
        elif _lockstep_nb(state, off, have, p, w, t0, t1, lanes):
            _group(state, lanes, ix, ls, p, w)
            lanes[g] = 1.0
            live = True
        if live:
            use_lr = _log_returns(state, off, C, t0, t1, ivb, p, w, LR)
            if w == _W:
                IL.lanes_block_4(ls, lanes[_KC0:_IX0], ix, H, L, C, V, ivb, t0, t1, n, p, LR, use_lr)
            else:
                IL.lanes_block_2(ls, lanes[_KC0:_IX0], ix, H, L, C, V, ivb, t0, t1, n, p, LR, use_lr)
            for j in range(w):  # the block's bars onto every count (every pair had every bar)
                done[p + j] = 1.0
                for i in range(int(lanes[_HDR + 19])):
                    state[p + j, int(lanes[_CNT0 + i])] += t1 - t0
        p += w


@njit(cache=True, error_model="numpy", _nrt=False)
def _log_returns(state, off, C, t0, t1, ivb, p, w, LR):
    """The log returns of pairs ``p .. p+w-1`` for the lanes; returns True when they read them
    from ``LR`` itself, False when this put them (log_return_value, as the pair path) lane j's into
    slot j of the group's first row, where the lanes read them as one vector.

    ``LR`` (``(T, n)``, or no rows) holds the same logarithms from the bar context
    (``log(close / the pair's previous close)``): the lanes read it when every pack's previous
    close is the close of bar ``t0 - 1`` (each pair here has every bar of the block), so each
    value is the one this function would compute; the block's first values are checked against
    its own (an ``LR`` of other bars is not used). The packs' previous closes move on either way."""
    o_rv = off[10]
    use = LR.shape[0] == C.shape[0] and t0 >= 1
    for j in range(w):
        q = p + j
        px = state[q, o_rv + 2]
        use = use and C[t0 - 1, q] == px and LR[t0, q] == log_return_value(C[t0, q], px)
    for j in range(w):
        q = p + j
        px = state[q, o_rv + 2]
        if not use:
            for t in range(t0, t1):
                c = C[t, q]
                ivb[t - t0, p, j] = log_return_value(c, px)
                px = c
        state[q, o_rv + 2] = C[t1 - 1, q]
    return use


@njit(cache=True, error_model="numpy", _nrt=False)
def _group(state, lanes, ix, ls, p, w):
    """Gather pairs ``p .. p+w-1``'s packs into their group's lanes: the counters (the fixed ones,
    and lane 0's moving ones: all lanes share them), the vector slots, the rings."""
    for x in range(_MAP0 - _IX0):
        ix[x] = lanes[_IX0 + x]
    for d in range(12):
        ix[int(lanes[_DYN0 + 2 * d])] = state[p, int(lanes[_DYN0 + 2 * d + 1])]
    for j in range(w):
        sj = state[p + j]
        for slot in range(IL.N_SLOTS):
            ls[slot * w + j] = sj[int(lanes[_MAP0 + slot])]
        for r in range(_N_RINGS):
            src = int(lanes[_RING0 + 3 * r])
            b0 = int(lanes[_RING0 + 3 * r + 2])
            for i in range(int(lanes[_RING0 + 3 * r + 1])):
                ls[(b0 + i) * w + j] = sj[src + i]


@njit(cache=True, error_model="numpy", _nrt=False)
def _ungroup(state, lanes, ix, ls, p, w):
    """Scatter a group's lanes back to its packs (the moving counters, vector slots, rings)."""
    for j in range(w):
        sj = state[p + j]
        for d in range(12):
            sj[int(lanes[_DYN0 + 2 * d + 1])] = ix[int(lanes[_DYN0 + 2 * d])]
        for slot in range(IL.N_SLOTS):
            sj[int(lanes[_MAP0 + slot])] = ls[slot * w + j]
        for r in range(_N_RINGS):
            src = int(lanes[_RING0 + 3 * r])
            b0 = int(lanes[_RING0 + 3 * r + 2])
            for i in range(int(lanes[_RING0 + 3 * r + 1])):
                sj[src + i] = ls[(b0 + i) * w + j]


_LANES_CFUNC = []


def _lanes_address() -> int:
    """The address of the lanes' compiled code, a C function (``_lanes_c``), compiled (or loaded
    from the cache) on first use. The indicator block calls it through this address rather than
    linking it: Numba links a callee's code into every caller's module and optimizes and emits it
    again there (the driver's too), so a linked callee costs its compile time once per level."""
    if not _LANES_CFUNC:
        _LANES_CFUNC.append(cfunc(_LANES_C_SIG, cache=True, error_model="numpy")(_lanes_c))
    return _LANES_CFUNC[0].address


@intrinsic
def _call_lanes(typingctx, addr, state, off, H, L, C, V, have, t0, t1, ivb, lanes, LR):
    """Call the C function at ``addr`` (a float64 holding :func:`_lanes_address`) with the arrays'
    data pointers and shapes (all C-contiguous: the caller checks)."""
    sig = types.void(addr, state, off, H, L, C, V, have, t0, t1, ivb, lanes, LR)

    def codegen(context, builder, signature, args):
        ir = cgutils.ir
        i64 = ir.IntType(64)
        arrs = {}
        for i in (1, 2, 3, 4, 5, 6, 7, 10, 11, 12):
            arrs[i] = context.make_array(signature.args[i])(context, builder, args[i])

        def data(i, ty):
            return builder.bitcast(arrs[i].data, ty)

        def dim(i, k):
            return cgutils.unpack_tuple(builder, arrs[i].shape)[k]

        f64p = ir.DoubleType().as_pointer()
        argv = [data(1, f64p), dim(1, 0), dim(1, 1), data(2, i64.as_pointer()), data(3, f64p), data(4, f64p),
                data(5, f64p), data(6, f64p), dim(5, 0), dim(5, 1), data(7, ir.IntType(8).as_pointer()),
                args[8], args[9], data(10, f64p), dim(10, 0), data(11, f64p), dim(11, 0), data(12, f64p), dim(12, 0)]
        fnty = ir.FunctionType(ir.VoidType(), [a.type for a in argv])
        fp = builder.inttoptr(builder.fptosi(args[0], i64), fnty.as_pointer())
        builder.call(fp, argv)
        return context.get_dummy_value()

    return sig, codegen


@jit_inline
def _rows(a, n):
    """A C-contiguous (T, n) float64 array (what the lanes' vector loads assume)."""
    return a.shape[1] == n and a.strides[1] == 8 and a.strides[0] == 8 * n


@njit(cache=True, error_model="numpy", _nrt=False)
def _lockstep_nb(state, off, have, p0, w, t0, t1, lanes):
    """True when pairs ``p0 .. p0+w-1`` (w <= 4) can run the block in vector lanes: the scratch built
    for this layout, every bar present, the packs at the same counts and ring positions, with
    the periods of the scratch's tables, and past every warm-up (the steps' steady branch)."""
    if lanes.shape[0] < _LS0 or lanes[_HDR] != state.shape[1] or lanes[_HDR + _SIZE] != lanes.shape[0]:
        return False
    for i in range(16):
        if lanes[_HDR + 1 + i] != off[i]:
            return False
    for t in range(t0, t1):
        for j in range(w):
            if not have[t, p0 + j]:
                return False
    for i in range(int(lanes[_HDR + 17])):
        k = int(lanes[_UNI0 + i])
        x = state[p0, k]
        for j in range(1, w):
            if state[p0 + j, k] != x:
                return False
    for i in range(int(lanes[_HDR + 18])):
        r = _STEADY0 + 4 * i
        x = state[p0, int(lanes[r])]
        b = int(lanes[r + 1])
        if b == -2:
            if x != lanes[r + 3]:
                return False
        elif x < lanes[r + 3] + (lanes[r + 2] * state[p0, b] if b >= 0 else 0.0):
            return False
    return True


@njit(cache=True, error_model="numpy", _nrt=False)
def indicators_block_nb(state, off, ip, O, H, L, C, V, have, t0, t1, ivb, iv, lanes, LR):
    """Advance every pair's pack over bars ``t0 <= t < t1`` (rows of the ``(T, n)`` bar arrays).

    Writes ``ivb[t - t0, p]`` = pair ``p``'s ``IV_*`` row after bar ``t`` (``ivb``: at least
    ``(t1 - t0, n, N_IV)``); ``iv`` ``(n, N_IV)`` holds the rows before ``t0`` (repeated over
    a pair's missing bars) and is not written. ``lanes`` is scratch from :func:`lane_scratch`:
    groups of four pairs in lockstep run in vector lanes
    (:mod:`tradejet.strategies.indicator_lanes`), the others one pair at a time; same bits.

    A group in lanes keeps its packs in the scratch from one block to the next (no copies per
    block): the packs in ``state`` are behind until a block the group cannot run in lanes, or an
    empty block (``t1 == t0``), which brings them up to date. So: call it with an empty block
    before reading or changing ``state`` between calls, and do not share a scratch between packs.

    ``LR``: the bars' log returns from the bar context (``(T, n)``, each pair's over its own
    bars: :func:`tradejet.engine.driver.bar_context_nb`), which the lanes take instead of
    computing the same logarithms; an array with no rows: they compute them.

    Returns the number of bars advanced, ``t1 - t0``.
    """
    n = C.shape[1]
    # the lanes' C function: its scratch for these packs, and the arrays as it reads them (C order)
    lanes_ok = (lanes.shape[0] >= _LS0 + n and lanes[_HDR + _ADDR] > 0.0 and lanes[_HDR + _SIZE] == lanes.shape[0]
                and lanes.strides[0] == 8 and state.shape[0] == n and state.strides[1] == 8
                and state.strides[0] == 8 * state.shape[1] and off.shape[0] >= 16 and off.strides[0] == 8)
    done = lanes[lanes.shape[0] - n:] if lanes_ok else lanes[:0]  # 1.0: the pair ran in lanes
    for q in range(done.shape[0]):
        done[q] = 0.0
    if lanes_ok:
        if (_rows(H, n) and _rows(L, n) and _rows(C, n) and _rows(V, n) and have.shape[1] == n
                and have.strides[1] == 1 and have.strides[0] == n and ivb.shape[1] == n and ivb.shape[2] == N_IV
                and ivb.strides[2] == 8 and ivb.strides[1] == 8 * N_IV and ivb.strides[0] == 8 * N_IV * n
                and H.shape[0] == have.shape[0] and L.shape[0] == H.shape[0] and C.shape[0] == H.shape[0]
                and V.shape[0] == H.shape[0] and t0 >= 0 and t1 <= H.shape[0] and t1 - t0 <= ivb.shape[0]):
            lr = LR if LR.shape[0] == H.shape[0] and _rows(LR, n) else LR[:0]
            _call_lanes(lanes[_HDR + _ADDR], state, off, H, L, C, V, have, t0, t1, ivb, lanes, lr)
        else:  # an empty block for the lanes: they hand the packs back to the pair path
            _call_lanes(lanes[_HDR + _ADDR], state, off, H, L, C, V, have, t0, t0, ivb, lanes, LR[:0])
    # the other pairs one at a time (any bars, any state)
    for p in range(n):
        if done.shape[0] == n and done[p] == 1.0:
            continue
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
        # the logs in a short loop of its own instead of the long one, whose live values their
        # branches and rare C-library call make the compiler spill and reload around them
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
    return t1 - t0


def block_types(state, off, ip, O, H, L, C, V, have, ivb, iv, lanes, LR) -> tuple:
    """The Numba types of :func:`indicators_block_nb`'s arguments (the block's bounds int64)."""
    from numba import typeof

    T = typeof
    return (T(state), T(off), T(ip), T(O), T(H), T(L), T(C), T(V), T(have), types.int64, types.int64, T(ivb), T(iv),
            T(lanes), T(LR))


def block_address(tys) -> np.ndarray:
    """``[address, key]`` of :func:`indicators_block_nb` compiled (or loaded from Numba's cache) for
    the argument types ``tys`` (:func:`block_types`), for
    :func:`tradejet.kernels._byaddr.call_i64`: the compiled driver calls it through its address
    (linked, the driver's compile optimized and emitted it again, ~0.4 s of a cold start)."""
    return native_address(indicators_block_nb, tys)
