"""AlpacaHttp: an async client for Alpaca's Trading API v2 and Market Data API v2 over httpx.

* Base URLs: paper ``https://paper-api.alpaca.markets`` or live ``https://api.alpaca.markets``
  (:func:`trading_url` picks by ``DEPLOYMENT_ENV``), market data ``https://data.alpaca.markets``;
  a ``base_url`` on 127.0.0.1 (the local server) serves both.
* Keys come from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` and travel only in the
  ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers: never in a log line, a ``repr``
  or an error message.
* Every answer is decoded into :mod:`.schemas` structs; errors map per :mod:`.errors`.
* Retries: a 429 is retried after ``Retry-After`` (Alpaca refuses before processing);
  timeouts, connection errors and 5xx are retried only for reads and cancels. An order
  whose answer is lost is never resent blindly: :meth:`AlpacaHttp.submit_order` looks it
  up by ``client_order_id`` and resends only when Alpaca has no such order.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from tradejet.adapters.alpaca.errors import NotFound, raise_for_status
from tradejet.adapters.alpaca.schemas import (
    AlpacaAccount,
    AlpacaBar,
    AlpacaBarsPage,
    AlpacaCalendarDay,
    AlpacaClock,
    AlpacaFill,
    AlpacaMultiBarsPage,
    AlpacaOrder,
    AlpacaPosition,
    decode,
)
from tradejet.errors import AuthError, ConfigError, OrderRejected, RateLimited, VenueUnavailable

__all__ = ["AlpacaCredentials", "AlpacaHttp", "PAPER_URL", "LIVE_URL", "DATA_URL", "trading_url"]

log = logging.getLogger(__name__)

PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def trading_url(deployment_env: str | None) -> str:
    """Alpaca's trading base URL for ``DEPLOYMENT_ENV``: live money only for ``live``.

    >>> trading_url("live"), trading_url("paper"), trading_url(None)
    ('https://api.alpaca.markets', 'https://paper-api.alpaca.markets', 'https://paper-api.alpaca.markets')
    """
    return LIVE_URL if (deployment_env or "").strip().lower() == "live" else PAPER_URL


class AlpacaCredentials:
    """An Alpaca key pair; its ``repr`` shows only the key id's last four characters.

    >>> AlpacaCredentials("PKTESTKEY123456789", "s3cr3t-s3cr3t")
    AlpacaCredentials(key_id='…6789', secret=***)
    """

    __slots__ = ("_key_id", "_secret")

    def __init__(self, key_id: str, secret: str):
        if not key_id or not key_id.strip():
            raise ConfigError("Alpaca key id is empty", key="APCA_API_KEY_ID")
        if not secret or not secret.strip():
            raise ConfigError("Alpaca secret key is empty", key="APCA_API_SECRET_KEY")
        self._key_id = key_id.strip()
        self._secret = secret.strip()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlpacaCredentials | None:
        """Read ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY``; None when both are unset."""
        env = os.environ if env is None else env
        k, s = env.get("APCA_API_KEY_ID", ""), env.get("APCA_API_SECRET_KEY", "")
        if not k and not s:
            return None
        if not k or not s:
            missing = "APCA_API_KEY_ID" if not k else "APCA_API_SECRET_KEY"
            raise ConfigError(f"{missing} is not set (both Alpaca keys are needed)", key=missing)
        return cls(k, s)

    @property
    def key_id(self) -> str:
        return self._key_id

    def masked_key(self) -> str:
        return "…" + self._key_id[-4:]

    def headers(self) -> dict[str, str]:
        return {"APCA-API-KEY-ID": self._key_id, "APCA-API-SECRET-KEY": self._secret}

    def __repr__(self) -> str:
        return f"AlpacaCredentials(key_id={self.masked_key()!r}, secret=***)"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a report or a subprocess by accident
        raise TypeError("AlpacaCredentials cannot be pickled")


def _fmt_qty(x: float) -> str:
    """A quantity or price as Alpaca takes it: a decimal string without exponent."""
    s = f"{x:.9f}".rstrip("0").rstrip(".")
    return s or "0"


class AlpacaHttp:
    """Async Alpaca REST client (trading + market data).

    >>> import asyncio, httpx
    >>> def venue(request):
    ...     return httpx.Response(200, json={"timestamp": "2024-01-02T10:00:00-05:00", "is_open": True,
    ...                                      "next_open": "2024-01-03T09:30:00-05:00",
    ...                                      "next_close": "2024-01-02T16:00:00-05:00"})
    >>> async def main():
    ...     async with AlpacaHttp(AlpacaCredentials("k", "s"), transport=httpx.MockTransport(venue)) as a:
    ...         return (await a.clock()).is_open
    >>> asyncio.run(main())
    True
    """

    def __init__(self, credentials: AlpacaCredentials | None, *, base_url: str = PAPER_URL,
                 data_url: str | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 10.0, retries: int = 3, backoff: float = 0.5, max_backoff: float = 30.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, lost_order_checks: int = 2,
                 lost_order_delay: float = 1.0, user_agent: str = "tradejet/0.1 (+alpaca-client)"):
        self._creds = credentials
        self.base_url = base_url.rstrip("/")
        host = httpx.URL(self.base_url).host
        loopback = host in _LOOPBACK
        self.data_url = (data_url or (self.base_url if loopback else DATA_URL)).rstrip("/")
        self._client = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(timeout),
            trust_env=not loopback,  # a proxy from the environment must never carry local-server traffic
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            headers={"User-Agent": user_agent, "Accept": "application/json"})
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.lost_order_checks = lost_order_checks
        self.lost_order_delay = lost_order_delay
        self.requests = 0

    def __repr__(self) -> str:
        return f"AlpacaHttp(base_url={self.base_url!r}, data_url={self.data_url!r}, credentials={self._creds!r})"

    async def __aenter__(self) -> AlpacaHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    # -- transport ------------------------------------------------------------------------------

    async def _once(self, method: str, url: str, endpoint: str, params: Mapping[str, Any] | None,
                    body: Any) -> tuple[int, bytes]:
        if self._creds is None:
            raise AuthError(f"Alpaca {endpoint}: no credentials (set APCA_API_KEY_ID and APCA_API_SECRET_KEY)")
        content = msgspec.json.encode(body) if body is not None else None
        headers = self._creds.headers()
        if content is not None:
            headers["Content-Type"] = "application/json"
        p = {k: v for k, v in (params or {}).items() if v is not None}
        self.requests += 1
        try:
            resp = await self._client.request(method, url, params=p or None, content=content, headers=headers)
        except httpx.TimeoutException as e:
            raise VenueUnavailable(f"Alpaca {endpoint}: timed out ({type(e).__name__})") from None
        except httpx.TransportError as e:
            raise VenueUnavailable(f"Alpaca {endpoint}: connection failed ({type(e).__name__})") from None
        raise_for_status(endpoint, resp.status_code, resp.content, resp.headers)
        return resp.status_code, resp.content

    async def _call(self, method: str, path: str, *, data: bool = False, params: Mapping[str, Any] | None = None,
                    body: Any = None, idempotent: bool = True, endpoint: str | None = None) -> tuple[int, bytes]:
        url = (self.data_url if data else self.base_url) + path
        ep = endpoint or f"{method} {path.split('?')[0]}"
        attempt = 0
        while True:
            try:
                return await self._once(method, url, ep, params, body)
            except RateLimited as e:
                if attempt >= self.retries:
                    raise
                wait = e.retry_after if e.retry_after is not None else self.backoff * 2 ** attempt
                log.info("Alpaca %s rate limited; waiting %.1fs", ep, wait)
                await self.sleep(min(wait, self.max_backoff))
            except VenueUnavailable as e:
                if not idempotent or attempt >= self.retries:
                    raise
                wait = min(self.backoff * 2 ** attempt, self.max_backoff)
                log.info("%s; retry %d in %.1fs", e, attempt + 1, wait)
                await self.sleep(wait)
            attempt += 1

    async def _get(self, path: str, tp: Any, *, data: bool = False, params: Mapping[str, Any] | None = None,
                   endpoint: str | None = None) -> Any:
        ep = endpoint or f"GET {path}"
        _, raw = await self._call("GET", path, data=data, params=params, endpoint=ep)
        return decode(ep, raw, tp)

    # -- account --------------------------------------------------------------------------------

    async def account(self) -> AlpacaAccount:
        """``GET /v2/account``."""
        return await self._get("/v2/account", AlpacaAccount)

    async def positions(self) -> list[AlpacaPosition]:
        """``GET /v2/positions``: every open position."""
        return await self._get("/v2/positions", list[AlpacaPosition])

    async def clock(self) -> AlpacaClock:
        """``GET /v2/clock``: is the market open now, and the next open and close."""
        return await self._get("/v2/clock", AlpacaClock)

    async def calendar(self, start: str | None = None, end: str | None = None) -> list[AlpacaCalendarDay]:
        """``GET /v2/calendar``: the trading days from ``start`` to ``end`` (YYYY-MM-DD, inclusive)."""
        return await self._get("/v2/calendar", list[AlpacaCalendarDay], params={"start": start, "end": end})

    async def fills(self, *, after: str | None = None, page_size: int = 100, max_pages: int = 1000) -> list[AlpacaFill]:
        """``GET /v2/account/activities/FILL``, oldest first, every page (``page_token`` = last id)."""
        out: list[AlpacaFill] = []
        token = None
        for _ in range(max_pages):
            page = await self._get("/v2/account/activities/FILL", list[AlpacaFill],
                                   params={"direction": "asc", "after": after, "page_size": page_size,
                                           "page_token": token})
            out += page
            if len(page) < page_size:
                return out
            token = page[-1].id
        raise VenueUnavailable(f"Alpaca GET /v2/account/activities/FILL: more than {max_pages} pages")

    # -- orders ---------------------------------------------------------------------------------

    async def list_orders(self, status: str = "open", *, after: str | None = None, limit: int = 500,
                          symbols: Sequence[str] | None = None, nested: bool = False) -> list[AlpacaOrder]:
        """``GET /v2/orders`` (``status``: open, closed or all), oldest first."""
        return await self._get("/v2/orders", list[AlpacaOrder], params={
            "status": status, "after": after, "limit": limit, "direction": "asc",
            "symbols": ",".join(symbols) if symbols else None, "nested": "true" if nested else None})

    async def get_order(self, order_id: str) -> AlpacaOrder:
        """``GET /v2/orders/{order_id}``."""
        return await self._get(f"/v2/orders/{quote(order_id, safe='')}", AlpacaOrder,
                               endpoint="GET /v2/orders/{order_id}")

    async def get_order_by_client_id(self, client_order_id: str) -> AlpacaOrder | None:
        """``GET /v2/orders:by_client_order_id``: the order, or None when Alpaca has none with that id."""
        try:
            o = await self._get("/v2/orders:by_client_order_id", AlpacaOrder,
                                params={"client_order_id": client_order_id})
        except NotFound:
            return None
        # match on the echoed id, never on "something came back"
        return o if o.client_order_id == client_order_id else None

    async def cancel_order(self, order_id: str) -> bool:
        """``DELETE /v2/orders/{order_id}``; False when the order is unknown or no longer cancelable."""
        try:
            await self._call("DELETE", f"/v2/orders/{quote(order_id, safe='')}",
                             endpoint="DELETE /v2/orders/{order_id}")
        except (NotFound, OrderRejected):
            return False
        return True

    async def submit_order(self, *, symbol: str, qty: float, side: str, type: str = "market",
                           time_in_force: str = "day", client_order_id: str, limit_price: float | None = None,
                           stop_price: float | None = None, order_class: str | None = None,
                           take_profit: float | None = None, stop_loss: float | None = None,
                           extended_hours: bool = False) -> AlpacaOrder:
        """``POST /v2/orders``; an answer lost in transit is looked up by ``client_order_id``, never resent blindly.

        On a timeout, connection error or 5xx the order may or may not exist. The client asks
        ``GET /v2/orders:by_client_order_id`` (up to ``lost_order_checks`` times) and returns the
        order when it is there; only when Alpaca has none does it resend the SAME request.
        If the lookup itself fails it raises VenueUnavailable ("outcome unknown") without resending.
        """
        if not client_order_id or len(client_order_id) > 128:
            raise ValueError(f"client_order_id must be 1..128 characters, was {client_order_id!r}")
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be buy or sell, was {side!r}")
        if type not in ("market", "limit", "stop", "stop_limit"):
            raise ValueError(f"type must be market, limit, stop or stop_limit, was {type!r}")
        if time_in_force not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            raise ValueError(f"time_in_force must be day, gtc, opg, cls, ioc or fok, was {time_in_force!r}")
        if not qty > 0:
            raise ValueError(f"qty must be > 0, was {qty}")
        body: dict[str, Any] = {"symbol": symbol, "qty": _fmt_qty(qty), "side": side, "type": type,
                                "time_in_force": time_in_force, "client_order_id": client_order_id}
        if type in ("limit", "stop_limit"):
            if limit_price is None or not limit_price > 0:
                raise ValueError(f"a {type} order needs limit_price > 0, was {limit_price}")
            body["limit_price"] = _fmt_qty(limit_price)
        if type in ("stop", "stop_limit"):
            if stop_price is None or not stop_price > 0:
                raise ValueError(f"a {type} order needs stop_price > 0, was {stop_price}")
            body["stop_price"] = _fmt_qty(stop_price)
        if order_class is not None:
            if order_class not in ("simple", "bracket", "oco", "oto"):
                raise ValueError(f"order_class must be simple, bracket, oco or oto, was {order_class!r}")
            body["order_class"] = order_class
        if order_class == "bracket":
            if take_profit is None or stop_loss is None:
                raise ValueError("a bracket order needs take_profit and stop_loss prices")
            body["take_profit"] = {"limit_price": _fmt_qty(take_profit)}
            body["stop_loss"] = {"stop_price": _fmt_qty(stop_loss)}
        if extended_hours:
            body["extended_hours"] = True
        ep = "POST /v2/orders"
        attempt = 0
        while True:
            try:
                _, raw = await self._call("POST", "/v2/orders", body=body, idempotent=False, endpoint=ep)
                return decode(ep, raw, AlpacaOrder)
            except OrderRejected:
                # a resend refused (client_order_id must be unique): the first attempt landed after all
                if attempt == 0:
                    raise
                hit = await self.get_order_by_client_id(client_order_id)
                if hit is None:
                    raise
                return hit
            except VenueUnavailable as e:
                if attempt >= self.retries:
                    raise
                log.warning("Alpaca POST /v2/orders %s: answer lost (%s); asking Alpaca before resending",
                            client_order_id, e)
                hit = await self._lookup_lost(client_order_id)
                if hit is not None:
                    log.info("Alpaca order %s was placed as %s; not resending", client_order_id, hit.id)
                    return hit
                await self.sleep(min(self.backoff * 2 ** attempt, self.max_backoff))
            attempt += 1

    async def _lookup_lost(self, client_order_id: str) -> AlpacaOrder | None:
        for check in range(max(1, self.lost_order_checks)):
            if check:
                await self.sleep(self.lost_order_delay)
            try:
                hit = await self.get_order_by_client_id(client_order_id)
            except VenueUnavailable as e:
                raise VenueUnavailable(f"Alpaca POST /v2/orders {client_order_id}: outcome unknown (answer lost, "
                                       f"and the lookup failed: {e}); not resent — reconcile before placing it"
                                       " again") from None
            if hit is not None:
                return hit
        return None

    # -- market data ----------------------------------------------------------------------------

    async def bars(self, symbol: str, *, start: str | None = None, end: str | None = None,
                   timeframe: str = "1Day", adjustment: str = "raw", feed: str | None = None,
                   limit: int = 10000, max_pages: int = 1000) -> list[AlpacaBar]:
        """``GET /v2/stocks/{symbol}/bars``, every page (``next_page_token``), oldest first."""
        out: list[AlpacaBar] = []
        token = None
        path = f"/v2/stocks/{quote(symbol, safe='')}/bars"
        for _ in range(max_pages):
            page = await self._get(path, AlpacaBarsPage, data=True, endpoint="GET /v2/stocks/{symbol}/bars",
                                   params={"timeframe": timeframe, "start": start, "end": end, "limit": limit,
                                           "adjustment": adjustment, "feed": feed, "page_token": token})
            out += page.bars or []
            token = page.next_page_token
            if not token:
                return out
        raise VenueUnavailable(f"Alpaca GET /v2/stocks/{symbol}/bars: more than {max_pages} pages")

    async def multi_bars(self, symbols: Sequence[str], *, start: str | None = None, end: str | None = None,
                         timeframe: str = "1Day", adjustment: str = "raw", feed: str | None = None,
                         limit: int = 10000, max_pages: int = 1000) -> dict[str, list[AlpacaBar]]:
        """``GET /v2/stocks/bars`` for several symbols, every page merged."""
        out: dict[str, list[AlpacaBar]] = {s: [] for s in symbols}
        token = None
        for _ in range(max_pages):
            page = await self._get("/v2/stocks/bars", AlpacaMultiBarsPage, data=True,
                                   params={"symbols": ",".join(symbols), "timeframe": timeframe, "start": start,
                                           "end": end, "limit": limit, "adjustment": adjustment, "feed": feed,
                                           "page_token": token})
            for s, rows in (page.bars or {}).items():
                out.setdefault(s, []).extend(rows)
            token = page.next_page_token
            if not token:
                return out
        raise VenueUnavailable(f"Alpaca GET /v2/stocks/bars: more than {max_pages} pages")
