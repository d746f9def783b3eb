"""Build AddOrder parameters the way Kraken accepts them.

Prices are rounded to the pair's ``tick_size`` (nearest tick) and written with
``pair_decimals``; volumes are rounded DOWN to ``lot_decimals`` (never sell more than is
held); ``ordermin`` (base units) and ``costmin`` (quote units) are checked before sending.
Pair metadata is an :class:`~tradejet.adapters.kraken.schemas.AssetPair` or the plain
dict of one ``AssetPairs`` record.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import msgspec

from tradejet.adapters.kraken.errors import InvalidArguments, OrderMinimumNotMet
from tradejet.adapters.kraken.schemas import AssetPair
from tradejet.errors import ResponseError
from tradejet.kernels.codes import Side
from tradejet.messages import SubmitOrder

__all__ = ["submit_params", "pair_meta", "round_price", "round_volume", "exit_volume", "build_add_order", "new_cl_ord_id",
           "ORDER_TYPES", "TIME_IN_FORCE", "OFLAGS", "valid_cl_ord_id"]

ORDER_TYPES = ("market", "limit", "stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit",
               "trailing-stop", "trailing-stop-limit", "iceberg", "settle-position")
TIME_IN_FORCE = ("GTC", "IOC", "GTD", "FOK")
OFLAGS = ("post", "fcib", "fciq", "nompp", "viqc")


def pair_meta(meta: AssetPair | Mapping[str, Any]) -> AssetPair:
    """Return ``meta`` as an :class:`AssetPair` (a dict is validated)."""
    if isinstance(meta, AssetPair):
        return meta
    try:
        return msgspec.convert(dict(meta), AssetPair)
    except msgspec.ValidationError as e:
        raise ResponseError(f"pair metadata is not an AssetPairs record: {e}") from None


def _dec(x: float | str | Decimal, what: str) -> Decimal:
    try:
        d = Decimal(str(x)) if not isinstance(x, Decimal) else x
    except InvalidOperation:
        raise InvalidArguments(f"{what} must be a number, was {x!r}") from None
    if not d.is_finite():
        raise InvalidArguments(f"{what} must be finite, was {x!r}")
    return d


def _fmt(d: Decimal) -> str:
    s = format(d, "f")
    return s


def round_price(price: float | str | Decimal, meta: AssetPair | Mapping[str, Any]) -> str:
    """Return ``price`` rounded to the nearest tick, written with ``pair_decimals`` decimals.

    >>> round_price(37500.06, {"altname": "XBTUSD", "base": "XXBT", "quote": "ZUSD",
    ...                        "pair_decimals": 1, "lot_decimals": 8, "tick_size": "0.1"})
    '37500.1'
    """
    m = pair_meta(meta)
    p = _dec(price, "price")
    if p <= 0:
        raise InvalidArguments(f"price must be > 0, was {price}")
    tick = Decimal(m.tick_size) if m.tick_size else Decimal(1).scaleb(-m.pair_decimals)
    q = (p / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick
    if q <= 0:
        raise InvalidArguments(f"price {price} rounds to 0 at tick size {tick}")
    return _fmt(q.quantize(Decimal(1).scaleb(-m.pair_decimals), rounding=ROUND_HALF_UP))


def round_volume(volume: float | str | Decimal, meta: AssetPair | Mapping[str, Any]) -> str:
    """Return ``volume`` rounded DOWN to ``lot_decimals``.

    >>> round_volume(0.123456789, {"altname": "XBTUSD", "base": "XXBT", "quote": "ZUSD",
    ...                             "pair_decimals": 1, "lot_decimals": 8})
    '0.12345678'
    """
    m = pair_meta(meta)
    v = _dec(volume, "volume")
    if v <= 0:
        raise InvalidArguments(f"volume must be > 0, was {volume}")
    return _fmt(v.quantize(Decimal(1).scaleb(-m.lot_decimals), rounding=ROUND_DOWN))


def exit_volume(held: float | str | Decimal, meta: AssetPair | Mapping[str, Any],
                fee_in_base: float | str | Decimal = 0) -> str:
    """Return the volume to sell to exit a position of ``held`` base units actually in the account.

    ``fee_in_base`` is subtracted when the fee will be charged in base (``fcib``).
    The result is rounded down, so the order never asks for more than is held.
    """
    v = _dec(held, "held") - _dec(fee_in_base, "fee_in_base")
    return round_volume(v, meta)


_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def valid_cl_ord_id(cl: str) -> bool:
    """Kraken takes a long UUID (36 chars), a short one (32 hex) or free text of at most 18 characters.

    >>> valid_cl_ord_id("tj-12"), valid_cl_ord_id("x" * 19), valid_cl_ord_id("0" * 32)
    (True, False, True)
    """
    return len(cl) <= 18 or bool(_UUID.match(cl) and len(cl) in (32, 36))


def new_cl_ord_id() -> str:
    """Return a fresh client order id (a long UUID, one of the forms Kraken accepts)."""
    return str(uuid.uuid4())


def build_add_order(pair: str, meta: AssetPair | Mapping[str, Any], side: int | str, ordertype: str,
                    volume: float | str | Decimal, *, price: float | str | None = None,
                    price2: float | str | None = None, ref_price: float | str | None = None,
                    cl_ord_id: str | None = None, post_only: bool = False,
                    oflags: Iterable[str] = (), timeinforce: str | None = None,
                    expiretm: str | int | None = None, trigger: str | None = None,
                    validate: bool = False, deadline: str | None = None) -> dict[str, str]:
    """Return AddOrder parameters (without the nonce), rounded and checked against the minimums.

    ``price`` is the limit price for ``limit`` and the trigger price for stop/take-profit;
    ``price2`` the limit price of ``*-limit`` types. ``ref_price`` (e.g. the last trade) is
    used for the ``costmin`` check of market orders. Raises
    :class:`~tradejet.adapters.kraken.errors.OrderMinimumNotMet` or
    :class:`~tradejet.adapters.kraken.errors.InvalidArguments` before anything is sent.
    """
    m = pair_meta(meta)
    if side in (Side.BUY, "buy"):
        side_s = "buy"
    elif side in (Side.SELL, "sell"):
        side_s = "sell"
    else:
        raise InvalidArguments(f"side must be buy/sell or Side.BUY/Side.SELL, was {side!r}")
    if ordertype not in ORDER_TYPES:
        raise InvalidArguments(f"ordertype must be one of {ORDER_TYPES}, was {ordertype!r}")
    if m.status not in ("online", "post_only", "limit_only"):
        raise InvalidArguments(f"pair {pair} is {m.status}: no new orders accepted")
    needs_price = ordertype != "market" and ordertype != "settle-position"
    if needs_price and price is None:
        raise InvalidArguments(f"{ordertype} order needs a price")
    if ordertype.endswith("-limit") and price2 is None:
        raise InvalidArguments(f"{ordertype} order needs price2 (the limit price)")
    flags = list(dict.fromkeys(oflags))
    for f in flags:
        if f not in OFLAGS:
            raise InvalidArguments(f"oflag must be one of {OFLAGS}, was {f!r}")
    if post_only:
        if ordertype != "limit":
            raise InvalidArguments(f"post-only applies to limit orders, not {ordertype}")
        if "post" not in flags:
            flags.append("post")
    if timeinforce is not None and timeinforce not in TIME_IN_FORCE:
        raise InvalidArguments(f"timeinforce must be one of {TIME_IN_FORCE}, was {timeinforce!r}")

    vol = round_volume(volume, m)
    p: dict[str, str] = {"pair": pair, "type": side_s, "ordertype": ordertype, "volume": vol}
    px = round_price(price, m) if needs_price and price is not None else None
    if px is not None:
        p["price"] = px
    if price2 is not None:
        p["price2"] = round_price(price2, m)
    if flags:
        p["oflags"] = ",".join(flags)
    if timeinforce is not None:
        p["timeinforce"] = timeinforce
    if expiretm is not None:
        p["expiretm"] = str(expiretm)
    if trigger is not None:
        p["trigger"] = trigger
    p["cl_ord_id"] = cl_ord_id or new_cl_ord_id()
    if deadline is not None:
        p["deadline"] = deadline
    if validate:
        p["validate"] = "true"

    if "viqc" not in flags:
        if m.ordermin is not None and Decimal(vol) < Decimal(m.ordermin):
            raise OrderMinimumNotMet(f"{pair}: volume {vol} is below ordermin {m.ordermin}"
                                     f" (checked before sending; requested {volume})")
        cost_px = p.get("price2") or px or (str(ref_price) if ref_price is not None else None)
        if m.costmin is not None and cost_px is not None:
            cost = Decimal(vol) * _dec(cost_px, "price")
            if cost < Decimal(m.costmin):
                raise OrderMinimumNotMet(f"{pair}: cost {cost} is below costmin {m.costmin}"
                                         f" (checked before sending)")
    return p


def submit_params(order: SubmitOrder, pair: str, meta: AssetPair | Mapping[str, Any], *,
                  ref_price: float | None = None, validate: bool = False) -> dict[str, str]:
    """Return AddOrder parameters for a :class:`~tradejet.messages.SubmitOrder`.

    ``client_order_id`` becomes ``cl_ord_id`` (made before sending, reused on retry);
    ``order_type`` is a :data:`~tradejet.kernels.codes.OrderType` code; for stop-loss and
    take-profit the trigger is ``stop_price``.
    """
    import math

    from tradejet.kernels.codes import ORDER_TYPE_TEXT, OrderType

    if not 0 <= order.order_type < len(ORDER_TYPE_TEXT):
        raise InvalidArguments(f"order_type must be an OrderType code, was {order.order_type}")
    if order.reduce_only:
        raise InvalidArguments("reduce_only is a margin feature; tradejet trades Kraken spot cash-only")
    ot = ORDER_TYPE_TEXT[order.order_type]
    price: float | None = None
    if order.order_type == OrderType.LIMIT:
        price = order.limit_price
    elif order.order_type in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT):
        price = order.stop_price
    if price is not None and math.isnan(price):
        raise InvalidArguments(f"{ot} order {order.client_order_id} needs a price, was NaN")
    return build_add_order(pair, meta, order.side, ot, order.qty, price=price, ref_price=ref_price,
                           cl_ord_id=order.client_order_id, post_only=order.post_only, validate=validate)
