"""API-key permissions, TradeVolume and the public rate limit of the sandbox.

Kraken refuses a private call the key has no permission for with
``EGeneral:Permission denied`` (Kraken docs, "API key permissions"). The permission each
endpoint needs, with Kraken's names for them:

==============  ================================  ==============================================
short name      Kraken's name                     endpoints
==============  ================================  ==============================================
``funds``       Query Funds                       Balance, BalanceEx, TradeBalance, TradeVolume
``open``        Query Open Orders & Trades        OpenOrders, QueryOrders, TradesHistory
``closed``      Query Closed Orders & Trades      ClosedOrders, QueryOrders, TradesHistory
``trade``       Create & Modify Orders            AddOrder, AddOrderBatch, AmendOrder, EditOrder
``cancel``      Cancel/Close Orders               CancelOrder, CancelAll, CancelAllOrdersAfter
``websocket``   Access WebSockets API             GetWebSocketsToken
==============  ================================  ==============================================

QueryOrders and TradesHistory need either query permission. TradeVolume under Query Funds
is our reading (the docs' table does not list it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from tradejet.adapters.kraken.ratelimit import DecayingCounter
from tradejet.adapters.kraken.sandbox.public import Refusal
from tradejet.errors import ConfigError

__all__ = ["PERMISSIONS", "ENDPOINT_PERMISSIONS", "parse_permissions", "check_permission", "AccountInfo",
           "PublicLimit", "TOO_MANY_REQUESTS"]

PERMISSIONS: dict[str, str] = {
    "funds": "Query Funds",
    "open": "Query Open Orders & Trades",
    "closed": "Query Closed Orders & Trades",
    "trade": "Create & Modify Orders",
    "cancel": "Cancel/Close Orders",
    "websocket": "Access WebSockets API",
}
# endpoint -> permissions of which the key needs at least one
ENDPOINT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "Balance": ("funds",), "BalanceEx": ("funds",), "TradeBalance": ("funds",), "TradeVolume": ("funds",),
    "OpenOrders": ("open",), "ClosedOrders": ("closed",), "QueryOrders": ("open", "closed"),
    "TradesHistory": ("open", "closed"),
    "AddOrder": ("trade",), "AddOrderBatch": ("trade",), "AmendOrder": ("trade",), "EditOrder": ("trade",),
    "CancelOrder": ("cancel",), "CancelAll": ("cancel",), "CancelAllOrdersAfter": ("cancel",),
    "GetWebSocketsToken": ("websocket",),
}
TOO_MANY_REQUESTS = "EGeneral:Too many requests"  # what Kraken's public endpoints answer when hammered


def parse_permissions(spec: str | Iterable[str] | None) -> frozenset[str] | None:
    """Return the permission set of ``"funds,open,trade"`` (``None`` or ``"all"``: every permission).

    >>> sorted(parse_permissions("funds, trade"))
    ['funds', 'trade']
    """
    if spec is None:
        return None
    items = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    items = [s for s in items if s]
    if items == ["all"]:
        return None
    bad = [s for s in items if s not in PERMISSIONS]
    if bad:
        raise ConfigError(f"unknown permission {bad[0]!r}; use a comma list of {', '.join(PERMISSIONS)} or 'all'",
                          key="permissions")
    return frozenset(items)


def check_permission(permissions: frozenset[str] | None, endpoint: str) -> None:
    """Refuse ``endpoint`` as Kraken does when the key lacks every permission it accepts."""
    need = ENDPOINT_PERMISSIONS.get(endpoint)
    if permissions is None or need is None:
        return
    if not permissions.intersection(need):
        raise Refusal("EGeneral:Permission denied")


class AccountInfo:
    """``TradeVolume``: the account's 30-day volume and its fee rates per pair (a mixin of Exchange)."""

    taker_fee: Decimal
    maker_fee: Decimal
    trades: dict[str, dict[str, Any]]

    def priv_TradeVolume(self, a: Any, p: dict[str, Any]) -> Any:  # noqa: N802 - Kraken's endpoint name
        volume = sum((Decimal(t["cost"]) for t in self.trades.values() if t.get("_owner") == a.key), Decimal(0))
        names = [n for n in str(p.get("pair", "")).split(",") if n]
        keys = [self._pair(n) for n in names]  # type: ignore[attr-defined]
        out: dict[str, Any] = {"currency": "ZUSD", "volume": f"{volume:.4f}"}
        if keys:
            def rates(fee: Decimal) -> dict[str, dict[str, str]]:
                pct = f"{fee * 100:.4f}"
                return {k: {
                    "fee": pct, "minfee": "0.1000", "maxfee": pct, "nextfee": None, "tiervolume": f"{volume:.4f}",
                    "nextvolume": None} for k in keys}
            out["fees"] = rates(self.taker_fee)
            out["fees_maker"] = rates(self.maker_fee)
        return out


class PublicLimit:
    """A per-server budget for public calls (Kraken limits them per IP, about 1 per second)."""

    def __init__(self, burst: float, rate: float, clock=time.monotonic):
        self.counter = DecayingCounter(burst, rate, clock())
        self.clock = clock
        self.refused = 0

    def allow(self) -> bool:
        """Count one call; False (and count a refusal) when the budget is spent."""
        now = self.clock()
        if self.counter.wait_for(1, now) > 0:
            self.refused += 1
            return False
        self.counter.add(1, now)
        return True
