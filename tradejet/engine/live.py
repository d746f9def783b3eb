"""The event driver: the same step as the compiled backtest, one bar cross-section at a time.

:class:`Engine` is what a bot embeds. Bars arrive one symbol at a time
(:meth:`Engine.on_bar`); the engine buffers them until the cross-section of one
timestamp is complete (every symbol has a bar, or a later bar or a
:class:`~tradejet.messages.BarsComplete` marker arrives) and then does, once per
timestamp, exactly what :func:`tradejet.engine.driver.run_nb` does per bar:

1. executions received since the last step are booked with
   :func:`~tradejet.engine.step.on_fill_nb`, walking the working orders in submission
   order; a market order older than ``backtest.max_order_bars`` bars is cancelled;
2. :func:`~tradejet.engine.step.step_nb` decides;
3. each accepted intent becomes a :class:`~tradejet.messages.SubmitOrder` with a
   client order id made before sending (``<run id>-<sequence>``, the same on a replay),
   written to the ledger, then handed out.

Every fill is written to the ledger (which updates positions and cash in the same
transaction) before the in-memory book changes. A fill seen twice (same trade id) is
booked once.

>>> from tradejet.config import Config
>>> from tradejet.messages import Bar
>>> eng = Engine(Config(), None, None, symbols=["BTC/USD"])
>>> eng.on_bar(Bar(symbol="BTC/USD", ts=0, open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0))
[]
>>> eng.bars_done
1
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tradejet.config import Config
from tradejet.errors import DataError
from tradejet.kernels.codes import OrderType, Reject
from tradejet.kernels.fills import PAIR, round_qty_nb
from tradejet.kernels.portfolio import ACC_CASH
from tradejet.messages import (
    Bar,
    BarsComplete,
    CancelOrder,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    SubmitOrder,
)

__all__ = ["Engine", "EngineLog", "WorkingOrder", "OPERATOR_PAUSED"]

OPERATOR_PAUSED = 100  # code in ``EngineLog.orders`` of an entry the step accepted while the operator paused entries

log = logging.getLogger(__name__)

Command = SubmitOrder | CancelOrder


class WorkingOrder:
    """One accepted order the engine still expects executions for (mirrors the driver's ``wk`` row)."""

    __slots__ = ("cid", "seq", "pair", "strategy", "side", "type", "qty", "price", "reserved", "filled",
                 "submit_bar", "reason", "events")

    def __init__(self, cid: str, seq: int, pair: int, strategy: int, side: int, type_: int, qty: float,
                 price: float, reserved: float, submit_bar: int, reason: int):
        self.cid = cid
        self.seq = seq
        self.pair = pair
        self.strategy = strategy
        self.side = side
        self.type = type_
        self.qty = qty
        self.price = price
        self.reserved = reserved
        self.filled = 0.0
        self.submit_bar = submit_bar
        self.reason = reason
        self.events: list[Any] = []


@dataclass
class EngineLog:
    """What the engine did, in the compiled driver's terms (lists of tuples; see driver ``FL_*``/``OL_*``)."""

    fills: list[tuple] = field(default_factory=list)   # bar, pair, strategy, side, qty, price, fee, pnl, seq, regime
    orders: list[tuple] = field(default_factory=list)  # bar, pair, strategy, side, qty, price, reason, code, seq
    ts: list[int] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    cash: list[float] = field(default_factory=list)
    regime: list[int] = field(default_factory=list)
    active: list[int] = field(default_factory=list)
    trading_state: list[int] = field(default_factory=list)


class Engine:
    """The event driver around the compiled step.

    Parameters
    ----------
    config : the run's :class:`~tradejet.config.Config` (universe, strategies, risk, fills...).
    adapter : an :class:`~tradejet.engine.ports.ExecutionVenue` for :meth:`run`; ``None``
        when the caller drives the engine itself (:meth:`on_bar` / :meth:`on_fill`).
    ledger : a :class:`~tradejet.io.ledger.Ledger`; ``None`` keeps nothing on disk (research,
        benchmarks: never for paper or live money).
    symbols : the universe, in pair-index order (default: ``[swing] symbols`` for the swing
        system, the resolved ``[universe]`` for crypto).
    run_id : prefix of client order ids; a restarted run must reuse it (kept in ledger meta).
    audit : an :class:`~tradejet.io.audit.AuditLog` for findings (unknown fills, late bars).
    record : keep an :class:`EngineLog` (per-bar equity, every intent and fill) in memory.
    checkpoint_bars : write the equity mark and the last completed bar to the ledger every
        this many bars (and on every bar with orders or fills, and on :meth:`close`).
    scorer : ``ml_signal``'s model scores, one row per bar: a
        :class:`~tradejet.models.scoring.StreamingScorer` (anything with ``update(o, h, l, c,
        v, have, out=)``), advanced once per cross-section before the step, as the compiled
        backtest reads row ``t`` of its batch scores. ``None``: no scores, ``ml_signal`` never
        enters.
    guard : swing only: the :class:`~tradejet.engine.swing.SwingGuard` that scores each
        cross-section (default: built from the promoted swing model under ``config.home`` or
        ``$TRADEJET_HOME``; a missing or refused model blocks entries or leaves them to the
        rules, per ``[swing] ml_fallback``).


    With ``config.system == "swing"`` this is the swing system's event driver: the live
    runner builds ``Engine(config, broker_venue, ledger)``, reconciles
    (:func:`tradejet.engine.reconcile.reconcile`: backfilled positions adopted, mismatched
    symbols blocked, see :meth:`blocked`) and runs it.
    """

    def __init__(self, config: Config, adapter, ledger, *, symbols: list[str] | None = None, run_id: str = "tj",
                 audit=None, record: bool = True, checkpoint_bars: int = 500, scorer=None,
                 guard=None):
        from tradejet.engine.simulate import build_context
        from tradejet.engine.step import new_buffers
        from tradejet.strategies.base import MAX_INTENTS

        if symbols is None:  # the configured universe of the system
            symbols = (list(config.swing.symbols) if config.system == "swing"
                       else config.universe.resolved_symbols())
        if not symbols:
            raise DataError("the engine needs at least one symbol")
        self.config = config
        self.adapter = adapter
        self.ledger = ledger
        self.audit = audit
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}
        if len(self.index) != len(self.symbols):
            raise DataError(f"duplicate symbols: {self.symbols}")
        self.run_id = run_id
        self.ctx, self.pair_rows, self.fill_cfg, _ = build_context(self.symbols, config)
        self._intents, self._out = new_buffers()
        n = len(self.symbols)
        self._o = np.full(n, np.nan)
        self._h = np.full(n, np.nan)
        self._l = np.full(n, np.nan)
        self._c = np.full(n, np.nan)
        self._v = np.full(n, np.nan)
        self._have = np.zeros(n, np.bool_)
        self._scores = np.full(n, np.nan)
        self.scorer = scorer
        self._n_in = 0
        self._pending_ts: int | None = None
        self._t_arrival = 0
        self.last_ts: int | None = None
        self.bars_done = 0
        self.working: list[WorkingOrder] = []
        self._by_cid: dict[str, WorkingOrder] = {}
        self._seen_trades: set[str] = set()
        self._expired: dict[str, WorkingOrder] = {}  # market orders the engine gave up on (age): a late fill still counts
        self.seq = 0
        self.slots = 4 * MAX_INTENTS
        self.max_order_bars = int(config.backtest.max_order_bars)
        self.dropped = 0
        self.late_bars = 0
        self.bad_bars = 0
        self.unknown_fills = 0
        self.record = record
        self.log = EngineLog()
        self.last_orders: list[SubmitOrder] = []
        self.checkpoint_bars = max(1, int(checkpoint_bars))
        self._dirty = False
        self.latency_ns = np.zeros(1 << 20, np.int64)
        self.n_latency = 0
        self._stop = False
        self.paused = False    # operator: no new entries (exits still go); see pause()
        self.halted = False    # operator: kill switch; see halt()
        self.paused_entries = 0
        self.replay_until = 0  # bars a resumed run re-steps to rebuild its book: no checkpoints before it
        self.quote = self.symbols[0].split("/", 1)[1] if "/" in self.symbols[0] else "USD"
        self.env = config.deployment_env
        #: the swing system's ML safety guard (None for crypto); it scores each cross-section
        self.guard = None
        if config.system == "swing":
            from tradejet.engine.swing import SwingGuard

            if guard is None:
                from tradejet.config import tradejet_home

                guard = SwingGuard.from_store(config, self.symbols, config.home or tradejet_home(), audit=audit)
            self.guard = guard
        if ledger is not None and not ledger.cash() and not ledger.fills():
            ledger.set_cash(self.quote, float(config.backtest.initial_cash), ts=0)

    # ------------------------------------------------------------------ bars
    def on_bar(self, bar: Bar, *, t_arrival: int | None = None) -> list[Command]:
        """Take one bar; return the commands (cancels, then new orders) when it completes a cross-section.

        A bar with a later timestamp first completes the buffered cross-section; a bar older
        than the last completed one is late: counted, audited, never fed to an indicator.
        """
        t_in = time.perf_counter_ns() if t_arrival is None else t_arrival
        p = self.index.get(bar.symbol)
        if p is None:
            self._finding("unknown_symbol_bar", {"symbol": bar.symbol, "ts": bar.ts})
            return []
        if not (bar.low > 0.0 and bar.high >= bar.low and bar.low <= bar.open <= bar.high
                and bar.low <= bar.close <= bar.high and bar.volume >= 0.0 and math.isfinite(bar.high)):
            self.bad_bars += 1
            self._finding("bad_bar", {"symbol": bar.symbol, "ts": bar.ts, "open": bar.open, "high": bar.high,
                                      "low": bar.low, "close": bar.close, "volume": bar.volume})
            return []
        cmds: list[Command] = []
        if self._pending_ts is not None and bar.ts > self._pending_ts:
            cmds = self._step()
        if (self.last_ts is not None and bar.ts <= self.last_ts) or (self._have[p] and bar.ts == self._pending_ts):
            self.late_bars += 1
            self._finding("late_bar", {"symbol": bar.symbol, "ts": bar.ts, "last_ts": self.last_ts})
            return cmds
        self._pending_ts = bar.ts
        self._t_arrival = t_in
        self._o[p], self._h[p], self._l[p], self._c[p], self._v[p] = bar.open, bar.high, bar.low, bar.close, bar.volume
        self._have[p] = True
        self._n_in += 1
        if self._n_in == len(self.symbols):
            cmds += self._step()
        return cmds

    def flush(self, ts: int | None = None) -> list[Command]:
        """Complete the buffered cross-section (``ts``: a feed's :class:`BarsComplete` time).

        A marker for a timestamp with no bar at all still steps once (the compiled driver
        steps on every row of its time axis).
        """
        if self._pending_ts is not None and (ts is None or self._pending_ts <= ts):
            self._t_arrival = time.perf_counter_ns()
            return self._step()
        if ts is not None and self._pending_ts is None and (self.last_ts is None or ts > self.last_ts):
            self._pending_ts = ts
            self._t_arrival = time.perf_counter_ns()
            return self._step()
        return []

    # ------------------------------------------------------------------ executions
    def on_fill(self, fill: OrderFilled) -> bool:
        """Write one execution to the ledger and queue it for the next step; False if seen before."""
        if fill.trade_id in self._seen_trades:
            return False
        self._seen_trades.add(fill.trade_id)
        if self.ledger is not None:
            self.ledger.record_fill(fill)
        self._dirty = True
        w = self._by_cid.get(fill.client_order_id)
        old = self._expired.get(fill.client_order_id)
        if w is None and old is not None:
            # a live venue filled it before our cancel arrived (we lagged the feed): book it all the same,
            # as a working order of exactly what filled, with nothing reserved (its reserve was released)
            w = WorkingOrder(old.cid, old.seq, old.pair, old.strategy, old.side, old.type, float(fill.qty),
                             old.price, 0.0, old.submit_bar, old.reason)
            self.working.append(w)
            self._by_cid[w.cid] = w
            self._finding("late_fill_of_expired_order", {"client_order_id": w.cid, "trade_id": fill.trade_id})
        if w is None:
            self.unknown_fills += 1
            self._finding("unknown_fill", {"client_order_id": fill.client_order_id, "trade_id": fill.trade_id,
                                           "symbol": fill.symbol, "qty": fill.qty, "price": fill.price})
            return True
        w.events.append(fill)
        return True

    def on_order_event(self, event: OrderAccepted | OrderRejected | OrderCanceled) -> None:
        """Record a venue's answer; a rejection or an unrequested cancel frees the order at the next step."""
        if self.ledger is not None:
            row = self.ledger.order(event.client_order_id)
            if row is not None:
                if isinstance(event, OrderAccepted):
                    if row.status == "pending_new":
                        self.ledger.set_order_status(event.client_order_id, "new", ts=event.ts_event,
                                                     venue_order_id=event.venue_order_id)
                elif isinstance(event, OrderRejected):
                    if row.status != "rejected":
                        self.ledger.set_order_status(event.client_order_id, "rejected", ts=event.ts_event,
                                                     detail=event.reason)
                elif row.is_open:
                    self.ledger.set_order_status(event.client_order_id, "canceled", ts=event.ts_event)
        if isinstance(event, OrderAccepted):
            return
        w = self._by_cid.get(event.client_order_id)
        if w is not None:
            w.events.append(event)

    # ------------------------------------------------------------------ the step
    def _step(self) -> list[Command]:
        from tradejet.engine.step import (
            INFO_ACTIVE, INFO_EQUITY, INFO_REGIME, INFO_TRADING_STATE, OUT_CODE, OUT_PAIR, OUT_PRICE, OUT_QTY,
            OUT_REASON, OUT_RESERVED, OUT_SIDE, OUT_STRATEGY, OUT_TYPE, on_fill_nb, on_order_done_nb, step_nb,
        )

        ctx = self.ctx
        ts = int(self._pending_ts)
        t = self.bars_done
        cmds: list[Command] = []
        # 1. book executions, order by order in submission order (as run_nb does)
        keep: list[WorkingOrder] = []
        for w in self.working:
            done = False
            if w.events:
                for ev in w.events:
                    if done:  # an execution after the order ended: the book no longer expects it
                        self._finding("late_execution", {"client_order_id": w.cid, "event": type(ev).__name__})
                        continue
                    if isinstance(ev, OrderFilled):
                        done = self._book_fill(w, ev, t, ts, on_fill_nb, on_order_done_nb)
                    else:  # rejected, or cancelled by the venue
                        on_order_done_nb(ctx, w.strategy, w.pair, w.side, w.qty - w.filled, w.reserved)
                        done = True
                w.events = []
            if not done and w.type == OrderType.MARKET and t - w.submit_bar > self.max_order_bars:
                on_order_done_nb(ctx, w.strategy, w.pair, w.side, w.qty - w.filled, w.reserved)
                cmds.append(CancelOrder(client_order_id=w.cid, symbol=self.symbols[w.pair], ts_init=ts))
                self._expired[w.cid] = w
                done = True
            if done:
                del self._by_cid[w.cid]
            else:
                keep.append(w)
        self.working = keep

        # 2. decide (the model scores this bar first, as row t of the backtest's batch scores; swing: the ML
        # guard scores the cross-section, as the backtest did before its loop)
        if self.guard is not None:
            self._scores[:] = self.guard.step(self._o, self._h, self._l, self._c, self._v, self._have)
        elif self.scorer is not None:
            self.scorer.update(self._o, self._h, self._l, self._c, self._v, self._have, out=self._scores)
        n = step_nb(ctx, ts, self._o, self._h, self._l, self._c, self._v, self._have, self._scores,
                    self._intents, self._out)

        # 3. accepted intents become orders: ledger first, then out
        out = self._out
        submits: list[SubmitOrder] = []
        for i in range(n):
            seq = -1
            code = int(out[i, OUT_CODE])
            if code == Reject.UNRECONCILED:
                self._finding("entry_blocked_unreconciled", {"symbol": self.symbols[int(out[i, OUT_PAIR])], "ts": ts,
                                                             "qty": float(out[i, OUT_QTY])})
            if code == Reject.OK:
                pair, strat, side = int(out[i, OUT_PAIR]), int(out[i, OUT_STRATEGY]), int(out[i, OUT_SIDE])
                if self.paused and self._is_entry(strat, pair, side, float(out[i, OUT_QTY])):
                    self.paused_entries += 1
                    on_order_done_nb(ctx, strat, pair, side, out[i, OUT_QTY], out[i, OUT_RESERVED])
                    code = OPERATOR_PAUSED
                elif len(self.working) >= self.slots:
                    self.dropped += 1
                    on_order_done_nb(ctx, strat, pair, side, out[i, OUT_QTY], out[i, OUT_RESERVED])
                else:
                    seq = self.seq
                    self.seq += 1
                    typ = int(out[i, OUT_TYPE])
                    price = float(out[i, OUT_PRICE]) if typ != OrderType.MARKET else math.nan
                    w = WorkingOrder(f"{self.run_id}-{seq}", seq, pair, strat, side, typ, float(out[i, OUT_QTY]),
                                     price, float(out[i, OUT_RESERVED]), t, int(out[i, OUT_REASON]))
                    order = SubmitOrder(client_order_id=w.cid, symbol=self.symbols[pair], side=side, qty=w.qty,
                                        order_type=typ, ts_init=ts,
                                        limit_price=price if typ == OrderType.LIMIT else math.nan,
                                        stop_price=price if typ in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT)
                                        else math.nan, strategy=strat)
                    if self.ledger is not None:
                        self.ledger.record_order(order)  # False on a replay: same id, sent again (idempotent)
                    self.working.append(w)
                    self._by_cid[w.cid] = w
                    submits.append(order)
            if self.record:
                self.log.orders.append((t, int(out[i, OUT_PAIR]), int(out[i, OUT_STRATEGY]), int(out[i, OUT_SIDE]),
                                        float(out[i, OUT_QTY]), float(out[i, OUT_PRICE]), int(out[i, OUT_REASON]),
                                        code, seq))
        if self.record:
            lg = self.log
            lg.ts.append(ts)
            lg.equity.append(float(ctx.info[INFO_EQUITY]))
            lg.cash.append(float(ctx.account[ACC_CASH]))
            lg.regime.append(int(ctx.info[INFO_REGIME]))
            lg.active.append(int(ctx.info[INFO_ACTIVE]))
            lg.trading_state.append(int(ctx.info[INFO_TRADING_STATE]))
        if submits:
            self.last_orders = (self.last_orders + submits)[-20:]
            self._dirty = True
        # reset the cross-section buffer
        self._o.fill(np.nan)
        self._h.fill(np.nan)
        self._l.fill(np.nan)
        self._c.fill(np.nan)
        self._v.fill(np.nan)
        self._have[:] = False
        self._n_in = 0
        self._pending_ts = None
        self.last_ts = ts
        self.bars_done = t + 1
        if self.ledger is not None and self.bars_done >= self.replay_until and (
                self._dirty or self.bars_done % self.checkpoint_bars == 0):
            self.checkpoint()
        return cmds + submits

    def _book_fill(self, w: WorkingOrder, fill: OrderFilled, t: int, ts: int, on_fill_nb, on_order_done_nb) -> bool:
        """Book one execution exactly as run_nb does (reserved cash released pro rata); True when complete."""
        from tradejet.engine.step import INFO_REGIME

        q = float(fill.qty)
        left = w.qty - w.filled
        new_filled = w.filled + q
        rest = round_qty_nb(w.qty - new_filled, self.pair_rows[w.pair, PAIR.LOT_DECIMALS])
        complete = rest <= 0.0 or rest <= w.qty * 1e-12
        release = w.reserved * (q / left) if left > 0.0 else w.reserved
        if complete:
            release = w.reserved
        w.reserved -= release
        pnl = on_fill_nb(self.ctx, w.strategy, w.pair, w.side, q, float(fill.price), float(fill.fee), ts, release)
        w.filled = w.qty if complete else new_filled
        if self.record:
            self.log.fills.append((t, w.pair, w.strategy, w.side, q, float(fill.price), float(fill.fee), float(pnl),
                                   w.seq, int(self.ctx.info[INFO_REGIME])))
        if complete:
            on_order_done_nb(self.ctx, w.strategy, w.pair, w.side, w.qty - w.filled, w.reserved)
        return complete

    # ------------------------------------------------------------------ persistence and findings
    def checkpoint(self) -> None:
        """Write the equity mark and the last completed bar to the ledger."""
        if self.ledger is None or self.last_ts is None:
            return
        from tradejet.engine.step import INFO_EQUITY

        self.ledger.mark_equity(self.last_ts, float(self.ctx.info[INFO_EQUITY]), float(self.ctx.account[ACC_CASH]))
        self.ledger.set_meta("last_bar", f"{self.bars_done} {self.last_ts}")
        self._dirty = False

    def _finding(self, event: str, data: dict) -> None:
        log.warning("[%s] %s: %s", self.env, event, data)
        if self.audit is not None:
            self.audit.append(event, {"env": self.env, **data})

    def blocked(self) -> dict[str, str]:
        """Symbols blocked for new entries and scale-ins, and why (status displays, audit)."""
        return {self.symbols[p]: "unreconciled: broker quantity differs from the ledger; exits only"
                for p in np.flatnonzero(self.ctx.unreconciled)}

    def _is_entry(self, strat: int, pair: int, side: int, qty: float) -> bool:
        """True when an order opens or adds to a position (the risk kernel's rule: reducing is not)."""
        pos = float(self.ctx.pos_qty[strat, pair])
        reducing = (side < 0 < pos) or (side > 0 > pos)
        return not reducing or qty > abs(pos) * (1.0 + 1e-12)

    # ------------------------------------------------------------------ operator controls
    def pause(self) -> None:
        """Stop new entries from the next step on: accepted entry intents are dropped (logged with
        code :data:`OPERATOR_PAUSED`, their reservations released); exits and cancels still go."""
        self.paused = True

    def resume(self) -> None:
        """Allow new entries again (not after :meth:`halt`)."""
        if not self.halted:
            self.paused = False

    def halt(self) -> list[str]:
        """Kill switch, engine side: no new orders, :meth:`run` returns before the next event, and the
        working orders leave the book (reservations released). Return their client ids: cancelling
        them at the venue (and in the ledger) is the caller's job, it awaits the venue."""
        from tradejet.engine.step import on_order_done_nb

        self.paused = True
        self.halted = True
        self._stop = True
        cids = []
        for w in self.working:
            on_order_done_nb(self.ctx, w.strategy, w.pair, w.side, w.qty - w.filled, w.reserved)
            cids.append(w.cid)
        self.working = []
        self._by_cid.clear()
        return cids

    # ------------------------------------------------------------------ the asyncio loop
    def stop(self) -> None:
        """Ask :meth:`run` to return after the event it is handling."""
        self._stop = True

    async def _send(self, cmds: list[Command]) -> None:
        t_hand = 0
        for c in cmds:
            if isinstance(c, SubmitOrder):
                if not t_hand:
                    t_hand = time.perf_counter_ns()
                await self.adapter.submit(c)
            else:
                await self.adapter.cancel(c.client_order_id)
        if not t_hand:
            t_hand = time.perf_counter_ns()
        if self.n_latency < self.latency_ns.shape[0]:
            self.latency_ns[self.n_latency] = t_hand - self._t_arrival
            self.n_latency += 1

    async def run(self, *, on_bar_done=None) -> int:
        """Pull bars and executions from the adapter until its feed ends or :meth:`stop`; return bars stepped.

        ``on_bar_done(engine)`` is called after each completed cross-section (status displays).
        """
        if self.adapter is None:
            raise DataError("Engine.run needs an adapter (an ExecutionVenue)")
        start = self.bars_done
        async for ev in self.adapter.events():
            if self.halted:
                break
            done_before = self.bars_done
            if isinstance(ev, Bar):
                cmds = self.on_bar(ev)
            elif isinstance(ev, BarsComplete):
                cmds = self.flush(ev.ts)
            elif isinstance(ev, OrderFilled):
                self.on_fill(ev)
                continue
            elif isinstance(ev, (OrderAccepted, OrderRejected, OrderCanceled)):
                self.on_order_event(ev)
                continue
            else:
                continue
            if self.bars_done != done_before:
                await self._send(cmds)
                if on_bar_done is not None:
                    on_bar_done(self)
            if self._stop:
                break
            if self.bars_done % 64 == 0:
                await asyncio.sleep(0)  # let signal handlers and other tasks run
        if not self._stop and self._pending_ts is not None:
            await self._send(self.flush())
        self.checkpoint()
        return self.bars_done - start

    def latency_percentiles(self) -> dict[str, float]:
        """p50/p99/p99.9/max of bar arrival -> orders handed to the adapter, in microseconds."""
        lat = self.latency_ns[: self.n_latency]
        if lat.size == 0:
            return {}
        q = np.percentile(lat, [50, 99, 99.9])
        return {"p50_us": q[0] / 1e3, "p99_us": q[1] / 1e3, "p99.9_us": q[2] / 1e3, "max_us": lat.max() / 1e3,
                "n": int(lat.size)}

    def close(self) -> None:
        """Checkpoint (the ledger and audit log stay open: their owner closes them)."""
        self.checkpoint()
