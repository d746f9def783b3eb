"""Pair metadata rows and order rounding for kernels.

Contract: a universe's metadata is one float64 array ``meta`` of shape
``(n_pairs, N_META)``, one row per symbol in universe order, columns named by the
``META_*`` constants below (decimals stored as whole floats, fees as fractions:
0.004 = 0.40 %). Nothing here allocates; NaN or non-positive inputs give 0.0 / a
reject code, never an exception.
"""

from __future__ import annotations

import math

from numba import njit

from tradejet.kernels.codes import Reject

META_PAIR_DECIMALS = 0  # price decimals (Kraken pair_decimals)
META_LOT_DECIMALS = 1  # volume decimals (lot_decimals)
META_COST_DECIMALS = 2  # quote-amount decimals (cost_decimals)
META_TICK_SIZE = 3  # price increment
META_ORDERMIN = 4  # minimum volume, base units
META_COSTMIN = 5  # minimum cost, quote units (0 when the venue gives none)
META_TAKER_FEE = 6  # fraction of notional
META_MAKER_FEE = 7  # fraction of notional
N_META = 8

_EXACT = 2.0 ** 52  # above this, consecutive integers are no longer all representable

ROUND_NEAREST = 0
ROUND_DOWN = 1
ROUND_UP = 2


@njit(cache=True)
def round_qty_down_nb(qty: float, lot_decimals: float) -> float:
    """Round ``qty`` down to ``lot_decimals`` decimals; the result never exceeds ``qty``.

    Oracle: ``decimal.Decimal(qty).quantize(..., ROUND_DOWN)``. Returns 0.0 for NaN or
    ``qty <= 0``.
    """
    if not (qty > 0.0) or not math.isfinite(qty):
        return 0.0
    scale = 10.0 ** lot_decimals
    if qty * scale >= _EXACT:
        # Float spacing at qty is coarser than 10**-lot_decimals: qty has no digits to drop
        # (and k - 1 == k here, so stepping k would never end).
        return qty
    k = math.floor(qty * scale)
    # qty * scale may land just below an integer (0.29 * 100 = 28.999...): try one up.
    if (k + 1.0) / scale <= qty:
        k += 1.0
    for _ in range(4):  # float error is at most one step; bounded on purpose
        if k > 0.0 and k / scale > qty:
            k -= 1.0
    return k / scale


@njit(cache=True)
def round_price_nb(price: float, tick_size: float, pair_decimals: float, mode: int) -> float:
    """Round ``price`` to a multiple of ``tick_size`` printed with ``pair_decimals`` decimals.

    ``mode``: ``ROUND_DOWN`` (result <= price: buy limits never pay more),
    ``ROUND_UP`` (result >= price: sell limits never sell for less) or ``ROUND_NEAREST``.
    Returns NaN for NaN or non-positive prices.
    """
    if not (price > 0.0) or not math.isfinite(price) or not (tick_size > 0.0):
        return math.nan
    d = int(pair_decimals)
    if price / tick_size >= _EXACT:
        return price  # beyond float resolution of the tick: nothing to round
    k = math.floor(price / tick_size)
    lo = round(k * tick_size, d)
    # Correct float error at tick boundaries so that lo <= price < next tick (at most a
    # step or two; the loops are bounded so that no input can spin them).
    for _ in range(4):
        if lo > price:
            k -= 1.0
            lo = round(k * tick_size, d)
    hi = round((k + 1.0) * tick_size, d)
    for _ in range(4):
        if hi <= price:
            k += 1.0
            lo = hi
            hi = round((k + 1.0) * tick_size, d)
    if lo == price:
        return lo
    if mode == ROUND_DOWN:
        return lo
    if mode == ROUND_UP:
        return hi
    return lo if price - lo < hi - price else hi


@njit(cache=True)
def check_minimums_nb(qty: float, price: float, ordermin: float, costmin: float) -> int:
    """Return ``Reject.OK``, ``BELOW_ORDERMIN`` (qty < ordermin) or ``BELOW_COSTMIN`` (qty*price < costmin)."""
    if not (qty > 0.0) or qty < ordermin:
        return Reject.BELOW_ORDERMIN
    if qty * price < costmin:
        return Reject.BELOW_COSTMIN
    return Reject.OK


@njit(cache=True)
def prepare_order_nb(meta, pair: int, side: int, qty: float, price: float, is_limit: bool):
    """Round one order to pair ``pair``'s rules and check its minimums.

    Returns ``(code, qty, price)``: qty rounded down to lot decimals, a limit price rounded
    to the tick in the side's favour (buys down, sells up; other prices left as given),
    ``code`` from :func:`check_minimums_nb`.
    """
    # NaN decimals / tick: a pair the venue's metadata does not know (backtests on files): no rounding
    lot = meta[pair, META_LOT_DECIMALS]
    q = round_qty_down_nb(qty, lot) if lot == lot else (qty if qty > 0.0 and math.isfinite(qty) else 0.0)
    p = price
    if is_limit and meta[pair, META_TICK_SIZE] == meta[pair, META_TICK_SIZE]:
        p = round_price_nb(price, meta[pair, META_TICK_SIZE], meta[pair, META_PAIR_DECIMALS],
                           ROUND_DOWN if side > 0 else ROUND_UP)
    code = check_minimums_nb(q, p, meta[pair, META_ORDERMIN], meta[pair, META_COSTMIN])
    return code, q, p
