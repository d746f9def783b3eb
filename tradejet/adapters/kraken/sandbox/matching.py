"""The sandbox's fill rule, in one function so the shared fill model can replace it.

``match_order`` sees one order and one candle that opened after the order was placed:

* market: fills at the candle's open (taker);
* limit: marketable at the open (buy limit >= open / sell limit <= open) fills at the open
  (taker; a post-only order is cancelled instead); otherwise it fills at its limit when the
  price trades THROUGH it (buy: low < limit; sell: high > limit) as maker;
* stop-loss (sell: triggers when low <= trigger; buy: high >= trigger) and take-profit
  (sell: high >= trigger; buy: low <= trigger) fill as market at the trigger, or at the
  open when the candle gapped past it (taker).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Match", "match_order"]


class Match(NamedTuple):
    price: float
    maker: bool
    cancel_reason: str | None = None


def match_order(side: str, ordertype: str, price: float, post_only: bool, o: float, h: float, lo: float,
                c: float) -> Match | None:
    """Return the fill of one order against one candle ``(o, h, lo, c)``, or None if it rests."""
    buy = side == "buy"
    if ordertype == "market":
        return Match(o, False)
    if ordertype == "limit":
        if (buy and price >= o) or (not buy and price <= o):
            if post_only:
                return Match(o, False, "Post only order")
            return Match(o, False)
        if (buy and lo < price) or (not buy and h > price):
            return Match(price, True)
        return None
    if ordertype == "stop-loss":
        if buy:
            if o >= price:
                return Match(o, False)
            return Match(price, False) if h >= price else None
        if o <= price:
            return Match(o, False)
        return Match(price, False) if lo <= price else None
    if ordertype == "take-profit":
        if buy:
            if o <= price:
                return Match(o, False)
            return Match(price, False) if lo <= price else None
        if o >= price:
            return Match(o, False)
        return Match(price, False) if h >= price else None
    raise ValueError(f"ordertype {ordertype!r} is not matched by the sandbox")
