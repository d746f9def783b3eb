"""Integer codes shared by kernels, messages and drivers.

Kernels use codes, not exceptions or strings, inside loops. Each group is a NamedTuple
instance of ints (Numba treats module-level NamedTuple constants as compile-time
constants) plus a ``*_TEXT`` tuple indexed by code for reports.
"""

from __future__ import annotations

from typing import NamedTuple


class _Side(NamedTuple):
    SELL: int = -1
    NONE: int = 0
    BUY: int = 1


Side = _Side()


class _OrderType(NamedTuple):
    MARKET: int = 0
    LIMIT: int = 1
    STOP_LOSS: int = 2
    TAKE_PROFIT: int = 3


OrderType = _OrderType()
ORDER_TYPE_TEXT = ("market", "limit", "stop-loss", "take-profit")


class _Regime(NamedTuple):
    RISK_ON: int = 0
    NEUTRAL: int = 1
    RISK_OFF: int = 2
    PANIC: int = 3


Regime = _Regime()
REGIME_TEXT = ("RISK_ON", "NEUTRAL", "RISK_OFF", "PANIC")


class _TradingState(NamedTuple):
    TRADING: int = 0
    DRAINING: int = 1
    DOWNTIME: int = 2
    RESUMING: int = 3


TradingState = _TradingState()
TRADING_STATE_TEXT = ("TRADING", "DRAINING", "DOWNTIME", "RESUMING")


class _Fill(NamedTuple):
    """What the fill model did with one order on one bar (kernels/fills.py)."""

    NONE: int = 0  # nothing this bar: not ready yet, no trades in the bar, resting, not triggered
    PARTIAL: int = 1  # part filled this bar (participation cap); the rest stays working
    FILLED: int = 2  # complete
    REJECT_QTY: int = 3  # qty not finite / <= 0, or 0 after rounding down to lot_decimals
    REJECT_PRICE: int = 4  # limit / trigger price not finite / <= 0
    REJECT_ORDERMIN: int = 5  # qty < ordermin (Kraken: EOrder:Order minimum not met)
    REJECT_COSTMIN: int = 6  # qty * price < costmin (Kraken: EOrder:Cost minimum not met)
    REJECT_POST_ONLY: int = 7  # post-only limit would cross on arrival (Kraken cancels it rather than take)
    REJECT_ORDER: int = 8  # unknown order type or side
    CANCELLED: int = 9  # cancelled by the engine (set by the caller, never by the fill model)


Fill = _Fill()
FILL_TEXT = (
    "no fill this bar",
    "partially filled",
    "filled",
    "rejected: bad quantity",
    "rejected: bad price",
    "rejected: order minimum not met",
    "rejected: cost minimum not met",
    "rejected: post-only order would cross",
    "rejected: unknown order type or side",
    "cancelled",
)
