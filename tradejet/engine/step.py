"""The step: the decision logic of one bar, written once and driven two ways.

``step_nb(ctx, ts, open, high, low, close, volume, have_bar, scores, intents, out)``
takes one cross-section of bars (one per pair; ``have_bar[p]`` False where a pair has
no bar at this time) and runs the whole decision path:

1. indicator packs updated (streaming kernels), marks set to the closes;
2. breadth and the regime on the proxy (:mod:`tradejet.kernels.regime`);
3. the trading state of the downtime schedule (:mod:`tradejet.kernels.schedule`);
4. equity, the drawdown breaker;
5. the selector: at most two active strategies and their capital shares;
6. each strategy with a status other than INACTIVE (or holding positions) runs its step
   kernel by integer code and writes intents;
7. every intent goes through the risk checks (:func:`tradejet.kernels.risk.check_intent_nb`,
   then the portfolio limits of :mod:`tradejet.kernels.portrisk`: VaR / CVaR, correlated
   clusters, volatility target, whose covariance is advanced in step 1);
   accepted buys reserve their cost so two entries in one bar cannot spend the same cash.

It writes one row per intent into ``out`` (``OUT_*``: pair, strategy, side, qty and price
as rounded by risk, order type, flags, reason, the risk code) and returns how many.
The compiled backtest (:mod:`tradejet.engine.backtest`) calls it inside its ``@njit``
loop (with step 1 advanced a block of bars ahead by
:func:`tradejet.strategies.indicator_block.indicators_block_nb`, bit for bit the same values,
then :func:`decide_nb` per bar); the event driver calls it once per bar from Python.
Fills come back through :func:`on_fill_nb`, the same in both drivers.

All state lives in :class:`Context` (a NamedTuple of arrays: Numba passes it as a tuple
and caches the compiled step). Nothing is allocated per bar, so the per-bar kernels that
take arrays and call other kernels are compiled without Numba's reference counting
(``_nrt=False``): otherwise every call increments and decrements the count of each array
argument, an atomic operation each (~15 ns on the 2-core box), which cost more than the
decisions themselves. Numba refuses an allocation in such a kernel at compile time.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, typeof, types

from tradejet.kernels._byaddr import native_address
from tradejet.kernels.codes import Regime, Reject, Side, StrategyStatus
from tradejet.kernels.pairs import META_TAKER_FEE
from tradejet.kernels.portfolio import ACC_CASH, ACC_RESERVED, N_ACC, apply_fill_nb, held_mask_nb, held_value_nb
from tradejet.kernels.portrisk import check_intent_portfolio_nb, cov_update_nb, port_params, port_state
from tradejet.kernels.regime import RS_REGIME, regime_update_nb
from tradejet.kernels.risk import LIM_MAX_DRAWDOWN, N_RS, RS_PEAK, update_breaker_nb
from tradejet.kernels.schedule import trading_state_nb
from tradejet.kernels.selector import selector_step_nb
from tradejet.strategies.base import (
    INT_FLAGS,
    INT_PAIR,
    INT_PRICE,
    INT_QTY,
    INT_REASON,
    INT_SIDE,
    INT_STRATEGY,
    INT_TYPE,
    IV_ATR,
    IV_CLOSE,
    IV_EMA_LONG,
    IV_RV,
    MAX_INTENTS,
    N_INT,
    N_IV,
    N_PS,
    PS_ENTRY_TS,
    clear_position_nb,
    indicators_update_nb,
    on_entry_fill_nb,
)
from tradejet.strategies.dispatch import strategy_step_nb
from tradejet.strategies.swing import on_tranche_fill_nb

OUT_PAIR = 0
OUT_STRATEGY = 1
OUT_SIDE = 2
OUT_QTY = 3
OUT_PRICE = 4
OUT_TYPE = 5
OUT_FLAGS = 6
OUT_REASON = 7
OUT_CODE = 8
OUT_RESERVED = 9   # cash reserved for an accepted buy (released by fills / cancels)
N_OUT = 10

# info: what a driver reports per bar
INFO_STEP = 0
INFO_REGIME = 1
INFO_TRADING_STATE = 2
INFO_EQUITY = 3
INFO_BREADTH = 4
INFO_ACTIVE = 5        # bitmask of strategies with status ACTIVE
INFO_BREAKER = 6
INFO_REGIME_CHANGED = 7
N_INFO = 8


class Context(NamedTuple):
    """Every array the step reads or writes (shapes: n pairs, S strategies)."""

    ind_state: np.ndarray       # (n, IND_SIZE) indicator packs
    ind_off: np.ndarray         # (N_OFF,) int64 offsets into a pack
    ind_params: np.ndarray      # (N_IP,)
    iv: np.ndarray              # (n, N_IV) indicator values
    mark: np.ndarray            # (n,) last close per pair
    regime_state: np.ndarray    # kernels.regime state
    regime_params: np.ndarray   # (N_RP,)
    proxy: int                  # index of the regime proxy pair
    sched_params: np.ndarray    # (N_SCHED,)
    table_strategy: np.ndarray  # (4, 2) int64
    table_share: np.ndarray     # (4, 2)
    wind_down_ns: int
    shares: np.ndarray          # (S,)
    status: np.ndarray          # (S,) int64
    deadline: np.ndarray        # (S,) int64
    account: np.ndarray         # (N_ACC,)
    pos_qty: np.ndarray         # (S, n)
    pos_avg: np.ndarray         # (S, n)
    realized: np.ndarray        # (S, n)
    fees: np.ndarray            # (S, n)
    risk_state: np.ndarray      # (N_RS,)
    limits: np.ndarray          # (N_LIM,)
    meta: np.ndarray            # (n, N_META)
    unreconciled: np.ndarray    # (n,) bool
    strat_params: np.ndarray    # (S, N_SP)
    pos_state: np.ndarray       # (S, n, N_PS)
    pending: np.ndarray         # (S, n) signed qty of working orders
    info: np.ndarray            # (N_INFO,)
    port_params: np.ndarray     # (N_PP,) portfolio limits (kernels.portrisk)
    port_cov: np.ndarray        # (N_COV, n, n) incremental covariance
    port_vec: np.ndarray        # (N_PV, n) last closes, returns, volatilities, scratch


def make_context(*, n_pairs: int, cash: float, ind_state, ind_off, ind_params, regime_state, regime_params,
                 proxy: int, sched_params, table_strategy, table_share, wind_down_ns: int, limits, meta,
                 strat_params, portfolio_params=None) -> Context:
    """Allocate a fresh :class:`Context` (a flat book with ``cash`` in the quote currency).

    ``portfolio_params`` (``kernels.portrisk.port_params``): the portfolio limits; default all off.
    """
    S = strat_params.shape[0]
    account = np.zeros(N_ACC)
    account[0] = cash
    risk_state = np.zeros(N_RS)
    risk_state[RS_PEAK] = np.nan
    pos_state = np.zeros((S, n_pairs, N_PS))
    for s in range(S):
        for p in range(n_pairs):
            clear_position_nb(pos_state[s, p])
    info = np.zeros(N_INFO)
    info[INFO_REGIME] = Regime.NEUTRAL
    return Context(
        ind_state=ind_state, ind_off=np.asarray(ind_off, np.int64), ind_params=ind_params,
        iv=np.full((n_pairs, N_IV), np.nan), mark=np.full(n_pairs, np.nan), regime_state=regime_state,
        regime_params=regime_params, proxy=int(proxy), sched_params=sched_params,
        table_strategy=np.asarray(table_strategy, np.int64), table_share=np.asarray(table_share, np.float64),
        wind_down_ns=int(wind_down_ns), shares=np.zeros(S), status=np.zeros(S, np.int64),
        deadline=np.zeros(S, np.int64), account=account, pos_qty=np.zeros((S, n_pairs)),
        pos_avg=np.zeros((S, n_pairs)), realized=np.zeros((S, n_pairs)), fees=np.zeros((S, n_pairs)),
        risk_state=risk_state, limits=limits, meta=meta, unreconciled=np.zeros(n_pairs, np.bool_),
        strat_params=strat_params, pos_state=pos_state, pending=np.zeros((S, n_pairs)), info=info,
        port_params=port_params() if portfolio_params is None else np.asarray(portfolio_params, np.float64),
        port_cov=port_state(n_pairs)[0], port_vec=port_state(n_pairs)[1])


def new_buffers() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(intents, out)`` buffers for :func:`step_nb`, allocated once per run."""
    return np.zeros((MAX_INTENTS, N_INT)), np.zeros((MAX_INTENTS, N_OUT))


