"""The sandbox servers: Kraken REST over a small HTTP/1.1 server on asyncio streams, and
WebSocket v2 over ``websockets``; both bound to 127.0.0.1 only.

REST: ``GET|POST /0/public/<Method>``, ``POST /0/private/<Method>`` (signed; form or JSON
body), and the admin routes ``POST /_sandbox/advance {"n": 1}``, ``POST /_sandbox/fault
{"kind": ..., "endpoint": ..., "count": ..., "delay": ...}``, ``POST /_sandbox/ws_disconnect``,
``POST /_sandbox/stale {"on": true}``, ``POST /_sandbox/status {"status": "maintenance"}``,
``GET /_sandbox/state``.

WebSocket v2 (``ws://127.0.0.1:<ws_port>/v2``): ``ping``, ``subscribe``/``unsubscribe`` for
``ohlc``, ``ticker``, ``trade``, ``book`` (with checksums), and with a token from
``GetWebSocketsToken`` the private ``executions`` and ``balances`` channels and the trading
methods ``add_order``, ``cancel_order``, ``cancel_all``, ``cancel_all_orders_after``. One endpoint
serves public and private channels (Kraken splits them over two hosts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tradejet.adapters.kraken.auth import Credentials, generate_credentials
from tradejet.adapters.kraken.book import book_checksum
from tradejet.adapters.kraken.ratelimit import TRADING
from tradejet.adapters.kraken.sandbox.exchange import Exchange, Refusal, SandboxOrder
from tradejet.adapters.kraken.sandbox.faults import Faults
from tradejet.adapters.kraken.sandbox.keys import TOO_MANY_REQUESTS, PublicLimit, parse_permissions
from tradejet.adapters.kraken.sandbox.market import MarketSource, SyntheticMarket
from tradejet.adapters.kraken.sandbox.pairs import PAIRS, START_PRICES, WS_SYMBOLS
from tradejet.errors import ConfigError

__all__ = ["Sandbox"]

log = logging.getLogger(__name__)
_LOCAL = ("127.0.0.1", "localhost", "::1")
_MAX_BODY = 1 << 20
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
            500: "Internal Server Error"}
_WS_BY_KEY = {k: s for s, k in WS_SYMBOLS.items()}
_WS_TRADING = ("add_order", "cancel_order", "cancel_all", "cancel_all_orders_after")


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _WsClient:
    def __init__(self, conn: Any):
        self.conn = conn
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.subs: dict[str, dict[str, Any]] = {}  # channel -> params (symbols, interval, depth)
        self.account: str | None = None


class Sandbox:
    """A local Kraken: REST + WebSocket v2 on 127.0.0.1, with faults on demand.

    >>> sb = Sandbox(seed=1, balances={"ZUSD": "1000"})
    >>> sb.exchange.market.index
    720
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, ws_port: int = 0,
                 credentials: Credentials | None = None, balances: dict[str, str] | None = None, seed: int = 0,
                 tier: str = "starter", speed: float | None = None, market: MarketSource | None = None,
                 pairs: list[str] | None = None, interval_s: int = 60,
                 clock: Callable[[], float] = time.time, permissions: str | Iterable[str] | None = None,
                 public_limit: tuple[float, float] | None = None, participation: float | None = None):
        if host not in _LOCAL:
            raise ConfigError(f"the sandbox binds to 127.0.0.1 only, was asked for {host}", key="host")
        self.host = host
        self.port = port
        self.ws_port = ws_port
        self.credentials = credentials or generate_credentials()
        prices = {k: v for k, v in START_PRICES.items() if pairs is None or k in pairs}
        self.exchange = Exchange(market or SyntheticMarket(prices, seed=seed, interval_s=interval_s), tier=tier,
                                 seed=seed, clock=clock, participation=participation)
        self.exchange.add_account(self.credentials.api_key, self.credentials.reveal_secret(),
                                  balances or {"ZUSD": "10000"}, permissions=parse_permissions(permissions))
        # (burst, calls per second) for public endpoints, None: unlimited; Kraken allows ~1/s per IP
        self.public_limit = PublicLimit(*public_limit) if public_limit else None
        self.exchange.listeners.append(self._on_event)
        self.faults = Faults()
        if speed is not None and speed < 0:
            raise ConfigError(f"speed must be >= 0, was {speed}", key="speed")
        self.speed = speed or None  # market seconds per wall second; None: only advance() moves it
        self.clock = clock
        self._server: asyncio.Server | None = None
        self._ws_server: Any = None
        self._ws_clients: set[_WsClient] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conns: set[asyncio.StreamWriter] = set()
        self.requests: list[tuple[str, str]] = []  # (method, path) log

    def __repr__(self) -> str:
        return f"Sandbox(base_url={self.base_url!r}, ws_url={self.ws_url!r}, credentials={self.credentials!r})"

    @property
    def stale(self) -> bool:
        """The "stale data" fault: while on, the market moves (orders fill) but the WebSocket
        sends no market data and the public REST endpoints keep showing the moment it began."""
        return self.exchange.frozen_index is not None

    @stale.setter
    def stale(self, on: bool) -> None:
        if on and self.exchange.frozen_index is None:
            self.exchange.frozen_index = self.exchange.market.index
        elif not on:
            self.exchange.frozen_index = None

    @property
    def base_url(self) -> str:
        """The REST base URL to give any Kraken client."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket v2 URL."""
        return f"ws://{self.host}:{self.ws_port}/v2"

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> Sandbox:
        """Bind the REST and WebSocket servers (ephemeral ports when 0) and start replaying."""
        from websockets.asyncio.server import serve

        self._server = await asyncio.start_server(self._handle_http, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ws_server = await serve(self._handle_ws, self.host, self.ws_port)
        self.ws_port = next(iter(self._ws_server.sockets)).getsockname()[1]
        if self.speed:
            self._spawn(self._ticker())
        log.info("Kraken sandbox on %s (WebSocket %s)", self.base_url, self.ws_url)
        return self

    async def stop(self) -> None:
        """Close every connection and both servers."""
        for t in list(self._tasks):
            t.cancel()
        for w in list(self._conns):
            w.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self._ws_server is not None:
            self._ws_server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws_server.wait_closed(), 2)

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    def due_index(self, now: float, start_wall: float, start_index: int) -> int:
        """The candle that should be forming at wall time ``now``.

        At ``speed == 1`` candles follow the wall clock (candle ``i`` opens at its own
        timestamp); faster speeds replay ``speed`` market seconds per wall second.
        """
        m = self.exchange.market
        if self.speed == 1 and getattr(m, "wall_aligned", True):
            return int((now - m.t0) // m.interval_s)
        assert self.speed
        return start_index + int((now - start_wall) * self.speed // m.interval_s)

    async def _ticker(self) -> None:
        assert self.speed
        start_wall, start_index = self.clock(), self.exchange.market.index
        while True:
            due = self.due_index(self.clock(), start_wall, start_index)
            if due > self.exchange.market.index:
                self.advance(due - self.exchange.market.index)
            self.exchange.check_dead_mans_switch()
            await asyncio.sleep(min(1.0, self.exchange.market.interval_s / self.speed / 4))

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[Sandbox]:
        """Run the sandbox on its own event loop in a thread (for synchronous clients)."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()

        th = threading.Thread(target=run, name="kraken-sandbox", daemon=True)
        th.start()
        started.wait(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            th.join(10)
            loop.close()

    # -- control ------------------------------------------------------------------------------------

    def advance(self, n: int = 1) -> list[str]:
        """Close the forming candle ``n`` times (fills happen here); return the new trade ids."""
        return self.exchange.advance(n)

    def disconnect_ws(self) -> int:
        """Close every WebSocket connection (clients should reconnect and resubscribe)."""
        n = 0
        for c in list(self._ws_clients):
            self._spawn(c.conn.close(code=1011, reason="sandbox fault: disconnect"))
            n += 1
        return n

    def state(self) -> dict[str, Any]:
        """Return balances, orders, faults and the market position (the admin view)."""
        ex = self.exchange
        return {
            "index": ex.market.index, "status": ex.status, "stale": self.stale,
            "balances": {k: {a: str(v) for a, v in acct.balances.items()} for k, acct in
                         (("main", a) for a in ex.accounts.values())},
            "orders": {t: ex.order_info(o) for t, o in ex.orders.items()},
            "trades": {t: {**{k: v for k, v in tr.items() if not k.startswith("_")}, "cl_ord_id": tr["_cl_ord_id"]}
                       for t, tr in ex.trades.items()},
            "faults_pending": [f.__dict__ for f in self.faults.pending], "faults_fired": self.faults.fired,
            "requests": {p: sum(1 for _, q in self.requests if q == p) for p in sorted({q for _, q in self.requests})
                         if not p.startswith("/_sandbox/")},
        }

    # -- HTTP -----------------------------------------------------------------------------------------

    async def _handle_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                try:
                    method, target, _version = line.decode("latin-1").split()
                except ValueError:
                    return await self._write(writer, 400, {"error": ["EGeneral:Invalid arguments"]}, close=True)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                if "chunked" in headers.get("transfer-encoding", ""):
                    return await self._write(writer, 411, {"error": ["EGeneral:Invalid arguments"]}, close=True)
                try:
                    n = int(headers.get("content-length", "0") or 0)
                except ValueError:
                    n = -1
                if not 0 <= n <= _MAX_BODY:
                    return await self._write(writer, 400, {"error": ["EGeneral:Invalid arguments"]}, close=True)
                body = await reader.readexactly(n) if n else b""
                try:
                    keep = await self._dispatch(method, target, headers, body, writer)
                except (ConnectionError, asyncio.CancelledError):
                    raise
                except Exception:  # a sandbox bug must answer like Kraken's internal error, not hang up
                    log.exception("sandbox: %s %s failed", method, target)
                    keep = await self._write(writer, 200, {"error": ["EGeneral:Internal error"]}, close=True)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._conns.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _write(self, writer: asyncio.StreamWriter, status: int, payload: Any, *, close: bool = False,
                     content_type: str = "application/json; charset=utf-8") -> bool:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n")
        writer.write(head.encode() + body)
        await writer.drain()
        return not close

    async def _dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes,
                        writer: asyncio.StreamWriter) -> bool:
        url = urlsplit(target)
        path = url.path
        self.requests.append((method, path))
        if path.startswith("/_sandbox/"):
            return await self._admin(method, path, body, writer)
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "0" or parts[2] not in ("public", "private"):
            return await self._write(writer, 404, {"error": ["EGeneral:Unknown method"]})
        kind, endpoint = parts[2], parts[3]
        text = body.decode("utf-8", "replace")
        is_json = "json" in headers.get("content-type", "") or text.lstrip().startswith("{")
        try:
            params: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
            if text:
                params.update(json.loads(text) if is_json else dict(parse_qsl(text, keep_blank_values=True)))
        except ValueError:
            return await self._write(writer, 200, {"error": ["EGeneral:Invalid arguments"]})
        if kind == "public":
            if self.public_limit is not None and not self.public_limit.allow():
                return await self._write(writer, 200, {"error": [TOO_MANY_REQUESTS]})
            fault = self.faults.take(endpoint)
            if fault is not None:
                r = await self._pre_fault(fault, endpoint, writer)
                if r is not None:
                    return r
            try:
                result = self.exchange.public(endpoint, {k: str(v) for k, v in params.items()})
            except Refusal as e:
                return await self._write(writer, 200, {"error": [str(e)], "result": None})
            return await self._write(writer, 200, {"error": [], "result": result})
        if method != "POST":
            return await self._write(writer, 405, {"error": ["EGeneral:Invalid arguments"]})
        try:
            nonce = params.get("nonce")
            acct = self.exchange.authenticate(path, headers, text, None if nonce is None else str(nonce))
        except Refusal as e:
            return await self._write(writer, 200, {"error": [str(e)]})
        fault = self.faults.take(endpoint)
        if fault is not None:
            r = await self._pre_fault(fault, endpoint, writer)
            if r is not None:
                return r
        try:
            result = self.exchange.private(endpoint, acct, {k: v for k, v in params.items() if k != "nonce"})
            payload: dict[str, Any] = {"error": [], "result": result}
        except Refusal as e:
            payload = {"error": [str(e)]}
        if fault is not None and fault.kind == "drop_response":
            log.info("sandbox fault: %s processed, answer dropped", endpoint)
            return False  # close without answering
        if fault is not None and fault.kind == "timeout_after_accept":
            await asyncio.sleep(fault.delay)
            return False
        return await self._write(writer, 200, payload)

    async def _pre_fault(self, fault: Any, endpoint: str, writer: asyncio.StreamWriter) -> bool | None:
        """Answer a fault that fires before processing; None when it fires after."""
        k = fault.kind
        if k == "http_500":
            return await self._write(writer, 500, b"<html><body>500 Internal Server Error</body></html>",
                                     content_type="text/html", close=True)
        if k == "timeout":
            await asyncio.sleep(fault.delay)
            return False
        if k == "rate_limit":
            msg = "EOrder:Rate limit exceeded" if endpoint in TRADING else "EAPI:Rate limit exceeded"
            return await self._write(writer, 200, {"error": [msg]})
        if k == "invalid_nonce":
            return await self._write(writer, 200, {"error": ["EAPI:Invalid nonce"]})
        if k == "unavailable":
            return await self._write(writer, 200, {"error": ["EService:Unavailable"]})
        return None

    async def _admin(self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        try:
            args = json.loads(body) if body.strip() else {}
        except ValueError:
            return await self._write(writer, 400, {"error": ["body must be JSON"]})
        op = path.removeprefix("/_sandbox/")
        try:
            if op == "state":
                out: Any = self.state()
            elif op == "advance" and method == "POST":
                out = {"trades": self.advance(int(args.get("n", 1))), "index": self.exchange.market.index}
            elif op == "fault" and method == "POST":
                self.faults.inject(args["kind"], args.get("endpoint", "*"), int(args.get("count", 1)),
                                   float(args.get("delay", 30.0)))
                out = {"pending": len(self.faults.pending)}
            elif op == "ws_disconnect" and method == "POST":
                out = {"closed": self.disconnect_ws()}
            elif op == "stale" and method == "POST":
                self.stale = bool(args.get("on", True))
                out = {"stale": self.stale}
            elif op == "status" and method == "POST":
                self.exchange.status = str(args["status"])
                out = {"status": self.exchange.status}
            else:
                return await self._write(writer, 404, {"error": [f"unknown admin route {op}"]})
        except (KeyError, ValueError, ConfigError) as e:
            return await self._write(writer, 400, {"error": [f"{type(e).__name__}: {e}"]})
        return await self._write(writer, 200, {"error": [], "result": out})

    # -- WebSocket v2 ---------------------------------------------------------------------------------

    async def _handle_ws(self, conn: Any) -> None:
        client = _WsClient(conn)
        self._ws_clients.add(client)
        writer = self._spawn(self._ws_writer(client))
        try:
            await conn.send(json.dumps({"channel": "status", "type": "update", "data": [
                {"version": "2.0.10", "system": self.exchange.status, "api_version": "v2",
                 "connection_id": id(client) & 0xFFFFFFFFFFFF}]}))
            async for raw in conn:
                time_in = _now_rfc3339()
                try:
                    msg = json.loads(raw)
                    method = msg.get("method")
                except (ValueError, AttributeError):
                    client.queue.put_nowait(json.dumps({"error": "Malformed request", "success": False,
                                                        "time_in": time_in, "time_out": _now_rfc3339()}))
                    continue
                req_id = msg.get("req_id")
                base = {"method": method, **({"req_id": req_id} if req_id is not None else {})}
                if method == "ping":
                    client.queue.put_nowait(json.dumps({"method": "pong", **({"req_id": req_id} if req_id else {}),
                                                        "time_in": time_in, "time_out": _now_rfc3339()}))
                elif method in ("subscribe", "unsubscribe"):
                    self._ws_subscribe(client, method, msg.get("params") or {}, base, time_in)
                elif method in _WS_TRADING:
                    self._ws_trade(client, method, msg.get("params") or {}, base, time_in)
                else:
                    client.queue.put_nowait(json.dumps({**base, "error": "EGeneral:Invalid arguments",
                                                        "success": False, "time_in": time_in,
                                                        "time_out": _now_rfc3339()}))
        except Exception:  # noqa: BLE001 - a dropped connection ends the session
            pass
        finally:
            self._ws_clients.discard(client)
            writer.cancel()

    async def _ws_writer(self, client: _WsClient) -> None:
        while True:
            text = await client.queue.get()
            try:
                await client.conn.send(text)
            except Exception:  # noqa: BLE001
                return

    def _ack(self, client: _WsClient, base: dict[str, Any], time_in: str, result: dict[str, Any] | None = None,
             error: str | None = None, **extra: Any) -> None:
        msg = {**base, **({"result": result} if result is not None else {}), "success": error is None,
               **({"error": error} if error else {}), **extra, "time_in": time_in, "time_out": _now_rfc3339()}
        client.queue.put_nowait(json.dumps(msg))

    def _ws_subscribe(self, client: _WsClient, method: str, params: dict[str, Any], base: dict[str, Any],
                      time_in: str) -> None:
        channel = params.get("channel")
        if channel in ("executions", "balances"):
            token = params.get("token")
            acct = next((a for a in self.exchange.accounts.values() if token in a.ws_tokens), None)
            if acct is None:
                self._ack(client, base, time_in, error="ESession:Invalid session", channel=channel, status="error")
                return
            client.account = acct.key
            if method == "unsubscribe":
                client.subs.pop(channel, None)
                self._ack(client, base, time_in, {"channel": channel})
                return
            client.subs[channel] = dict(params)
            self._ack(client, base, time_in, {"channel": channel, "snapshot": True})
            if channel == "balances":
                self._send_balances(client, "snapshot")
            elif params.get("snap_orders", True):
                orders = [o for o in self.exchange.orders.values()
                          if o.status == "open" and self.exchange._owner.get(o.txid) == acct.key]
                client.queue.put_nowait(json.dumps({"channel": "executions", "type": "snapshot",
                                                    "data": [self._exec(o, "new") for o in orders]}))
            return
        if channel not in ("ohlc", "ticker", "trade", "book"):
            self._ack(client, base, time_in, error=f"Channel {channel} not supported")
            return
        for sym in params.get("symbol") or []:
            key = WS_SYMBOLS.get(sym)
            if key is None or key not in self.exchange.market.pairs:
                self._ack(client, base, time_in, error=f"Currency pair not supported {sym}", symbol=sym)
                continue
            result: dict[str, Any] = {"channel": channel, "symbol": sym, "snapshot": params.get("snapshot", True)}
            if channel == "ohlc":
                result["interval"] = int(params.get("interval", 1))
                if result["interval"] * 60 != self.exchange.market.interval_s:
                    self._ack(client, base, time_in, error="EGeneral:Invalid arguments:interval (the sandbox"
                              f" replays {self.exchange.market.interval_s // 60}-minute candles)", symbol=sym)
                    continue
            if channel == "book":
                result["depth"] = int(params.get("depth", 10))
            subs = client.subs.setdefault(channel, {"symbols": set()})
            if method == "unsubscribe":
                subs["symbols"].discard(sym)
                self._ack(client, base, time_in, result)
                continue
            subs["symbols"].add(sym)
            subs.update({k: v for k, v in result.items() if k in ("interval", "depth")})
            self._ack(client, base, time_in, result)
            if result["snapshot"]:
                self._market_message(client, channel, key, "snapshot")

    def _ws_trade(self, client: _WsClient, method: str, params: dict[str, Any], base: dict[str, Any],
                  time_in: str) -> None:
        """WS v2 trading methods, checked and executed like their REST twins."""
        ex = self.exchange
        acct = next((a for a in ex.accounts.values() if params.get("token") in a.ws_tokens), None)
        if acct is None:
            self._ack(client, base, time_in, error="ESession:Invalid session")
            return
        try:
            if method == "add_order":
                key = WS_SYMBOLS.get(str(params.get("symbol")))
                if key is None:
                    raise Refusal(f"Currency pair not supported {params.get('symbol')}")
                ot = params.get("order_type")
                price = params.get("limit_price")
                if ot in ("stop-loss", "take-profit"):
                    price = (params.get("triggers") or {}).get("price")
                rest = {"pair": key, "type": params.get("side"), "ordertype": ot,
                        "volume": str(params.get("order_qty", "")), "cl_ord_id": params.get("cl_ord_id"),
                        "oflags": "post" if params.get("post_only") else "",
                        "timeinforce": str(params.get("time_in_force", "gtc")).upper()}
                if price is not None:
                    rest["price"] = str(price)
                ex.charge(acct, "AddOrder", rest)
                o = ex.validate_order(acct, rest)
                if params.get("validate"):
                    result: dict[str, Any] = {"order_id": "", **({"cl_ord_id": o.cl_ord_id} if o.cl_ord_id else {})}
                else:
                    ex.place(acct, o)
                    result = {"order_id": o.txid, **({"cl_ord_id": o.cl_ord_id} if o.cl_ord_id else {})}
                self._ack(client, base, time_in, result)
            elif method == "cancel_order":
                ids = [("txid", i) for i in params.get("order_id") or []]
                ids += [("cl_ord_id", i) for i in params.get("cl_ord_id") or []]
                if not ids:
                    raise Refusal("EGeneral:Invalid arguments")
                for field, value in ids:
                    ex.charge(acct, "CancelOrder", {field: value})
                    o = ex._find({field: value})
                    if o is None or ex._owner.get(o.txid) != acct.key or o.status != "open":
                        raise Refusal("EOrder:Unknown order")
                    ex.priv_CancelOrder(acct, {field: value})
                    self._ack(client, base, time_in, {"order_id": o.txid,
                                                      **({"cl_ord_id": o.cl_ord_id} if o.cl_ord_id else {})})
            elif method == "cancel_all":
                self._ack(client, base, time_in, ex.priv_CancelAll(acct, {}))
            elif method == "cancel_all_orders_after":
                self._ack(client, base, time_in, ex.priv_CancelAllOrdersAfter(acct, {"timeout": params.get("timeout")}))
        except Refusal as e:
            self._ack(client, base, time_in, error=str(e))

    # -- WebSocket publishing -------------------------------------------------------------------------

    def _ohlc_item(self, key: str, i: int, forming: bool) -> dict[str, Any]:
        m = self.exchange.market
        t, o, h, lo, c, v, n = m.candle(key, i)
        pd = PAIRS[key]["pair_decimals"]
        if forming:
            h = lo = c = o
            v, n = 0.0, 0
        return {"symbol": _WS_BY_KEY[key], "open": round(o, pd), "high": round(h, pd), "low": round(lo, pd),
                "close": round(c, pd), "trades": n, "volume": round(v, 8),
                "vwap": round((o + h + lo + c) / 4, pd), "interval_begin": _iso(t), "interval": m.interval_s // 60,
                "timestamp": _iso(t + m.interval_s)}

    def _market_message(self, client: _WsClient, channel: str, key: str, kind: str) -> None:
        m = self.exchange.market
        sym = _WS_BY_KEY[key]
        pd = PAIRS[key]["pair_decimals"]
        if channel == "ohlc":
            if m.interval_s // 60 != int(client.subs["ohlc"].get("interval", 1)):
                return
            if kind == "snapshot":
                data = [self._ohlc_item(key, i, False) for i in range(max(0, m.index - 10), m.index)]
                data.append(self._ohlc_item(key, m.index, True))
            else:  # the candle that just closed, final, then the new forming one
                data = [self._ohlc_item(key, m.index - 1, False), self._ohlc_item(key, m.index, True)]
            msg = {"channel": "ohlc", "type": kind, "timestamp": _now_rfc3339(), "data": data}
        elif channel == "ticker":
            last = round(m.last_price(key), pd)
            tick = float(PAIRS[key]["tick_size"])
            msg = {"channel": "ticker", "type": kind, "data": [{
                "symbol": sym, "bid": last, "bid_qty": 1.0, "ask": round(last + tick, pd), "ask_qty": 1.0,
                "last": last, "volume": 100.0, "vwap": last, "low": last, "high": last, "change": 0.0,
                "change_pct": 0.0, "trades": m.index, "timestamp": _now_rfc3339()}]}
        elif channel == "trade":
            t, o, *_ = m.candle(key, m.index)
            msg = {"channel": "trade", "type": kind, "data": [{
                "symbol": sym, "side": "buy", "price": round(o, pd), "qty": 0.001, "ord_type": "market",
                "trade_id": m.index, "timestamp": _iso(t)}]}
        else:
            asks, bids = self.exchange.book(key, 10)
            item: dict[str, Any] = {"symbol": sym, "bids": [{"price": p, "qty": q} for p, q in bids],
                                    "asks": [{"price": p, "qty": q} for p, q in asks],
                                    "checksum": book_checksum(asks, bids, pd, 8), "timestamp": _now_rfc3339()}
            if kind == "update":
                prev_asks, prev_bids = self.exchange.book(key, 10, m.index - 1)
                new_a, new_b = {p for p, _ in asks}, {p for p, _ in bids}
                item["asks"] = [{"price": p, "qty": 0.0} for p, _ in prev_asks if p not in new_a] + item["asks"]
                item["bids"] = [{"price": p, "qty": 0.0} for p, _ in prev_bids if p not in new_b] + item["bids"]
            msg = {"channel": "book", "type": kind, "data": [item]}
        client.queue.put_nowait(json.dumps(msg))

    def _exec(self, o: SandboxOrder, exec_type: str, trade: dict[str, Any] | None = None) -> dict[str, Any]:
        status = {"new": "new", "canceled": "canceled", "closed": "filled", "trade": "filled",
                  "amended": "new"}.get(exec_type, "new")
        d: dict[str, Any] = {
            "exec_type": "filled" if exec_type == "closed" else exec_type, "order_id": o.txid,
            "symbol": _WS_BY_KEY[o.pair], "side": o.side, "order_type": o.ordertype, "order_qty": float(o.vol),
            "order_status": status, "cum_qty": float(o.vol_exec), "cum_cost": float(o.cost),
            "avg_price": o.avg_price, "time_in_force": o.timeinforce, "post_only": o.post_only,
            "reduce_only": False, "timestamp": _iso(self.exchange.clock())}
        if o.cl_ord_id:
            d["cl_ord_id"] = o.cl_ord_id
        if o.ordertype == "limit":
            d["limit_price"] = o.price
        if o.reason and exec_type == "canceled":
            d["reason"] = o.reason
        if trade is not None:
            d.update({"exec_id": trade["_tid"], "last_qty": float(trade["vol"]), "last_price": float(trade["price"]),
                      "cost": float(trade["cost"]), "liquidity_ind": "m" if trade["maker"] else "t",
                      "fees": [{"asset": "USD", "qty": float(trade["fee"])}], "fee_usd_equiv": float(trade["fee"]),
                      "trade_id": trade["trade_id"], "order_status": "partially_filled"})
        return d

    def _send_balances(self, client: _WsClient, kind: str) -> None:
        acct = self.exchange.accounts.get(client.account or "")
        if acct is None:
            return
        data = [{"asset": {"XXBT": "BTC", "XXDG": "DOGE", "ZUSD": "USD"}.get(a, a.lstrip("XZ") if len(a) == 4 else a),
                 "asset_class": "currency", "balance": float(v),
                 "wallets": [{"type": "spot", "id": "main", "balance": float(v)}]} for a, v in acct.balances.items()]
        client.queue.put_nowait(json.dumps({"channel": "balances", "type": kind, "data": data}))

    def _on_event(self, event: str, payload: Any) -> None:
        if event == "candle":
            for key in self.exchange.market.pairs:
                for c in list(self._ws_clients):
                    if self.stale:
                        continue
                    for ch in ("ohlc", "ticker", "trade", "book"):
                        if ch in c.subs and _WS_BY_KEY[key] in c.subs[ch].get("symbols", ()):
                            self._market_message(c, ch, key, "update")
            return
        owner, o, what = payload
        for c in list(self._ws_clients):
            if c.account != owner:
                continue
            if "executions" in c.subs:
                if event == "trade":
                    tr = {**self.exchange.trades[what], "_tid": what}
                    c.queue.put_nowait(json.dumps({"channel": "executions", "type": "update",
                                                   "data": [self._exec(o, "trade", tr)]}))
                elif what in ("new", "canceled", "closed", "amended"):
                    if what == "new":
                        c.queue.put_nowait(json.dumps({"channel": "executions", "type": "update",
                                                       "data": [{**self._exec(o, "pending_new"),
                                                                 "order_status": "pending_new"}]}))
                    c.queue.put_nowait(json.dumps({"channel": "executions", "type": "update",
                                                   "data": [self._exec(o, what)]}))
            if "balances" in c.subs and event == "trade":
                self._send_balances(c, "update")

