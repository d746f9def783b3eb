"""Kraken WebSocket v2 client: public ``ohlc``/``ticker``/``trade``/``book``, private
``executions``/``balances``; reconnect with backoff and resubscribe.

Iterate :meth:`KrakenWs.events` to get :class:`WsEvent` values:

* ``bar``: a CLOSED candle as :class:`~tradejet.messages.Bar`. Kraken sends the forming
  candle on every trade with no "closed" flag; a candle is final only when an update for
  the next interval arrives. A forming candle is never emitted as closed.
* ``gap``: candles ``[data["start_ns"], data["end_ns"])`` of ``symbol`` were missed (a
  reconnect, stale feed): refill them over REST (:func:`refill_gap`).
* ``book``: the verified :class:`~tradejet.adapters.kraken.book.Book` after each message;
  on a checksum mismatch the client resubscribes for a fresh snapshot and emits ``book_resync``.
* ``ticker``, ``trade``, ``execution``, ``balance``: the channel's data items (dicts,
  numbers as Decimal); ``ack``/``error`` for method responses; ``status``; ``reconnected``.

:meth:`KrakenWs.request` sends a method (``add_order``, ``cancel_order``,
``cancel_all_orders_after``, ...) and returns its answer. The WebSocket is a hint for
executions: reconcile over REST (QueryOrders, TradesHistory).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from tradejet.adapters.kraken.book import Book, ChecksumMismatch
from tradejet.messages import Bar

__all__ = ["KrakenWs", "WsEvent", "CandleTracker", "refill_gap", "WS_PUBLIC", "WS_PRIVATE", "parse_rfc3339_ns"]

log = logging.getLogger(__name__)
WS_PUBLIC = "wss://ws.kraken.com/v2"
WS_PRIVATE = "wss://ws-auth.kraken.com/v2"
_PRIVATE = ("executions", "balances")


class WsEvent(msgspec.Struct, frozen=True):
    kind: str
    symbol: str | None = None
    data: Any = None


def parse_rfc3339_ns(s: str) -> int:
    """Return an RFC 3339 timestamp (up to ns digits) as int ns.

    >>> parse_rfc3339_ns("2026-09-25T17:48:00.000000000Z")
    1790358480000000000
    """
    s = s.rstrip("Z")
    whole, _, frac = s.partition(".")
    base = datetime.fromisoformat(whole + "+00:00")
    return int(base.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])


class CandleTracker:
    """Turn Kraken's forming-candle updates into closed bars and gaps (one symbol, one interval)."""

    def __init__(self, symbol: str, interval_min: int):
        self.symbol = symbol
        self.tf = interval_min * 60 * 1_000_000_000
        self.forming: dict[str, Any] | None = None
        self.forming_ts: int | None = None
        self.last_closed_ts: int | None = None

    def _bar(self, d: dict[str, Any], ts: int) -> Bar:
        return Bar(symbol=self.symbol, ts=ts, open=float(d["open"]), high=float(d["high"]), low=float(d["low"]),
                   close=float(d["close"]), volume=float(d["volume"]), trades=float(d.get("trades", "nan")),
                   timeframe_ns=self.tf)

    def reset(self) -> None:
        """Forget the forming candle (after a disconnect its final values are unknown)."""
        self.forming = None
        self.forming_ts = None

    def update(self, item: dict[str, Any], snapshot: bool = False) -> list[WsEvent]:
        """Feed one ``ohlc`` item; return the bars it closes and any gap it reveals."""
        ts = parse_rfc3339_ns(item["interval_begin"])
        out: list[WsEvent] = []
        if self.forming_ts is None:
            if self.last_closed_ts is not None and ts > self.last_closed_ts + self.tf:
                out.append(WsEvent("gap", self.symbol, {"start_ns": self.last_closed_ts + self.tf, "end_ns": ts}))
            if self.last_closed_ts is not None and ts <= self.last_closed_ts:
                return out  # already closed and emitted
            self.forming, self.forming_ts = item, ts
            return out
        if ts == self.forming_ts:
            self.forming = item
        elif ts == self.forming_ts + self.tf:
            assert self.forming is not None
            out.append(WsEvent("bar", self.symbol, self._bar(self.forming, self.forming_ts)))
            self.last_closed_ts = self.forming_ts
            self.forming, self.forming_ts = item, ts
        elif ts > self.forming_ts + self.tf:
            # missed at least one interval: the forming candle's final values are unknown too
            out.append(WsEvent("gap", self.symbol, {"start_ns": self.forming_ts, "end_ns": ts}))
            self.last_closed_ts = ts - self.tf
            self.forming, self.forming_ts = item, ts
        # ts < forming: a late or replayed item for a closed candle: ignore
        return out


