"""Kraken Spot REST wire types: msgspec structs that keep Kraken's spelling and its strings.

Numbers Kraken sends as strings stay strings here (the ledger keeps them as received);
:mod:`tradejet.adapters.kraken.parse` converts once. Unknown fields are ignored (Kraken
adds fields over time); missing or mistyped ones fail in :func:`decode_result` with the
endpoint and the JSON path of the field. Decoders are built once, at import.
"""

from __future__ import annotations

from typing import Any, TypeVar, get_args, get_origin

import msgspec

from tradejet.errors import ResponseError

__all__ = [
    "Envelope", "ServerTime", "SystemStatus", "AssetInfo", "AssetPair", "TickerInfo",
    "OHLCRow", "OHLCResult", "TradeRow", "TradesResult", "DepthLevel", "DepthBook",
    "BalanceExEntry", "TradeBalance", "OrderDescr", "OrderInfo", "OpenOrdersResult",
    "ClosedOrdersResult", "TradeInfo", "TradesHistoryResult", "AddOrderDescr", "AddOrderResult",
    "BatchOrderResult", "AddOrderBatchResult", "AmendOrderResult", "EditOrderResult",
    "CancelOrderResult", "CancelAllOrdersAfterResult", "WebSocketsToken",
    "decode_envelope", "decode_result", "decode_keyed_rows",
]

T = TypeVar("T")
Num = float | str  # Kraken times are numbers, but some recordings carry them as strings


class Envelope(msgspec.Struct):
    """``{"error": [...], "result": ...}``; ``result`` is kept raw until errors are checked."""

    error: list[str]
    result: msgspec.Raw = msgspec.Raw(b"null")


class ServerTime(msgspec.Struct, frozen=True):
    unixtime: int
    rfc1123: str


class SystemStatus(msgspec.Struct, frozen=True):
    status: str  # online | maintenance | cancel_only | post_only
    timestamp: str


class AssetInfo(msgspec.Struct, frozen=True):
    aclass: str
    altname: str
    decimals: int
    display_decimals: int
    collateral_value: float | None = None
    status: str | None = None
    margin_rate: str | None = None


class AssetPair(msgspec.Struct, frozen=True):
    """One ``AssetPairs`` record (key = Kraken's pair id, e.g. ``XXBTZUSD``)."""

    altname: str
    base: str
    quote: str
    pair_decimals: int
    lot_decimals: int
    cost_decimals: int = 8
    wsname: str | None = None
    aclass_base: str = "currency"
    aclass_quote: str = "currency"
    lot: str = "unit"
    lot_multiplier: int = 1
    leverage_buy: list[int] = []
    leverage_sell: list[int] = []
    fees: list[tuple[float, float]] = []
    fees_maker: list[tuple[float, float]] = []
    fee_volume_currency: str | None = None
    margin_call: int | None = None
    margin_stop: int | None = None
    ordermin: str | None = None
    costmin: str | None = None
    tick_size: str | None = None
    status: str = "online"
    execution_venue: str | None = None
    long_position_limit: int | None = None
    short_position_limit: int | None = None


class TickerInfo(msgspec.Struct, frozen=True):
    """``a``/``b`` = [price, whole-lot volume, lot volume]; ``c`` = [last, volume]; [today, 24h] pairs."""

    a: list[str]
    b: list[str]
    c: list[str]
    v: list[str]
    p: list[str]
    t: list[int]
    l: list[str]  # noqa: E741 - Kraken's name
    h: list[str]
    o: str


class OHLCRow(msgspec.Struct, array_like=True, frozen=True):
    """``[time, open, high, low, close, vwap, volume, count]``, time in seconds (open time)."""

    time: int
    open: str
    high: str
    low: str
    close: str
    vwap: str
    volume: str
    count: int


class OHLCResult(msgspec.Struct, frozen=True):
    pair: str
    rows: list[OHLCRow]
    last: int  # seconds: pass as ``since`` for the next call


