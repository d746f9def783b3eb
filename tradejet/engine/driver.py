"""The compiled driver: one ``@njit`` loop over every bar of every symbol.

Per bar ``t`` (one cross-section of the universe):

1. working orders are filled against bar ``t`` by the shared fill model
   (:func:`tradejet.kernels.fills.fill_bar_nb`) and booked with
   :func:`tradejet.engine.step.on_fill_nb`; a market order still unfilled after
   ``max_order_bars`` bars is cancelled;
2. :func:`tradejet.engine.step.step_nb` runs the decision path on bar ``t`` (its indicator
   part advanced for a block of bars ahead by
   :func:`tradejet.strategies.indicator_block.indicators_block_nb`, the same values, then
   :func:`tradejet.engine.step.decide_nb`);
3. accepted intents become working orders, ready at bar ``t + 1 + latency`` (by default
   they fill at the next bar's open).

No Python runs per bar. The event driver does the same three things per bar with an
adapter in between, which is why a backtest and a paper run over the same bars make
the same decisions.

How the loop reaches its two big callees: the indicator block and the decision step are
called through their compiled addresses (:mod:`tradejet.kernels._byaddr`, found once per
run by :func:`run_args`), not linked into the driver, so compiling the driver neither waits
for them nor optimizes their code again. Within a block of ``IND_BLOCK`` bars the decision
step reads the block's indicator row in place (``ctx`` with its ``iv`` field set to the row);
``ctx.iv`` itself is brought up to date at each block's end and at the end of the call.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from tradejet.kernels._byaddr import call_i64
from tradejet.kernels.codes import Fill, OrderType
from tradejet.kernels.fills import BAR, N_BAR, N_ORD, ORD, fill_bar_nb, market_context_lr_into_nb
from tradejet.kernels.portfolio import ACC_CASH
from tradejet.kernels.portrisk import portfolio_on
from tradejet.engine.step import (
    INFO_ACTIVE,
    INFO_EQUITY,
    INFO_REGIME,
    INFO_TRADING_STATE,
    OUT_CODE,
    OUT_PAIR,
    OUT_PRICE,
    OUT_QTY,
    OUT_REASON,
    OUT_RESERVED,
    OUT_SIDE,
    OUT_STRATEGY,
    OUT_TYPE,
    decide_address,
    decide_types,
    on_fill_nb,
    on_order_done_nb,
)
from tradejet.strategies.base import N_IV
from tradejet.strategies.indicator_block import block_address, block_types, lane_scratch
from tradejet.kernels.codes import Reject

# working-order bookkeeping beside the fill model's ORD row
WK_ACTIVE = 0
WK_PAIR = 1
WK_STRATEGY = 2
WK_RESERVED = 3     # cash still reserved by the order
WK_ID = 4
WK_SUBMIT_BAR = 5
WK_REASON = 6
N_WK = 7

# fills log columns
FL_BAR = 0
FL_PAIR = 1
FL_STRATEGY = 2
FL_SIDE = 3
FL_QTY = 4
FL_PRICE = 5
FL_FEE = 6
FL_PNL = 7
FL_ORDER = 8
FL_REGIME = 9
N_FL = 10

# orders log columns (every intent, accepted or not)
OL_BAR = 0
OL_PAIR = 1
OL_STRATEGY = 2
OL_SIDE = 3
OL_QTY = 4
OL_PRICE = 5
OL_REASON = 6
OL_CODE = 7
OL_ORDER = 8
N_OL = 9

# run status
RUN_OK = 0
RUN_ORDERS_FULL = 1   # more working orders than slots: later intents were dropped (counted)
RUN_BAD_CALL = 2      # a kernel called through its address was compiled for other argument types: stopped

IND_BLOCK = 512       # bars of indicators advanced at once, ahead of the decisions


def run_nb(ctx, ts, O, H, L, C, V, have, scores, bar_ctx, pair_rows, cfg, latency_bars, max_order_bars,
           intents, out, work, wk, fills_log, orders_log, equity, cash, regime, active, tstate, counters, t0, t1,
           lanes=True, callees=None, log_returns=None):
    """Run bars ``t0 <= t < t1`` in place; call again with the next range to continue.

    ``counters`` carries the run between calls: [fills, orders logged, dropped, next order id,
    working orders]. With no portfolio limit set, ``ctx.port_cov`` / ``ctx.port_vec`` are not
    advanced (no decision reads them; the report's risk section replays its own estimate).

    ``callees``: the addresses of the kernels the driver calls (see :func:`run_args`), found
    again per call when not given.

    A Python function: it allocates the loop's two scratch arrays and calls the compiled
    :func:`run_bars_nb` (an ``@njit`` wrapper around it would be one more compile of the
    whole driver, ~1.5 s of a cold start, for two allocations per chunk). ``lanes=False``: the
    indicators one pair at a time, without compiling their vector lanes (the driver calls that code
    through its address, so compiling the driver does not need it).
    """
    args = run_args(ctx, ts, O, H, L, C, V, have, scores, bar_ctx, pair_rows, cfg, latency_bars, max_order_bars,
                    intents, out, work, wk, fills_log, orders_log, equity, cash, regime, active, tstate, counters, t0,
                    t1, lanes, True if callees is None else callees, log_returns)
    status = run_bars_nb(*args)
    if status == RUN_BAD_CALL:
        raise RuntimeError("the driver's indicator block or decision step was compiled for other argument types")
    return status


def run_args(ctx, ts, O, H, L, C, V, have, scores, bar_ctx, pair_rows, cfg, latency_bars, max_order_bars,
             intents, out, work, wk, fills_log, orders_log, equity, cash, regime, active, tstate, counters, t0, t1,
             lanes=True, callees=True, log_returns=None) -> tuple:
    """The arguments of :func:`run_bars_nb` for :func:`run_nb`'s: the two scratch arrays, the
    lanes' scratch and the addresses of the indicator block and the decision step, which the
    driver calls without linking them (:mod:`tradejet.kernels._byaddr`). ``callees=False``: zero
    addresses, for compiling the driver before (or without) compiling them; it refuses to call
    them. ``callees`` may also be the two addresses from an earlier call for the same types
    (``run_args(...)[-2:]``: finding them costs ~0.4 ms, a chunk of bars ~1 ms).
    ``log_returns``: the bars' log returns from the bar context, ``(T, n)``
    (:func:`bar_context_nb`'s ``lr``), for the indicators' vector lanes; without them
    (``None``) the lanes take the logarithms themselves, the same values."""
    bar = np.empty(N_BAR)
    ivb = np.empty((min(IND_BLOCK, max(1, t1 - t0)), C.shape[1], N_IV))
    scratch = lane_scratch(ctx.ind_state, ctx.ind_off, ctx.ind_params, code=lanes)
    LR = np.empty((0, C.shape[1])) if log_returns is None else log_returns
    if isinstance(callees, tuple):
        ind, dec = callees
    elif callees:
        ind = block_address(block_types(ctx.ind_state, ctx.ind_off, ctx.ind_params, O, H, L, C, V, have, ivb, ctx.iv,
                                        scratch, LR))
        dec = decide_address(decide_types(ctx, ts, C, have, scores, intents, out))
    else:
        ind = dec = np.zeros(2, np.int64)
    return (ctx, ts, O, H, L, C, V, have, scores, bar_ctx, pair_rows, cfg, latency_bars, max_order_bars, intents, out,
            work, wk, fills_log, orders_log, equity, cash, regime, active, tstate, counters, t0, t1, bar, ivb, scratch,
            LR, ind, dec)


@intrinsic
def _copy_flat(typingctx, src, dst, count):
    """``dst.flat[:count] = src.flat[:count]`` for C-contiguous float64 arrays that do not overlap
    (an LLVM memcpy: Numba's own loop cannot assume the two arrays apart and copies one float at a time)."""
    sig = types.void(src, dst, count)

    def codegen(context, builder, signature, args):
        s = context.make_array(signature.args[0])(context, builder, args[0]).data
        d = context.make_array(signature.args[1])(context, builder, args[1]).data
        cgutils.raw_memcpy(builder, d, s, args[2], 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _with_iv(typingctx, ctx, iv):
    """``ctx`` with its ``iv`` field set to ``iv`` (a value of the same type): the same arrays
    otherwise, nothing copied (the decision step reads the indicator block's row in place)."""
    if not isinstance(ctx, types.BaseNamedTuple) or "iv" not in ctx.fields:
        return None
    k = ctx.fields.index("iv")
    if iv != ctx.types[k]:
        return None

    def codegen(context, builder, signature, args):
        return builder.insert_value(args[0], args[1], k)

    return ctx(ctx, iv), codegen


# the loop allocates nothing (run_nb does): compiled without reference counting, so the views it
# takes per bar and the arrays it passes to the per-bar kernels cost no atomic operations
@njit(cache=True, error_model="numpy", _nrt=False)
def run_bars_nb(ctx, ts, O, H, L, C, V, have, scores, bar_ctx, pair_rows, cfg, latency_bars, max_order_bars,
                intents, out, work, wk, fills_log, orders_log, equity, cash, regime, active, tstate, counters, t0, t1,
                bar, ivb, lanes, LR, ind, dec):
    n_fills = counters[0]
    n_orders = counters[1]
    dropped = counters[2]
    next_id = counters[3]
    n_work = counters[4]
    n_pairs = C.shape[1]
    # the covariance is read only by the portfolio limits (the report replays its own)
    update_cov = portfolio_on(ctx.port_params)
    status = RUN_OK
    cur = ctx  # ctx, its iv the indicator row of the last bar decided (see step 2)
    tb = t0
    te = t0
    for t in range(t0, t1):
        if t == te:  # indicators do not depend on decisions: advance the next block of bars
            if t > t0:  # the previous block's last row: what the next block starts from (and fills read)
                _copy_flat(ivb[t - 1 - tb], ctx.iv, n_pairs * N_IV)
                cur = ctx
            tb = t
            te = min(t1, t + IND_BLOCK)
            if call_i64(ind, (ctx.ind_state, ctx.ind_off, ctx.ind_params, O, H, L, C, V, have, tb, te, ivb, ctx.iv,
                              lanes, LR)) < 0:
                status = RUN_BAD_CALL  # ind is the block compiled for other argument types (run_args builds it)
                break
        # 1. fills of working orders against this bar (active orders are kept, in submission
        #    order, in slots 0..n_work-1: the same order the event driver sees them in)
        k = 0
        while k < n_work:
            p = int(wk[k, WK_PAIR])
            s = int(wk[k, WK_STRATEGY])
            side = int(work[k, ORD.SIDE])
            done = False
            if have[t, p]:
                for j in range(N_BAR):
                    bar[j] = bar_ctx[p, t, j]
                before = work[k, ORD.FILLED]
                q, price, fee, code = fill_bar_nb(work[k], t, bar, pair_rows[p], cfg)
                if q > 0.0:
                    left = work[k, ORD.QTY] - before
                    release = wk[k, WK_RESERVED] * (q / left) if left > 0.0 else wk[k, WK_RESERVED]
                    if code == Fill.FILLED:
                        release = wk[k, WK_RESERVED]
                    wk[k, WK_RESERVED] -= release
                    pnl = on_fill_nb(cur, s, p, side, q, price, fee, ts[t], release)  # iv: the last bar's row
                    if n_fills < fills_log.shape[0]:
                        fills_log[n_fills, FL_BAR] = t
                        fills_log[n_fills, FL_PAIR] = p
                        fills_log[n_fills, FL_STRATEGY] = s
                        fills_log[n_fills, FL_SIDE] = side
                        fills_log[n_fills, FL_QTY] = q
                        fills_log[n_fills, FL_PRICE] = price
                        fills_log[n_fills, FL_FEE] = fee
                        fills_log[n_fills, FL_PNL] = pnl
                        fills_log[n_fills, FL_ORDER] = wk[k, WK_ID]
                        fills_log[n_fills, FL_REGIME] = ctx.info[INFO_REGIME]
                    n_fills += 1
                if code == Fill.FILLED or code >= Fill.REJECT_QTY:
                    on_order_done_nb(ctx, s, p, side, work[k, ORD.QTY] - work[k, ORD.FILLED], wk[k, WK_RESERVED])
                    done = True
            if not done and work[k, ORD.TYPE] == OrderType.MARKET and t - wk[k, WK_SUBMIT_BAR] > max_order_bars:
                work[k, ORD.STATUS] = Fill.CANCELLED
                on_order_done_nb(ctx, s, p, side, work[k, ORD.QTY] - work[k, ORD.FILLED], wk[k, WK_RESERVED])
                done = True
            if done:  # close the gap, keeping submission order
                for m in range(k + 1, n_work):
                    for j in range(N_ORD):
                        work[m - 1, j] = work[m, j]
                    for j in range(N_WK):
                        wk[m - 1, j] = wk[m, j]
                n_work -= 1
                wk[n_work, WK_ACTIVE] = 0.0
            else:
                k += 1

        # 2. decide (step_nb's decision part, on this bar's indicator row of the block)
        # the block's row of every pair (a pair without this bar has its previous row repeated
        # there, which is what ctx.iv would hold for it), read in place: cur is ctx with its iv
        # field set to the row (no copy per bar; ctx.iv itself is brought up to date per block)
        cur = _with_iv(ctx, ivb[t - tb])
        n = call_i64(dec, (cur, ts[t], C[t], have[t], scores[t], intents, out, update_cov))
        if n < 0:  # dec is decide_nb compiled for other argument types
            status = RUN_BAD_CALL
            break

        # 3. accepted intents become working orders
        for i in range(n):
            oid = -1
            if out[i, OUT_CODE] == Reject.OK:
                slot = n_work if n_work < work.shape[0] else -1
                if slot < 0:
                    dropped += 1
                    on_order_done_nb(ctx, int(out[i, OUT_STRATEGY]), int(out[i, OUT_PAIR]), int(out[i, OUT_SIDE]),
                                     out[i, OUT_QTY], out[i, OUT_RESERVED])
                else:
                    oid = next_id
                    next_id += 1
                    w = work[slot]
                    for j in range(N_ORD):
                        w[j] = 0.0
                    w[ORD.SIDE] = out[i, OUT_SIDE]
                    w[ORD.TYPE] = out[i, OUT_TYPE]
                    w[ORD.QTY] = out[i, OUT_QTY]
                    w[ORD.PRICE] = out[i, OUT_PRICE] if out[i, OUT_TYPE] != OrderType.MARKET else np.nan
                    w[ORD.PRICE2] = np.nan
                    w[ORD.READY_BAR] = t + 1 + latency_bars
                    w[ORD.AVG_PRICE] = np.nan
                    w[ORD.STATUS] = Fill.NONE
                    wk[slot, WK_ACTIVE] = 1.0
                    wk[slot, WK_PAIR] = out[i, OUT_PAIR]
                    wk[slot, WK_STRATEGY] = out[i, OUT_STRATEGY]
                    wk[slot, WK_RESERVED] = out[i, OUT_RESERVED]
                    wk[slot, WK_ID] = oid
                    wk[slot, WK_SUBMIT_BAR] = t
                    wk[slot, WK_REASON] = out[i, OUT_REASON]
                    n_work += 1
            if n_orders < orders_log.shape[0]:
                orders_log[n_orders, OL_BAR] = t
                orders_log[n_orders, OL_PAIR] = out[i, OUT_PAIR]
                orders_log[n_orders, OL_STRATEGY] = out[i, OUT_STRATEGY]
                orders_log[n_orders, OL_SIDE] = out[i, OUT_SIDE]
                orders_log[n_orders, OL_QTY] = out[i, OUT_QTY]
                orders_log[n_orders, OL_PRICE] = out[i, OUT_PRICE]
                orders_log[n_orders, OL_REASON] = out[i, OUT_REASON]
                orders_log[n_orders, OL_CODE] = out[i, OUT_CODE]
                orders_log[n_orders, OL_ORDER] = oid
            n_orders += 1

        equity[t] = ctx.info[INFO_EQUITY]
        cash[t] = ctx.account[ACC_CASH]
        regime[t] = ctx.info[INFO_REGIME]
        active[t] = ctx.info[INFO_ACTIVE]
        tstate[t] = ctx.info[INFO_TRADING_STATE]
    if t1 > t0 and status == RUN_OK:  # ctx.iv: the last bar's row, for the next call and the caller
        _copy_flat(ivb[t1 - 1 - tb], ctx.iv, n_pairs * N_IV)
    # an empty block: the indicator groups that ran in vector lanes hand their packs back
    if call_i64(ind, (ctx.ind_state, ctx.ind_off, ctx.ind_params, O, H, L, C, V, have, t1, t1, ivb, ctx.iv,
                      lanes, LR)) < 0:
        status = RUN_BAD_CALL
    counters[0] = n_fills
    counters[1] = n_orders
    counters[2] = dropped
    counters[3] = next_id
    counters[4] = n_work
    if status == RUN_OK and dropped:
        status = RUN_ORDERS_FULL
    return status


@njit(cache=True)
def bar_context_nb(O, H, L, C, V, spread_window, vol_window, out, lr):
    """Fill ``out`` (n_pairs, T, N_BAR) with each pair's bars and causal cost estimates, and
    ``lr`` ((T, n_pairs), or no rows: not written) with each pair's log returns over its own bars
    (``log(close / the pair's previous close)``, NaN on its first bar and where it has no bar).

    Bars a pair does not have (NaN) are skipped by the estimates: each pair's estimates
    run over its own bars only.
    """
    T, n = C.shape
    keep_lr = lr.shape[0] == T and lr.shape[1] == n
    idx = np.empty(T, np.int64)
    o = np.empty(T)
    h = np.empty(T)
    lo = np.empty(T)
    c = np.empty(T)
    v = np.empty(T)
    r = np.empty(T)
    for p in range(n):
        m = 0
        for t in range(T):
            if C[t, p] == C[t, p]:
                idx[m] = t
                o[m] = O[t, p]
                h[m] = H[t, p]
                lo[m] = L[t, p]
                c[m] = C[t, p]
                v[m] = V[t, p]
                m += 1
        if m == T:  # every bar present (the usual case): straight into the pair's rows
            market_context_lr_into_nb(o, h, lo, c, v, spread_window, vol_window, out[p], r)
            if keep_lr:
                for t in range(T):
                    lr[t, p] = r[t]
            continue
        ctx = np.empty((m, N_BAR))
        market_context_lr_into_nb(o[:m], h[:m], lo[:m], c[:m], v[:m], spread_window, vol_window, ctx, r[:m])
        for t in range(T):
            for j in range(N_BAR):
                out[p, t, j] = np.nan
        for i in range(m):
            for j in range(N_BAR):
                out[p, idx[i], j] = ctx[i, j]
        if keep_lr:
            for t in range(T):
                lr[t, p] = np.nan
            for i in range(m):
                lr[idx[i], p] = r[i]
    return out


_ = BAR  # the BAR layout is the contract of bar_context_nb's rows
