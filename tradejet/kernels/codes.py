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
