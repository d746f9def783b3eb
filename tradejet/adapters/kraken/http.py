"""KrakenHttp: an async Kraken Spot REST client over ``httpx.AsyncClient``.

* Transport seam: pass ``transport=httpx.MockTransport(handler)`` in tests, or a
  ``base_url`` pointing at the sandbox.
* Every answer is decoded into :mod:`~tradejet.adapters.kraken.schemas` structs; a
  wrong shape raises :class:`~tradejet.errors.ResponseError` naming endpoint and field.
* Kraken errors map to :mod:`tradejet.errors` (see :mod:`.errors`); timeouts, transport
  errors and 5xx raise :class:`~tradejet.errors.VenueUnavailable`.
* Retries: idempotent calls retry ``VenueUnavailable`` with exponential backoff; any call
  retries a ``RateLimited`` (after waiting) or ``InvalidNonce`` (with a fresh nonce), which
  Kraken refuses before processing. Trading calls whose outcome is unknown are never
  resent blindly: :meth:`KrakenHttp.add_order` asks Kraken for its ``cl_ord_id`` first
  and resends only when Kraken has no such order.
* Private calls are serialised (one in flight per client) so nonces reach Kraken in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec

from tradejet.adapters.kraken.auth import Credentials
from tradejet.adapters.kraken.errors import raise_for_errors
from tradejet.adapters.kraken.nonce import NonceSource
from tradejet.adapters.kraken.orders import new_cl_ord_id
from tradejet.adapters.kraken.ratelimit import TRADING, DecayingCounter, RateLimiter
from tradejet.adapters.kraken.schemas import (
    AddOrderBatchResult,
    AddOrderDescr,
    AddOrderResult,
    AmendOrderResult,
    AssetInfo,
    AssetPair,
    BalanceExEntry,
    CancelAllOrdersAfterResult,
    CancelOrderResult,
    ClosedOrdersResult,
    DepthBook,
    EditOrderResult,
    OHLCResult,
    OHLCRow,
    OpenOrdersResult,
    OrderInfo,
    ServerTime,
    SystemStatus,
    TickerInfo,
    TradeBalance,
    TradeRow,
    TradeVolumeResult,
    TradesHistoryResult,
    TradesResult,
    WebSocketsToken,
    decode_envelope,
    decode_keyed_rows,
    decode_result,
)
from tradejet.errors import AuthError, InvalidNonce, OrderRejected, RateLimited, ResponseError, VenueUnavailable

__all__ = ["KrakenHttp", "DEFAULT_BASE_URL", "OHLC_INTERVALS", "MAX_OHLC"]

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.kraken.com"
OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
MAX_OHLC = 720


def _b(x: bool) -> str:
    return "true" if x else "false"


def _clean(params: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = _b(v) if isinstance(v, bool) else ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    return out


class KrakenHttp:
    """Async Kraken Spot REST client.

    >>> import asyncio, httpx
    >>> def venue(request):
    ...     return httpx.Response(200, json={"error": [], "result": {"unixtime": 1, "rfc1123": "x"}})
    >>> async def main():
    ...     async with KrakenHttp(transport=httpx.MockTransport(venue)) as k:
    ...         return (await k.time()).unixtime
    >>> asyncio.run(main())
    1
    """

    def __init__(self, credentials: Credentials | None = None, *, base_url: str = DEFAULT_BASE_URL,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0,
                 nonce: NonceSource | None = None, limiter: RateLimiter | None = None,
                 retries: int = 3, backoff: float = 0.5, max_backoff: float = 30.0, rate_limit_retries: int = 8,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic, public_burst: float = 5.0,
                 public_rate: float = 1.0, lost_order_checks: int = 2, lost_order_delay: float = 1.0,
                 user_agent: str = "tradejet/0.1 (+kraken-client)"):
        self._creds = credentials
        self.base_url = base_url.rstrip("/")
        loopback = httpx.URL(self.base_url).host in ("127.0.0.1", "localhost", "::1")
        self._client = httpx.AsyncClient(
            base_url=self.base_url, transport=transport, timeout=httpx.Timeout(timeout),
            trust_env=not loopback,  # a proxy from the environment must never carry sandbox traffic
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            headers={"User-Agent": user_agent})
        self.nonce = nonce or NonceSource(None)
        self.sleep = sleep
        self.clock = clock
        self.limiter = limiter or RateLimiter("starter", clock=clock, sleep=sleep)
        self._public = DecayingCounter(public_burst, public_rate, clock())
        self._public_lock = asyncio.Lock()
        self._private_lock = asyncio.Lock()
        self.retries = retries
        # a rate-limited call was refused before it was processed: waiting and resending is always safe, and
        # Kraken's counter can take tens of seconds to decay, so it gets more (capped, doubling) waits
        self.rate_limit_retries = max(retries, rate_limit_retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.lost_order_checks = lost_order_checks
        self.lost_order_delay = lost_order_delay

    def __repr__(self) -> str:
        return f"KrakenHttp(base_url={self.base_url!r}, credentials={self._creds!r})"

    async def __aenter__(self) -> KrakenHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        await self._client.aclose()

    # -- transport -------------------------------------------------------------------------

    async def _send(self, endpoint: str, request: httpx.Request) -> bytes:
        try:
            resp = await self._client.send(request)
        except httpx.TimeoutException as e:
            raise VenueUnavailable(f"Kraken {endpoint}: timed out ({type(e).__name__})") from e
        except httpx.TransportError as e:
            raise VenueUnavailable(f"Kraken {endpoint}: connection failed ({type(e).__name__}: {e})") from e
        if resp.status_code >= 500:
            raise VenueUnavailable(f"Kraken {endpoint}: HTTP {resp.status_code}")
        if resp.status_code == 429:
            raise RateLimited(f"Kraken {endpoint}: HTTP 429", retry_after=float(resp.headers.get("Retry-After", 3)))
        if resp.status_code in (401, 403):
            raise AuthError(f"Kraken {endpoint}: HTTP {resp.status_code}")
        if resp.status_code >= 400 and not resp.content.lstrip().startswith(b"{"):
            raise ResponseError(f"Kraken {endpoint}: HTTP {resp.status_code} with a non-JSON body")
        return resp.content

    async def _public_once(self, endpoint: str, params: Mapping[str, str]) -> msgspec.Raw:
        async with self._public_lock:
            while (w := self._public.wait_for(1, self.clock())) > 0:  # noqa: ASYNC110
                await self.sleep(w)
            self._public.add(1, self.clock())
        req = self._client.build_request("GET", f"/0/public/{endpoint}", params=params or None)
        body = await self._send(endpoint, req)
        env = decode_envelope(endpoint, body)
        raise_for_errors(endpoint, env.error)
        return env.result

    async def _private_once(self, endpoint: str, params: Mapping[str, str], json_body: bool,
                            pair: str | None) -> msgspec.Raw:
        if self._creds is None:
            raise AuthError(f"Kraken {endpoint} is private: no credentials given"
                            " (set KRAKEN_API_KEY and KRAKEN_API_SECRET)")
        if endpoint in TRADING:
            await self.limiter.acquire_trade(endpoint, pair or "*", n_orders=int(params.get("_n", 1) or 1))
        else:
            await self.limiter.acquire_rest(endpoint)
        path = f"/0/private/{endpoint}"
        async with self._private_lock:
            nonce = str(self.nonce.next())
            if json_body:
                body = json.dumps({"nonce": nonce, **{k: v for k, v in params.items() if k != "_n"}},
                                  separators=(",", ":"))
                ctype = "application/json"
            else:
                body = urlencode([("nonce", nonce), *((k, v) for k, v in params.items() if k != "_n")])
                ctype = "application/x-www-form-urlencoded"
            headers = {"API-Key": self._creds.api_key, "API-Sign": self._creds.sign(path, body, nonce),
                       "Content-Type": ctype}
            req = self._client.build_request("POST", path, content=body.encode(), headers=headers)
            raw = await self._send(endpoint, req)
        env = decode_envelope(endpoint, raw)
        try:
            raise_for_errors(endpoint, env.error)
        except RateLimited:
            self.limiter.penalize(endpoint, pair)
            raise
        return env.result

    async def _call(self, endpoint: str, params: Mapping[str, Any] | None = None, *, private: bool = False,
                    idempotent: bool = True, json_body: bool = False, pair: str | None = None) -> msgspec.Raw:
        p = _clean(params or {}) if not json_body else dict(params or {})
        attempt = 0
        while True:
            try:
                if private:
                    return await self._private_once(endpoint, p, json_body, pair)
                return await self._public_once(endpoint, p)
            except RateLimited as e:
                wait = e.retry_after if e.retry_after is not None else self.backoff * 2 ** attempt
                if attempt >= self.rate_limit_retries:
                    raise
                log.info("Kraken %s rate limited; waiting %.1fs", endpoint, wait)
                await self.sleep(min(wait, self.max_backoff))
            except InvalidNonce as e:
                # refused before processing: safe to resend with a fresh (larger) nonce
                if attempt >= self.retries:
                    raise
                self.nonce.bump(self.nonce.last + 1000)
                log.warning("%s; retrying with a larger nonce", e)
            except VenueUnavailable:
                if not idempotent or attempt >= self.retries:
                    raise
                wait = min(self.backoff * 2 ** attempt, self.max_backoff)
                log.info("Kraken %s unavailable; retry %d in %.1fs", endpoint, attempt + 1, wait)
                await self.sleep(wait)
            attempt += 1

    async def _get(self, endpoint: str, tp: Any, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        raw = await self._call(endpoint, params, **kw)
        return decode_result(endpoint, raw, tp)

    # -- public ----------------------------------------------------------------------------

    async def time(self) -> ServerTime:
        """Return Kraken's clock (``/0/public/Time``)."""
        return await self._get("Time", ServerTime)

    async def system_status(self) -> SystemStatus:
        """Return ``online`` / ``maintenance`` / ``cancel_only`` / ``post_only``."""
        return await self._get("SystemStatus", SystemStatus)

    async def assets(self, assets: Sequence[str] | None = None) -> dict[str, AssetInfo]:
        """Return asset records keyed by Kraken asset id (``XXBT``, ``ZUSD``, ``SOL``)."""
        return await self._get("Assets", dict[str, AssetInfo], {"asset": assets})

    async def asset_pairs(self, pairs: Sequence[str] | None = None, info: str | None = None) -> dict[str, AssetPair]:
        """Return pair metadata keyed by Kraken's pair id (``XXBTZUSD``)."""
        return await self._get("AssetPairs", dict[str, AssetPair], {"pair": pairs, "info": info})

    async def ticker(self, pairs: Sequence[str] | str) -> dict[str, TickerInfo]:
        """Return ticker records keyed by the pair key Kraken answers with."""
        return await self._get("Ticker", dict[str, TickerInfo], {"pair": pairs})

    async def ohlc(self, pair: str, interval: int = 1, since: int | None = None) -> OHLCResult:
        """Return up to 720 candles (the last one still forming) and the ``last`` cursor."""
        if interval not in OHLC_INTERVALS:
            raise ValueError(f"interval must be one of {OHLC_INTERVALS} minutes, was {interval}")
        raw = await self._call("OHLC", {"pair": pair, "interval": interval, "since": since})
        key, rows, last = decode_keyed_rows("OHLC", raw, OHLCRow)
        last_v = decode_result("OHLC", last, int | str)
        try:
            return OHLCResult(pair=key, rows=rows, last=int(last_v))
        except ValueError:
            raise ResponseError(f"Kraken OHLC: unexpected response: `result.last` is {last_v!r}") from None

    async def ohlc_since(self, pair: str, interval: int, since: int, *, max_pages: int = 100) -> list[OHLCRow]:
        """Return committed candles with open time >= ``since`` (s), paging with ``since=last``.

        Kraken serves at most the 720 most recent candles whatever ``since`` is: older history
        must come from Trades or the OHLCVT archive. The forming candle is left out.
        """
        out: dict[int, OHLCRow] = {}
        cursor: int | None = since
        for _ in range(max_pages):
            res = await self.ohlc(pair, interval, cursor)
            for r in res.rows:
                if r.time >= since and r.time <= res.last:
                    out[r.time] = r
            if cursor is not None and res.last <= cursor:
                break
            cursor = res.last
            if not any(r.time > res.last for r in res.rows) and len(res.rows) < MAX_OHLC:
                break
        return [out[k] for k in sorted(out)]

    async def depth(self, pair: str, count: int | None = None) -> dict[str, DepthBook]:
        """Return the order book (``count`` levels per side, at most 500) keyed by pair."""
        return await self._get("Depth", dict[str, DepthBook], {"pair": pair, "count": count})

    async def trades(self, pair: str, since: int | str | None = None, count: int | None = None) -> TradesResult:
        """Return recent trades and the nanosecond ``last`` cursor (pass it as ``since``)."""
        raw = await self._call("Trades", {"pair": pair, "since": since, "count": count})
        key, rows, last = decode_keyed_rows("Trades", raw, TradeRow)
        last_v = decode_result("Trades", last, int | str)
        return TradesResult(pair=key, rows=rows, last=str(last_v))

    async def trades_since(self, pair: str, since_ns: int, until_ns: int | None = None, *, count: int = 1000,
                           max_pages: int = 1_000_000) -> AsyncIterator[TradesResult]:
        """Yield pages of public trades from ``since_ns``, following Kraken's ``last`` cursor.

        Stops at ``until_ns`` (exclusive), when a page is empty, or when the cursor stops
        moving (caught up). Rate limits are respected by the public limiter; the caller can
        persist ``page.last`` to resume.
        """
        cursor = str(since_ns)
        for _ in range(max_pages):
            page = await self.trades(pair, since=cursor, count=count)
            rows = [r for r in page.rows if until_ns is None or r.time * 1e9 < until_ns]
            if rows:
                yield TradesResult(pair=page.pair, rows=rows, last=page.last)
            if (not page.rows or page.last == cursor or len(rows) < len(page.rows)
                    or (until_ns is not None and int(page.last) >= until_ns)):
                return
            cursor = page.last

    # -- private: account ------------------------------------------------------------------

    async def balance(self) -> dict[str, str]:
        """Return balances by asset id; includes suffixed staking variants (filter with parse)."""
        return await self._get("Balance", dict[str, str], private=True)

    async def balance_ex(self) -> dict[str, BalanceExEntry]:
        """Return balances with ``hold_trade`` (reserved by open orders) by asset id."""
        return await self._get("BalanceEx", dict[str, BalanceExEntry], private=True)

    async def trade_balance(self, asset: str | None = None) -> TradeBalance:
        """Return the equity summary (``eb``, ``tb``, ``e``, ...), valued in ``asset`` (default USD)."""
        return await self._get("TradeBalance", TradeBalance, {"asset": asset}, private=True)

    async def open_orders(self, *, trades: bool = False, userref: int | None = None,
                          cl_ord_id: str | None = None) -> dict[str, OrderInfo]:
        """Return open orders by txid, optionally only the one with ``cl_ord_id``."""
        r = await self._get("OpenOrders", OpenOrdersResult,
                            {"trades": trades or None, "userref": userref, "cl_ord_id": cl_ord_id}, private=True)
        return r.open

    async def closed_orders(self, *, trades: bool = False, userref: int | None = None, cl_ord_id: str | None = None,
                            start: int | float | str | None = None, end: int | float | str | None = None,
                            ofs: int | None = None, closetime: str | None = None) -> ClosedOrdersResult:
        """Return closed/cancelled orders (50 per page, newest first) and their total ``count``."""
        return await self._get("ClosedOrders", ClosedOrdersResult,
                               {"trades": trades or None, "userref": userref, "cl_ord_id": cl_ord_id,
                                "start": start, "end": end, "ofs": ofs, "closetime": closetime}, private=True)

    async def query_orders(self, txids: Sequence[str], *, trades: bool = False) -> dict[str, OrderInfo]:
        """Return the orders with these txids (any status)."""
        if not txids:
            raise ValueError("query_orders needs at least one txid")
        return await self._get("QueryOrders", dict[str, OrderInfo],
                               {"txid": list(txids), "trades": trades or None}, private=True)

    async def trades_history(self, *, start: int | float | str | None = None, end: int | float | str | None = None,
                             ofs: int | None = None, type: str | None = None) -> TradesHistoryResult:
        """Return the account's fills (50 per page, newest first) and their total ``count``."""
        return await self._get("TradesHistory", TradesHistoryResult,
                               {"type": type, "start": start, "end": end, "ofs": ofs}, private=True)

    async def get_websockets_token(self) -> WebSocketsToken:
        """Return a token for private WebSocket channels (use within 15 minutes)."""
        return await self._get("GetWebSocketsToken", WebSocketsToken, private=True)

    async def trade_volume(self, pairs: Sequence[str] | None = None) -> TradeVolumeResult:
        """Return the 30-day volume and the account's taker/maker fees (percent) for ``pairs``."""
        return await self._get("TradeVolume", TradeVolumeResult, {"pair": pairs}, private=True)

    # -- private: trading ------------------------------------------------------------------

    async def find_order(self, cl_ord_id: str, *, since: float | None = None) -> tuple[str, OrderInfo] | None:
        """Return ``(txid, order)`` of the order with ``cl_ord_id`` (open or closed), else None."""
        # match on the echoed cl_ord_id, never on "the filter returned something": a venue that
        # ignored the filter must not make an unrelated order look like ours
        found = await self.open_orders(cl_ord_id=cl_ord_id)
        for txid, info in found.items():
            if info.cl_ord_id == cl_ord_id:
                return txid, info
        closed = await self.closed_orders(cl_ord_id=cl_ord_id, start=int(since) if since else None)
        for txid, info in closed.closed.items():
            if info.cl_ord_id == cl_ord_id:
                return txid, info
        return None

    async def add_order(self, params: Mapping[str, str]) -> AddOrderResult:
        """Place one order (params from :func:`~tradejet.adapters.kraken.orders.build_add_order`).

        If the answer is lost (timeout, 5xx, connection reset, ``EService:*``) the order may
        or may not exist. The client then looks the order up by ``cl_ord_id`` (OpenOrders,
        ClosedOrders), up to ``lost_order_checks`` times; it resends the SAME order only when
        Kraken has no such order, and raises VenueUnavailable ("outcome unknown") if it cannot
        find out. It never resends blindly.
        """
        p = dict(params)
        if "userref" in p and "cl_ord_id" not in p:
            raise ValueError("add_order needs cl_ord_id (not userref) to be safe against lost responses")
        p.setdefault("cl_ord_id", new_cl_ord_id())
        cl = p["cl_ord_id"]
        validate = str(p.get("validate", "")).lower() == "true"
        t0 = time.time()
        attempt = 0
        while True:
            try:
                raw = await self._call("AddOrder", p, private=True, idempotent=validate, pair=p.get("pair"))
                return decode_result("AddOrder", raw, AddOrderResult)
            except OrderRejected:
                # a resend refused (e.g. cl_ord_id already used by an open order): the first
                # attempt may have landed after our lookup; ask once more before reporting it
                if attempt == 0 or validate:
                    raise
                hit = await self.find_order(cl, since=t0 - 60)
                if hit is None:
                    raise
                return AddOrderResult(descr=AddOrderDescr(order=hit[1].descr.order), txid=[hit[0]])
            except VenueUnavailable as e:
                if validate or attempt >= self.retries:
                    raise
                log.warning("Kraken AddOrder %s: answer lost (%s); asking Kraken before resending", cl, e)
                hit = await self._lookup_lost(cl, t0, e)
                if hit is not None:
                    txid, info = hit
                    log.info("Kraken AddOrder %s was placed as %s; not resending", cl, txid)
                    return AddOrderResult(descr=AddOrderDescr(order=info.descr.order), txid=[txid])
                await self.sleep(min(self.backoff * 2 ** attempt, self.max_backoff))
            attempt += 1

    async def _lookup_lost(self, cl: str, t0: float, cause: Exception) -> tuple[str, OrderInfo] | None:
        for check in range(self.lost_order_checks):
            if check:
                await self.sleep(self.lost_order_delay)
            try:
                hit = await self.find_order(cl, since=t0 - 60)
            except VenueUnavailable as e:
                raise VenueUnavailable(f"Kraken AddOrder {cl}: outcome unknown (answer lost, and the lookup"
                                       f" failed: {e}); not resent — reconcile before placing it again") from cause
            if hit is not None:
                return hit
        return None

    async def add_order_batch(self, pair: str, orders: Sequence[Mapping[str, str]], *, validate: bool = False,
                              deadline: str | None = None) -> AddOrderBatchResult:
        """Place 2-15 orders on one pair in one JSON request (not retried when the answer is lost)."""
        if not 2 <= len(orders) <= 15:
            raise ValueError(f"AddOrderBatch takes 2..15 orders, was {len(orders)}")
        body: dict[str, Any] = {"pair": pair, "orders": [{k: v for k, v in o.items() if k != "pair"} for o in orders]}
        if deadline:
            body["deadline"] = deadline
        if validate:
            body["validate"] = True
        body["_n"] = len(orders)
        raw = await self._call("AddOrderBatch", body, private=True, idempotent=False, json_body=True, pair=pair)
        return decode_result("AddOrderBatch", raw, AddOrderBatchResult)

    async def amend_order(self, *, txid: str | None = None, cl_ord_id: str | None = None,
                          order_qty: str | None = None, limit_price: str | None = None,
                          trigger_price: str | None = None, post_only: bool | None = None,
                          pair: str | None = None) -> AmendOrderResult:
        """Amend an open order in place (same id; keeps queue priority where Kraken allows)."""
        if (txid is None) == (cl_ord_id is None):
            raise ValueError("amend_order needs exactly one of txid or cl_ord_id")
        return await self._get("AmendOrder", AmendOrderResult,
                               {"txid": txid, "cl_ord_id": cl_ord_id, "order_qty": order_qty,
                                "limit_price": limit_price, "trigger_price": trigger_price, "post_only": post_only},
                               private=True, idempotent=False, pair=pair)

    async def edit_order(self, txid: str, pair: str, *, volume: str | None = None, price: str | None = None,
                         price2: str | None = None, oflags: str | None = None) -> EditOrderResult:
        """Replace an open order (cancel-and-replace: a new txid); prefer :meth:`amend_order`."""
        return await self._get("EditOrder", EditOrderResult,
                               {"txid": txid, "pair": pair, "volume": volume, "price": price, "price2": price2,
                                "oflags": oflags}, private=True, idempotent=False, pair=pair)

    async def cancel_order(self, *, txid: str | None = None, cl_ord_id: str | None = None,
                           pair: str | None = None) -> CancelOrderResult:
        """Cancel one order; an unknown (or already closed) order raises UnknownOrder.

        When the answer is lost, the order is looked up first: if it is no longer open the
        cancel is reported done (``count`` 1 if it ended cancelled, else 0); only a still-open
        order is cancelled again.
        """
        if (txid is None) == (cl_ord_id is None):
            raise ValueError("cancel_order needs exactly one of txid or cl_ord_id")
        attempt = 0
        while True:
            try:
                return await self._get("CancelOrder", CancelOrderResult, {"txid": txid, "cl_ord_id": cl_ord_id},
                                       private=True, idempotent=False, pair=pair)
            except VenueUnavailable:
                if attempt >= self.retries:
                    raise
                info = await self._order_state(txid, cl_ord_id)
                if info is not None and info.status != "open" and info.status != "pending":
                    return CancelOrderResult(count=1 if info.status == "canceled" else 0)
                await self.sleep(min(self.backoff * 2 ** attempt, self.max_backoff))
            attempt += 1

    async def _order_state(self, txid: str | None, cl_ord_id: str | None) -> OrderInfo | None:
        if txid is not None:
            return (await self.query_orders([txid])).get(txid)
        hit = await self.find_order(cl_ord_id or "")
        return hit[1] if hit else None

    async def cancel_all(self) -> CancelOrderResult:
        """Cancel every open order of the account; return how many."""
        return await self._get("CancelAll", CancelOrderResult, private=True)

    async def cancel_all_orders_after(self, timeout: int) -> CancelAllOrdersAfterResult:
        """Arm (``timeout`` s) or disarm (0) the dead-man's switch; re-arm every 15-30 s."""
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0, was {timeout}")
        return await self._get("CancelAllOrdersAfter", CancelAllOrdersAfterResult, {"timeout": timeout},
                               private=True)

