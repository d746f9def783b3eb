"""A local Alpaca-shaped server on 127.0.0.1: Trading API v2 + Market Data API v2 bars, with faults.

It answers with Alpaca's documented shapes (Account, Order, Position, TradeActivity
``FILL``, Clock, Calendar, bars with ``next_page_token``) and checks the
``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers. Its clock is simulated: time moves
only by :meth:`AlpacaServer.advance` (to the next session open or close), by
``POST /_sandbox/time``, or every ``step_s`` wall seconds when given. Daily bars are
replayed from a :class:`~tradejet.adapters.alpaca.market.DailyMarket`; a bar is served
once its session has closed.

Orders: market orders fill in full when accepted, at the open of the session in
progress (the first price after the last final bar); limit and stop orders are worked
against each session's high/low when it closes; ``day`` orders left expire at the
close. A bracket's take-profit / stop-loss legs activate when the entry fills and cancel
each other. Orders are refused (422) while the market is closed (nights, weekends,
holidays), buys beyond buying power and sells beyond the position with 403, a reused
``client_order_id`` with 422. ``multiplier`` > 1 makes a margin account (buying power =
cash x multiplier): a cash-only client must not use it.

Admin routes: ``POST /_sandbox/advance {"n": 1}``, ``POST /_sandbox/time {"time": RFC 3339}``,
``POST /_sandbox/fault {"kind", "endpoint", "count", "delay"}`` (kinds: ``http_500``,
``rate_limit``, ``timeout``, ``drop_response``, ``timeout_after_accept``),
``POST /_sandbox/position {"symbol", "qty", "avg_entry_price"}`` (a position changed behind
the client's back), ``GET /_sandbox/state``.

Run it: ``python -m tradejet.adapters.alpaca.server --port 8788`` (prints the base URL and keys).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import secrets
import threading
import time
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tradejet.adapters.alpaca.market import DailyMarket, Session, synthetic_market
from tradejet.errors import ConfigError

__all__ = ["AlpacaServer", "FAULT_KINDS", "main", "serve", "run_sandbox"]

log = logging.getLogger(__name__)
_LOCAL = ("127.0.0.1", "localhost", "::1")
_MAX_BODY = 1 << 20
_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 422: "Unprocessable Entity", 429: "Too Many Requests",
            500: "Internal Server Error"}
FAULT_KINDS = ("http_500", "rate_limit", "timeout", "drop_response", "timeout_after_accept")


def _s(x: float) -> str:
    """A number the way Alpaca sends it: a decimal string."""
    t = f"{x:.9f}".rstrip("0").rstrip(".")
    return "0" if t in ("", "-0") else t


def _utc(ns: int) -> str:
    dt = datetime.fromtimestamp(ns // 10**9, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


def _ny(ns: int) -> str:
    from tradejet.adapters.alpaca.schemas import NEW_YORK

    dt = datetime.fromtimestamp(ns // 10**9, NEW_YORK)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}" + dt.strftime("%z")[:3] + ":" + \
        dt.strftime("%z")[3:]


class _Refusal(Exception):
    def __init__(self, status: int, code: int, message: str):
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


@dataclass
class _Fault:
    kind: str
    endpoint: str = "*"
    count: int = 1
    delay: float = 30.0


@dataclass
class _Order:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    qty: float
    time_in_force: str
    created_ns: int
    limit_price: float | None = None
    stop_price: float | None = None
    order_class: str = "simple"
    status: str = "new"
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    updated_ns: int = 0
    filled_ns: int | None = None
    canceled_ns: int | None = None
    expired_ns: int | None = None
    legs: list[_Order] | None = None
    parent: str | None = None


class AlpacaServer:
    """The local Alpaca. ``start()`` binds 127.0.0.1 (ephemeral port when 0).

    >>> srv = AlpacaServer(market=synthetic_market(["SPY"], days=3), cash=1000.0)
    >>> srv.is_open()
    False
    >>> srv.advance(); srv.is_open()
    True
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, key_id: str | None = None,
                 secret: str | None = None, market: DailyMarket | None = None, cash: float = 100_000.0,
                 multiplier: int = 1, seed: int = 0, start: int = 0, step_s: float | None = None,
                 speed: float | None = None, wall: Callable[[], float] = time.monotonic):
        if host not in _LOCAL:
            raise ConfigError(f"the Alpaca server binds to 127.0.0.1 only, was asked for {host}", key="host")
        if not cash >= 0:
            raise ConfigError(f"cash must be >= 0, was {cash}", key="cash")
        if multiplier not in (1, 2, 4):
            raise ConfigError(f"multiplier must be 1, 2 or 4, was {multiplier}", key="multiplier")
        self.host, self.port = host, port
        self.key_id = key_id or "PK" + secrets.token_hex(8).upper()
        self.secret = secret or secrets.token_urlsafe(30)
        self.market = market or synthetic_market(seed=seed)
        if not self.market.sessions:
            raise ConfigError("the market has no trading days", key="market")
        self.sessions: list[Session] = self.market.sessions
        self._opens = [s.open_ns for s in self.sessions]
        if not 0 <= start < len(self.sessions):
            raise ConfigError(f"start must be in [0, {len(self.sessions)}), was {start}", key="start")
        # before the open of session `start`: the bars before it are final
        self.now_ns = self.sessions[start].open_ns - 3600 * 10**9
        self.cash = float(cash)
        self.multiplier = multiplier
        self.account_id = str(uuid.UUID(int=random.Random(seed).getrandbits(128), version=4))
        self._rng = random.Random(seed + 1)
        self.orders: dict[str, _Order] = {}
        self.by_cid: dict[str, _Order] = {}
        self.positions: dict[str, list[float]] = {}  # symbol -> [qty, avg_entry_price]
        self.activities: list[dict[str, Any]] = []
        self.last_equity = self.cash
        self.faults: list[_Fault] = []
        self.fired: list[tuple[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        if step_s is not None and not step_s > 0:
            raise ConfigError(f"step must be > 0 seconds, was {step_s}", key="step")
        if speed is not None and not speed > 0:
            raise ConfigError(f"speed must be > 0, was {speed}", key="speed")
        if step_s and speed:
            raise ConfigError("give a step or a speed, not both", key="speed")
        self.step_s = step_s
        self.speed = speed  # market seconds per wall second (1: real time)
        self.wall = wall
        self._wall0: tuple[float, int] | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conns: set[asyncio.StreamWriter] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AlpacaServer(base_url={self.base_url!r}, key_id='…{self.key_id[-4:]}', secret=***)"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- clock and calendar ---------------------------------------------------------------------

    def _session_index(self, ns: int) -> int:
        """Index of the last session opening at or before ``ns`` (-1: none yet)."""
        return bisect_right(self._opens, ns) - 1

    def current_session(self) -> Session | None:
        i = self._session_index(self.now_ns)
        if i >= 0 and self.sessions[i].open_ns <= self.now_ns < self.sessions[i].close_ns:
            return self.sessions[i]
        return None

    def is_open(self) -> bool:
        return self.current_session() is not None

    def final_days(self) -> list[date]:
        """Trading days whose session has closed (their bars are final)."""
        i = self._session_index(self.now_ns)
        days = [s.day for s in self.sessions[: max(0, i)]]
        if i >= 0 and self.now_ns >= self.sessions[i].close_ns:
            days.append(self.sessions[i].day)
        return days

    def advance(self, n: int = 1) -> None:
        """Move the clock to the next session boundary ``n`` times (an open, or a close: orders worked there)."""
        with self._lock:
            for _ in range(n):
                s = self.current_session()
                if s is not None:
                    self.now_ns = s.close_ns
                    self._close_session(s)
                    continue
                i = self._session_index(self.now_ns) + 1
                if i >= len(self.sessions):
                    self.now_ns += 86400 * 10**9  # past the data: the market stays closed
                    continue
                self.now_ns = self.sessions[i].open_ns
                self.last_equity = self._equity(prev=True)

    def tick(self) -> None:
        """With a ``speed``: move the clock to where wall time says, closing every session passed on the way."""
        assert self.speed
        if self._wall0 is None:
            self._wall0 = (self.wall(), self.now_ns)
        target = self._wall0[1] + int((self.wall() - self._wall0[0]) * self.speed * 1e9)
        while True:
            s = self.current_session()
            nxt = s.close_ns if s is not None else next((x.open_ns for x in self.sessions if x.open_ns > self.now_ns),
                                                        None)
            if nxt is None or nxt > target:
                break
            self.advance()
        with self._lock:
            self.now_ns = max(self.now_ns, target)

    def set_time(self, ns: int) -> None:
        """Jump the clock (no orders are worked on the way; for tests of hours and holidays)."""
        with self._lock:
            self.now_ns = int(ns)

    def _bar(self, symbol: str, d: date) -> tuple[float, float, float, float, float] | None:
        return self.market.bars.get(symbol, {}).get(d)

    def _mark(self, symbol: str) -> float | None:
        s = self.current_session()
        if s is not None and (b := self._bar(symbol, s.day)) is not None:
            return b[0]
        for d in reversed(self.final_days()):
            if (b := self._bar(symbol, d)) is not None:
                return b[3]
        return None

    def _equity(self, prev: bool = False) -> float:
        eq = self.cash
        for sym, (q, avg) in self.positions.items():
            m = self._mark(sym)
            eq += q * (m if m is not None else avg)
        return eq

    # -- the book ---------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _fill(self, o: _Order, price: float) -> None:
        q = o.qty - o.filled_qty
        sign = 1.0 if o.side == "buy" else -1.0
        pos = self.positions.setdefault(o.symbol, [0.0, 0.0])
        if sign > 0:
            pos[1] = (pos[0] * pos[1] + q * price) / (pos[0] + q)
        pos[0] += sign * q
        if abs(pos[0]) < 1e-9:
            del self.positions[o.symbol]
        self.cash -= sign * q * price
        o.filled_avg_price = price if o.filled_avg_price is None else \
            (o.filled_avg_price * o.filled_qty + price * q) / (o.filled_qty + q)
        o.filled_qty = o.qty
        o.status = "filled"
        o.filled_ns = o.updated_ns = self.now_ns
        stamp = datetime.fromtimestamp(self.now_ns // 10**9, timezone.utc).strftime("%Y%m%d%H%M%S") + \
            f"{(self.now_ns // 10**6) % 1000:03d}"
        self.activities.append({
            "id": f"{stamp}::{self._new_id()}", "activity_type": "FILL", "transaction_time": _utc(self.now_ns),
            "type": "fill", "price": _s(price), "qty": _s(q), "side": o.side, "symbol": o.symbol,
            "leaves_qty": "0", "order_id": o.id, "cum_qty": _s(o.qty), "order_status": "filled", "_ns": self.now_ns})
        for leg in o.legs or []:
            if leg.status == "held":
                leg.status = "new"
                leg.updated_ns = self.now_ns
        if o.parent is not None:  # one bracket leg filled: the other is canceled
            parent = self.orders[o.parent]
            for leg in parent.legs or []:
                if leg is not o and leg.status in ("new", "held", "accepted"):
                    leg.status = "canceled"
                    leg.canceled_ns = leg.updated_ns = self.now_ns

    def _working(self) -> Iterator[_Order]:
        for o in self.orders.values():
            if o.status in ("new", "accepted", "partially_filled"):
                yield o
            for leg in o.legs or []:
                if leg.status in ("new", "accepted"):
                    yield leg

    def _close_session(self, s: Session) -> None:
        for o in list(self._working()):
            b = self._bar(o.symbol, s.day)
            if b is not None and o.created_ns < s.close_ns:
                _, hi, lo, _, _ = b
                px = None
                if o.type == "limit" and o.limit_price is not None:
                    if o.side == "buy" and lo <= o.limit_price:
                        px = o.limit_price
                    elif o.side == "sell" and hi >= o.limit_price:
                        px = o.limit_price
                elif o.type == "stop" and o.stop_price is not None:
                    if o.side == "sell" and lo <= o.stop_price:
                        px = o.stop_price
                    elif o.side == "buy" and hi >= o.stop_price:
                        px = o.stop_price
                if px is not None and (o.side == "buy" or self._held(o.symbol) >= o.qty - 1e-9):
                    self._fill(o, px)
                    continue
            if o.time_in_force == "day" and o.status in ("new", "accepted"):
                o.status = "expired"
                o.expired_ns = o.updated_ns = s.close_ns

    def _held(self, symbol: str) -> float:
        return self.positions.get(symbol, [0.0, 0.0])[0]

    def _reserved_sells(self, symbol: str) -> float:
        return sum(o.qty - o.filled_qty for o in self._working() if o.symbol == symbol and o.side == "sell"
                   and o.parent is None)

    def _num(self, body: dict, key: str, *, required: bool = True) -> float | None:
        v = body.get(key)
        if v is None:
            if required:
                raise _Refusal(422, 40010001, f"{key} is required")
            return None
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise _Refusal(422, 40010001, f"invalid {key}: {v!r}") from None
        if not x > 0:
            raise _Refusal(422, 40010001, f"{key} must be > 0")
        return x

    def place(self, body: dict) -> _Order:
        """``POST /v2/orders`` (raises :class:`_Refusal` with Alpaca's status and message)."""
        with self._lock:
            cid = body.get("client_order_id") or self._new_id()
            if not isinstance(cid, str) or len(cid) > 128:
                raise _Refusal(422, 40010001, "client_order_id must be a string of at most 128 characters")
            if cid in self.by_cid:
                raise _Refusal(422, 40010001, "client_order_id must be unique")
            sym = body.get("symbol")
            if sym not in self.market.bars:
                raise _Refusal(422, 40010001, f"asset \"{sym}\" not found")
            side = body.get("side")
            if side not in ("buy", "sell"):
                raise _Refusal(422, 40010001, "side must be buy or sell")
            typ = body.get("type")
            if typ not in ("market", "limit", "stop"):
                raise _Refusal(422, 40010001, f"order type {typ!r} is not supported here")
            tif = body.get("time_in_force")
            if tif not in ("day", "gtc"):
                raise _Refusal(422, 40010001, "time_in_force must be day or gtc")
            qty = self._num(body, "qty")
            limit = self._num(body, "limit_price", required=typ == "limit")
            stop = self._num(body, "stop_price", required=typ == "stop")
            klass = body.get("order_class") or "simple"
            if klass not in ("simple", "bracket"):
                raise _Refusal(422, 40010001, f"order_class {klass!r} is not supported here")
            s = self.current_session()
            if s is None:
                raise _Refusal(422, 42210000, "market is closed: orders are accepted during regular hours only")
            mark = self._mark(sym)
            assert mark is not None
            if side == "buy":
                cost = qty * (limit if typ == "limit" else mark)
                reserved = sum((o.qty - o.filled_qty) * (o.limit_price or self._mark(o.symbol) or 0.0)
                               for o in self._working() if o.side == "buy" and o.parent is None)
                if cost > max(0.0, self.cash) * self.multiplier - reserved + 1e-6:
                    raise _Refusal(403, 40310000, "insufficient buying power")
            elif qty > self._held(sym) - self._reserved_sells(sym) + 1e-9:
                raise _Refusal(403, 40310000, f"insufficient qty available for order (requested: {_s(qty)}, "
                               f"available: {_s(self._held(sym) - self._reserved_sells(sym))})")
            o = _Order(self._new_id(), cid, sym, side, typ, qty, tif, self.now_ns, limit, stop, klass,
                       updated_ns=self.now_ns)
            if klass == "bracket":
                tp = self._num(body.get("take_profit") or {}, "limit_price")
                sl = self._num(body.get("stop_loss") or {}, "stop_price")
                other = "sell" if side == "buy" else "buy"
                o.legs = [_Order(self._new_id(), self._new_id(), sym, other, "limit", qty, tif, self.now_ns, tp,
                                 None, klass, "held", parent=o.id, updated_ns=self.now_ns),
                          _Order(self._new_id(), self._new_id(), sym, other, "stop", qty, tif, self.now_ns, None, sl,
                                 klass, "held", parent=o.id, updated_ns=self.now_ns)]
            self.orders[o.id] = o
            self.by_cid[cid] = o
            if typ == "market":
                self._fill(o, mark)
            return o

    def cancel(self, order_id: str) -> int:
        with self._lock:
            o = self.orders.get(order_id)
            if o is None:
                for p in self.orders.values():
                    o = next((leg for leg in p.legs or [] if leg.id == order_id), o)
            if o is None:
                raise _Refusal(404, 40410000, "order not found")
            if o.status not in ("new", "accepted", "held", "partially_filled"):
                raise _Refusal(422, 42210000, f"order is not cancelable (status {o.status})")
            o.status = "canceled"
            o.canceled_ns = o.updated_ns = self.now_ns
            for leg in o.legs or []:
                if leg.status in ("new", "held", "accepted"):
                    leg.status = "canceled"
                    leg.canceled_ns = leg.updated_ns = self.now_ns
            return 204

    def set_position(self, symbol: str, qty: float, avg: float) -> None:
        """A position changed behind the client's back (a manual trade, a corporate action...)."""
        with self._lock:
            if qty == 0:
                self.positions.pop(symbol, None)
            else:
                self.positions[symbol] = [float(qty), float(avg)]

    # -- JSON views ---------------------------------------------------------------------------------

    def order_json(self, o: _Order) -> dict[str, Any]:
        return {
            "id": o.id, "client_order_id": o.client_order_id, "created_at": _utc(o.created_ns),
            "updated_at": _utc(o.updated_ns), "submitted_at": _utc(o.created_ns),
            "filled_at": _utc(o.filled_ns) if o.filled_ns is not None else None,
            "expired_at": _utc(o.expired_ns) if o.expired_ns is not None else None,
            "canceled_at": _utc(o.canceled_ns) if o.canceled_ns is not None else None,
            "failed_at": None, "replaced_at": None, "replaced_by": None, "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, o.symbol)), "symbol": o.symbol,
            "asset_class": "us_equity", "notional": None, "qty": _s(o.qty), "filled_qty": _s(o.filled_qty),
            "filled_avg_price": _s(o.filled_avg_price) if o.filled_avg_price is not None else None,
            "order_class": "" if o.order_class == "simple" else o.order_class, "order_type": o.type, "type": o.type,
            "side": o.side, "time_in_force": o.time_in_force,
            "limit_price": _s(o.limit_price) if o.limit_price is not None else None,
            "stop_price": _s(o.stop_price) if o.stop_price is not None else None, "status": o.status,
            "extended_hours": False, "legs": [self.order_json(leg) for leg in o.legs] if o.legs else None,
            "trail_percent": None, "trail_price": None, "hwm": None}

    def account_json(self) -> dict[str, Any]:
        eq = self._equity()
        lmv = eq - self.cash
        bp = max(0.0, self.cash) * self.multiplier
        return {
            "id": self.account_id, "account_number": "PA" + self.account_id[:8].upper(), "status": "ACTIVE",
            "crypto_status": "INACTIVE", "currency": "USD", "buying_power": _s(bp), "regt_buying_power": _s(bp),
            "daytrading_buying_power": "0", "non_marginable_buying_power": _s(max(0.0, self.cash)),
            "cash": _s(self.cash), "accrued_fees": "0", "pending_transfer_in": "0", "portfolio_value": _s(eq),
            "pattern_day_trader": False, "trading_blocked": False, "transfers_blocked": False,
            "account_blocked": False, "created_at": "2024-01-01T00:00:00Z", "trade_suspended_by_user": False,
            "multiplier": str(self.multiplier), "shorting_enabled": False, "equity": _s(eq),
            "last_equity": _s(self.last_equity), "long_market_value": _s(lmv), "short_market_value": "0",
            "initial_margin": "0", "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0",
            "daytrade_count": 0}

    def position_json(self, sym: str) -> dict[str, Any]:
        q, avg = self.positions[sym]
        m = self._mark(sym) or avg
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, sym)), "symbol": sym, "exchange": "NYSE",
            "asset_class": "us_equity", "asset_marginable": True, "qty": _s(q), "avg_entry_price": _s(avg),
            "side": "long" if q > 0 else "short", "market_value": _s(q * m), "cost_basis": _s(q * avg),
            "unrealized_pl": _s(q * (m - avg)), "unrealized_plpc": _s((m - avg) / avg if avg else 0.0),
            "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0", "current_price": _s(m),
            "lastday_price": _s(m), "change_today": "0", "qty_available": _s(q - self._reserved_sells(sym))}

    def clock_json(self) -> dict[str, Any]:
        s = self.current_session()
        i = self._session_index(self.now_ns)
        nxt = self.sessions[i + 1] if i + 1 < len(self.sessions) else None
        far = self.now_ns + 365 * 86400 * 10**9
        return {"timestamp": _ny(self.now_ns), "is_open": s is not None,
                "next_open": _ny(nxt.open_ns if nxt else far),
                "next_close": _ny(s.close_ns if s else (nxt.close_ns if nxt else far))}

    def state(self) -> dict[str, Any]:
        return {"now": _ny(self.now_ns), "is_open": self.is_open(), "cash": self.cash,
                "positions": {k: list(v) for k, v in self.positions.items()},
                "orders": [self.order_json(o) for o in self.orders.values()], "fills": len(self.activities),
                "faults_pending": [f.__dict__ for f in self.faults], "faults_fired": self.fired}

    def _bars(self, sym: str, q: dict[str, str]) -> list[tuple[date, tuple]]:
        start = _day_param(q.get("start"), "start")
        end = _day_param(q.get("end"), "end")
        rows = self.market.bars.get(sym, {})
        return [(d, rows[d]) for d in self.final_days() if d in rows and (start is None or d >= start)
                and (end is None or d <= end)]

    @staticmethod
    def _bar_json(d: date, b: tuple) -> dict[str, Any]:
        from tradejet.adapters.alpaca.schemas import NEW_YORK

        t = datetime(d.year, d.month, d.day, tzinfo=NEW_YORK).astimezone(timezone.utc)
        return {"t": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "o": b[0], "h": b[1], "l": b[2], "c": b[3], "v": b[4],
                "n": int(b[4] // 100), "vw": round((b[1] + b[2] + b[3]) / 3, 4)}

    # -- faults -------------------------------------------------------------------------------------

    def inject(self, kind: str, endpoint: str = "*", count: int = 1, delay: float = 30.0) -> None:
        """Make the next ``count`` requests to ``endpoint`` (``"POST /v2/orders"``, ``*`` = any) fail with ``kind``."""
        if kind not in FAULT_KINDS:
            raise ConfigError(f"fault kind must be one of {FAULT_KINDS}, was {kind!r}", key="kind")
        if count < 1:
            raise ConfigError(f"count must be >= 1, was {count}", key="count")
        self.faults.append(_Fault(kind, endpoint, count, delay))

    def _take_fault(self, endpoint: str) -> _Fault | None:
        for f in self.faults:
            if f.endpoint in ("*", endpoint):
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
                self.fired.append((f.kind, endpoint))
                return f
        return None

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> AlpacaServer:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.step_s or self.speed:
            t = asyncio.get_running_loop().create_task(self._ticker())
            self._tasks.add(t)
        log.info("Alpaca server on %s", self.base_url)
        return self

    async def _ticker(self) -> None:
        while True:
            if self.speed:
                self.tick()
                await asyncio.sleep(0.05)
            else:
                assert self.step_s
                await asyncio.sleep(self.step_s)
                self.advance()

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        for w in list(self._conns):
            w.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> AlpacaServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[AlpacaServer]:
        """Serve from a thread with its own event loop (for synchronous callers and other loops)."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()

        th = threading.Thread(target=run, name="alpaca-server", daemon=True)
        th.start()
        started.wait(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            th.join(10)
            loop.close()

    # -- HTTP ---------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                try:
                    method, target, _ = line.decode("latin-1").split()
                except ValueError:
                    return await self._write(writer, 400, {"code": 40010000, "message": "bad request"}, close=True)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                try:
                    n = int(headers.get("content-length", "0") or 0)
                except ValueError:
                    n = -1
                if not 0 <= n <= _MAX_BODY or "chunked" in headers.get("transfer-encoding", ""):
                    return await self._write(writer, 400, {"code": 40010000, "message": "bad request"}, close=True)
                body = await reader.readexactly(n) if n else b""
                try:
                    keep = await self._dispatch(method, target, headers, body, writer)
                except (ConnectionError, asyncio.CancelledError):
                    raise
                except Exception:  # a server bug answers 500 like Alpaca would, it does not hang up
                    log.exception("alpaca server: %s %s failed", method, target)
                    keep = await self._write(writer, 500, {"code": 50010000, "message": "internal server error"},
                                             close=True)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._conns.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _write(self, writer: asyncio.StreamWriter, status: int, payload: Any, *, close: bool = False,
                     headers: dict[str, str] | None = None) -> bool:
        body = b"" if status == 204 else (payload if isinstance(payload, bytes) else
                                          json.dumps(payload, separators=(",", ":")).encode())
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: application/json; charset=utf-8"
                f"\r\nContent-Length: {len(body)}\r\n{extra}Connection: {'close' if close else 'keep-alive'}\r\n\r\n")
        writer.write(head.encode() + body)
        await writer.drain()
        return not close

    def _route(self, method: str, path: str) -> str:
        if path.startswith("/v2/orders/") and not path.startswith("/v2/orders:"):
            return f"{method} /v2/orders/{{order_id}}"
        if path.startswith("/v2/stocks/") and path.endswith("/bars") and path != "/v2/stocks/bars":
            return "GET /v2/stocks/{symbol}/bars"
        return f"{method} {path}"

    async def _dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes,
                        writer: asyncio.StreamWriter) -> bool:
        url = urlsplit(target)
        path = unquote(url.path)
        q = dict(parse_qsl(url.query, keep_blank_values=True))
        self.requests.append((method, path))
        if path.startswith("/_sandbox/"):
            return await self._admin(method, path, body, writer)
        if headers.get("apca-api-key-id") != self.key_id or headers.get("apca-api-secret-key") != self.secret:
            return await self._write(writer, 401, {"code": 40110000, "message": "request is not authorized"})
        route = self._route(method, path)
        fault = self._take_fault(route)
        if fault is not None and fault.kind in ("http_500", "rate_limit", "timeout"):
            if fault.kind == "http_500":
                return await self._write(writer, 500, b"<html><body>502 Bad Gateway</body></html>", close=True)
            if fault.kind == "rate_limit":
                return await self._write(writer, 429, {"code": 42910000, "message": "rate limit exceeded"},
                                         headers={"Retry-After": "0"})
            await asyncio.sleep(fault.delay)
            return False
        try:
            status, payload = self._answer(method, route, path, q, body)
        except _Refusal as e:
            status, payload = e.status, {"code": e.code, "message": e.message}
        if fault is not None:  # drop_response / timeout_after_accept: processed, answer lost
            if fault.kind == "timeout_after_accept":
                await asyncio.sleep(fault.delay)
            return False
        return await self._write(writer, status, payload)

    def _answer(self, method: str, route: str, path: str, q: dict[str, str], body: bytes) -> tuple[int, Any]:
        if route == "GET /v2/account":
            return 200, self.account_json()
        if route == "GET /v2/positions":
            return 200, [self.position_json(s) for s in sorted(self.positions)]
        if route == "GET /v2/clock":
            return 200, self.clock_json()
        if route == "GET /v2/calendar":
            start, end = _day_param(q.get("start"), "start"), _day_param(q.get("end"), "end")
            return 200, [{"date": s.day.isoformat(), "open": s.open, "close": s.close, "session_open": "0400",
                          "session_close": "2000"} for s in self.sessions
                         if (start is None or s.day >= start) and (end is None or s.day <= end)]
        if route == "POST /v2/orders":
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                raise _Refusal(400, 40010000, "request body format is invalid") from None
            if not isinstance(req, dict):
                raise _Refusal(400, 40010000, "request body format is invalid")
            return 200, self.order_json(self.place(req))
        if route == "GET /v2/orders":
            status = q.get("status", "open")
            after = _time_param(q["after"], "after") if q.get("after") else None
            rows = [o for o in self.orders.values()
                    if (status == "all" or (status == "open") == (o.status in ("new", "accepted", "held",
                                                                               "partially_filled")))
                    and (after is None or o.created_ns > after)]
            if q.get("direction", "desc") == "desc":
                rows.reverse()
            return 200, [self.order_json(o) for o in rows[: int(q.get("limit", 50))]]
        if route == "GET /v2/orders:by_client_order_id":
            o = self.by_cid.get(q.get("client_order_id", ""))
            if o is None:
                raise _Refusal(404, 40410000, "order not found")
            return 200, self.order_json(o)
        if route == "GET /v2/orders/{order_id}":
            o = self.orders.get(path.rsplit("/", 1)[1])
            if o is None:
                raise _Refusal(404, 40410000, "order not found")
            return 200, self.order_json(o)
        if route == "DELETE /v2/orders/{order_id}":
            return self.cancel(path.rsplit("/", 1)[1]), None
        if route == "GET /v2/account/activities/FILL":
            rows = list(self.activities)
            if q.get("after"):
                after_ns = _time_param(q["after"], "after")
                rows = [a for a in rows if a["_ns"] > after_ns]
            if q.get("direction", "desc") == "desc":
                rows.reverse()
            if q.get("page_token"):
                ids = [a["id"] for a in rows]
                if q["page_token"] not in ids:
                    raise _Refusal(422, 40010001, "invalid page_token")
                rows = rows[ids.index(q["page_token"]) + 1:]
            return 200, [{k: v for k, v in a.items() if k != "_ns"} for a in rows[: int(q.get("page_size", 100))]]
        if route in ("GET /v2/stocks/{symbol}/bars", "GET /v2/stocks/bars"):
            if q.get("timeframe") not in ("1Day", "1D"):
                raise _Refusal(422, 42210000, f"invalid timeframe {q.get('timeframe')!r}: this server has 1Day only")
            limit = max(1, min(10000, int(q.get("limit", 1000))))
            offset = int(q.get("page_token") or 0)
            if route == "GET /v2/stocks/bars":
                syms = [s for s in q.get("symbols", "").split(",") if s]
                flat = [(s, d, b) for s in syms for d, b in self._bars(s, q)]
                page = flat[offset: offset + limit]
                out: dict[str, list] = {}
                for s, d, b in page:
                    out.setdefault(s, []).append(self._bar_json(d, b))
                nxt = str(offset + limit) if offset + limit < len(flat) else None
                return 200, {"bars": out, "next_page_token": nxt}
            sym = path.split("/")[3]
            rows = self._bars(sym, q)
            page = rows[offset: offset + limit]
            nxt = str(offset + limit) if offset + limit < len(rows) else None
            return 200, {"bars": [self._bar_json(d, b) for d, b in page] or None, "symbol": sym,
                         "next_page_token": nxt}
        raise _Refusal(404, 40410000, f"route not found: {method} {path}")

    async def _admin(self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        try:
            req = json.loads(body or b"{}")
            if path == "/_sandbox/state":
                return await self._write(writer, 200, self.state())
            if method != "POST":
                return await self._write(writer, 405, {"message": "POST"})
            if path == "/_sandbox/advance":
                self.advance(int(req.get("n", 1)))
            elif path == "/_sandbox/time":
                from tradejet.adapters.alpaca.schemas import parse_time_ns

                self.set_time(parse_time_ns(req["time"], "POST /_sandbox/time", "time"))
            elif path == "/_sandbox/fault":
                self.inject(req["kind"], req.get("endpoint", "*"), int(req.get("count", 1)),
                            float(req.get("delay", 30.0)))
            elif path == "/_sandbox/position":
                self.set_position(req["symbol"], float(req["qty"]), float(req.get("avg_entry_price", 0.0)))
            else:
                return await self._write(writer, 404, {"message": f"unknown admin route {path}"})
        except (KeyError, ValueError, TypeError, ConfigError) as e:
            return await self._write(writer, 400, {"message": f"bad admin request: {e}"})
        return await self._write(writer, 200, self.state())


def _time_param(v: str, name: str) -> int:
    from tradejet.adapters.alpaca.schemas import parse_time_ns
    from tradejet.errors import ResponseError

    try:
        return parse_time_ns(v, "query", name)
    except ResponseError:
        d = _day_param(v, name)
        assert d is not None
        return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp()) * 10**9


def _day_param(v: str | None, name: str) -> date | None:
    if not v:
        return None
    try:
        return date.fromisoformat(v[:10])
    except ValueError:
        raise _Refusal(422, 42210000, f"invalid {name}: {v!r}") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m tradejet.adapters.alpaca.server``: serve until Ctrl-C."""
    from tradejet.adapters.alpaca.market import market_from_dir

    p = argparse.ArgumentParser(prog="python -m tradejet.adapters.alpaca.server",
                                description="A local Alpaca-shaped server on 127.0.0.1 (trading + daily bars).")
    p.add_argument("--port", type=int, default=8788, help="port (0 = any free port); default 8788")
    p.add_argument("--data", metavar="DIR", help="replay {SYMBOL}_1d.csv files (default: a seeded synthetic market)")
    p.add_argument("--symbols", default="SPY,AAPL,MSFT", help="comma-separated symbols (default SPY,AAPL,MSFT)")
    p.add_argument("--from", dest="start", help="first trading day with --data (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=300, help="synthetic market length in trading days (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cash", type=float, default=100_000.0)
    p.add_argument("--multiplier", type=int, default=1, choices=(1, 2, 4), help="margin multiplier the account shows")
    p.add_argument("--step", type=float, default=None, metavar="SECONDS",
                   help="advance the clock one session boundary every SECONDS (default: only POST /_sandbox/advance)")
    p.add_argument("--start-index", type=int, default=0, help="start before the open of this trading day")
    p.add_argument("--key-id", default=None)
    p.add_argument("--secret", default=None)
    p.add_argument("--speed", type=float, default=None,
                   help="market seconds per wall second (1 = real time, 3600 = an hour a second); not with --step")
    args = p.parse_args(argv)
    syms = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if args.data:
        try:
            first = date.fromisoformat(args.start) if args.start else None
        except ValueError:
            raise ConfigError(f"--from must be YYYY-MM-DD, was {args.start!r}", key="--from") from None
        market = market_from_dir(args.data, syms, start=first)
    else:
        market = synthetic_market(syms, days=args.days, seed=args.seed)
    srv = AlpacaServer(port=args.port, key_id=args.key_id, secret=args.secret, market=market, cash=args.cash,
                       multiplier=args.multiplier, seed=args.seed, start=args.start_index, step_s=args.step,
                       speed=args.speed)
    return serve(srv, print_keys=args.key_id is None)


def run_sandbox(args: argparse.Namespace) -> int:
    """``tradejet sandbox --venue alpaca``: the same server from the sandbox command's flags."""
    from tradejet.adapters.alpaca.market import market_from_dir

    cash = 100_000.0
    for item in getattr(args, "balance", None) or []:
        asset, sep, amount = item.partition("=")
        if not sep or asset.strip().upper() != "USD":
            raise ConfigError(f"--balance with --venue alpaca takes USD=AMOUNT, was {item!r}", key="--balance")
        try:
            cash = float(amount)
        except ValueError:
            raise ConfigError(f"balance must be a number, was {amount!r}", key="--balance") from None
    if (args.api_key is None) != (args.api_secret is None):
        raise ConfigError("give both --api-key and --api-secret, or neither (a pair is then generated)",
                          key="--api-key/--api-secret")
    market = market_from_dir(args.data) if args.data else synthetic_market(seed=args.seed)
    srv = AlpacaServer(port=args.port, key_id=args.api_key, secret=args.api_secret, market=market, cash=cash,
                       seed=args.seed, speed=args.speed or None)
    return serve(srv, print_keys=args.api_key is None)


def serve(srv: AlpacaServer, *, print_keys: bool) -> int:
    """Serve ``srv`` until Ctrl-C, printing its URL (and its keys when they were generated)."""

    async def run() -> None:
        await srv.start()
        print(f"Alpaca server {srv.base_url}", flush=True)
        if print_keys:  # generated for this run only: printed so a client can be configured
            print(f"APCA_API_KEY_ID={srv.key_id}", flush=True)
            print(f"APCA_API_SECRET_KEY={srv.secret}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await srv.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