async def refill_gap(http: Any, rest_pair: str, symbol: str, interval_min: int, gap: dict[str, int]) -> list[Bar]:
    """Return the committed candles of a gap from REST OHLC (``http`` is a KrakenHttp)."""
    from tradejet.adapters.kraken.parse import ohlc_bars

    start_s, end_s = gap["start_ns"] // 1_000_000_000, gap["end_ns"] // 1_000_000_000
    res = await http.ohlc(rest_pair, interval_min, since=start_s - interval_min * 60)
    return [b for b in ohlc_bars(symbol, res, interval_min) if start_s * 10**9 <= b.ts < end_s * 10**9]


class KrakenWs:
    """One WebSocket v2 connection that survives disconnects.

    ``token`` (an async callable, e.g. ``KrakenHttp.get_websockets_token``) is asked for a
    fresh token on every (re)connect when private channels are subscribed.
    """

    def __init__(self, url: str = WS_PUBLIC, *, token: Callable[[], Awaitable[Any]] | None = None,
                 backoff: float = 0.5, max_backoff: float = 30.0, max_reconnects: int | None = None,
                 connect: Callable[..., Any] | None = None, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 price_decimals: dict[str, int] | None = None):
        from websockets.asyncio.client import connect as ws_connect

        self.url = url
        self._token_fn = token
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_reconnects = max_reconnects
        self._connect = connect or ws_connect
        self.sleep = sleep
        self.price_decimals = price_decimals or {}
        self._subs: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._conn: Any = None
        self._req = 0
        self._closed = False
        self.reconnects = 0
        self.books: dict[str, Book] = {}
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.candles: dict[tuple[str, int], CandleTracker] = {}

    def __repr__(self) -> str:
        return f"KrakenWs(url={self.url!r}, subscriptions={len(self._subs)})"

    async def subscribe(self, channel: str, symbols: list[str] | None = None, **params: Any) -> None:
        """Subscribe now (if connected) and after every reconnect."""
        for sym in symbols or [None]:
            p = {"channel": channel, **params}
            if sym is not None:
                p["symbol"] = [sym]
            self._subs[(channel, sym)] = p
            if channel == "ohlc" and sym is not None:
                iv = int(params.get("interval", 1))
                self.candles.setdefault((sym, iv), CandleTracker(sym, iv))
            if channel == "book" and sym is not None:
                self.books[sym] = Book(sym, int(params.get("depth", 10)), self.price_decimals.get(sym, 1), 8)
            if self._conn is not None:
                await self._send_sub(self._conn, p)

    async def unsubscribe(self, channel: str, symbols: list[str] | None = None) -> None:
        """Unsubscribe now and stop resubscribing after reconnects."""
        for sym in symbols or [None]:
            p = self._subs.pop((channel, sym), None)
            if p is not None and self._conn is not None:
                await self._send(self._conn, "unsubscribe", {k: v for k, v in p.items() if k != "snapshot"})

    async def _send(self, conn: Any, method: str, params: dict[str, Any]) -> None:
        self._req += 1
        await conn.send(json.dumps({"method": method, "params": params, "req_id": self._req}))

    async def _send_sub(self, conn: Any, p: dict[str, Any]) -> None:
        params = dict(p)
        if p["channel"] in _PRIVATE:
            if self._token_fn is None:
                raise ValueError(f"channel {p['channel']} is private: give KrakenWs a token provider")
            tok = await self._token_fn()
            params["token"] = getattr(tok, "token", tok)
        await self._send(conn, "subscribe", params)

    async def request(self, method: str, params: dict[str, Any] | None = None, *, private: bool = True,
                      timeout: float = 10.0) -> dict[str, Any]:
        """Send one method (``add_order``, ``cancel_order``, ``cancel_all_orders_after``, ``ping``...)
        and return Kraken's response; ``success: false`` raises the mapped error.

        Needs :meth:`events` running in another task (it reads the answers). A timeout means
        the outcome is unknown: reconcile over REST before resending an order.
        """
        from tradejet.adapters.kraken.errors import error_for
        from tradejet.errors import VenueUnavailable

        if self._conn is None:
            raise VenueUnavailable(f"Kraken WebSocket {self.url}: not connected")
        p = dict(params or {})
        if private:
            if self._token_fn is None:
                raise ValueError(f"{method} is private: give KrakenWs a token provider")
            tok = await self._token_fn()
            p["token"] = getattr(tok, "token", tok)
        self._req += 1
        req_id = self._req
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            await self._conn.send(json.dumps({"method": method, "params": p, "req_id": req_id}, default=str))
            async with asyncio.timeout(timeout):  # not wait_for: it can lose a cancellation on 3.11 (venue.next_item)
                msg = await fut
        except TimeoutError:
            raise VenueUnavailable(f"Kraken WebSocket {method}: no answer in {timeout}s (outcome unknown)") from None
        finally:
            self._pending.pop(req_id, None)
        if not msg.get("success", False):
            raise error_for(f"WebSocket {method}", str(msg.get("error", "no error text")))
        return msg

    async def close(self) -> None:
        """Close the connection and end :meth:`events`."""
        self._closed = True
        if self._conn is not None:
            await self._conn.close()

    async def events(self) -> AsyncIterator[WsEvent]:
        """Yield events forever, reconnecting with exponential backoff and resubscribing."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake

        attempt = 0
        while not self._closed:
            try:
                async with self._connect(self.url) as conn:
                    self._conn = conn
                    if attempt or self.reconnects:
                        yield WsEvent("reconnected", None, self.reconnects)
                    attempt = 0
                    for t in self.candles.values():
                        t.reset()
                    for p in list(self._subs.values()):
                        await self._send_sub(conn, p)
                    async for raw in conn:
                        try:
                            evs = await self._handle(conn, raw)
                        except (KeyError, TypeError, ValueError, ArithmeticError) as e:
                            # a message we cannot read is reported, never a crash deep inside
                            log.warning("Kraken WebSocket: unreadable message (%s: %s)", type(e).__name__, e)
                            evs = [WsEvent("error", None, {"error": f"unreadable message: {type(e).__name__}: {e}",
                                                           "raw": str(raw)[:200]})]
                        for ev in evs:
                            yield ev
            except (ConnectionClosed, InvalidHandshake, OSError, asyncio.TimeoutError) as e:
                log.warning("Kraken WebSocket %s dropped (%s)", self.url, type(e).__name__)
            finally:
                self._conn = None
            if self._closed:
                return
            self.reconnects += 1
            if self.max_reconnects is not None and self.reconnects > self.max_reconnects:
                raise ConnectionError(f"Kraken WebSocket {self.url}: gave up after {self.max_reconnects} reconnects")
            await self.sleep(min(self.backoff * 2 ** attempt, self.max_backoff))
            attempt += 1

    async def _handle(self, conn: Any, raw: str | bytes) -> list[WsEvent]:
        msg = json.loads(raw, parse_float=Decimal)
        if not isinstance(msg, dict):
            return [WsEvent("error", None, {"error": "unexpected message", "raw": str(raw)[:200]})]
        if "method" in msg:
            fut = self._pending.get(msg.get("req_id"))  # type: ignore[arg-type]
            if fut is not None and not fut.done():
                fut.set_result(msg)
                return []
            if msg.get("method") == "pong":
                return []
            ok = msg.get("success", False)
            return [WsEvent("ack" if ok else "error", msg.get("symbol") or (msg.get("result") or {}).get("symbol"),
                            msg)]
        channel, kind, data = msg.get("channel"), msg.get("type"), msg.get("data") or []
        if channel == "heartbeat":
            return []
        if channel == "status":
            return [WsEvent("status", None, d) for d in data]
        out: list[WsEvent] = []
        if channel == "ohlc":
            for item in data:
                key = (item["symbol"], int(item["interval"]))
                tracker = self.candles.setdefault(key, CandleTracker(*key))
                out += tracker.update(item, kind == "snapshot")
            return out
        if channel == "book":
            for item in data:
                sym = item["symbol"]
                book = self.books.setdefault(sym, Book(sym, 10, self.price_decimals.get(sym, 1), 8))
                try:
                    book.apply(kind, item)
                    out.append(WsEvent("book", sym, book))
                except ChecksumMismatch as e:
                    log.warning("%s", e)
                    out.append(WsEvent("book_resync", sym, str(e)))
                    p = self._subs.get(("book", sym))
                    if p is not None:
                        await self._send(conn, "unsubscribe", {"channel": "book", "symbol": [sym]})
                        await self._send_sub(conn, p)
            return out
        name = {"executions": "execution", "balances": "balance"}.get(channel, channel)
        return [WsEvent(name, d.get("symbol") if isinstance(d, dict) else None, d) for d in data]
