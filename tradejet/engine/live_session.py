"""A live session: the event driver on a live venue, with a journal, limits, a kill switch and a dead-man's switch.

What :class:`LiveSession` does, in order:

1. **rebuild** the engine's book: a new run warms its indicators up on the venue's
   history (entries blocked, so nothing is sent); a restarted run replays its journal
   (:mod:`tradejet.engine.journal`) and ends with exactly the book it had at the kill;
2. **reconcile** with the venue: every order the book still expects executions for is
   looked up by client id (not there: rejected; there: watched again, its missed fills
   come in through the event stream), then the ledger is compared with the venue's open
   orders, balances and fills since the last known one (:func:`~tradejet.engine.reconcile.reconcile`);
   a symbol whose quantities disagree is blocked for new entries;
3. **trade**: the venue's events go to the journal, then to the engine; orders pass the
   session's limits (``max_order_notional``; after ``max_daily_loss`` no new buys until
   the next UTC day) and are sent only after the journal is durable; the venue's
   dead-man's switch (Kraken's CancelAllOrdersAfter) is re-armed every third of its timeout;
4. **stop** on ``max_bars``, :meth:`LiveSession.stop`, or the kill switch (a file
   appearing, or :meth:`kill`): all orders are cancelled, what the venue reports is booked,
   the ledger checkpointed.

The venue is duck-typed: an :class:`~tradejet.engine.ports.ExecutionVenue` plus
``history(symbol)``, ``set_last_bar(symbol, ts)``, ``order_state(cid)``, ``adopt(...)``,
``mark_seen(fills)``, ``sync()``, ``cancel_all()`` and, optionally,
``arm_dead_mans_switch(timeout)`` (see :class:`tradejet.adapters.kraken.venue.KrakenVenue`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

from tradejet.engine.journal import Control, Journal, feed, read_journal, replay
from tradejet.kernels.codes import Side
from tradejet.messages import Bar, BarsComplete, OrderFilled, OrderRejected, SubmitOrder

__all__ = ["LiveSession", "GuardedVenue"]

log = logging.getLogger(__name__)
DAY_NS = 86_400 * 1_000_000_000


class GuardedVenue:
    """The engine's adapter: journals every event before the engine sees it and checks orders before sending."""

    def __init__(self, venue, journal: Journal, session: LiveSession):
        self.venue = venue
        self.journal = journal
        self.session = session
        self.name = getattr(venue, "name", "venue")
        self._out: list[Any] = []

    def _journal(self, ev) -> None:
        self.journal.append(ev)
        if not isinstance(ev, (Bar, BarsComplete)):
            self.journal.sync()  # an execution is in the ledger once the engine has it

    async def events(self):
        async for ev in self.venue.events():
            while self._out:
                r = self._out.pop(0)
                self._journal(r)
                yield r
            self._journal(ev)
            if isinstance(ev, Bar):
                self.session.last_close[ev.symbol] = ev.close
            yield ev

    async def submit(self, order: SubmitOrder) -> None:
        why = self.session.refuse(order)
        self.journal.sync()  # the decision's inputs are durable before the order leaves
        if why:
            log.warning("order %s refused: %s", order.client_order_id, why)
            self.session.audit_event("order_refused", {"client_order_id": order.client_order_id, "reason": why})
            self._out.append(OrderRejected(client_order_id=order.client_order_id, reason=why,
                                           ts_event=time.time_ns()))
            return
        await self.venue.submit(order)

    async def cancel(self, client_order_id: str) -> None:
        await self.venue.cancel(client_order_id)

    async def open_orders(self):
        return await self.venue.open_orders()

    async def balances(self):
        return await self.venue.balances()

    async def positions(self):
        return await self.venue.positions()

    async def fills_since(self, ts):
        return await self.venue.fills_since(ts)


