"""Paper on live data: a live venue's bars, the paper venue's fills (``tradejet live --paper-fills``).

:class:`PaperOnLive` takes its market data from a live venue (e.g.
:class:`~tradejet.adapters.kraken.venue.KrakenVenue`, whose closed candles it passes
through) and sends no order anywhere: each cross-section first goes through
:meth:`PaperVenue.process_bars <tradejet.adapters.paper.venue.PaperVenue.process_bars>`
(the shared fill model, exactly as a paper replay), then its executions, bars and
``BarsComplete`` are handed out. A restart rebuilds the paper account from the ledger
(cash and positions; working orders of the killed run are gone, and reported so).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tradejet.messages import Bar, BarsComplete, OrderStatusReport

__all__ = ["PaperOnLive"]


class PaperOnLive:
    """The live venue's bars, the paper venue's fills (see the module docs)."""

    name = "paper-live"

    def __init__(self, data, paper):
        self.data = data
        self.paper = paper
        self.symbols = list(paper.symbols)
        self.gaps_refilled = 0

    # market data: the live venue's
    async def history(self, symbol: str) -> list[Bar]:
        return await self.data.history(symbol)

    def set_last_bar(self, symbol: str, ts: int) -> None:
        self.data.set_last_bar(symbol, ts)

    def restore(self, ledger) -> None:
        """Set the paper account to the ledger's cash and positions (a restarted run)."""
        p = self.paper
        quote = p.quote
        cash = ledger.cash()
        if quote in cash:
            p.cash = float(cash[quote])
        for pos in ledger.positions():
            i = p.index.get(pos.symbol)
            if i is not None:
                p.position[i] += pos.qty
                p.cost[i] += pos.qty * pos.avg_price

    async def _prime(self) -> None:
        """Give the fill model its history window (spread and volume estimates) from the live venue."""
        rows: dict[int, dict[int, tuple]] = {}
        for s in self.symbols:
            for b in await self.data.history(s):
                rows.setdefault(b.ts, {})[self.paper.index[s]] = (b.open, b.high, b.low, b.close, b.volume)
        for ts in sorted(rows)[-64:]:
            self.paper.process_bars(ts, rows[ts])

    async def events(self) -> AsyncIterator:
        await self._prime()
        pending: dict[int, Bar] = {}
        ts_now: int | None = None

        def flush():
            bars = {self.paper.index[b.symbol]: (b.open, b.high, b.low, b.close, b.volume) for b in pending.values()}
            out = list(self.paper.process_bars(ts_now, bars))
            out += [pending[k] for k in sorted(pending)]
            out.append(BarsComplete(ts=ts_now))
            return out

        async for ev in self.data.events():
            if isinstance(ev, Bar):
                if ev.symbol not in self.paper.index:
                    continue
                if ts_now is not None and ev.ts > ts_now and pending:
                    for x in flush():
                        yield x
                    pending = {}
                ts_now = ev.ts
                pending[self.paper.index[ev.symbol]] = ev
            elif isinstance(ev, BarsComplete) and pending and ev.ts == ts_now:
                for x in flush():
                    yield x
                pending = {}
            # the live venue's own executions cannot exist: nothing was sent to it

    # orders and the account: the paper venue's
    async def submit(self, order) -> None:
        self.paper.submit_now(order)

    async def cancel(self, client_order_id: str) -> None:
        self.paper.cancel_now(client_order_id)

    async def cancel_all(self) -> int:
        work = list(self.paper._work)
        for o in work:
            self.paper.cancel_now(o.cid)
        return len(work)

    async def open_orders(self) -> list[OrderStatusReport]:
        return await self.paper.open_orders()

    async def balances(self):
        return await self.paper.balances()

    async def positions(self):
        return await self.paper.positions()

    async def fills_since(self, ts):
        return await self.paper.fills_since(ts)

    async def order_state(self, client_order_id: str) -> OrderStatusReport | None:
        for r in await self.paper.open_orders():
            if r.client_order_id == client_order_id:
                return r
        return None

    def adopt(self, *a, **k) -> None:
        pass

    def mark_seen(self, fills) -> None:
        pass

    async def sync(self) -> list:
        out, self.paper._outbox = self.paper._outbox, []
        return out
