"""Signals backtest kernel: long-only, all-in, fill at the signal bar's close.

Contract
--------
- ``close``: float64 1-D, finite and > 0 on every bar (a bad bar stops the loop and is
  reported by index, see ``from_signals_nb``).
- ``entries``, ``exits``: bool 1-D of ``close``'s length.
- ``fee``: fraction of traded notional charged per order (0.001 = 0.1 %), ``0 <= fee < 1``.
- ``init_cash``: finite, > 0.
- ``min_size``: orders smaller than this (base units) are skipped, 1e-8 in vectorbt;
  "smaller" with vectorbt's tolerance (relative 1e-9, absolute 1e-12).

Meaning (identical to vectorbt 1.x ``Portfolio.from_signals(close, entries, exits,
fees=fee, init_cash=init_cash)`` with its defaults: long-only signals, ``size=inf``,
``accumulate=False``, conflicts ignored, price = close):

- flat and ``entries[i]`` (and not ``exits[i]``): buy with all cash at ``close[i]``;
  ``size = cash / (1 + fee) / close[i]``, ``fee_paid = cash - cash / (1 + fee)``.
- long and ``exits[i]`` (and not ``entries[i]``): sell the whole position at
  ``close[i]``; ``fee_paid = size * close[i] * fee``.
- an order below ``min_size`` does not happen (a tiny position then stays open, as
  in vectorbt).
- an entry and an exit on the same bar cancel out; an entry while long and an exit
  while flat do nothing.
- ``value[i] = cash + position * close[i]`` after the bar's order.

Oracle: vectorbt itself (tests/engine/test_from_signals.py) and a plain Python loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["from_signals_nb", "trades_from_orders_nb"]


@njit(cache=True)
def _is_less(a, b):
    # vectorbt's is_less_nb: a < b unless a and b are close (rel 1e-9, abs 1e-12)
    if a == b or abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-12):
        return False
    return a < b


@njit(cache=True)
def from_signals_nb(close, entries, exits, fee, init_cash, min_size):
    """Run the all-in long-only signals backtest; return equity and order records.

    Returns ``(value, n_orders, order_idx, order_side, order_size, order_price,
    order_fee, cash, position, bad_idx)``. The order arrays have ``len(close)`` slots
    of which the first ``n_orders`` are used; ``order_side`` is +1 buy / -1 sell.
    ``bad_idx`` is the first bar whose close is not finite and > 0 (the loop stops
    there), else -1.
    """
    n = close.shape[0]
    value = np.empty(n)
    order_idx = np.empty(n, dtype=np.int64)
    order_side = np.empty(n, dtype=np.int8)
    order_size = np.empty(n)
    order_price = np.empty(n)
    order_fee = np.empty(n)
    cash = init_cash
    position = 0.0
    k = 0
    bad_idx = -1
    for i in range(n):
        price = close[i]
        if not (price > 0.0 and price < np.inf):
            bad_idx = i
            break
        entry = entries[i]
        exit_ = exits[i]
        if entry != exit_:
            if entry:
                if position == 0.0 and cash > 0.0 and not _is_less(cash / (1.0 + fee) / price, min_size):
                    spend = cash / (1.0 + fee)
                    order_idx[k] = i
                    order_side[k] = 1
                    order_size[k] = spend / price
                    order_price[k] = price
                    order_fee[k] = cash - spend
                    position = spend / price
                    cash = 0.0
                    k += 1
            elif position > 0.0 and position > 1e-12 and not _is_less(position, min_size):
                proceeds = position * price
                fee_paid = proceeds * fee
                order_idx[k] = i
                order_side[k] = -1
                order_size[k] = position
                order_price[k] = price
                order_fee[k] = fee_paid
                cash = cash + (proceeds - fee_paid)
                position = 0.0
                k += 1
        value[i] = cash + position * price
    return value, k, order_idx, order_side, order_size, order_price, order_fee, cash, position, bad_idx


@njit(cache=True)
def trades_from_orders_nb(order_idx, order_side, order_size, order_price, order_fee, last_close, last_idx):
    """Pair alternating buy/sell orders into round trips.

    Returns ``(entry_idx, exit_idx, size, entry_price, exit_price, fees, pnl, is_open)``;
    an open trade is marked to ``last_close`` at ``last_idx`` with ``is_open`` True and
    no exit fee (as vectorbt marks its open trades).
    """
    m = order_idx.shape[0]
    n_tr = (m + 1) // 2
    entry_idx = np.empty(n_tr, dtype=np.int64)
    exit_idx = np.empty(n_tr, dtype=np.int64)
    size = np.empty(n_tr)
    entry_price = np.empty(n_tr)
    exit_price = np.empty(n_tr)
    fees = np.empty(n_tr)
    pnl = np.empty(n_tr)
    is_open = np.zeros(n_tr, dtype=np.bool_)
    for t in range(n_tr):
        b = 2 * t
        entry_idx[t] = order_idx[b]
        size[t] = order_size[b]
        entry_price[t] = order_price[b]
        if b + 1 < m:
            exit_idx[t] = order_idx[b + 1]
            exit_price[t] = order_price[b + 1]
            fees[t] = order_fee[b] + order_fee[b + 1]
        else:
            exit_idx[t] = last_idx
            exit_price[t] = last_close
            fees[t] = order_fee[b]
            is_open[t] = True
        pnl[t] = (exit_price[t] - entry_price[t]) * size[t] - fees[t]
    return entry_idx, exit_idx, size, entry_price, exit_price, fees, pnl, is_open
