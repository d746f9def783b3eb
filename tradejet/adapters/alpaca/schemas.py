"""Alpaca wire types: msgspec structs in Alpaca's own spelling, decoded once per type.

Shapes follow Alpaca's documented objects (Trading API v2: Account, Order, Position,
TradeActivity ``FILL``, Clock, Calendar; Market Data API v2: bars). Alpaca sends most
numbers as strings (``"cash": "122086.5"``): the structs keep the strings as received
and :func:`num` converts one field once, naming the endpoint and field when it is not a
number. Unknown fields are ignored (Alpaca adds fields); a missing required field or a
wrong type raises :class:`~tradejet.errors.ResponseError` naming the endpoint and the
JSON path.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from tradejet.errors import ResponseError

__all__ = [
    "AlpacaAccount", "AlpacaOrder", "AlpacaPosition", "AlpacaFill", "AlpacaClock", "AlpacaCalendarDay",
    "AlpacaBar", "AlpacaBarsPage", "AlpacaMultiBarsPage", "AlpacaErrorBody", "decode", "num", "parse_time_ns",
    "NEW_YORK",
]

T = TypeVar("T")
NEW_YORK = ZoneInfo("America/New_York")

_Num = str  # a decimal number as Alpaca sends it (a string); converted by num()


class AlpacaAccount(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    status: str
    currency: str = "USD"
    cash: _Num
    buying_power: _Num
    multiplier: _Num | int = "1"
    equity: _Num = "0"
    last_equity: _Num = "0"
    portfolio_value: _Num | None = None
    account_number: str | None = None
    pattern_day_trader: bool = False
    trading_blocked: bool = False
    transfers_blocked: bool = False
    account_blocked: bool = False
    trade_suspended_by_user: bool = False
    shorting_enabled: bool = False
    daytrade_count: int | str = 0
    long_market_value: _Num | None = None
    non_marginable_buying_power: _Num | None = None
    created_at: str | None = None


class AlpacaOrder(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    client_order_id: str
    created_at: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    status: str
    filled_qty: _Num
    qty: _Num | None = None
    notional: _Num | None = None
    updated_at: str | None = None
    submitted_at: str | None = None
    filled_at: str | None = None
    expired_at: str | None = None
    canceled_at: str | None = None
    failed_at: str | None = None
    replaced_at: str | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    asset_id: str | None = None
    asset_class: str | None = None
    filled_avg_price: _Num | None = None
    order_class: str = ""
    order_type: str | None = None
    limit_price: _Num | None = None
    stop_price: _Num | None = None
    extended_hours: bool = False
    legs: list[AlpacaOrder] | None = None
    trail_percent: _Num | None = None
    trail_price: _Num | None = None
    hwm: _Num | None = None


class AlpacaPosition(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    qty: _Num
    avg_entry_price: _Num
    side: str
    asset_id: str | None = None
    exchange: str | None = None
    asset_class: str | None = None
    qty_available: _Num | None = None
    market_value: _Num | None = None
    cost_basis: _Num | None = None
    unrealized_pl: _Num | None = None
    unrealized_plpc: _Num | None = None
    current_price: _Num | None = None
    lastday_price: _Num | None = None
    change_today: _Num | None = None


class AlpacaFill(msgspec.Struct, frozen=True, kw_only=True):
    """A TradeActivity of type ``FILL`` (``GET /v2/account/activities/FILL``)."""

    id: str
    activity_type: str
    transaction_time: str
    type: str
    price: _Num
    qty: _Num
    side: str
    symbol: str
    leaves_qty: _Num
    order_id: str
    cum_qty: _Num
    order_status: str | None = None


class AlpacaClock(msgspec.Struct, frozen=True, kw_only=True):
    timestamp: str
    is_open: bool
    next_open: str
    next_close: str


class AlpacaCalendarDay(msgspec.Struct, frozen=True, kw_only=True):
    date: str
    open: str
    close: str
    session_open: str | None = None
    session_close: str | None = None
    settlement_date: str | None = None


class AlpacaBar(msgspec.Struct, frozen=True, kw_only=True):
    t: str
    o: float
    h: float
    l: float  # noqa: E741 - Alpaca's name
    c: float
    v: float
    n: int | None = None
    vw: float | None = None


class AlpacaBarsPage(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v2/stocks/{symbol}/bars``: ``bars`` may be null when there are none."""

    bars: list[AlpacaBar] | None
    symbol: str
    next_page_token: str | None = None


