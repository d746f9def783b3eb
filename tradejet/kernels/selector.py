"""Strategy selection and capital allocation per regime, as kernels.

Contract: the regime table is ``table_strategy`` int64 ``(N_REGIMES, MAX_ACTIVE)``
(strategy codes, -1 = empty slot) and ``table_share`` float64 of the same shape
(capital share 0..1, sum per row <= 1). The selector state is three arrays of length
``n_strategies``: ``shares`` float64 (current capital share), ``status`` int64
(codes.StrategyStatus) and ``deadline`` int64 (ns UTC by which a winding-down strategy
must be flat; 0 when none). Built and validated by ``tradejet.engine.selector``.

Rules of :func:`selector_step_nb`, applied every bar:

- a strategy in the regime's row becomes ACTIVE with its share (a wind-down is cancelled);
- an ACTIVE strategy not in the row gets share 0 and WINDING_DOWN with
  ``deadline = ts + wind_down_ns``, or FLATTEN at once when the regime is PANIC;
- a WINDING_DOWN strategy turns FLATTEN when the regime is PANIC or ``ts >= deadline``;
- a WINDING_DOWN or FLATTEN strategy with no position left becomes INACTIVE.
"""

from __future__ import annotations

from numba import njit

from tradejet.kernels.codes import Regime, StrategyStatus

MAX_ACTIVE = 2
N_REGIMES = 4


@njit(cache=True)
def allocation_nb(regime, table_strategy, table_share, shares_out):
    """Write each strategy's capital share in ``regime`` into ``shares_out``; return how many are active."""
    for s in range(shares_out.shape[0]):
        shares_out[s] = 0.0
    n = 0
    for k in range(table_strategy.shape[1]):
        s = table_strategy[regime, k]
        if s >= 0:
            shares_out[s] = table_share[regime, k]
            n += 1
    return n


@njit(cache=True)
def _has_position(pos_qty, s):
    for p in range(pos_qty.shape[1]):
        if pos_qty[s, p] != 0.0:
            return True
    return False


@njit(cache=True, _nrt=False)
def selector_step_nb(regime, ts, table_strategy, table_share, wind_down_ns, shares, status, deadline, pos_qty):
    """Update the selector state for ``regime`` at ``ts``; return a bitmask of strategies whose status changed.

    ``pos_qty`` is the portfolio's ``(n_strategies, n_pairs)`` position array.
    """
    changed = 0
    panic = regime == Regime.PANIC
    for s in range(shares.shape[0]):
        share = 0.0
        listed = False
        for k in range(table_strategy.shape[1]):
            if table_strategy[regime, k] == s:
                share = table_share[regime, k]
                listed = True
        old = status[s]
        new = old
        if listed:
            new = StrategyStatus.ACTIVE
            deadline[s] = 0
        elif old == StrategyStatus.ACTIVE:
            if panic:
                new = StrategyStatus.FLATTEN
                deadline[s] = ts
            else:
                new = StrategyStatus.WINDING_DOWN
                deadline[s] = ts + wind_down_ns
        elif old == StrategyStatus.WINDING_DOWN and (panic or ts >= deadline[s]):
            new = StrategyStatus.FLATTEN
            if panic:
                deadline[s] = ts
        if (new == StrategyStatus.WINDING_DOWN or new == StrategyStatus.FLATTEN) and not _has_position(pos_qty, s):
            new = StrategyStatus.INACTIVE
            deadline[s] = 0
        shares[s] = share
        if new != old:
            status[s] = new
            changed |= 1 << s
    return changed
