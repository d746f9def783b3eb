"""A fake venue for tests and embedders: an ExecutionVenue whose account you set by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

from tradejet.messages import Balance, OrderFilled, OrderStatusReport, Position, SubmitOrder

__all__ = ["FakeVenue"]


@dataclass
class FakeVenue:
    """Holds what a venue would report; records what is sent to it. No fills of its own.

    >>> import asyncio
    >>> v = FakeVenue(positions=[Position(symbol="BTC/USD", qty=0.5, avg_price=100.0)])
    >>> asyncio.run(v.positions())[0].qty
    0.5
    """

    name: str = "fake"
    orders: list[OrderStatusReport] = field(default_factory=list)
    position_list: list[Position] = field(default_factory=list)
    balance_list: list[Balance] = field(default_factory=list)
    fills: list[OrderFilled] = field(default_factory=list)
    submitted: list[SubmitOrder] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    events_list: list = field(default_factory=list)

    def __init__(self, *, orders=None, positions=None, balances=None, fills=None, events=None):
        self.name = "fake"
        self.orders = list(orders or [])
        self.position_list = list(positions or [])
        self.balance_list = list(balances or [])
        self.fills = list(fills or [])
        self.submitted = []
        self.cancelled = []
        self.events_list = list(events or [])

    async def events(self):
        for ev in self.events_list:
            yield ev

    async def submit(self, order: SubmitOrder) -> None:
        self.submitted.append(order)

    async def cancel(self, client_order_id: str) -> None:
        self.cancelled.append(client_order_id)

    async def open_orders(self) -> list[OrderStatusReport]:
        return list(self.orders)

    async def balances(self) -> list[Balance]:
        return list(self.balance_list)

    async def positions(self) -> list[Position]:
        return list(self.position_list)

    async def fills_since(self, ts: int | None) -> list[OrderFilled]:
        return [f for f in self.fills if ts is None or f.ts_event >= ts]