@njit(cache=True, error_model="numpy")
def step_nb(ctx, ts, o, h, l, c, v, have_bar, scores, intents, out):
    """Run the decision path for one bar cross-section; return the number of ``out`` rows."""
    # 1. indicators (the compiled driver advances them a block of bars ahead instead: same values)
    for p in range(c.shape[0]):
        if have_bar[p]:
            indicators_update_nb(ctx.ind_state, ctx.ind_off, ctx.ind_params, p, o[p], h[p], l[p], c[p], v[p], ctx.iv)
    return decide_nb(ctx, ts, c, have_bar, scores, intents, out, True)


# the per-bar kernels of the decision step that are small beside a call (arguments, vector loop
# set-up for 10 pairs): the kernels' own functions, compiled inline into decide_nb
_held_mask = njit(cache=True, _nrt=False, inline="always")(held_mask_nb.py_func)
_held_value = njit(cache=True, _nrt=False, inline="always")(held_value_nb.py_func)
_selector_step = njit(cache=True, _nrt=False, inline="always")(selector_step_nb.py_func)


# not inline="always": as its own function, a cold start compiles it in a helper process while
# the driver compiles the indicator block and the fill model (tradejet.engine.precompile)
@njit(cache=True, error_model="numpy", _nrt=False)
def decide_nb(ctx, ts, c, have_bar, scores, intents, out, update_cov):
    """Steps 2-7 of :func:`step_nb` (``ctx.iv`` already holds this bar's indicator values).

    ``update_cov`` False skips advancing the portfolio covariance: only for a driver that
    never reads it afterwards, when no portfolio limit is set (nothing in the step reads it
    then). The event driver always advances it (its risk view reads it).
    """
    n_pairs = c.shape[0]
    S = ctx.strat_params.shape[0]
    t = int(ctx.info[INFO_STEP])
    ctx.info[INFO_STEP] = t + 1

    # 1. marks, covariance
    for p in range(n_pairs):
        if have_bar[p]:
            ctx.mark[p] = c[p]
    if update_cov:
        cov_update_nb(ctx.port_cov, ctx.port_vec, ctx.port_params, c, have_bar)

    # 2. breadth and regime
    cnt = 0
    up = 0
    for p in range(n_pairs):
        e = ctx.iv[p, IV_EMA_LONG]
        if have_bar[p] and e == e:
            cnt += 1
            if ctx.iv[p, IV_CLOSE] > e:
                up += 1
    breadth = up / cnt if cnt > 0 else np.nan
    px = ctx.proxy
    prev_regime = int(ctx.regime_state[RS_REGIME])
    regime = prev_regime
    if have_bar[px]:
        regime = regime_update_nb(ctx.regime_state, ctx.regime_params, ctx.iv[px, IV_CLOSE],
                                  ctx.iv[px, IV_EMA_LONG], ctx.iv[px, IV_RV], breadth)

    # 3. schedule, 4. equity and breaker
    tstate = trading_state_nb(ts, ctx.sched_params)
    held = _held_mask(ctx.pos_qty)  # which strategies hold anything: one vectorized pass
    equity = ctx.account[ACC_CASH] + _held_value(ctx.pos_qty, ctx.pos_avg, ctx.mark, held)
    breaker = update_breaker_nb(ctx.risk_state, equity, ctx.limits[LIM_MAX_DRAWDOWN])

    # 5. selection
    _selector_step(regime, ts, ctx.table_strategy, ctx.table_share, ctx.wind_down_ns, ctx.shares, ctx.status,
                     ctx.deadline, ctx.pos_qty)
    active = 0
    for s in range(S):
        if ctx.status[s] == StrategyStatus.ACTIVE:
            active |= 1 << s

    # 6. strategies
    # np.int64(0), not the literal 0: Numba would compile the strategy tree once for Literal[int](0)
    # and again for int64 (seconds of cold compile for nothing)
    n = np.int64(0)
    for s in range(S):
        if ctx.status[s] == StrategyStatus.INACTIVE and not (held >> s) & 1:
            continue
        n = strategy_step_nb(s, ctx.strat_params[s], ctx.status[s], ctx.shares[s], equity, ctx.iv, have_bar,
                             ctx.pos_qty[s], ctx.pending[s], ctx.pos_state[s], scores, t, intents, n)

    # 7. risk
    for k in range(n):
        pair = int(intents[k, INT_PAIR])
        strat = int(intents[k, INT_STRATEGY])
        side = int(intents[k, INT_SIDE])
        flags = int(intents[k, INT_FLAGS])
        code, q, price = check_intent_portfolio_nb(
            pair, strat, side, intents[k, INT_QTY], intents[k, INT_PRICE], flags, tstate, ctx.meta, ctx.limits,
            ctx.shares, ctx.status, ctx.unreconciled, ctx.account, ctx.pos_qty, ctx.pos_avg, ctx.mark,
            ctx.risk_state, ctx.pending, ctx.port_cov, ctx.port_vec, ctx.port_params, regime, equity)
        out[k, OUT_PAIR] = pair
        out[k, OUT_STRATEGY] = strat
        out[k, OUT_SIDE] = side
        out[k, OUT_QTY] = q
        out[k, OUT_PRICE] = price
        out[k, OUT_TYPE] = intents[k, INT_TYPE]
        out[k, OUT_FLAGS] = flags
        out[k, OUT_REASON] = intents[k, INT_REASON]
        out[k, OUT_CODE] = code
        out[k, OUT_RESERVED] = 0.0
        if code == Reject.OK:
            ctx.pending[strat, pair] += side * q
            if side == Side.BUY:
                reserve = q * price * (1.0 + ctx.meta[pair, META_TAKER_FEE])
                ctx.account[ACC_RESERVED] += reserve
                out[k, OUT_RESERVED] = reserve

    ctx.info[INFO_REGIME] = regime
    ctx.info[INFO_TRADING_STATE] = tstate
    ctx.info[INFO_EQUITY] = equity
    ctx.info[INFO_BREADTH] = breadth
    ctx.info[INFO_ACTIVE] = active
    ctx.info[INFO_BREAKER] = breaker
    ctx.info[INFO_REGIME_CHANGED] = 1.0 if regime != prev_regime else 0.0
    return n


