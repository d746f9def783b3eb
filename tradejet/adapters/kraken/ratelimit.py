"""Kraken's rate limits modelled client-side, so the client waits instead of being refused.

Two decaying counters (Kraken docs, "Spot REST rate limits" / "Trading rate limits"):

* the REST call counter per API key: +1 per private call, +2 for history calls
  (TradesHistory, Ledgers, QueryTrades, QueryLedgers; ClosedOrders too, as ccxt does),
  decaying continuously; AddOrder/CancelOrder and friends are not counted here;
* the trading-engine counter per pair: AddOrder +1, AmendOrder +1 (+3/+2/+1 by the
  order's age), EditOrder +1 (+6/+5/+4/+2/+1), CancelOrder (+8/+6/+5/+4/+2/+1 by age).

Before a call, :meth:`RateLimiter.acquire_rest` / :meth:`acquire_trade` sleep until the
counter has room. Clock and sleep are injected (tests use a fake clock).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec

from tradejet.errors import ConfigError

__all__ = ["Tier", "TIERS", "DecayingCounter", "RateLimiter", "rest_cost", "trade_cost"]


class Tier(msgspec.Struct, frozen=True):
    """Limits of one Kraken verification tier."""

    rest_max: float
    rest_decay: float  # points per second
    trade_max: float
    trade_decay: float


TIERS: dict[str, Tier] = {
    "starter": Tier(15, 0.33, 60, 1.0),
    "intermediate": Tier(20, 0.5, 125, 2.34),
    "pro": Tier(20, 1.0, 180, 3.75),
}

_HISTORY = {"TradesHistory", "Ledgers", "QueryTrades", "QueryLedgers", "ClosedOrders"}
TRADING = {"AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelOrderBatch"}

# (max age in seconds, extra points) for the decaying part, youngest first
_AMEND = ((5, 3), (10, 2), (15, 1))
_EDIT = ((5, 6), (10, 5), (15, 4), (45, 2), (90, 1))
_CANCEL = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))


def rest_cost(endpoint: str) -> int:
    """Return the REST counter points of one private call (0 for trading calls).

    >>> rest_cost("Balance"), rest_cost("TradesHistory"), rest_cost("AddOrder")
    (1, 2, 0)
    """
    if endpoint in TRADING:
        return 0
    return 2 if endpoint in _HISTORY else 1


def _decaying(table: tuple[tuple[int, int], ...], age_s: float | None) -> int:
    if age_s is None:
        return table[0][1]  # unknown age: assume the worst
    for limit, pts in table:
        if age_s < limit:
            return pts
    return 0


def trade_cost(endpoint: str, order_age_s: float | None = None, n_orders: int = 1) -> int:
    """Return the trading-counter points of one trading call on a pair.

    >>> trade_cost("AddOrder"), trade_cost("CancelOrder", 3.0), trade_cost("CancelOrder", 400.0)
    (1, 8, 0)
    """
    if endpoint == "AddOrder":
        return 1
    if endpoint == "AddOrderBatch":
        return n_orders
    if endpoint == "AmendOrder":
        return 1 + _decaying(_AMEND, order_age_s)
    if endpoint == "EditOrder":
        return 1 + _decaying(_EDIT, order_age_s)
    if endpoint in ("CancelOrder", "CancelOrderBatch"):
        return n_orders * _decaying(_CANCEL, order_age_s)
    return 0


class DecayingCounter:
    """A counter that decays linearly at ``decay`` points per second toward zero.

    >>> c = DecayingCounter(limit=15, decay=0.5, now=0.0)
    >>> c.add(15, 0.0); c.wait_for(1, 0.0)
    2.0
    """

    def __init__(self, limit: float, decay: float, now: float):
        if limit <= 0 or decay <= 0:
            raise ConfigError(f"rate limit and decay must be > 0, were {limit} and {decay}", key="rate_limit")
        self.limit = float(limit)
        self.decay = float(decay)
        self._value = 0.0
        self._t = now

    def level(self, now: float) -> float:
        """Return the counter value at ``now``."""
        return max(0.0, self._value - (now - self._t) * self.decay)

    def add(self, points: float, now: float) -> None:
        self._value = self.level(now) + points
        self._t = now

    def fill(self, now: float) -> None:
        """Set the counter to its limit (after the venue said we hit it)."""
        self._value = max(self.level(now), self.limit)
        self._t = now

    def wait_for(self, points: float, now: float) -> float:
        """Return the seconds until ``points`` more fit under the limit (0 if they fit now)."""
        excess = self.level(now) + points - self.limit
        # tolerance: a wait below 1 us is float noise (t + 1e-16 == t), never a real wait
        return excess / self.decay if excess / self.decay > 1e-6 else 0.0


class RateLimiter:
    """Both Kraken counters for one API key; ``await`` before sending a call."""

    def __init__(self, tier: str = "starter", *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, headroom: float = 1.0):
        if tier not in TIERS:
            raise ConfigError(f"unknown Kraken tier {tier!r}; one of {sorted(TIERS)}", key="tier")
        self.tier = TIERS[tier]
        self.clock = clock
        self.sleep = sleep
        self.headroom = headroom
        now = clock()
        self.rest = DecayingCounter(self.tier.rest_max - headroom, self.tier.rest_decay, now)
        self._pairs: dict[str, DecayingCounter] = {}
        self._lock = asyncio.Lock()
        self.waited = 0.0  # total seconds slept, for reports and tests

    def pair(self, pair: str) -> DecayingCounter:
        c = self._pairs.get(pair)
        if c is None:
            c = self._pairs[pair] = DecayingCounter(self.tier.trade_max - self.headroom, self.tier.trade_decay,
                                                    self.clock())
        return c

    async def _acquire(self, counter: DecayingCounter, points: float) -> None:
        if points <= 0:
            return
        async with self._lock:
            while True:
                wait = counter.wait_for(points, self.clock())
                if wait <= 0:
                    break
                self.waited += wait
                await self.sleep(wait)
            counter.add(points, self.clock())

    async def acquire_rest(self, endpoint: str) -> None:
        """Wait until the REST counter has room for ``endpoint``, then count it."""
        await self._acquire(self.rest, rest_cost(endpoint))

    async def acquire_trade(self, endpoint: str, pair: str, order_age_s: float | None = None,
                            n_orders: int = 1) -> None:
        """Wait until ``pair``'s trading counter has room for ``endpoint``, then count it."""
        await self._acquire(self.pair(pair), trade_cost(endpoint, order_age_s, n_orders))

    def penalize(self, endpoint: str, pair: str | None = None) -> None:
        """Kraken said we were over: treat the relevant counter as full."""
        now = self.clock()
        if endpoint in TRADING and pair:
            self.pair(pair).fill(now)
        else:
            self.rest.fill(now)
