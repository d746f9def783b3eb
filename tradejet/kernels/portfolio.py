"""Portfolio accounting kernels: cash, positions, average price, realized/unrealized P&L, fees.

Contract (all float64, mutated in place, nothing allocated):

- ``account``: shape ``(N_ACC,)``, ``ACC_*`` columns: cash, cash reserved by resting
  buy orders (set by the driver), total fees, total realized P&L.
- ``pos_qty``, ``pos_avg``, ``realized``, ``fees``: shape ``(n_strategies, n_pairs)``;
  a strategy's signed base quantity in a pair (> 0 long, < 0 short), its average
  entry price (0.0 when flat), realized P&L (quote, gross of fees) and fees paid
  (quote). By-pair figures are the sums over axis 0, by-strategy over axis 1.
- ``mark``: shape ``(n_pairs,)``, the last price per pair; NaN means unknown, and the
  average price stands in for it (unrealized P&L 0).

Average-cost accounting: adding to a position moves the average price to the
volume-weighted mean; reducing realizes ``closed_qty * (price - avg) * sign(pos)``;
crossing through zero opens the remainder at the fill price. Cash moves by
``-side * qty * price - fee``; fees are in quote currency. Oracle: the exact
``fractions.Fraction`` ledger in tests/kernels/test_portfolio.py.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

ACC_CASH = 0
ACC_RESERVED = 1
ACC_FEES = 2
ACC_REALIZED = 3
N_ACC = 4

# A position smaller than this share of the traded quantity is float residue: snap to 0.
_FLAT_RTOL = 1e-12


@njit(cache=True, _nrt=False)
def apply_fill_nb(account, pos_qty, pos_avg, realized, fees, strategy, pair, side, qty, price, fee):
    """Book one fill; return the P&L it realized (NaN and no change if the fill is invalid)."""
    if not (qty > 0.0) or not (price > 0.0) or not (fee >= 0.0) or not math.isfinite(qty) \
            or not math.isfinite(price) or not math.isfinite(fee) or (side != 1 and side != -1):
        return math.nan
    pos = pos_qty[strategy, pair]
    avg = pos_avg[strategy, pair]
    signed = side * qty
    pnl = 0.0
    if pos == 0.0 or (pos > 0.0) == (side > 0):
        new = pos + signed
        pos_avg[strategy, pair] = (abs(pos) * avg + qty * price) / abs(new)
    else:
        closed = min(qty, abs(pos))
        pnl = closed * (price - avg) * (1.0 if pos > 0.0 else -1.0)
        new = pos + signed
        if abs(new) <= _FLAT_RTOL * max(abs(pos), qty):
            new = 0.0
            pos_avg[strategy, pair] = 0.0
        elif (new > 0.0) != (pos > 0.0):
            pos_avg[strategy, pair] = price  # crossed through zero: remainder opened at the fill
    pos_qty[strategy, pair] = new
    realized[strategy, pair] += pnl
    fees[strategy, pair] += fee
    account[ACC_CASH] -= signed * price + fee
    account[ACC_FEES] += fee
    account[ACC_REALIZED] += pnl
    return pnl


@njit(cache=True)
def unrealized_nb(pos_qty, pos_avg, mark, out):
    """Write ``(mark - avg) * qty`` per (strategy, pair) into ``out``; return its total."""
    total = 0.0
    for s in range(pos_qty.shape[0]):
        for p in range(pos_qty.shape[1]):
            m = mark[p]
            q = pos_qty[s, p]
            u = 0.0
            if q != 0.0 and math.isfinite(m):
                u = (m - pos_avg[s, p]) * q
            out[s, p] = u
            total += u
    return total


@njit(cache=True, _nrt=False)
def held_mask_nb(pos_qty):
    """Return a bitmask: bit ``s`` set when strategy ``s`` holds a nonzero (or NaN) quantity of a pair.

    One integer OR over each row's bit patterns (the sign bit shifted out, so -0.0 counts as
    flat): a reduction the compiler vectorizes, unlike a float compare loop that may exit early."""
    bits = pos_qty.view(np.uint64)
    held = 0
    for s in range(bits.shape[0]):
        acc = np.uint64(0)
        for p in range(bits.shape[1]):
            acc |= bits[s, p] << np.uint64(1)
        if acc != 0:
            held |= 1 << s
    return held


@njit(cache=True, _nrt=False)
def held_value_nb(pos_qty, pos_avg, mark, held):
    """The signed market value of the rows ``held`` marks (:func:`held_mask_nb`; the other rows
    are flat and add nothing), NaN marks valued at the average price."""
    v = 0.0
    for s in range(pos_qty.shape[0]):
        if (held >> s) & 1:
            for p in range(pos_qty.shape[1]):
                q = pos_qty[s, p]
                if q != 0.0:
                    m = mark[p]
                    v += q * (m if math.isfinite(m) else pos_avg[s, p])
    return v


@njit(cache=True)
def position_value_nb(pos_qty, pos_avg, mark):
    """Return the signed market value of all positions (NaN marks valued at the average price)."""
    return held_value_nb(pos_qty, pos_avg, mark, held_mask_nb(pos_qty))


@njit(cache=True, _nrt=False)
def equity_held_nb(account, pos_qty, pos_avg, mark, held):
    """:func:`equity_nb` given :func:`held_mask_nb` of ``pos_qty`` (the per-bar step computes it once)."""
    return account[ACC_CASH] + held_value_nb(pos_qty, pos_avg, mark, held)


@njit(cache=True, _nrt=False)
def equity_nb(account, pos_qty, pos_avg, mark):
    """Return equity: cash plus the signed market value of all positions."""
    return account[ACC_CASH] + position_value_nb(pos_qty, pos_avg, mark)


@njit(cache=True)
def pair_qty_nb(pos_qty, pair):
    """Return the net quantity of ``pair`` over all strategies."""
    q = 0.0
    for s in range(pos_qty.shape[0]):
        q += pos_qty[s, pair]
    return q
