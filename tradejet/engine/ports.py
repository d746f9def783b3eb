"""The port the event driver trades through: the :class:`ExecutionVenue` Protocol.

An adapter (``tradejet.adapters.paper``, ``tradejet.adapters.kraken``) implements it;
the engine never imports an adapter, the CLI or the embedding bot hands one in.

The event stream (:meth:`ExecutionVenue.events`) carries, in the order the venue saw
them: executions (:class:`~tradejet.messages.OrderFilled`,
:class:`~tradejet.messages.OrderRejected`, :class:`~tradejet.messages.OrderCanceled`,
:class:`~tradejet.messages.OrderAccepted`), bars (:class:`~tradejet.messages.Bar`)
and :class:`~tradejet.messages.BarsComplete` markers that close a cross-section. A
venue that simulates fills (paper) emits the executions of bar ``t`` *before* the
bars of ``t``, exactly as the compiled driver books fills before it steps; a live
venue emits executions when they happen and the engine books them before its next
step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from tradejet.messages import (
    Balance,
    Bar,
    BarsComplete,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderStatusReport,
    Position,
    SubmitOrder,
)

__all__ = ["ExecutionVenue", "VenueEvent"]

VenueEvent = Bar | BarsComplete | OrderFilled | OrderRejected | OrderCanceled | OrderAccepted


@runtime_checkable
class ExecutionVenue(Protocol):
    """What the event driver needs from a venue: market data, orders, and its view of the account."""

    name: str

    def events(self) -> AsyncIterator[VenueEvent]:
        """Yield market data and executions until the feed ends (replay) or forever (live)."""
        ...

    async def submit(self, order: SubmitOrder) -> None:
        """Send one order; the same ``client_order_id`` sent twice is one order (idempotent retry)."""
        ...

    async def cancel(self, client_order_id: str) -> None:
        """Cancel an order if it still works (unknown or finished orders: no-op)."""
        ...

    async def open_orders(self) -> list[OrderStatusReport]:
        """Orders working at the venue now."""
        ...

    async def balances(self) -> list[Balance]:
        """Cash and asset balances at the venue."""
        ...

    async def positions(self) -> list[Position]:
        """Net position per symbol at the venue (spot: the base asset balances)."""
        ...

    async def fills_since(self, ts: int | None) -> list[OrderFilled]:
        """Executions with ``ts_event >= ts`` (all when None), oldest first."""
        ...
