"""Risk checks on one order intent, and the drawdown breaker.

Contract: called by the drivers (compiled and event) for every intent before it
becomes an order; everything a check needs arrives as plain arrays, nothing is
allocated. Shapes: ``meta`` ``(n_pairs, N_META)`` (kernels.pairs), ``limits``
``(N_LIM,)`` (``LIM_*`` below), ``strategy_share`` ``(n_strategies,)`` capital share
0..1 from the selector, ``strategy_status`` ``(n_strategies,)`` int
(codes.StrategyStatus), ``unreconciled`` ``(n_pairs,)`` bool, portfolio arrays as in
kernels.portfolio, ``risk_state`` ``(N_RS,)`` (peak equity, breaker flag).

An intent is an *exit* when it reduces the strategy's own position in the pair
(sell while long, buy while short) and an *entry* otherwise. Checks, first failure
wins (its code is returned, qty/price as rounded so far):

1. ``INVALID_INTENT``: pair/strategy out of range, side not +-1, qty/price not > 0.
   ``INTENT_REDUCE_ONLY`` clips an exit to the position; with nothing to reduce it is invalid.
2. Trading state (kernels.schedule.permissions_nb): entries need ``NEW_ENTRY``; exits
   need ``EXIT``, or ``FORCED_EXIT`` when flagged ``INTENT_FORCED``. Refused as
   ``DRAINING``/``DOWNTIME``/``RESUMING``.
3. Entries only: ``UNRECONCILED`` pair, ``BREAKER`` tripped, ``STRATEGY_INACTIVE``
   (status not ACTIVE or share <= 0), ``NO_SHORTING`` (a sell crossing below zero
   without ``LIM_ALLOW_SHORT``).
4. All: qty rounded down to lot decimals, limit price to tick (buys down, sells up);
   ``BELOW_ORDERMIN`` / ``BELOW_COSTMIN``.
5. Entries only: ``NO_EQUITY``; cash-only (``LIM_LEVERAGE <= 1``): buy cost incl. taker
   fee <= cash - reserved, else ``INSUFFICIENT_CASH``; gross exposure <= leverage x
   equity, else ``LEVERAGE``; ``STRATEGY_LIMIT`` (strategy's gross exposure <= share x
   equity), ``STRATEGY_PAIR_LIMIT``, ``PAIR_LIMIT`` (absolute notional),
   ``CONCENTRATION_PAIR``, ``CONCENTRATION_TOP3``.

Exposure values the intent's pair at the intent's price and other pairs at ``mark``
(the average price where the mark is NaN); equity is the pre-trade equity.
Oracle: the rule-by-rule Python model in tests/kernels/test_risk.py.
"""

from __future__ import annotations

import math

from numba import njit

from tradejet.kernels.codes import Reject, StrategyStatus, TradingState, Permit
from tradejet.kernels.pairs import META_LOT_DECIMALS, META_TAKER_FEE, prepare_order_nb
from tradejet.kernels.portfolio import ACC_CASH, ACC_RESERVED, equity_nb
from tradejet.kernels.schedule import permissions_nb

LIM_LEVERAGE = 0  # max gross exposure / equity; 1.0 = cash-only
LIM_ALLOW_SHORT = 1  # 1.0 allows sells below zero (needs leverage > 1)
LIM_MAX_PAIR_SHARE = 2
LIM_MAX_TOP3_SHARE = 3
LIM_MAX_STRATEGY_PAIR_SHARE = 4
LIM_MAX_PAIR_NOTIONAL = 5  # quote currency; inf = no cap
LIM_MAX_DRAWDOWN = 6  # breaker threshold, share of peak equity
N_LIM = 7

RS_PEAK = 0  # peak equity since the last reset (NaN before the first update)
RS_TRIPPED = 1  # 1.0 while the breaker holds
N_RS = 2

INTENT_LIMIT = 1  # the price is a limit price (rounded to tick); else a reference price
INTENT_REDUCE_ONLY = 2  # never increase or flip the position; clipped to it
INTENT_FORCED = 4  # an exit the risk layer forces (flatten, deadline, downtime)

_TOL = 1e-9  # relative slack on limit comparisons (float noise, not policy)


@njit(cache=True)
def _state_reject(state):
    if state == TradingState.DRAINING:
        return Reject.DRAINING
    if state == TradingState.RESUMING:
        return Reject.RESUMING
    return Reject.DOWNTIME