class TradeRow(msgspec.Struct, array_like=True, frozen=True):
    """``[price, volume, time, side b/s, type m/l, misc, trade_id(, ns cursor)]``."""

    price: str
    volume: str
    time: float
    side: str
    ordertype: str
    misc: str
    trade_id: int | None = None
    cursor: str | None = None


class TradesResult(msgspec.Struct, frozen=True):
    pair: str
    rows: list[TradeRow]
    last: str  # nanosecond cursor


class DepthLevel(msgspec.Struct, array_like=True, frozen=True):
    price: str
    volume: str
    timestamp: int


class DepthBook(msgspec.Struct, frozen=True):
    asks: list[DepthLevel]
    bids: list[DepthLevel]


class BalanceExEntry(msgspec.Struct, frozen=True):
    balance: str
    hold_trade: str = "0"
    credit: str | None = None
    credit_used: str | None = None


class TradeBalance(msgspec.Struct, frozen=True):
    eb: str
    tb: str
    m: str
    n: str
    c: str
    v: str
    e: str
    mf: str
    uv: str | None = None
    ml: str | None = None


class OrderDescr(msgspec.Struct, frozen=True):
    pair: str
    type: str
    ordertype: str
    price: str
    price2: str
    leverage: str
    order: str
    close: str = ""


class OrderInfo(msgspec.Struct, frozen=True):
    status: str  # pending | open | closed | canceled | expired
    opentm: Num
    descr: OrderDescr
    vol: str
    vol_exec: str
    cost: str
    fee: str
    price: str
    refid: str | None = None
    userref: int | str | None = None
    cl_ord_id: str | None = None
    starttm: Num = 0
    expiretm: Num = 0
    stopprice: str = "0"
    limitprice: str = "0"
    misc: str = ""
    oflags: str = ""
    trigger: str | None = None
    trades: list[str] | None = None
    reason: str | None = None
    closetm: Num | None = None


class OpenOrdersResult(msgspec.Struct, frozen=True):
    open: dict[str, OrderInfo]


class ClosedOrdersResult(msgspec.Struct, frozen=True):
    closed: dict[str, OrderInfo]
    count: int = 0


class TradeInfo(msgspec.Struct, frozen=True):
    ordertxid: str
    pair: str
    time: float
    type: str
    ordertype: str
    price: str
    cost: str
    fee: str
    vol: str
    postxid: str | None = None
    margin: str = "0"
    misc: str = ""
    leverage: str | None = None
    trade_id: int | None = None
    maker: bool | None = None
    cl_ord_id: str | None = None


class TradesHistoryResult(msgspec.Struct, frozen=True):
    trades: dict[str, TradeInfo]
    count: int = 0


class AddOrderDescr(msgspec.Struct, frozen=True):
    order: str
    close: str | None = None


class AddOrderResult(msgspec.Struct, frozen=True):
    descr: AddOrderDescr
    txid: list[str] = []  # absent when validate=true


class BatchOrderResult(msgspec.Struct, frozen=True):
    txid: str | None = None
    descr: AddOrderDescr | None = None
    error: str | None = None
    cl_ord_id: str | None = None


class AddOrderBatchResult(msgspec.Struct, frozen=True):
    orders: list[BatchOrderResult]


class AmendOrderResult(msgspec.Struct, frozen=True):
    amend_id: str


class EditOrderResult(msgspec.Struct, frozen=True):
    descr: AddOrderDescr | None = None
    txid: str | None = None
    originaltxid: str | None = None
    volume: str | None = None
    price: str | None = None
    price2: str | None = None
    orders_cancelled: int | None = None
    status: str | None = None


class CancelOrderResult(msgspec.Struct, frozen=True):
    count: int
    pending: bool | None = None


class CancelAllOrdersAfterResult(msgspec.Struct, frozen=True):
    currentTime: str  # noqa: N815 - Kraken's spelling
    triggerTime: str  # noqa: N815