class LiveSession:
    """Run an :class:`~tradejet.engine.live.Engine` on a live venue (see the module docs).

    Parameters
    ----------
    engine : the engine (ledger attached; its run id and config are the run's, unchanged on restart).
    venue : the live venue (duck-typed, see the module docs).
    journal_path : the run's journal file (next to the ledger).
    audit : an :class:`~tradejet.io.audit.AuditLog` or None.
    max_order_notional, max_daily_loss : the session's limits (quote currency).
    kill_file : a path whose appearance stops the run (checked every second).
    dead_mans_switch_s : CancelAllOrdersAfter timeout (0: not armed, for venues without one).
    """

    def __init__(self, engine, venue, journal_path: str | Path, *, audit=None, max_order_notional: float = math.inf,
                 max_daily_loss: float = math.inf, kill_file: str | Path | None = None,
                 dead_mans_switch_s: int = 0, clock=time.time_ns):
        self.engine = engine
        self.venue = venue
        self.journal_path = Path(journal_path)
        self.audit = audit
        self.max_order_notional = float(max_order_notional)
        self.max_daily_loss = float(max_daily_loss)
        self.kill_file = Path(kill_file) if kill_file else None
        self.dms_s = int(dead_mans_switch_s)
        self.clock = clock
        self.last_close: dict[str, float] = {}
        self.killed: str | None = None
        self.stopped = False
        self.resumed = False
        self.replayed_bars = 0
        self.live_bars = 0
        self.reconcile_report = None
        self.dms_armed = 0
        self._day = -1
        self._day_equity = math.nan
        self._journal: Journal | None = None
        self._task: asyncio.Task | None = None

    # ------------------------------------------------------------------ limits
    def equity(self) -> float:
        from tradejet.engine.step import INFO_EQUITY

        return float(self.engine.ctx.info[INFO_EQUITY])

    def refuse(self, order: SubmitOrder) -> str | None:
        """Return why ``order`` must not be sent (None: send it)."""
        px = order.limit_price if math.isfinite(order.limit_price) else self.last_close.get(order.symbol, math.nan)
        notional = order.qty * px
        if math.isfinite(notional) and notional > self.max_order_notional:
            return f"order notional {notional:.2f} exceeds max_order_notional {self.max_order_notional:.2f}"
        day = self.clock() // DAY_NS
        eq = self.equity()
        if day != self._day:
            self._day, self._day_equity = day, eq
        loss = self._day_equity - eq
        if order.side == Side.BUY and math.isfinite(loss) and loss > self.max_daily_loss:
            return f"daily loss {loss:.2f} exceeds max_daily_loss {self.max_daily_loss:.2f}: no new buys today"
        return None

    def audit_event(self, kind: str, data: dict) -> None:
        if self.audit is not None:
            self.audit.append(kind, data)

    # ------------------------------------------------------------------ the kill switch
    def kill(self, reason: str = "kill switch") -> None:
        """Cancel all orders and stop (signal handlers call this).

        The trading task is cancelled, and the engine told to stop after its event as well: a
        cancellation can be lost inside a library (asyncio.wait_for on Python 3.11 drops one that
        lands as its result arrives), and the kill switch must not rest on one mechanism."""
        if self.killed is None:
            self.killed = reason
            log.warning("kill switch: %s", reason)
        self.engine.stop()
        if self._task is not None:
            self._task.cancel()

    def stop(self) -> None:
        """Stop after the current event (orders cancelled on the way out)."""
        self.stopped = True
        self.engine.stop()
        if self._task is not None:
            self._task.cancel()

    # ------------------------------------------------------------------ 1. rebuild
    def _control(self, c: Control) -> None:
        assert self._journal is not None
        self._journal.append(c)
        feed(self.engine, c)

    def _feed(self, ev) -> None:
        assert self._journal is not None
        self._journal.append(ev)
        feed(self.engine, ev)

    async def rebuild(self) -> None:
        """Replay the journal (a restart) or warm up on the venue's history (a new run)."""
        eng = self.engine
        events = read_journal(self.journal_path)
        self._journal = Journal(self.journal_path)
        if events:
            self.resumed = True
            self.replayed_bars = replay(eng, events)
            last: dict[str, int] = {}
            for ev in events:
                if isinstance(ev, Bar):
                    last[ev.symbol] = max(ev.ts, last.get(ev.symbol, ev.ts))
            for s, ts in last.items():
                self.venue.set_last_bar(s, ts)
            self.audit_event("live_resumed", {"journal_events": len(events), "bars": self.replayed_bars})
            return
        self._control(Control(kind="block", symbols=list(eng.symbols)))
        got = {s: await self.venue.history(s) for s in eng.symbols}
        # the market moves while the symbols are fetched one by one: warm up to the last candle
        # every symbol has, so no cross-section is stepped half-full (the feed hands out the rest)
        ends = [b[-1].ts for b in got.values() if b]
        cut = min(ends) if ends else 0
        hist: dict[int, list[Bar]] = {}
        for s, bars in got.items():
            bars = [b for b in bars if b.ts <= cut]
            for b in bars:
                hist.setdefault(b.ts, []).append(b)
            if bars:
                self.venue.set_last_bar(s, bars[-1].ts)
        for ts in sorted(hist):
            for b in hist[ts]:
                self._feed(b)
            self._feed(BarsComplete(ts=ts))
        self._control(Control(kind="unblock", symbols=list(eng.symbols)))
        self._journal.sync()
        self.replayed_bars = eng.bars_done
        self.audit_event("live_warmed_up", {"bars": eng.bars_done})

    # ------------------------------------------------------------------ 2. reconcile
    async def reconcile(self) -> Any:
        """Look up the book's working orders, book what the venue reports, then compare ledger and venue."""
        from tradejet.engine.reconcile import reconcile

        eng, ledger = self.engine, self.engine.ledger
        known = ledger.fills() if ledger is not None else []
        ts = self.clock()
        for w in list(eng.working):
            rep = await self.venue.order_state(w.cid)
            if rep is None:
                self._feed(OrderRejected(client_order_id=w.cid, reason="not at the venue on restart (never sent)",
                                         ts_event=ts))
                continue
            self.venue.adopt(w.cid, eng.symbols[w.pair], w.side, w.qty, txid=rep.venue_order_id)
        self.venue.mark_seen([_as_fill(f) for f in known])
        for ev in await self.venue.sync():
            self._feed(ev)
        if ledger is not None and ledger.last_fill_ts() is not None and hasattr(self.venue, "fills_floor_ns"):
            self.venue.fills_floor_ns = ledger.last_fill_ts()
        self._journal.sync()
        rep = await reconcile(ledger, self.venue, symbols=list(eng.symbols), audit=self.audit, ts=ts)
        for f in rep.findings:
            log.warning("reconcile: %s %s %s", f.kind, f.symbol or "", f.detail)
        if rep.unreconciled:
            self._control(Control(kind="unreconciled", symbols=list(rep.unreconciled)))
        for sym in rep.adopted:
            pos = next((p for p in await self.venue.positions() if p.symbol == sym), None)
            if pos is not None:
                px = pos.avg_price if math.isfinite(pos.avg_price) else self.last_close.get(sym, math.nan)
                self._control(Control(kind="adopt", symbols=[sym], qty=pos.qty, price=px, ts=ts))
        self._journal.sync()
        self.reconcile_report = rep
        return rep

    # ------------------------------------------------------------------ 3. trade
    async def _dead_mans_switch(self) -> None:
        arm = getattr(self.venue, "arm_dead_mans_switch", None)
        if arm is None or self.dms_s <= 0:
            return
        while True:
            try:
                await arm(self.dms_s)
                self.dms_armed += 1
            except Exception as e:  # noqa: BLE001 - keep trying; the switch fires if we cannot
                log.warning("could not re-arm the dead-man's switch: %s", e)
            await asyncio.sleep(max(1.0, self.dms_s / 3))

    async def _watch_kill_file(self) -> None:
        if self.kill_file is None:
            return
        while True:
            if self.kill_file.exists():
                self.kill(f"kill switch file {self.kill_file} appeared")
                return
            await asyncio.sleep(0.25)

    async def run(self, *, max_bars: int | None = None, on_bar_done=None, on_ready=None) -> int:
        """Rebuild, reconcile, trade until stopped; return the live bars stepped.

        ``on_ready(session)`` is called once the book is rebuilt and reconciled.
        """
        eng = self.engine
        if self.kill_file is not None and self.kill_file.exists():
            from tradejet.errors import ConfigError

            raise ConfigError(f"the kill switch file {self.kill_file} exists: remove it to start",
                              key="live.kill_switch_file")
        await self.rebuild()
        await self.reconcile()
        guarded = GuardedVenue(self.venue, self._journal, self)
        eng.adapter = guarded
        start = eng.bars_done
        helpers = [asyncio.create_task(self._dead_mans_switch()), asyncio.create_task(self._watch_kill_file())]
        if on_ready is not None:
            on_ready(self)

        def on_done(e) -> None:
            self.live_bars = e.bars_done - start
            if max_bars is not None and self.live_bars >= max_bars:
                e.stop()
            if on_bar_done is not None:
                on_bar_done(e)

        self._task = asyncio.create_task(eng.run(on_bar_done=on_done))
        try:
            await self._task
        except asyncio.CancelledError:
            if self.killed is None and not self.stopped:
                raise
        finally:
            for h in helpers:
                h.cancel()
            self._task = None
        await self._wind_down()
        return self.live_bars

    # ------------------------------------------------------------------ 4. stop
    async def _wind_down(self) -> None:
        """Cancel every open order, book what the venue reports, checkpoint."""
        eng = self.engine
        try:
            n = await self.venue.cancel_all()
        except Exception as e:  # noqa: BLE001 - report and still save the state
            log.error("cancel all failed on the way out: %s", e)
            n = -1
        try:
            for ev in await self.venue.sync():
                self._feed(ev)
        except Exception as e:  # noqa: BLE001
            log.error("final sync failed: %s", e)
        arm = getattr(self.venue, "arm_dead_mans_switch", None)
        if arm is not None and self.dms_s > 0:
            try:
                await arm(0)  # nothing works any more: disarm, so it cannot fire on a later run's orders
            except Exception as e:  # noqa: BLE001
                log.error("could not disarm the dead-man's switch: %s", e)
        if eng.ledger is not None:
            for row in eng.ledger.orders(open_only=True):
                state = await self.venue.order_state(row.client_order_id)
                if state is None or state.status in ("canceled", "expired", "closed"):
                    eng.ledger.set_order_status(row.client_order_id, "canceled", ts=self.clock(),
                                                detail="cancelled when the live run stopped")
        self._journal.sync()
        eng.checkpoint()
        self.audit_event("live_stopped", {"reason": self.killed or "stopped", "cancelled": n,
                                          "bars": eng.bars_done})

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


def _as_fill(row) -> OrderFilled:
    return OrderFilled(client_order_id=row.client_order_id, venue_order_id=row.venue_order_id, trade_id=row.trade_id,
                       symbol=row.symbol, side=row.side, qty=row.qty, price=row.price, fee=row.fee,
                       ts_event=row.ts_event, ts_init=row.ts_init, liquidity=row.liquidity)
