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


class _Strategy(NamedTuple):
    TREND_FOLLOWING: int = 0
    MEAN_REVERSION: int = 1
    BREAKOUT: int = 2
    MOMENTUM_ROTATION: int = 3
    ML_SIGNAL: int = 4
    DEFENSIVE: int = 5
    SWING: int = 6  # the US equity swing system's scale-in strategy (system "swing")


Strategy = _Strategy()
STRATEGY_TEXT = ("trend_following", "mean_reversion", "breakout", "momentum_rotation", "ml_signal", "defensive",
                 "swing")
N_STRATEGIES = len(STRATEGY_TEXT)


class _StrategyStatus(NamedTuple):
    """A strategy's standing under the current allocation (selector kernel)."""

    INACTIVE: int = 0  # no capital, no positions expected
    ACTIVE: int = 1  # may enter and exit within its share
    WINDING_DOWN: int = 2  # no new entries; its own exit rules close positions before the deadline
    FLATTEN: int = 3  # close every position now (PANIC, or a wind-down deadline passed)


StrategyStatus = _StrategyStatus()
STRATEGY_STATUS_TEXT = ("INACTIVE", "ACTIVE", "WINDING_DOWN", "FLATTEN")


class _Permit(NamedTuple):
    """Bits of what a trading state allows (``kernels.schedule.permissions_nb``)."""

    NEW_ENTRY: int = 1  # open or increase a position
    RESTING_ENTRY: int = 2  # keep entry orders resting on the book (else cancel them)
    EXIT: int = 4  # strategy exits: stops, take-profits, signals
    FORCED_EXIT: int = 8  # exits the risk layer forces (PANIC flatten, wind-down deadline)


Permit = _Permit()


class _Reject(NamedTuple):
    """Why the risk layer refused an order intent; ``OK`` means accepted."""

    OK: int = 0
    INVALID_INTENT: int = 1  # qty/price not finite or <= 0, unknown pair/strategy/side
    DRAINING: int = 2  # no new entries in the lead time before the downtime window
    DOWNTIME: int = 3  # no orders in the downtime window except forced exits
    RESUMING: int = 4  # no new entries while resuming (model load, warm-up)
    UNRECONCILED: int = 5  # symbol blocked for new entries until reconciled
    BREAKER: int = 6  # drawdown breaker tripped: no new entries until reset
    STRATEGY_INACTIVE: int = 7  # strategy has no capital share (inactive / winding down)
    NO_SHORTING: int = 8  # a sell beyond the strategy's long position with shorting disabled
    BELOW_ORDERMIN: int = 9  # qty after rounding down to lot decimals < ordermin
    BELOW_COSTMIN: int = 10  # qty * price < costmin
    INSUFFICIENT_CASH: int = 11  # cash-only: cost + fee > cash
    LEVERAGE: int = 12  # gross exposure would exceed the leverage cap x equity
    STRATEGY_LIMIT: int = 13  # strategy's total exposure would exceed its capital share
    STRATEGY_PAIR_LIMIT: int = 14  # strategy's exposure in this pair would exceed its per-pair fraction
    PAIR_LIMIT: int = 15  # the pair's notional would exceed its configured cap
    CONCENTRATION_PAIR: int = 16  # the pair's share of equity would exceed the limit
    CONCENTRATION_TOP3: int = 17  # the three largest pairs' share of equity would exceed the limit
    NO_EQUITY: int = 18  # equity <= 0: no new entries
    VAR_LIMIT: int = 19  # portfolio VaR after the fill would exceed its share of equity (kernels/portrisk.py)
    CVAR_LIMIT: int = 20  # portfolio CVaR (expected shortfall) after the fill would exceed its share of equity
    CONCENTRATION_CLUSTER: int = 21  # the pair's correlation cluster would exceed the concentration limit
    VOL_TARGET: int = 22  # the book is at its volatility target: the entry scaled to nothing


Reject = _Reject()
REJECT_TEXT = (
    "accepted",
    "invalid intent",
    "draining before downtime: no new entries",
    "downtime: only forced exits",
    "resuming after downtime: no new entries",
    "symbol unreconciled: no new entries",
    "drawdown breaker tripped: no new entries until reset",
    "strategy inactive: no new entries",
    "shorting disabled",
    "below ordermin after rounding",
    "below costmin",
    "insufficient cash",
    "leverage cap exceeded",
    "strategy capital share exceeded",
    "strategy per-pair limit exceeded",
    "pair position limit exceeded",
    "pair concentration limit exceeded",
    "top-3 concentration limit exceeded",
    "equity not positive",
    "portfolio VaR limit exceeded",
    "portfolio CVaR limit exceeded",
    "correlated-cluster concentration limit exceeded",
    "portfolio at its volatility target",
)


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
