"""The fill model: one Numba model for the backtest and the paper adapter.

Contract
--------
Everything is float64 and addressed by the index NamedTuples below, so the compiled
driver and the paper adapter pass plain arrays:

- ``pair`` (``PAIR``, 7): ``tick_size, lot_decimals, ordermin, costmin, maker_fee,
  taker_fee, spread``. Fees are fractions of notional (0.0025 = 0.25 %), charged in the
  quote currency. ``spread`` is the full relative bid/ask spread (0.0002 = 2 bp); NaN
  means "estimate it from the bars" (Corwin-Schultz). A NaN ``tick_size`` or
  ``lot_decimals`` means no rounding; 0 ``ordermin``/``costmin`` means no minimum.
- ``cfg`` (``CFG``): the :class:`tradejet.config.FillConfig` as an array
  (:func:`config_array`).
- ``bar`` (``BAR``, 8): ``open, high, low, close, volume`` of the bar being filled and
  three causal estimates made from the bars *before* it (:func:`market_context_nb`):
  ``spread`` (Corwin-Schultz, relative), ``sigma`` (std of log returns per bar) and
  ``avg_volume`` (mean volume per bar). NaN estimates (warm-up) mean: spread falls back
  to ``cfg[MIN_SPREAD]``, no impact.
- ``order`` (``ORD``, 13): one working order, updated in place by the kernels (the
  only mutation; everything else is pure).

Rules (each has a hand-computed test and a brute-force oracle in tests/kernels/fill_loop.py):

1. An order works from bar ``order[READY_BAR]`` on (:func:`ready_bar` = the next bar
   after the latency: with latency 0, the next bar's open). A bar with zero (or NaN)
   volume has no trades: nothing fills in it, so volume must be known.
2. Market orders take liquidity at the bar's open: buy ``open * (1 + half_spread +
   impact)``, sell ``open * (1 - half_spread - impact)``, where ``impact =
   min(impact_coef * sigma * sqrt(qty / avg_volume), max_impact)`` (square-root law;
   per-bar sigma and per-bar volume give the same figure as daily ones).
3. Every fill is capped by ``participation * volume`` of its bar, rounded down to
   ``lot_decimals``; the rest stays working and takes the next bars (market: their
   opens; limit: while price trades through). ``participation = inf`` disables the
   cap. The cap is per order: a driver working several orders of one symbol in one bar
   shares the volume itself.
4. Limit orders: on arrival, a limit that crosses the touch (buy ``price >=
   open * (1 + half_spread)``, sell ``price <= open * (1 - half_spread)``) is rejected
   when post-only (``REJECT_POST_ONLY``), else fills as taker at the market price,
   never worse than its limit. A resting limit fills as maker only when the bar trades
   *through* it (buy: ``low < price``; sell: ``high > price``), at its price, or at the
   open when a later bar opens through it (a gap), and never beyond the bar's prints.
5. Stop-loss / take-profit: ``order[PRICE]`` is the order's own trigger and
   ``order[PRICE2]`` the other leg of a bracket (NaN for none). A sell (closing a long)
   stops when ``low <= stop`` and takes profit when ``high >= take_profit``; a buy
   mirrors it. A trigger at the open fills from the open (a gap); otherwise the trigger
   price is the reference. When both legs could trigger inside one bar, the stop wins
   (the worse outcome), unless the open is already beyond the take-profit (then it
   fired first, at the open). A triggered order is a market order from its trigger price:
   half spread and impact against it; what the cap leaves fills at the next opens.
6. Every fill price is kept inside the bar's ``[low, high]`` (the bar's trades are all
   we know printed), so spread and impact shrink at the bar's extremes.
7. Fees: ``qty * price * rate``, maker rate for resting limits, taker for the rest.
8. :func:`prepare_order_nb` rounds and checks an order exactly as the live adapter
   must: qty rounded down to ``lot_decimals``; limit prices to the tick on the passive
   side (buy down, sell up), triggers to the nearest tick; ``qty >= ordermin`` and
   ``qty * price >= costmin`` (market orders use a reference price).

The model is deterministic: no randomness.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from tradejet.kernels._simd import WINDOW_ROWS, window_sqdev16, window_sums16
from tradejet.kernels.codes import Fill, OrderType
from tradejet.kernels.indicators import vec_logret

__all__ = [
    "PAIR", "CFG", "BAR", "ORD", "N_PAIR", "N_CFG", "N_BAR", "N_ORD",
    "pair_row", "config_array", "ready_bar", "new_order",
    "round_qty_nb", "round_price_nb", "prepare_order_nb", "corwin_schultz_nb", "market_context_nb", "market_context_into_nb", "market_context_lr_into_nb", "market_context",
    "half_spread_nb", "impact_nb", "fill_bar_nb", "fill_at_nb",
]


class _Pair(NamedTuple):
    TICK_SIZE: int = 0
    LOT_DECIMALS: int = 1
    ORDERMIN: int = 2
    COSTMIN: int = 3
    MAKER_FEE: int = 4
    TAKER_FEE: int = 5
    SPREAD: int = 6


class _Cfg(NamedTuple):
    PARTICIPATION: int = 0
    IMPACT_COEF: int = 1
    MAX_IMPACT: int = 2
    MIN_SPREAD: int = 3
    SPREAD_WINDOW: int = 4
    VOL_WINDOW: int = 5
    LATENCY_NS: int = 6


class _Bar(NamedTuple):
    OPEN: int = 0
    HIGH: int = 1
    LOW: int = 2
    CLOSE: int = 3
    VOLUME: int = 4
    SPREAD: int = 5
    SIGMA: int = 6
    AVG_VOLUME: int = 7


class _Ord(NamedTuple):
    SIDE: int = 0  # +1 buy, -1 sell
    TYPE: int = 1  # codes.OrderType
    QTY: int = 2  # requested, base units (rounded by prepare_order_nb)
    PRICE: int = 3  # limit price, or the order's own trigger
    PRICE2: int = 4  # bracket: the other leg's trigger (NaN for none)
    POST_ONLY: int = 5  # 1.0 for post-only limits
    READY_BAR: int = 6  # first bar index the order works in
    FILLED: int = 7  # cumulative filled qty
    AVG_PRICE: int = 8  # volume-weighted fill price (NaN before the first fill)
    FEES: int = 9  # cumulative fees, quote currency
    STATUS: int = 10  # codes.Fill of the last event
    TRIGGERED: int = 11  # 0 not yet; OrderType.STOP_LOSS or TAKE_PROFIT: the leg that fired
    ARRIVED: int = 12  # 1.0 once a limit has met the market (post-only check done)


PAIR = _Pair()
CFG = _Cfg()
BAR = _Bar()
ORD = _Ord()
N_PAIR = len(PAIR)
N_CFG = len(CFG)
N_BAR = len(BAR)
N_ORD = len(ORD)

# qty arithmetic: a quantity within max(1e-9, 1e-14 relative) lot units below a whole number
# of lots is that number (0.7 * 3 = 2.0999999999999996 is 21 lots of 0.1, not 20)
_LOT_EPS = 1e-9
_POW10 = np.array([10.0 ** k for k in range(19)])  # a table: pow() per fill is measurable


def pair_row(tick_size: float = math.nan, lot_decimals: float = math.nan, ordermin: float = 0.0,
             costmin: float = 0.0, maker_fee: float = 0.0025, taker_fee: float = 0.0040,
             spread: float = math.nan) -> np.ndarray:
    """Return a checked ``PAIR`` row (defaults: no rounding, no minimums, Kraken's base fees).

    >>> pair_row(tick_size=0.1, lot_decimals=8, ordermin=5e-5, costmin=0.5)[:4].tolist()
    [0.1, 8.0, 5e-05, 0.5]
    """
    row = np.array([tick_size, lot_decimals, ordermin, costmin, maker_fee, taker_fee, spread], dtype=np.float64)
    names = PAIR._fields
    for i in (0, 1, 6):
        if not (math.isnan(row[i]) or (row[i] >= 0 and math.isfinite(row[i]))):
            raise ValueError(f"{names[i].lower()} must be >= 0 or NaN, was {row[i]}")
    if not math.isnan(row[0]) and row[0] == 0:
        raise ValueError("tick_size must be > 0 or NaN, was 0.0")
    if not math.isnan(row[1]) and row[1] != int(row[1]):
        raise ValueError(f"lot_decimals must be a whole number, was {row[1]}")
    for i in (2, 3):
        if not (row[i] >= 0 and math.isfinite(row[i])):
            raise ValueError(f"{names[i].lower()} must be finite and >= 0, was {row[i]}")
    for i in (4, 5):
        if not (-0.01 <= row[i] < 0.1):
            raise ValueError(f"{names[i].lower()} must be a fraction in [-0.01, 0.1), was {row[i]}")
    return row


def config_array(cfg) -> np.ndarray:
    """Return ``CFG`` from an object with FillConfig's fields (see tradejet.config.FillConfig)."""
    return np.array([cfg.participation, cfg.impact_coef, cfg.max_impact, cfg.min_spread, cfg.spread_window,
                     cfg.vol_window, cfg.latency_ms * 1e6], dtype=np.float64)


def ready_bar(submit_bar: int, latency_ns: float, bar_ns: int) -> int:
    """Return the first bar an order submitted after bar ``submit_bar`` closes can trade in.

    >>> ready_bar(10, 0, 60_000_000_000), ready_bar(10, 90e9, 60_000_000_000)
    (11, 12)
    """
    if bar_ns <= 0 or latency_ns < 0:
        raise ValueError(f"bar_ns must be > 0 and latency_ns >= 0, was {bar_ns} and {latency_ns}")
    return int(submit_bar) + 1 + int(latency_ns // bar_ns)


def new_order(side: int, order_type: int, qty: float, price: float = math.nan, price2: float = math.nan,
              post_only: bool = False, ready: int = 0) -> np.ndarray:
    """Return a fresh ``ORD`` row (call :func:`prepare_order_nb` before filling it)."""
    o = np.zeros(N_ORD)
    o[ORD.SIDE], o[ORD.TYPE], o[ORD.QTY] = side, order_type, qty
    o[ORD.PRICE], o[ORD.PRICE2], o[ORD.POST_ONLY], o[ORD.READY_BAR] = price, price2, float(post_only), ready
    o[ORD.AVG_PRICE] = np.nan
    return o


@njit(cache=True)
def round_qty_nb(qty, lot_decimals):
    """Round ``qty`` down to ``lot_decimals`` (NaN decimals: unchanged)."""
    if math.isnan(lot_decimals):
        return qty
    d = int(lot_decimals)
    scale = _POW10[d] if 0 <= d < _POW10.shape[0] else 10.0 ** lot_decimals
    x = qty * scale
    return math.floor(x + max(_LOT_EPS, abs(x) * 1e-14)) / scale


@njit(cache=True)
def round_price_nb(price, tick, direction):
    """Round ``price`` to a multiple of ``tick``: direction -1 down, +1 up, 0 nearest."""
    if math.isnan(tick):
        return price
    x = price / tick
    if direction < 0:
        k = math.floor(x + 1e-9)
    elif direction > 0:
        k = math.ceil(x - 1e-9)
    else:
        k = math.floor(x + 0.5 + 1e-9)
    digits = max(0, int(math.ceil(-math.log10(tick) - 1e-9))) + 2
    return round(k * tick, digits)


@njit(cache=True)
def prepare_order_nb(order, pair, ref_price):
    """Round the order to the pair's rules and check its minimums; return a ``Fill`` code.

    Resets the fill state. On a rejection ``order[STATUS]`` carries the code too.
    ``ref_price`` values a market order for the ``costmin`` check (e.g. the last close).
    """
    order[ORD.FILLED] = 0.0
    order[ORD.FEES] = 0.0
    order[ORD.AVG_PRICE] = np.nan
    order[ORD.TRIGGERED] = 0.0
    order[ORD.ARRIVED] = 0.0
    order[ORD.STATUS] = Fill.NONE
    side = order[ORD.SIDE]
    typ = order[ORD.TYPE]
    code = Fill.NONE
    if not (side == 1.0 or side == -1.0) or not (typ == OrderType.MARKET or typ == OrderType.LIMIT
                                                  or typ == OrderType.STOP_LOSS or typ == OrderType.TAKE_PROFIT):
        code = Fill.REJECT_ORDER
    qty = order[ORD.QTY]
    if code == Fill.NONE:
        if not (qty > 0.0 and qty < np.inf):
            code = Fill.REJECT_QTY
        else:
            qty = round_qty_nb(qty, pair[PAIR.LOT_DECIMALS])
            order[ORD.QTY] = qty
            if qty <= 0.0:
                code = Fill.REJECT_QTY
    px = ref_price
    if code == Fill.NONE and typ != OrderType.MARKET:
        p = order[ORD.PRICE]
        p2 = order[ORD.PRICE2]
        if not (p > 0.0 and p < np.inf) or not (math.isnan(p2) or (p2 > 0.0 and p2 < np.inf)):
            code = Fill.REJECT_PRICE
        else:
            tick = pair[PAIR.TICK_SIZE]
            if typ == OrderType.LIMIT:
                p = round_price_nb(p, tick, -1 if side > 0 else 1)
            else:
                p = round_price_nb(p, tick, 0)
                if not math.isnan(p2):
                    order[ORD.PRICE2] = round_price_nb(p2, tick, 0)
            order[ORD.PRICE] = p
            px = p
            if not (p > 0.0):
                code = Fill.REJECT_PRICE
    if code == Fill.NONE and qty < pair[PAIR.ORDERMIN] * (1.0 - 1e-12):
        code = Fill.REJECT_ORDERMIN
    if code == Fill.NONE and qty * px < pair[PAIR.COSTMIN] * (1.0 - 1e-12):
        code = Fill.REJECT_COSTMIN
    order[ORD.STATUS] = code
    return code


@njit(cache=True)
def corwin_schultz_nb(high, low, close):
    """Return the Corwin-Schultz (2012) two-bar relative spread estimate per bar.

    ``out[t]`` uses bars ``t-1`` and ``t`` (NaN at 0), with the paper's adjustment for
    a gap from ``close[t-1]``; negative estimates are set to 0. Average it over a
    window (:func:`market_context_nb`) before use: one pair is very noisy.
    """
    n = high.shape[0]
    out = np.full(n, np.nan)
    k = 3.0 - 2.0 * math.sqrt(2.0)
    for t in range(1, n):
        h1, l1 = high[t - 1], low[t - 1]
        h2, l2 = high[t], low[t]
        c0 = close[t - 1]
        if l2 > c0:
            d = l2 - c0
            h2 -= d
            l2 -= d
        elif h2 < c0:
            d = c0 - h2
            h2 += d
            l2 += d
        if not (l1 > 0.0 and l2 > 0.0):
            continue
        beta = math.log(h1 / l1) ** 2 + math.log(h2 / l2) ** 2
        gamma = math.log(max(h1, h2) / min(l1, l2)) ** 2
        alpha = (math.sqrt(2.0 * beta) - math.sqrt(beta)) / k - math.sqrt(gamma / k)
        s = 2.0 * (math.exp(alpha) - 1.0) / (1.0 + math.exp(alpha))
        out[t] = s if s > 0.0 else 0.0
    return out


@njit(cache=True)
def _window_sums_nb(x, w, i0, out):
    """``out[i] = x[i-w] + x[i-w+1] + ... + x[i-1]`` (from 0.0, in that order) for ``i0 <= i < len(out)``.

    Sixteen rows at a time with four-lane vector adds (:func:`~tradejet.kernels._simd.window_sums16`):
    each lane keeps its own row's left-to-right sum, so every row has the same bits as
    summed alone; the rows share the loads and hide the add latency one sum alone waits on.
    ``len(x) >= len(out)``, ``i0 >= w >= 1``."""
    n = out.shape[0]
    i = i0
    while i + WINDOW_ROWS <= n:
        window_sums16(x, w, i, out)
        i += WINDOW_ROWS
    while i < n:
        a = 0.0
        for j in range(i - w, i):
            a += x[j]
        out[i] = a
        i += 1


@njit(cache=True)
def _window_sq_dev_nb(x, w, mean, i0, out):
    """``out[i] = sum((x[j] - mean[i])**2 for j in i-w..i-1)`` (from 0.0, in order), sixteen rows at a time."""
    n = out.shape[0]
    i = i0
    while i + WINDOW_ROWS <= n:
        window_sqdev16(x, w, mean, i, out)
        i += WINDOW_ROWS
    while i < n:
        m = mean[i]
        a = 0.0
        for j in range(i - w, i):
            d = x[j] - m
            a += d * d
        out[i] = a
        i += 1


@njit(cache=True)
def market_context_nb(open_, high, low, close, volume, spread_window, vol_window):
    """Return the ``(n, N_BAR)`` bar rows the fill model reads, estimates causal.

    Row ``i`` holds bar ``i``'s OHLCV and estimates from bars ``< i`` only (an order
    filled at bar ``i``'s open cannot know bar ``i``): ``spread`` = mean of the last
    ``spread_window`` Corwin-Schultz estimates, ``sigma`` = sample std of the last
    ``vol_window`` log close-to-close returns, ``avg_volume`` = mean of the last
    ``vol_window`` volumes. NaN until enough bars exist.

    Each row is summed over its own window only (O(window) per bar, not rolling sums):
    a row must not depend on how much history came before it, so the paper venue, which
    keeps a bounded history, computes the very same numbers as the compiled backtest
    (the parity test checks fills bit for bit). Each log return is computed once (not
    once per window that holds it), and the window sums run sixteen rows in lockstep, each
    summed left to right from 0.0 as a row alone would be.
    """
    out = np.empty((open_.shape[0], N_BAR))
    market_context_into_nb(open_, high, low, close, volume, spread_window, vol_window, out)
    return out


@njit(cache=True)
def market_context_into_nb(open_, high, low, close, volume, spread_window, vol_window, out):
    """:func:`market_context_nb` written into ``out`` (``(n, N_BAR)``, every cell overwritten)."""
    market_context_lr_into_nb(open_, high, low, close, volume, spread_window, vol_window, out,
                              np.empty(open_.shape[0]))


@njit(cache=True)
def market_context_lr_into_nb(open_, high, low, close, volume, spread_window, vol_window, out, lr):
    """:func:`market_context_into_nb` that also leaves the bars' log returns in ``lr`` (``(n,)``):
    ``lr[j] = log(close[j] / close[j - 1])`` (:func:`tradejet.kernels.indicators.log_return_value`'s
    operations, four bars at a time), ``lr[0]`` NaN. The compiled backtest hands them to the
    indicators' vector lanes, which would otherwise take the same logarithms again.

    The vector passes read memory at unit stride: strided inputs or ``lr`` (a column of a
    panel) go through contiguous copies (the same values)."""
    if (open_.flags.c_contiguous and high.flags.c_contiguous and low.flags.c_contiguous
            and close.flags.c_contiguous and volume.flags.c_contiguous and lr.flags.c_contiguous):
        _market_context_lr(open_, high, low, close, volume, spread_window, vol_window, out, lr)
    else:
        r = np.empty(open_.shape[0])
        _market_context_lr(np.ascontiguousarray(open_), np.ascontiguousarray(high), np.ascontiguousarray(low),
                           np.ascontiguousarray(close), np.ascontiguousarray(volume), spread_window, vol_window,
                           out, r)
        lr[:] = r


@njit(cache=True)
def _market_context_lr(open_, high, low, close, volume, spread_window, vol_window, out, lr):
    """market_context_lr_into_nb on contiguous 1-D arrays."""
    n = open_.shape[0]
    out[:] = np.nan
    if n > 0:
        lr[0] = np.nan
        vec_logret(lr, 1, close, 1, close, 0, n - 1)
    cs = corwin_schultz_nb(high, low, close)
    sw = int(spread_window)
    vw = int(vol_window)
    for i in range(n):
        out[i, BAR.OPEN] = open_[i]
        out[i, BAR.HIGH] = high[i]
        out[i, BAR.LOW] = low[i]
        out[i, BAR.CLOSE] = close[i]
        out[i, BAR.VOLUME] = volume[i]
    sums = np.empty(n)
    if sw >= 1 and sw + 1 < n:  # cs[j] exists for j >= 1; window of cs ending at i-1
        _window_sums_nb(cs, sw, sw + 1, sums)
        for i in range(sw + 1, n):
            out[i, BAR.SPREAD] = sums[i] / sw
    if vw >= 2 and vw + 1 < n:  # log returns r_j = log(c_j / c_{j-1}), j in [i - vw, i - 1]
        _window_sums_nb(lr, vw, vw + 1, sums)
        for i in range(vw + 1, n):
            sums[i] /= vw
        ss = np.empty(n)
        _window_sq_dev_nb(lr, vw, sums, vw + 1, ss)
        for i in range(vw + 1, n):
            out[i, BAR.SIGMA] = math.sqrt(ss[i] / (vw - 1))
    if vw >= 1 and vw < n:
        _window_sums_nb(volume, vw, vw, sums)
        for i in range(vw, n):
            out[i, BAR.AVG_VOLUME] = sums[i] / vw


def market_context(open_, high, low, close, volume, spread_window: int = 60, vol_window: int = 60) -> np.ndarray:
    """Check the bars and return :func:`market_context_nb` of them.

    Raises ValueError naming the column and the first bad index: prices must be finite
    and > 0 with ``low <= open, close <= high``, volume finite and >= 0.

    >>> ctx = market_context([1.0, 1.1], [1.2, 1.2], [0.9, 1.0], [1.1, 1.15], [5.0, 6.0], 1, 2)
    >>> ctx.shape, float(ctx[1, BAR.AVG_VOLUME])
    ((2, 8), nan)
    """
    cols = {}
    n = None
    for name, a in (("open", open_), ("high", high), ("low", low), ("close", close), ("volume", volume)):
        arr = np.ascontiguousarray(a, dtype=np.float64)
        if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
            raise ValueError(f"{name} must be 1-D with the length of open ({n}), was shape {arr.shape}")
        n = arr.shape[0]
        ok = np.isfinite(arr) & ((arr >= 0) if name == "volume" else (arr > 0))
        if not ok.all():
            i = int(np.argmin(ok))
            raise ValueError(f"{name}[{i}] must be finite and {'>= 0' if name == 'volume' else '> 0'}, was {arr[i]}")
        cols[name] = arr
    o, h, lo, c = cols["open"], cols["high"], cols["low"], cols["close"]
    bad = (lo > np.minimum(o, c)) | (h < np.maximum(o, c))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"bar {i} must have low <= open, close <= high, was open {o[i]} high {h[i]} "
                         f"low {lo[i]} close {c[i]}")
    if int(spread_window) < 1 or int(vol_window) < 2:
        raise ValueError(f"spread_window must be >= 1 and vol_window >= 2, was {spread_window} and {vol_window}")
    return market_context_nb(o, h, lo, c, cols["volume"], int(spread_window), int(vol_window))


# The core works on scalars: a small njit helper that takes arrays pays reference
# counting on every call (measured ~10-30 ns per array argument), so the array-taking
# entry points read their fields once and call scalar code. LLVM inlines those helpers
# anyway; Numba's own inline="always" only made the fill model compile slower
# (fill_bar_nb cold: 2.4 s -> 1.5 s CPU without it, same bits).


@njit(cache=True)
def _half_spread(pair_spread, bar_spread, min_spread):
    s = pair_spread
    if math.isnan(s):
        s = bar_spread
    if math.isnan(s) or s < min_spread:
        s = min_spread
    return 0.5 * s


@njit(cache=True)
def _impact(qty, sigma, adv, coef, cap):
    if coef == 0.0 or math.isnan(sigma) or not (adv > 0.0):
        return 0.0
    imp = coef * sigma * math.sqrt(qty / adv)
    return imp if imp < cap else cap


@njit(cache=True)
def half_spread_nb(pair, bar, cfg):
    """Return half the relative spread: the pair's setting, else the bar's estimate, floored."""
    return _half_spread(pair[PAIR.SPREAD], bar[BAR.SPREAD], cfg[CFG.MIN_SPREAD])


@njit(cache=True)
def impact_nb(qty, bar, cfg):
    """Return the relative price impact ``min(coef * sigma * sqrt(qty / avg_volume), max)``."""
    return _impact(qty, bar[BAR.SIGMA], bar[BAR.AVG_VOLUME], cfg[CFG.IMPACT_COEF], cfg[CFG.MAX_IMPACT])


@njit(cache=True)
def _cap_qty(remaining, volume, participation, lot_decimals):
    cap = participation * volume
    q = remaining if remaining < cap else cap
    return round_qty_nb(q, lot_decimals)


@njit(cache=True)
def _inside(p, hi, lo):
    if p > hi:
        p = hi
    if p < lo:
        p = lo
    return p


@njit(cache=True)
def _apply(order, q, price, rate, lot_decimals):
    fee = q * price * rate
    filled = order[ORD.FILLED]
    new_filled = filled + q
    if filled > 0.0:
        order[ORD.AVG_PRICE] = (order[ORD.AVG_PRICE] * filled + price * q) / new_filled
    else:
        order[ORD.AVG_PRICE] = price
    order[ORD.FILLED] = new_filled
    order[ORD.FEES] += fee
    left = round_qty_nb(order[ORD.QTY] - new_filled, lot_decimals)
    if left <= 0.0 or left <= order[ORD.QTY] * 1e-12:
        order[ORD.FILLED] = order[ORD.QTY]
        code = Fill.FILLED
    else:
        code = Fill.PARTIAL
    order[ORD.STATUS] = code
    return q, price, fee, code


@njit(cache=True)
def _fill(order, bar_index, o, hi, lo, vol, bar_spread, sigma, adv, pair, cfg):
    status = order[ORD.STATUS]
    if not (status == Fill.NONE or status == Fill.PARTIAL):
        return 0.0, np.nan, 0.0, Fill.NONE
    if bar_index < order[ORD.READY_BAR] or not (vol > 0.0):
        return 0.0, np.nan, 0.0, Fill.NONE
    lot = pair[PAIR.LOT_DECIMALS]
    taker = pair[PAIR.TAKER_FEE]
    part = cfg[CFG.PARTICIPATION]
    hs = _half_spread(pair[PAIR.SPREAD], bar_spread, cfg[CFG.MIN_SPREAD])
    coef = cfg[CFG.IMPACT_COEF]
    max_imp = cfg[CFG.MAX_IMPACT]
    side = order[ORD.SIDE]
    typ = order[ORD.TYPE]
    remaining = round_qty_nb(order[ORD.QTY] - order[ORD.FILLED], lot)

    if typ == OrderType.MARKET or order[ORD.TRIGGERED] != 0.0:
        q = _cap_qty(remaining, vol, part, lot)
        if q <= 0.0:
            return 0.0, np.nan, 0.0, Fill.NONE
        px = _inside(o * (1.0 + side * (hs + _impact(q, sigma, adv, coef, max_imp))), hi, lo)
        return _apply(order, q, px, taker, lot)

    if typ == OrderType.LIMIT:
        p = order[ORD.PRICE]
        arriving = order[ORD.ARRIVED] == 0.0
        if arriving:
            order[ORD.ARRIVED] = 1.0
            crosses = p >= o * (1.0 + hs) if side > 0 else p <= o * (1.0 - hs)
            if crosses:
                if order[ORD.POST_ONLY] != 0.0:
                    order[ORD.STATUS] = Fill.REJECT_POST_ONLY
                    return 0.0, np.nan, 0.0, Fill.REJECT_POST_ONLY
                q = _cap_qty(remaining, vol, part, lot)
                if q <= 0.0:
                    return 0.0, np.nan, 0.0, Fill.NONE
                px = _inside(o * (1.0 + side * (hs + _impact(q, sigma, adv, coef, max_imp))), hi, lo)
                if side > 0 and px > p:
                    px = p
                if side < 0 and px < p:
                    px = p
                return _apply(order, q, px, taker, lot)
        through = lo < p if side > 0 else hi > p
        if not through:
            return 0.0, np.nan, 0.0, Fill.NONE
        q = _cap_qty(remaining, vol, part, lot)
        if q <= 0.0:
            return 0.0, np.nan, 0.0, Fill.NONE
        px = p
        if not arriving:  # the bar opened through a resting limit: filled at the open
            if side > 0 and o < p:
                px = o
            if side < 0 and o > p:
                px = o
        # a limit inside the spread on its arrival bar can lie beyond the bar's prints
        return _apply(order, q, _inside(px, hi, lo), pair[PAIR.MAKER_FEE], lot)

    # stop-loss / take-profit, possibly a bracket (PRICE2 = the other leg)
    if typ == OrderType.STOP_LOSS:
        stop = order[ORD.PRICE]
        tp = order[ORD.PRICE2]
    else:
        tp = order[ORD.PRICE]
        stop = order[ORD.PRICE2]
    has_stop = not math.isnan(stop)
    has_tp = not math.isnan(tp)
    if side < 0:  # selling out of a long: the stop is below, the take-profit above
        stop_open = has_stop and o <= stop
        tp_open = has_tp and o >= tp
        stop_hit = has_stop and lo <= stop
        tp_hit = has_tp and hi >= tp
    else:  # buying back a short: the stop is above, the take-profit below
        stop_open = has_stop and o >= stop
        tp_open = has_tp and o <= tp
        stop_hit = has_stop and hi >= stop
        tp_hit = has_tp and lo <= tp
    if stop_open:
        leg, trig = OrderType.STOP_LOSS, o
    elif tp_open:
        leg, trig = OrderType.TAKE_PROFIT, o
    elif stop_hit:  # also when both could have fired inside the bar: assume the worse
        leg, trig = OrderType.STOP_LOSS, stop
    elif tp_hit:
        leg, trig = OrderType.TAKE_PROFIT, tp
    else:
        return 0.0, np.nan, 0.0, Fill.NONE
    order[ORD.TRIGGERED] = leg
    q = _cap_qty(remaining, vol, part, lot)
    if q <= 0.0:
        return 0.0, np.nan, 0.0, Fill.NONE
    px = _inside(trig * (1.0 + side * (hs + _impact(q, sigma, adv, coef, max_imp))), hi, lo)
    return _apply(order, q, px, taker, lot)


@njit(cache=True)
def fill_bar_nb(order, bar_index, bar, pair, cfg):
    """Work one order against one bar; return ``(qty, price, fee, code)`` of this bar.

    ``bar`` is one ``BAR`` row. ``code`` is a ``Fill`` code: ``NONE`` (nothing
    happened), ``PARTIAL``, ``FILLED`` or ``REJECT_POST_ONLY``; ``price`` is NaN when
    nothing filled. The order row is updated in place (filled qty, average price,
    fees, status, trigger). Orders that are complete, rejected or cancelled are left
    alone. Rules: module docstring.
    """
    return _fill(order, bar_index, bar[BAR.OPEN], bar[BAR.HIGH], bar[BAR.LOW], bar[BAR.VOLUME],
                 bar[BAR.SPREAD], bar[BAR.SIGMA], bar[BAR.AVG_VOLUME], pair, cfg)


@njit(cache=True)
def fill_at_nb(order, i, bars, pair, cfg):
    """:func:`fill_bar_nb` against row ``i`` of a ``(n, N_BAR)`` context, without a row view.

    What the compiled driver calls in its loop (a row view costs reference counting).
    """
    return _fill(order, i, bars[i, BAR.OPEN], bars[i, BAR.HIGH], bars[i, BAR.LOW], bars[i, BAR.VOLUME],
                 bars[i, BAR.SPREAD], bars[i, BAR.SIGMA], bars[i, BAR.AVG_VOLUME], pair, cfg)
