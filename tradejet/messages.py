"""Messages shared by every layer: frozen msgspec structs, no logic.

Conventions (see DESIGN.md): times are ``ts_*`` int64 Unix nanoseconds UTC; prices and
quantities are float64; ``side``, ``order_type``, ``regime`` and ``state`` are the
integer codes of :mod:`tradejet.kernels.codes` (``Side.BUY == 1``, ``Side.SELL == -1``).
Commands are imperative (``SubmitOrder``), events past tense (``OrderFilled``), venue
answers end in ``Report``. Structs that cross a boundary are tagged so a stream of
mixed messages decodes into the right types.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "Bar",
    "OrderIntent",
    "SubmitOrder",
    "CancelOrder",
    "OrderAccepted",
    "OrderDenied",
    "OrderRejected",
    "OrderCanceled",
    "OrderFilled",
    "OrderStatusReport",
    "Position",
    "Balance",
    "RegimeChanged",
    "TradingStateChanged",
    "AllocationChanged",
    "BarsComplete",
]


class Bar(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """One OHLCV candle, stamped with its open time."""

    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: float = float("nan")
    timeframe_ns: int = 60_000_000_000


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """What a strategy step wants; not yet checked by risk, not yet an order."""

    symbol: str
    side: int
    qty: float
    order_type: int
    strategy: int
    ts: int
    limit_price: float = float("nan")
    stop_price: float = float("nan")
    reduce_only: bool = False
    reason: int = 0


class SubmitOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An order as sent to a venue; ``client_order_id`` is made before sending and reused on retry."""

    client_order_id: str
    symbol: str
    side: int
    qty: float
    order_type: int
    ts_init: int
    limit_price: float = float("nan")
    stop_price: float = float("nan")
    post_only: bool = False
    reduce_only: bool = False
    strategy: int = -1


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    client_order_id: str
    symbol: str
    ts_init: int


class OrderAccepted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    client_order_id: str
    venue_order_id: str
    ts_event: int


class OrderDenied(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Refused inside tradejet (risk, downtime, minimums) before reaching a venue."""

    client_order_id: str
    symbol: str
    reason: int
    detail: str
    ts_event: int


class OrderRejected(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Refused by the venue."""

    client_order_id: str
    reason: str
    ts_event: int


class OrderCanceled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    client_order_id: str
    ts_event: int


class OrderFilled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """One execution (possibly partial) of an order; ``fee`` is in the quote currency."""

    client_order_id: str
    venue_order_id: str
    trade_id: str
    symbol: str
    side: int
    qty: float
    price: float
    fee: float
    ts_event: int
    ts_init: int
    liquidity: str = "taker"


class OrderStatusReport(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A venue's view of one order, used by reconciliation."""

    client_order_id: str | None
    venue_order_id: str
    symbol: str
    side: int
    order_type: int
    qty: float
    filled_qty: float
    status: str
    ts_event: int
    avg_price: float = float("nan")
    limit_price: float = float("nan")


class Position(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    symbol: str
    qty: float
    avg_price: float
    realized_pnl: float = 0.0
    strategy: int = -1
    backfilled: bool = False


class Balance(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    asset: str
    total: float
    available: float


class RegimeChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    ts_event: int
    previous: int
    regime: int
    reason: str


class TradingStateChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    ts_event: int
    previous: int
    state: int


__all__ += ["AllocationChanged"]


class AllocationChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The selector changed which strategies run or how they stand (one event per switch).

    Lists are indexed by strategy code (``codes.Strategy``): ``shares`` capital share,
    ``status`` ``codes.StrategyStatus``, ``deadlines`` ns UTC by which a winding-down
    strategy must be flat (0: none). ``reason`` says why, in words.
    """

    ts_event: int
    previous_regime: int
    regime: int
    shares: list[float]
    status: list[int]
    deadlines: list[int]
    reason: str


class BarsComplete(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A market data feed has delivered every bar opening at or before ``ts`` (closes a cross-section)."""

    ts: int