class AlpacaMultiBarsPage(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v2/stocks/bars``: bars keyed by symbol."""

    bars: dict[str, list[AlpacaBar]] | None
    next_page_token: str | None = None


class AlpacaErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    code: int | None = None
    message: str = ""


_DECODERS: dict[Any, msgspec.json.Decoder] = {
    tp: msgspec.json.Decoder(tp) for tp in (
        AlpacaAccount, AlpacaOrder, list[AlpacaOrder], AlpacaPosition, list[AlpacaPosition], list[AlpacaFill],
        AlpacaClock, list[AlpacaCalendarDay], AlpacaBarsPage, AlpacaMultiBarsPage, AlpacaErrorBody)
}
_PATH_RE = re.compile(r"at `\$(.*)`")


def decode(endpoint: str, body: bytes, tp: type[T] | Any) -> T:
    """Decode ``body`` into ``tp``; a bad shape raises ResponseError naming endpoint and field.

    >>> decode("GET /v2/clock", b'{"timestamp":"2024-01-02T10:00:00-05:00","is_open":true,'
    ...        b'"next_open":"2024-01-03T09:30:00-05:00","next_close":"2024-01-02T16:00:00-05:00"}', AlpacaClock).is_open
    True
    """
    dec = _DECODERS.get(tp) or msgspec.json.Decoder(tp)
    try:
        return dec.decode(body)
    except msgspec.ValidationError as e:
        m = _PATH_RE.search(str(e))
        field = m.group(1) or "$" if m else "?"
        raise ResponseError(f"Alpaca {endpoint}: unexpected response at field {field.lstrip('.') or '$'}: "
                            f"{str(e).split(' - at ')[0]}") from None
    except msgspec.DecodeError as e:
        raise ResponseError(f"Alpaca {endpoint}: response is not valid JSON ({e}); starts {body[:60]!r}") from None


def num(value: str | float | int | None, endpoint: str, field: str, *, default: float = math.nan) -> float:
    """Convert one of Alpaca's number strings; None gives ``default``; junk raises ResponseError.

    >>> num("122086.5", "GET /v2/account", "cash")
    122086.5
    """
    if value is None:
        return default
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ResponseError(f"Alpaca {endpoint}: field {field} is not a number: {value!r}") from None
    if not math.isfinite(x):
        raise ResponseError(f"Alpaca {endpoint}: field {field} is not finite: {value!r}")
    return x


def parse_time_ns(text: str, endpoint: str, field: str) -> int:
    """RFC 3339 timestamp (any offset, up to nanoseconds) -> int64 Unix ns UTC.

    >>> parse_time_ns("2022-04-28T14:07:04.451420928-04:00", "GET /v2/clock", "timestamp")
    1651169224451420928
    """
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", text or "")
    if m is None:
        raise ResponseError(f"Alpaca {endpoint}: field {field} is not an RFC 3339 time: {text!r}")
    base, frac, off = m.groups()
    try:
        dt = datetime.fromisoformat(base + ("+00:00" if off == "Z" else off))
    except ValueError:
        raise ResponseError(f"Alpaca {endpoint}: field {field} is not an RFC 3339 time: {text!r}") from None
    ns = int(dt.timestamp()) * 1_000_000_000
    return ns + (int(frac.ljust(9, "0")) if frac else 0)


def session_bounds_ns(day: AlpacaCalendarDay, endpoint: str = "GET /v2/calendar") -> tuple[int, int]:
    """The regular session of one calendar day as (open, close) Unix ns UTC (times are New York time)."""
    try:
        d = date.fromisoformat(day.date)
        o = time.fromisoformat(day.open)
        c = time.fromisoformat(day.close)
    except ValueError:
        raise ResponseError(f"Alpaca {endpoint}: calendar day {day.date!r} has a bad date or time "
                            f"(open {day.open!r}, close {day.close!r})") from None
    t_o = datetime.combine(d, o, NEW_YORK)
    t_c = datetime.combine(d, c, NEW_YORK)
    return int(t_o.timestamp()) * 1_000_000_000, int(t_c.timestamp()) * 1_000_000_000


def bar_day_ns(t: str, endpoint: str) -> int:
    """A daily bar's trading date as tradejet stamps daily bars: that date at 00:00 UTC.

    Alpaca stamps daily bars at the session date's midnight New York time
    (``2022-02-28T05:00:00Z``); the equity files in ``shared/data`` stamp them at 00:00 UTC.
    """
    ns = parse_time_ns(t, endpoint, "t")
    d = datetime.fromtimestamp(ns / 1e9, NEW_YORK).date()
    return int(datetime.combine(d, time(0), timezone.utc).timestamp()) * 1_000_000_000


def day_of_ns(ns: int) -> date:
    """The New York calendar date of a Unix ns time."""
    return datetime.fromtimestamp(ns / 1e9, NEW_YORK).date()


def next_day(d: date) -> date:
    return d + timedelta(days=1)