# The compiled driver (tradejet.engine.driver.run_bars_nb) calls decide_nb through its address
# (tradejet.kernels._byaddr): linked into the driver, the whole decision path was optimized and
# emitted again in the driver's compile (~0.8 s of a cold start), and the driver could not be
# compiled before it (a cold start compiles it in a helper process meanwhile).


def decide_types(ctx, ts, C, have, scores, intents, out) -> tuple:
    """The Numba types of :func:`decide_nb`'s arguments as the driver passes them: ``ctx``, an
    element of ``ts``, the rows ``C[t]``, ``have[t]``, ``scores[t]``, ``intents``, ``out`` and the
    ``update_cov`` flag."""
    def row(a):
        ta = typeof(a)
        return ta.copy(ndim=1, layout="C" if ta.layout == "C" else "A")

    return (typeof(ctx), typeof(ts).dtype, row(C), row(have), row(scores), typeof(intents), typeof(out),
            types.boolean)


def decide_address(tys) -> np.ndarray:
    """``[address, key]`` (int64) of :func:`decide_nb` compiled (or loaded from Numba's cache)
    for the argument types ``tys`` (:func:`decide_types`), for
    :func:`tradejet.kernels._byaddr.call_i64`."""
    return native_address(decide_nb, tys)


@njit(cache=True, _nrt=False)
def on_fill_nb(ctx, strategy, pair, side, qty, price, fee, ts, release):
    """Book one fill of an order the step accepted: portfolio, pending, reserved cash, position state.

    ``release`` is the reserved cash this fill frees (the driver tracks it per order).
    Return the P&L realized by the fill.
    """
    was_flat = ctx.pos_qty[strategy, pair] == 0.0
    pnl = apply_fill_nb(ctx.account, ctx.pos_qty, ctx.pos_avg, ctx.realized, ctx.fees, strategy, pair, side, qty,
                        price, fee)
    ctx.pending[strategy, pair] -= side * qty
    if abs(ctx.pending[strategy, pair]) < 1e-12:
        ctx.pending[strategy, pair] = 0.0
    ctx.account[ACC_RESERVED] = max(0.0, ctx.account[ACC_RESERVED] - release)
    ps = ctx.pos_state[strategy, pair]
    if ctx.pos_qty[strategy, pair] == 0.0:
        clear_position_nb(ps)
    elif side == Side.BUY and ctx.pos_qty[strategy, pair] > 0.0:
        on_entry_fill_nb(ps, ctx.strat_params[strategy], ts, ctx.pos_avg[strategy, pair], ctx.iv[pair, IV_ATR],
                         was_flat or ps[PS_ENTRY_TS] == 0.0)
        on_tranche_fill_nb(ps, price)
    return pnl


@njit(cache=True, _nrt=False)
def on_order_done_nb(ctx, strategy, pair, side, unfilled_qty, unreleased):
    """An accepted order ended with ``unfilled_qty`` left (cancelled, rejected): free what it held."""
    ctx.pending[strategy, pair] -= side * unfilled_qty
    if abs(ctx.pending[strategy, pair]) < 1e-12:
        ctx.pending[strategy, pair] = 0.0
    ctx.account[ACC_RESERVED] = max(0.0, ctx.account[ACC_RESERVED] - unreleased)