class WebSocketsToken(msgspec.Struct, frozen=True):
    token: str
    expires: int


class FeeTierInfo(msgspec.Struct, frozen=True):
    """One pair's fee in ``TradeVolume`` (percent strings, e.g. ``"0.4000"``)."""

    fee: str | float
    minfee: str | None = None
    maxfee: str | None = None
    nextfee: str | None = None
    tiervolume: str | None = None
    nextvolume: str | None = None


class TradeVolumeResult(msgspec.Struct, frozen=True):
    """``TradeVolume``: 30-day volume (in ``currency``) and the account's fees for the asked pairs."""

    currency: str
    volume: str | float
    fees: dict[str, FeeTierInfo] = {}
    fees_maker: dict[str, FeeTierInfo] = {}


__all__ += ["FeeTierInfo", "TradeVolumeResult"]

_ENVELOPE = msgspec.json.Decoder(Envelope)
_DECODERS: dict[Any, msgspec.json.Decoder] = {}


def _decoder(tp: Any) -> msgspec.json.Decoder:
    d = _DECODERS.get(tp)
    if d is None:
        d = _DECODERS[tp] = msgspec.json.Decoder(tp)
    return d


def decode_envelope(endpoint: str, body: bytes) -> Envelope:
    """Decode Kraken's envelope or raise :class:`ResponseError` naming the endpoint."""
    try:
        return _ENVELOPE.decode(body)
    except msgspec.DecodeError as e:
        raise ResponseError(f"Kraken {endpoint}: response is not a Kraken envelope: {e}"
                            f" (body starts {body[:80]!r})") from None


def decode_result(endpoint: str, raw: bytes | msgspec.Raw, tp: type[T] | Any) -> T:
    """Decode ``result`` into ``tp``; a wrong shape raises ResponseError with the field path."""
    if bytes(raw).strip() == b"null":
        raise ResponseError(f"Kraken {endpoint}: result is missing (null) without an error")
    try:
        return _decoder(tp).decode(raw)
    except msgspec.DecodeError as e:
        msg = _field_msg(e)
    if get_origin(tp) is dict and "result[...]" in msg:
        # msgspec does not name dict keys: find the offending key to name it
        parts = _decoder(dict[str, msgspec.Raw]).decode(raw)
        value_tp = get_args(tp)[1]
        for key, value in parts.items():
            try:
                _decoder(value_tp).decode(value)
            except msgspec.DecodeError as e:
                msg = _field_msg(e).replace("`result", f"`result.{key}")
                if " - at `" not in msg:
                    msg += f" - at `result.{key}`"
                break
    raise ResponseError(f"Kraken {endpoint}: unexpected response: {msg}")


def _field_msg(e: Exception) -> str:
    msg = str(e)
    return msg.replace("`$.", "`result.").replace("`$`", "`result`").replace("`$[", "`result[")


def decode_keyed_rows(endpoint: str, raw: bytes | msgspec.Raw, row_tp: Any) -> tuple[str, Any, msgspec.Raw]:
    """Split ``{PAIR: [...], "last": ...}`` into (pair key, decoded rows, raw ``last``)."""
    parts = decode_result(endpoint, raw, dict[str, msgspec.Raw])
    if "last" not in parts:
        raise ResponseError(f"Kraken {endpoint}: unexpected response: field `result.last` is missing")
    keys = [k for k in parts if k != "last"]
    if len(keys) != 1:
        raise ResponseError(f"Kraken {endpoint}: unexpected response: expected one pair key besides"
                            f" `last`, got {keys}")
    key = keys[0]
    try:
        rows = _decoder(list[row_tp]).decode(parts[key])
    except msgspec.DecodeError as e:
        raise ResponseError(f"Kraken {endpoint}: unexpected response: {_field_msg(e)}"
                            .replace("`result", f"`result.{key}")) from None
    return key, rows, parts["last"]