@njit(cache=True, _nrt=False)
def check_intent_nb(pair, strategy, side, qty, price, flags, trading_state, meta, limits,
                    strategy_share, strategy_status, unreconciled, account, pos_qty, pos_avg, mark,
                    risk_state):
    """Check one intent; return ``(code, qty, price)`` with qty/price rounded to the pair's rules.

    ``code == Reject.OK`` means the order may be sent with the returned qty and price.
    """
    n_strat = pos_qty.shape[0]
    n_pairs = pos_qty.shape[1]
    if pair < 0 or pair >= n_pairs or strategy < 0 or strategy >= n_strat or (side != 1 and side != -1):
        return Reject.INVALID_INTENT, 0.0, price
    if not (qty > 0.0) or not (price > 0.0) or not math.isfinite(qty) or not math.isfinite(price):
        return Reject.INVALID_INTENT, 0.0, price
    pos = pos_qty[strategy, pair]
    reducing = (side < 0 and pos > 0.0) or (side > 0 and pos < 0.0)
    whole = False
    if flags & INTENT_REDUCE_ONLY:
        if not reducing:
            return Reject.INVALID_INTENT, 0.0, price
        whole = qty >= abs(pos)
        qty = min(qty, abs(pos))
    crosses = reducing and qty > abs(pos)
    is_entry = (not reducing) or crosses

    permits = permissions_nb(trading_state)
    if is_entry:
        if not (permits & Permit.NEW_ENTRY):
            return _state_reject(trading_state), 0.0, price
    else:
        need = Permit.FORCED_EXIT if flags & INTENT_FORCED else Permit.EXIT
        if not (permits & need):
            return _state_reject(trading_state), 0.0, price

    if is_entry:
        if unreconciled[pair]:
            return Reject.UNRECONCILED, 0.0, price
        if risk_state[RS_TRIPPED] != 0.0:
            return Reject.BREAKER, 0.0, price
        if strategy_status[strategy] != StrategyStatus.ACTIVE or not (strategy_share[strategy] > 0.0):
            return Reject.STRATEGY_INACTIVE, 0.0, price
        if side < 0 and limits[LIM_ALLOW_SHORT] == 0.0:
            return Reject.NO_SHORTING, 0.0, price

    q_in = qty
    lot = meta[pair, META_LOT_DECIMALS]
    if whole and lot == lot:
        # A position summed from fills in floats sits a few ulps off the venue's decimal one
        # (138.36900884 + 3.58098015 = 141.94998898999998): rounded down strictly, closing it
        # would leave one lot of dust, below every minimum, that the strategy then tries to
        # sell on every bar. Lift it by at most 1e-14 (~45 ulps) and half a lot first.
        q_in = qty + min(qty * 1e-14, 0.5 * 10.0 ** -lot)
    code, q, p = prepare_order_nb(meta, pair, side, q_in, price, (flags & INTENT_LIMIT) != 0)
    if code != Reject.OK or not is_entry:
        return code, q, p

    equity = equity_nb(account, pos_qty, pos_avg, mark)
    if not (equity > 0.0):
        return Reject.NO_EQUITY, q, p
    notional = q * p
    slack = 1.0 + _TOL
    if limits[LIM_LEVERAGE] <= 1.0 and side > 0:
        if notional * (1.0 + meta[pair, META_TAKER_FEE]) > (account[ACC_CASH] - account[ACC_RESERVED]) * slack:
            return Reject.INSUFFICIENT_CASH, q, p

    # Exposures after the trade: gross, this strategy's, this pair's, top 3 pairs.
    d = side * q
    gross = 0.0
    strat_gross = 0.0
    top1 = 0.0
    top2 = 0.0
    top3 = 0.0
    pair_after = 0.0
    for j in range(n_pairs):
        val = p if j == pair else mark[j]
        net = 0.0
        for s in range(n_strat):
            qs = pos_qty[s, j]
            if s == strategy and j == pair:
                qs += d
            v = val
            if not math.isfinite(v):
                v = pos_avg[s, j]
            net += qs * v
            if s == strategy:
                strat_gross += abs(qs * v)
        a = abs(net)
        if j == pair:
            pair_after = a
        gross += a
        if a > top1:
            top3 = top2
            top2 = top1
            top1 = a
        elif a > top2:
            top3 = top2
            top2 = a
        elif a > top3:
            top3 = a
    if gross > limits[LIM_LEVERAGE] * equity * slack:
        return Reject.LEVERAGE, q, p
    if strat_gross > strategy_share[strategy] * equity * slack:
        return Reject.STRATEGY_LIMIT, q, p
    if abs(pos_qty[strategy, pair] + d) * p > limits[LIM_MAX_STRATEGY_PAIR_SHARE] * equity * slack:
        return Reject.STRATEGY_PAIR_LIMIT, q, p
    if pair_after > limits[LIM_MAX_PAIR_NOTIONAL] * slack:
        return Reject.PAIR_LIMIT, q, p
    if pair_after > limits[LIM_MAX_PAIR_SHARE] * equity * slack:
        return Reject.CONCENTRATION_PAIR, q, p
    if top1 + top2 + top3 > limits[LIM_MAX_TOP3_SHARE] * equity * slack:
        return Reject.CONCENTRATION_TOP3, q, p
    return Reject.OK, q, p


@njit(cache=True)
def update_breaker_nb(risk_state, equity, max_drawdown):
    """Raise the peak to ``equity``; trip when equity < peak * (1 - max_drawdown). Return 1 while tripped.

    Once tripped it holds, whatever equity does, until :func:`reset_breaker_nb`.
    """
    if math.isfinite(equity):
        peak = risk_state[RS_PEAK]
        if not math.isfinite(peak) or equity > peak:
            risk_state[RS_PEAK] = equity
        if equity < risk_state[RS_PEAK] * (1.0 - max_drawdown):
            risk_state[RS_TRIPPED] = 1.0
    return 1 if risk_state[RS_TRIPPED] != 0.0 else 0


@njit(cache=True)
def reset_breaker_nb(risk_state, equity):
    """Clear the breaker and restart the peak at ``equity``."""
    risk_state[RS_TRIPPED] = 0.0
    risk_state[RS_PEAK] = equity
