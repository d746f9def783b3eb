"""Brute-force Python oracle of the fill model (tradejet.kernels.fills), written from the
rules in its docstring, plain floats and dicts, no shared code with the kernel."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MARKET, LIMIT, STOP_LOSS, TAKE_PROFIT = 0, 1, 2, 3
NONE, PARTIAL, FILLED, REJECT_POST_ONLY = 0, 1, 2, 7


@dataclass
class Costs:
    lot_decimals: float = math.nan
    maker_fee: float = 0.0025
    taker_fee: float = 0.004
    spread: float = math.nan  # NaN: use the bar's estimate
    participation: float = 0.1
    impact_coef: float = 1.0
    max_impact: float = 0.05
    min_spread: float = 0.0


@dataclass
class Order:
    side: int
    kind: int
    qty: float
    price: float = math.nan
    price2: float = math.nan
    post_only: bool = False
    ready: int = 0
    filled: float = 0.0
    fees: float = 0.0
    done: bool = False
    arrived: bool = False
    triggered: int = 0
    fills: list = field(default_factory=list)


def floor_lots(q: float, d: float) -> float:
    if math.isnan(d):
        return q
    x = q * 10**d
    return math.floor(x + max(1e-9, abs(x) * 1e-14)) / 10**d


def one_bar(o: Order, i: int, bar: dict, c: Costs):
    """Return (qty, price, fee, code) for bar i; bar has open/high/low/volume/spread/sigma/avg_volume."""
    nothing = (0.0, math.nan, 0.0, NONE)
    if o.done or i < o.ready or not bar["volume"] > 0:
        return nothing
    spread = c.spread if not math.isnan(c.spread) else bar["spread"]
    if math.isnan(spread) or spread < c.min_spread:
        spread = c.min_spread
    half = spread / 2

    def impact(q):
        if c.impact_coef == 0 or math.isnan(bar["sigma"]) or not bar["avg_volume"] > 0:
            return 0.0
        return min(c.impact_coef * bar["sigma"] * math.sqrt(q / bar["avg_volume"]), c.max_impact)

    def capped():
        left = floor_lots(o.qty - o.filled, c.lot_decimals)
        return floor_lots(min(left, c.participation * bar["volume"]), c.lot_decimals)

    def inside(p):
        return min(max(p, bar["low"]), bar["high"])

    def take(q, p, rate):
        fee = q * p * rate
        o.filled += q
        o.fees += fee
        o.fills.append((i, q, p, fee))
        left = floor_lots(o.qty - o.filled, c.lot_decimals)
        if left <= 0 or left <= o.qty * 1e-12:
            o.done = True
            o.filled = o.qty
            return q, p, fee, FILLED
        return q, p, fee, PARTIAL

    op, hi, lo = bar["open"], bar["high"], bar["low"]
    if o.kind == MARKET or o.triggered:
        q = capped()
        if q <= 0:
            return nothing
        return take(q, inside(op * (1 + o.side * (half + impact(q)))), c.taker_fee)
    if o.kind == LIMIT:
        arriving = not o.arrived
        if arriving:
            o.arrived = True
            touch = op * (1 + o.side * half)
            if (o.side > 0 and o.price >= touch) or (o.side < 0 and o.price <= touch):
                if o.post_only:
                    o.done = True
                    return 0.0, math.nan, 0.0, REJECT_POST_ONLY
                q = capped()
                if q <= 0:
                    return nothing
                p = inside(op * (1 + o.side * (half + impact(q))))
                p = min(p, o.price) if o.side > 0 else max(p, o.price)
                return take(q, p, c.taker_fee)
        if (o.side > 0 and lo < o.price) or (o.side < 0 and hi > o.price):
            q = capped()
            if q <= 0:
                return nothing
            p = o.price if arriving else (min(o.price, op) if o.side > 0 else max(o.price, op))
            return take(q, p, c.maker_fee)
        return nothing
    stop, tp = (o.price, o.price2) if o.kind == STOP_LOSS else (o.price2, o.price)
    s = o.side
    # for a sell, "beyond the stop" means at or below it; for a buy, at or above
    def beyond_stop(x):
        return not math.isnan(stop) and (x <= stop if s < 0 else x >= stop)

    def beyond_tp(x):
        return not math.isnan(tp) and (x >= tp if s < 0 else x <= tp)

    worst = lo if s < 0 else hi  # the extreme that hits a stop
    best = hi if s < 0 else lo  # the extreme that hits a take-profit
    if beyond_stop(op):
        leg, trig = STOP_LOSS, op
    elif beyond_tp(op):
        leg, trig = TAKE_PROFIT, op
    elif beyond_stop(worst):
        leg, trig = STOP_LOSS, stop
    elif beyond_tp(best):
        leg, trig = TAKE_PROFIT, tp
    else:
        return nothing
    o.triggered = leg
    q = capped()
    if q <= 0:
        return nothing
    return take(q, inside(trig * (1 + s * (half + impact(q)))), c.taker_fee)
