"""AlpacaVenue: the :class:`~tradejet.engine.ports.ExecutionVenue` over Alpaca's REST APIs.

REST is the truth: :meth:`AlpacaVenue.events` polls the market clock, the ``FILL``
activities and the status of the orders it placed, and yields, in this order, the
executions (:class:`~tradejet.messages.OrderFilled`, ``OrderAccepted``,
``OrderRejected``, ``OrderCanceled``) and then, once per trading day, the previous
session's final daily bar of every symbol followed by a ``BarsComplete``. A day's bar is
emitted when the *next* session has opened, so the orders the engine makes from it go
out during market hours (the backtest fills them at the next bar's open).

Guards before an order leaves (each refusal becomes an ``OrderRejected`` event, so the
engine frees what it reserved; nothing reaches Alpaca):

* market hours: the clock must say open and today must be a trading day in the
  calendar (nights, weekends, holidays refused);
* cash-only: a buy must fit in the account's ``cash`` less the buys still working, whatever
  ``buying_power`` and ``multiplier`` Alpaca offers;
* freshness: after a pause the venue hands out every missed day (indicators need them), but
  only orders decided on the newest final bar are sent;
* ``max_order_notional`` (USD per order) and ``max_daily_loss`` (USD below the previous
  close's equity, Alpaca's ``last_equity``: new buys refused, sells allowed).

Symbols: tradejet's ``"AAPL"`` (or ``"AAPL/USD"``) is Alpaca's ``"AAPL"``. Daily bars are
stamped at their date's 00:00 UTC, like the equity files in ``shared/data``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta, timezone

from tradejet.adapters.alpaca.http import AlpacaHttp
from tradejet.adapters.alpaca.schemas import (
    AlpacaClock,
    AlpacaFill,
    AlpacaOrder,
    bar_day_ns,
    day_of_ns,
    num,
    parse_time_ns,
)
from tradejet.errors import OrderRejected as OrderRefused
from tradejet.errors import RateLimited, ResponseError, VenueUnavailable
from tradejet.kernels.codes import OrderType
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

__all__ = ["AlpacaVenue", "DAY_NS"]

log = logging.getLogger(__name__)
DAY_NS = 86_400_000_000_000
_OPEN = ("new", "accepted", "pending_new", "accepted_for_bidding", "partially_filled", "held", "pending_cancel",
         "pending_replace", "calculated", "stopped", "suspended", "done_for_day")
_TYPE_CODE = {"market": OrderType.MARKET, "limit": OrderType.LIMIT, "stop": OrderType.STOP_LOSS,
              "stop_limit": OrderType.STOP_LOSS}


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class AlpacaVenue:
    """An :class:`~tradejet.engine.ports.ExecutionVenue` trading US equities through Alpaca.

    Parameters
    ----------
    client : an :class:`~tradejet.adapters.alpaca.http.AlpacaHttp` (paper, live or the local server).
    symbols : the universe, in the engine's order.
    environment : ``"paper"`` or ``"live"``; named in every log line.
    client_id_prefix : orders whose ``client_order_id`` starts with it are this bot's (older runs
        included); fills of other orders are not reported as executions (reconcile sees them as
        position differences).
    poll_s, closed_poll_s : seconds between polls while the market is open / closed.
    wait : ``await wait(seconds)`` between polls (tests advance a simulated clock here).
    max_order_notional, max_daily_loss : USD limits (None: none).
    max_bars : end :meth:`events` after this many daily cross-sections (None: run forever).
    """

    name = "alpaca"

    def __init__(self, client: AlpacaHttp, symbols: list[str], *, environment: str = "paper",
                 client_id_prefix: str = "", poll_s: float = 30.0, closed_poll_s: float = 300.0,
                 wait: Callable[[float], Awaitable[None]] | None = None, max_order_notional: float | None = None,
                 max_daily_loss: float | None = None, max_bars: int | None = None, time_in_force: str = "day",
                 history_days: int = 400, clock_ttl_s: float = 5.0):
        if not symbols:
            raise ValueError("AlpacaVenue needs at least one symbol")
        for name, v in (("max_order_notional", max_order_notional), ("max_daily_loss", max_daily_loss)):
            if v is not None and not v > 0:
                raise ValueError(f"{name} must be > 0, was {v}")
        self.client = client
        self.symbols = list(symbols)
        self.to_alpaca = {s: s.split("/", 1)[0] if s.endswith("/USD") else s for s in self.symbols}
        self.from_alpaca = {a: s for s, a in self.to_alpaca.items()}
        self.environment = environment
        self.prefix = client_id_prefix
        self.poll_s = poll_s
        self.closed_poll_s = closed_poll_s
        self.wait = wait or asyncio.sleep
        self.max_order_notional = max_order_notional
        self.max_daily_loss = max_daily_loss
        self.max_bars = max_bars
        self.time_in_force = time_in_force
        self.history_days = history_days
        self.clock_ttl_s = clock_ttl_s
        self.last_day: date | None = None        # newest daily bar handed out
        self.last_close: dict[str, float] = {}
        self.bars_emitted = 0
        self._outbox: list = []
        self._ids: dict[str, str] = {}           # client id -> Alpaca order id
        self._cids: dict[str, str] = {}          # Alpaca order id -> client id
        self._working: dict[str, SubmitOrder] = {}  # client id -> order still expected to end
        self._unknown: dict[str, int] = {}       # client id -> lookups left (outcome of a send unknown)
        self._seen_fills: set[str] = set()
        self._sent: dict[str, SubmitOrder] = {}   # client id -> the order as the engine sized it
        self._reported: dict[str, float] = {}     # client id -> qty reported filled
        self._fills_after: str | None = None
        self._clock: tuple[float, AlpacaClock] | None = None
        self._calendar: dict[date, bool] = {}
        self._stop = False
        self._newest_ts = 0  # the newest final bar handed out: orders decided on older bars are stale
        self.refused: list[tuple[str, str]] = []  # (client id, reason) refused before sending

    def __repr__(self) -> str:
        return f"AlpacaVenue({self.environment}, {self.client!r}, symbols={self.symbols})"

    def stop(self) -> None:
        self._stop = True

    def _mine(self, cid: str | None) -> bool:
        return bool(cid) and (cid in self._ids or cid in self._working or bool(self.prefix)
                              and cid.startswith(self.prefix))

    # ------------------------------------------------------------------ market hours
    async def clock(self, *, fresh: bool = False) -> AlpacaClock:
        now = time.monotonic()
        if fresh or self._clock is None or now - self._clock[0] > self.clock_ttl_s:
            self._clock = (now, await self.client.clock())
        return self._clock[1]

    async def market_open(self) -> tuple[bool, str]:
        """(open for orders?, why not): the clock says open and today is in the trading calendar."""
        c = await self.clock(fresh=True)
        if not c.is_open:
            return False, f"market closed (clock {c.timestamp}, next open {c.next_open})"
        today = day_of_ns(parse_time_ns(c.timestamp, "GET /v2/clock", "timestamp"))
        if today not in self._calendar:
            days = await self.client.calendar(today.isoformat(), today.isoformat())
            self._calendar[today] = any(d.date == today.isoformat() for d in days)
        if not self._calendar[today]:
            return False, f"{today} is not a trading day in Alpaca's calendar (holiday)"
        return True, ""

    # ------------------------------------------------------------------ orders
    async def submit(self, order: SubmitOrder) -> None:
        """Check the guards, then place the order (idempotent by client id); the answer arrives as an event."""
        cid = order.client_order_id
        if cid in self._ids or cid in self._unknown:
            return
        try:
            reason = await self._refusal(order)
        except (VenueUnavailable, RateLimited, ResponseError) as e:  # not sure it is safe: do not send
            reason = f"cannot check the guards ({type(e).__name__}: {e})"
        if reason:
            log.warning("[%s] order %s %s refused before sending: %s", self.environment, cid, order.symbol, reason)
            self.refused.append((cid, reason))
            self._outbox.append(OrderRejected(client_order_id=cid, reason=reason, ts_event=time.time_ns()))
            return
        side = "buy" if order.side > 0 else "sell"
        typ, limit, stop = "market", None, None
        if order.order_type == OrderType.LIMIT:
            typ, limit = "limit", order.limit_price
        elif order.order_type == OrderType.STOP_LOSS:
            typ, stop = "stop", order.stop_price
        elif order.order_type == OrderType.TAKE_PROFIT:
            typ, limit = "limit", order.stop_price
        self._working[cid] = order
        self._sent[cid] = order
        try:
            o = await self.client.submit_order(symbol=self.to_alpaca.get(order.symbol, order.symbol), qty=order.qty,
                                               side=side, type=typ, time_in_force=self.time_in_force,
                                               client_order_id=cid, limit_price=limit, stop_price=stop)
        except OrderRefused as e:
            self._working.pop(cid, None)
            log.warning("[%s] Alpaca refused %s: %s", self.environment, cid, e)
            self._outbox.append(OrderRejected(client_order_id=cid, reason=str(e), ts_event=time.time_ns()))
            return
        except VenueUnavailable as e:
            # outcome unknown: never resent from here; looked up by client id on the next polls
            log.error("[%s] order %s: %s", self.environment, cid, e)
            self._unknown[cid] = 5
            return
        self._accepted(o)

    def _accepted(self, o: AlpacaOrder) -> None:
        self._ids[o.client_order_id] = o.id
        self._cids[o.id] = o.client_order_id
        self._outbox.append(OrderAccepted(client_order_id=o.client_order_id, venue_order_id=o.id,
                                          ts_event=parse_time_ns(o.created_at, "POST /v2/orders", "created_at")))
        log.info("[%s] order %s placed as %s (%s)", self.environment, o.client_order_id, o.id, o.status)

    async def _refusal(self, order: SubmitOrder) -> str:
        if order.symbol not in self.to_alpaca:
            return f"unknown symbol {order.symbol!r}"
        if not (order.qty > 0 and math.isfinite(order.qty)):
            return f"qty must be > 0, was {order.qty}"
        if order.ts_init < self._newest_ts:
            return ("stale: decided on the bar of " + _iso(order.ts_init)[:10] + " while catching up; only the "
                    "newest final bar's decisions are sent")
        ok, why = await self.market_open()
        if not ok:
            return why
        ref = order.limit_price if order.order_type == OrderType.LIMIT else self.last_close.get(order.symbol, math.nan)
        if not ref == ref:
            ref = await self._last_price(order.symbol)
        if not ref > 0:
            return f"no reference price for {order.symbol} (no recent daily bar): cannot check the limits"
        notional = order.qty * ref
        if self.max_order_notional is not None and notional > self.max_order_notional:
            return f"order notional {notional:.2f} USD is over max_order_notional {self.max_order_notional:.2f}"
        if order.side > 0:
            acct = await self.client.account()
            cash = num(acct.cash, "GET /v2/account", "cash")
            if self.max_daily_loss is not None:
                eq = num(acct.equity, "GET /v2/account", "equity")
                last = num(acct.last_equity, "GET /v2/account", "last_equity")
                if last - eq > self.max_daily_loss:
                    return (f"daily loss {last - eq:.2f} USD is over max_daily_loss {self.max_daily_loss:.2f}: "
                            "no new buys")
            pending = sum(o.qty * (o.limit_price if o.order_type == OrderType.LIMIT else
                                   self.last_close.get(o.symbol, 0.0))
                          for c, o in self._working.items() if o.side > 0 and c in self._ids)
            if notional > cash - pending + 1e-9:
                return (f"insufficient cash (cash-only): order {notional:.2f} USD, cash {cash:.2f} less "
                        f"{pending:.2f} working buys; the broker's buying power is not used")
        return ""

    async def _last_price(self, symbol: str) -> float:
        c = await self.clock()
        today = day_of_ns(parse_time_ns(c.timestamp, "GET /v2/clock", "timestamp"))
        rows = await self.client.bars(self.to_alpaca[symbol], start=(today - timedelta(days=14)).isoformat())
        return rows[-1].c if rows else math.nan

    async def cancel(self, client_order_id: str) -> None:
        """Cancel if still working (unknown or finished: no-op); the cancel arrives as an event."""
        oid = self._ids.get(client_order_id)
        if oid is None:
            o = await self.client.get_order_by_client_id(client_order_id)
            if o is None:
                return
            oid = o.id
        await self.client.cancel_order(oid)

    # ------------------------------------------------------------------ the account
    def _report(self, o: AlpacaOrder) -> OrderStatusReport:
        ep = "GET /v2/orders"
        return OrderStatusReport(
            client_order_id=o.client_order_id, venue_order_id=o.id, symbol=self.from_alpaca.get(o.symbol, o.symbol),
            side=1 if o.side == "buy" else -1, order_type=_TYPE_CODE.get(o.type, OrderType.MARKET),
            qty=num(o.qty, ep, "qty"), filled_qty=num(o.filled_qty, ep, "filled_qty"), status=o.status,
            ts_event=parse_time_ns(o.updated_at or o.created_at, ep, "updated_at"),
            avg_price=num(o.filled_avg_price, ep, "filled_avg_price"),
            limit_price=num(o.limit_price, ep, "limit_price"))

    async def open_orders(self) -> list[OrderStatusReport]:
        return [self._report(o) for o in await self.client.list_orders("open")]

    async def balances(self) -> list[Balance]:
        """USD: total = available = ``cash`` (cash-only: ``buying_power`` and ``multiplier`` ignored)."""
        acct = await self.client.account()
        cash = num(acct.cash, "GET /v2/account", "cash")
        out = [Balance(asset=acct.currency or "USD", total=cash, available=cash)]
        for p in await self.positions():
            out.append(Balance(asset=p.symbol, total=p.qty, available=p.qty))
        return out

    async def positions(self) -> list[Position]:
        out = []
        for p in await self.client.positions():
            q = num(p.qty, "GET /v2/positions", "qty")
            if p.side == "short" and q > 0:
                q = -q
            out.append(Position(symbol=self.from_alpaca.get(p.symbol, p.symbol), qty=q,
                                avg_price=num(p.avg_entry_price, "GET /v2/positions", "avg_entry_price")))
        return out

    async def _cid_of(self, order_id: str) -> str | None:
        cid = self._cids.get(order_id)
        if cid is None:
            try:
                o = await self.client.get_order(order_id)
            except Exception as e:  # noqa: BLE001 - an order we cannot see is not ours to report
                log.warning("[%s] fill of order %s: cannot look the order up (%s)", self.environment, order_id, e)
                return None
            cid = self._cids[order_id] = o.client_order_id
        return cid

    async def _to_fill(self, a: AlpacaFill, *, track: bool = True) -> OrderFilled | None:
        cid = await self._cid_of(a.order_id)
        if not self._mine(cid):
            return None
        ep = "GET /v2/account/activities/FILL"
        w = self._sent.get(cid or "")
        q = num(a.qty, ep, "qty")
        if w is not None and num(a.leaves_qty, ep, "leaves_qty") == 0.0:
            # Alpaca keeps 9 decimals: the last fill completes the order as the engine sized it
            rest = w.qty - self._reported.get(cid, 0.0)
            if abs(rest - q) <= 1e-8 * max(1.0, w.qty):
                q = rest
        if track:
            self._reported[cid] = self._reported.get(cid, 0.0) + q
        return OrderFilled(client_order_id=cid, venue_order_id=a.order_id, trade_id=a.id,
                           symbol=self.from_alpaca.get(a.symbol, a.symbol), side=1 if a.side == "buy" else -1,
                           qty=q, price=num(a.price, ep, "price"), fee=0.0,
                           ts_event=parse_time_ns(a.transaction_time, ep, "transaction_time"),
                           ts_init=w.ts_init if w is not None else 0)

    async def fills_since(self, ts: int | None) -> list[OrderFilled]:
        out = []
        for a in await self.client.fills(after=_iso(ts - 1_000_000_000) if ts else None):
            f = await self._to_fill(a, track=False)
            if f is not None and (ts is None or f.ts_event >= ts):
                out.append(f)
        return out

    # ------------------------------------------------------------------ the event stream
    async def _poll_executions(self) -> list:
        out: list = []
        for cid in list(self._unknown):
            o = await self.client.get_order_by_client_id(cid)
            if o is not None:
                del self._unknown[cid]
                self._accepted(o)
            else:
                self._unknown[cid] -= 1
                if self._unknown[cid] <= 0:
                    del self._unknown[cid]
                    self._working.pop(cid, None)
                    out.append(OrderRejected(client_order_id=cid, reason="not placed (answer lost; Alpaca has no "
                                             "order with this client id)", ts_event=time.time_ns()))
        out += self._outbox
        self._outbox = []
        newest = None
        for a in await self.client.fills(after=self._fills_after):
            newest = a.transaction_time
            if a.id in self._seen_fills:
                continue
            self._seen_fills.add(a.id)
            f = await self._to_fill(a)
            if f is not None:
                out.append(f)
        if newest is not None:
            # ask only for the recent past next time (a minute of overlap; the seen ids drop repeats)
            t = parse_time_ns(newest, "GET /v2/account/activities/FILL", "transaction_time") - 60 * 10**9
            self._fills_after = _iso(t) if self._fills_after is None or _iso(t) > self._fills_after \
                else self._fills_after
        if self._working:
            for cid in list(self._working):
                oid = self._ids.get(cid)
                if oid is None:
                    continue
                o = await self.client.get_order(oid)
                if o.status in _OPEN:
                    continue
                del self._working[cid]
                ts = parse_time_ns(o.updated_at or o.created_at, "GET /v2/orders/{order_id}", "updated_at")
                if o.status in ("canceled", "expired", "replaced"):
                    out.append(OrderCanceled(client_order_id=cid, ts_event=ts))
                elif o.status == "rejected":
                    out.append(OrderRejected(client_order_id=cid, reason="rejected by Alpaca", ts_event=ts))
        return out

    async def warmup_bars(self, days: int | None = None) -> list[Bar]:
        """Daily bars for indicator warm-up: up to ``days`` final sessions, oldest first, all but the newest.

        The newest final session is left for :meth:`events`, which hands it out when the
        market is open, so the decisions made on it can be sent.
        """
        bars = await self._daily_bars(None, (days or self.history_days) + 1)
        if not bars:
            return []
        newest = bars[-1].ts
        bars = [b for b in bars if b.ts < newest]
        if bars:
            self.last_day = datetime.fromtimestamp(bars[-1].ts / 1e9, timezone.utc).date()
        return bars

    async def _daily_bars(self, after: date | None, days: int) -> list[Bar]:
        c = await self.clock(fresh=True)
        now = parse_time_ns(c.timestamp, "GET /v2/clock", "timestamp")
        today = day_of_ns(now)
        start = (after + timedelta(days=1)) if after else today - timedelta(days=int(days * 1.5) + 10)
        if start >= today:
            return []
        syms = [self.to_alpaca[s] for s in self.symbols]
        got = await self.client.multi_bars(syms, start=start.isoformat(), end=(today - timedelta(days=1)).isoformat())
        out: list[Bar] = []
        for a, rows in got.items():
            s = self.from_alpaca.get(a)
            if s is None:
                continue
            for r in rows:
                ts = bar_day_ns(r.t, "GET /v2/stocks/bars")
                if ts >= int(datetime.combine(today, datetime.min.time(), timezone.utc).timestamp()) * 10**9:
                    continue  # today's bar is not final
                out.append(Bar(symbol=s, ts=ts, open=float(r.o), high=float(r.h), low=float(r.l), close=float(r.c),
                               volume=float(r.v), trades=float(r.n) if r.n is not None else math.nan,
                               timeframe_ns=DAY_NS))
        out.sort(key=lambda b: (b.ts, self.symbols.index(b.symbol)))
        if after is None and out:
            keep = sorted({b.ts for b in out})[-days:]
            out = [b for b in out if b.ts >= keep[0]]
        for b in out:
            self.last_close[b.symbol] = b.close
        return out

    async def events(self) -> AsyncIterator:
        """Poll forever (or ``max_bars`` days): executions first, then each new final daily bar cross-section."""
        while not self._stop:
            try:
                polled = await self._poll_executions()
                c = await self.clock(fresh=True)
            except (VenueUnavailable, RateLimited) as e:
                # Alpaca unreachable for a while: nothing is decided or sent until it answers again
                log.warning("[%s] polling failed (%s); retrying in %.0fs", self.environment, e, self.poll_s)
                await self.wait(self.poll_s)
                continue
            for ev in polled:
                yield ev
            if c.is_open:
                new = await self._daily_bars(self.last_day, self.history_days)
                if self.last_day is None and new:  # no warm-up was asked for: start with the newest day
                    new = [b for b in new if b.ts == new[-1].ts]
                by_ts: dict[int, list[Bar]] = {}
                for b in new:
                    by_ts.setdefault(b.ts, []).append(b)
                if by_ts:
                    self._newest_ts = max(by_ts)
                for ts in sorted(by_ts):
                    for b in by_ts[ts]:
                        yield b
                    yield BarsComplete(ts=ts)
                    self.last_day = datetime.fromtimestamp(ts / 1e9, timezone.utc).date()
                    self.bars_emitted += 1
                    # the orders the engine sent for this day: their answers before the next day
                    for ev in await self._poll_executions():
                        yield ev
                    if self.max_bars is not None and self.bars_emitted >= self.max_bars:
                        return
                    if self._stop:
                        return
            await self.wait(self.poll_s if c.is_open else self.closed_poll_s)
