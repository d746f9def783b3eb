"""KrakenVenue: the :class:`~tradejet.engine.ports.ExecutionVenue` over Kraken Spot (REST + WebSocket v2).

Market data: closed candles from the WebSocket v2 ``ohlc`` channel. Kraken sends the
forming candle with no "closed" flag; :class:`~tradejet.adapters.kraken.ws.CandleTracker`
emits a candle only when the next interval begins, so a forming candle never reaches the
strategies. After a reconnect (or a stale feed) the missed candles are refilled over REST
``OHLC`` before any newer one is handed out, so the bars stay in order with no hole.

Executions: the WebSocket ``executions`` channel is a hint that something happened; the
truth comes from REST (``QueryOrders`` by txid, ``TradesHistory`` for the fills, ``OpenOrders``
/ ``ClosedOrders`` by ``cl_ord_id`` for an order whose AddOrder answer was lost). An order is
never taken as rejected because it is missing from ``OpenOrders``: a fast fill closes an
order before anyone looks. Fills of one candle are handed out before the candle itself.

Orders: ``client_order_id`` goes to Kraken as ``cl_ord_id`` (made before sending, reused on
any retry; :meth:`KrakenHttp.add_order` asks Kraken for it before resending a lost one);
prices are rounded to the tick, volumes down to the lot; a sell is capped at the spot
balance actually held (after fees, which Kraken charges in quote here), and ``ordermin``
/ ``costmin`` are checked before anything is sent: a refusal becomes an
:class:`~tradejet.messages.OrderRejected` event, never an exception in the engine.

Balances come from ``BalanceEx``; staking and other suffixed balances (``.S``, ``.F``,
``.M``, ``.B``, ``.HOLD``) are never taken as spot.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from tradejet.adapters.kraken.errors import InvalidArguments, OrderMinimumNotMet, UnknownOrder
from tradejet.adapters.kraken.orders import round_volume, submit_params, valid_cl_ord_id
from tradejet.adapters.kraken.parse import execution_fill, ohlc_bars, seconds_to_ns, spot_balances, trade_fill
from tradejet.adapters.kraken.schemas import AssetPair, OrderInfo
from tradejet.adapters.kraken.ws import CandleTracker, KrakenWs, WsEvent
from tradejet.errors import ConfigError, OrderRejected, VenueUnavailable
from tradejet.kernels.codes import Side
from tradejet.messages import (
    Balance,
    Bar,
    BarsComplete,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderStatusReport,
    Position,
    SubmitOrder,
)
from tradejet.messages import OrderRejected as OrderRejectedEvent

__all__ = ["KrakenVenue", "canonical_asset", "canonical_pair_symbol"]

log = logging.getLogger(__name__)
NS = 1_000_000_000
_ALT = {"XBT": "BTC", "XDG": "DOGE"}
_DONE = ("closed", "canceled", "expired")


def canonical_asset(asset_id: str, altname: str | None = None) -> str:
    """Return the canonical asset name of a Kraken asset id (``XXBT`` -> ``BTC``, ``ZUSD`` -> ``USD``).

    >>> canonical_asset("XXBT", "XBT"), canonical_asset("ZUSD"), canonical_asset("SOL")
    ('BTC', 'USD', 'SOL')
    """
    name = altname or (asset_id[1:] if len(asset_id) == 4 and asset_id[0] in "XZ" else asset_id)
    return _ALT.get(name, name)


def canonical_pair_symbol(wsname: str) -> str:
    """Return the canonical symbol of a Kraken ``wsname`` (``XBT/USD`` -> ``BTC/USD``).

    >>> canonical_pair_symbol("XDG/USD")
    'DOGE/USD'
    """
    base, _, quote = wsname.partition("/")
    return f"{_ALT.get(base, base)}/{_ALT.get(quote, quote)}"


class _Tracked:
    """One order this venue sent (or found) and still watches."""

    __slots__ = ("cid", "symbol", "side", "qty", "txid", "state", "seen", "t_sent", "lookups", "sent_qty", "seen_qty")

    def __init__(self, cid: str, symbol: str, side: int, qty: float, sent_qty: float):
        self.cid = cid
        self.symbol = symbol
        self.side = side
        self.qty = qty
        self.sent_qty = sent_qty
        self.txid: str | None = None
        self.state = "sent"  # sent | unknown (answer lost) | open | done
        self.seen: set[str] = set()
        self.seen_qty = 0.0
        self.t_sent = time.time()
        self.lookups = 0



async def next_item(q: asyncio.Queue, timeout: float):
    """The next item of ``q``, or None after ``timeout`` seconds.

    Not ``asyncio.wait_for``: on Python 3.11 it returns the item when a cancellation lands in
    the same turn of the loop as the item (CPython gh-86296, fixed in 3.12), so the task goes
    on as if never cancelled. The live session's kill switch cancels the task that reads here;
    with bars, fills and hints arriving, that cancellation was lost now and then."""
    try:
        async with asyncio.timeout(timeout):
            return await q.get()
    except TimeoutError:
        return None

class KrakenVenue:
    """Kraken Spot as an :class:`~tradejet.engine.ports.ExecutionVenue`.

    Parameters
    ----------
    http : a :class:`~tradejet.adapters.kraken.http.KrakenHttp` (with credentials for trading).
    symbols : the universe, canonical (``BTC/USD``); also the WebSocket v2 symbols.
    interval_min : the candle interval in minutes (a Kraken OHLC interval).
    ws_public, ws_private : WebSocket v2 URLs (one connection when equal, as on the sandbox);
        ``None`` for no WebSocket (REST-only use: reconciliation, tests).
    ws_factory : ``(url, token) -> KrakenWs`` (tests inject the connect function).
    poll_s : while orders work, ask REST at least this often even without a WebSocket hint.
    unknown_after : an order whose AddOrder answer was lost and that Kraken still does not
        list after this many lookups is reported rejected.
    """

    name = "kraken"

    def __init__(self, http, *, symbols: list[str], interval_min: int = 60, ws_public: str | None = None,
                 ws_private: str | None = None, ws_factory: Callable[..., KrakenWs] | None = None,
                 poll_s: float = 5.0, unknown_after: int = 3, clock: Callable[[], float] = time.time):
        self.http = http
        self.symbols = list(symbols)
        self.interval_min = int(interval_min)
        self.tf_ns = self.interval_min * 60 * NS
        self.ws_public = ws_public
        self.ws_private = ws_private
        self._ws_factory = ws_factory or (lambda url, token: KrakenWs(url, token=token))
        self.poll_s = poll_s
        self.unknown_after = unknown_after
        self.clock = clock
        self.pair_key: dict[str, str] = {}       # symbol -> Kraken pair key (XXBTZUSD)
        self.meta: dict[str, AssetPair] = {}     # symbol -> AssetPairs record
        self.symbol_of: dict[str, str] = {}      # pair key / altname / wsname -> symbol
        self.asset_of: dict[str, str] = {}       # Kraken asset id -> canonical name
        self.base_id: dict[str, str] = {}        # symbol -> Kraken base asset id
        self.last_close: dict[str, float] = {}
        self.trackers = {s: CandleTracker(s, self.interval_min) for s in self.symbols}
        self._orders: dict[str, _Tracked] = {}
        self._by_txid: dict[str, str] = {}
        self._queue: list[Any] = []               # events made outside events() (submit answers)
        self._hint = False
        self._hints: dict[str, OrderFilled] = {}  # trade id -> the WebSocket's account of it (unconfirmed)
        self._last_sync = 0.0
        self._ws: list[KrakenWs] = []
        self.fills_floor_ns: int | None = None    # fills_since(None) looks back to here
        self._emitted: dict[str, int] = {}        # symbol -> newest bar handed out
        self.gaps_refilled = 0
        self.bars_refilled = 0
        self._started = False
        self.private = True  # False: market data only (paper fills on live data)

    def __repr__(self) -> str:
        return f"KrakenVenue(http={self.http!r}, symbols={self.symbols!r})"

    # ------------------------------------------------------------------ setup
    async def start(self) -> None:
        """Load pair and asset metadata (AssetPairs, Assets) and map the universe onto Kraken's names."""
        if self._started:
            return
        pairs = await self.http.asset_pairs()
        assets = await self.http.assets()
        for aid, rec in assets.items():
            self.asset_of[aid] = canonical_asset(aid, rec.altname)
        by_symbol: dict[str, tuple[str, AssetPair]] = {}
        for key, rec in pairs.items():
            if rec.wsname is None or key.endswith(".d"):
                continue
            by_symbol.setdefault(canonical_pair_symbol(rec.wsname), (key, rec))
        missing = [s for s in self.symbols if s not in by_symbol]
        if missing:
            raise ConfigError(f"Kraken lists no pair for {missing}", key="universe.symbols")
        for s in self.symbols:
            key, rec = by_symbol[s]
            self.pair_key[s] = key
            self.meta[s] = rec
            self.base_id[s] = rec.base
            for name in (key, rec.altname, rec.wsname, s):
                if name:
                    self.symbol_of[name] = s
        self._started = True

    def _symbol(self, pair: str) -> str:
        return self.symbol_of.get(pair, pair)

    async def history(self, symbol: str) -> list[Bar]:
        """Return the closed candles REST OHLC serves now (at most 720; the forming one left out)."""
        res = await self.http.ohlc(self.pair_key[symbol], self.interval_min)
        return ohlc_bars(symbol, res, self.interval_min)

    def set_last_bar(self, symbol: str, ts: int) -> None:
        """Tell the candle tracker that bars up to ``ts`` were handed out (warm-up, a restart)."""
        t = self.trackers[symbol]
        if t.last_closed_ts is None or ts > t.last_closed_ts:
            t.last_closed_ts = ts
        if ts > self._emitted.get(symbol, -1):
            self._emitted[symbol] = ts

    # ------------------------------------------------------------------ orders
    async def submit(self, order: SubmitOrder) -> None:
        """Send one order (idempotent by ``client_order_id``); the answer arrives as an event."""
        cid = order.client_order_id
        if cid in self._orders:
            return
        sym = order.symbol
        if sym not in self.pair_key:
            self._reject(cid, f"unknown symbol {sym!r}")
            return
        if not valid_cl_ord_id(cid):
            self._reject(cid, f"client order id {cid!r} is not a cl_ord_id Kraken takes (a UUID, or text of at "
                              f"most 18 characters)")
            return
        qty = order.qty
        if order.side == Side.SELL:
            held = await self._held(sym)
            if held < qty:
                log.info("%s: sell %s capped at the %s held", cid, qty, held)
                qty = held
        try:
            if not qty > 0:
                raise OrderMinimumNotMet(f"{sym}: nothing to sell (balance {qty})")
            vol = float(round_volume(qty, self.meta[sym]))
            o = order if vol == order.qty else _with_qty(order, vol)
            params = submit_params(o, self.pair_key[sym], self.meta[sym], ref_price=self.last_close.get(sym))
        except (OrderMinimumNotMet, InvalidArguments) as e:
            self._orders[cid] = t = _Tracked(cid, sym, order.side, order.qty, 0.0)
            t.state = "done"
            self._reject(cid, str(e))
            return
        t = _Tracked(cid, sym, order.side, order.qty, vol)
        self._orders[cid] = t
        try:
            res = await self.http.add_order(params)
        except VenueUnavailable as e:
            # outcome unknown: resolved by cl_ord_id in _sync, never resent blindly
            log.warning("%s: AddOrder outcome unknown (%s); will look it up", cid, e)
            t.state = "unknown"
            self._hint = True
            return
        except OrderRejected as e:
            t.state = "done"
            self._reject(cid, str(e))
            return
        if not res.txid:
            t.state = "done"
            self._reject(cid, "AddOrder answered without a txid")
            return
        self._accept(t, res.txid[0])

    def _accept(self, t: _Tracked, txid: str) -> None:
        t.txid = txid
        t.state = "open"
        self._by_txid[txid] = t.cid
        self._queue.append(OrderAccepted(client_order_id=t.cid, venue_order_id=txid, ts_event=time.time_ns()))

    def _reject(self, cid: str, reason: str) -> None:
        self._queue.append(OrderRejectedEvent(client_order_id=cid, reason=reason, ts_event=time.time_ns()))

    async def _held(self, symbol: str) -> float:
        base = self.asset_of.get(self.base_id[symbol], symbol.split("/", 1)[0])
        for b in await self.balances():
            if b.asset == base:
                return max(0.0, b.available)
        return 0.0

    async def cancel(self, client_order_id: str) -> None:
        """Cancel an order if it still works (unknown or finished: no-op); the result comes from REST."""
        t = self._orders.get(client_order_id)
        if t is not None and t.state == "done":
            return
        try:
            if t is not None and t.txid:
                await self.http.cancel_order(txid=t.txid, pair=self.pair_key.get(t.symbol))
            else:
                await self.http.cancel_order(cl_ord_id=client_order_id)
        except UnknownOrder:
            pass
        self._hint = True

    async def cancel_all(self) -> int:
        """Cancel every open order of the account (the kill switch); return how many."""
        res = await self.http.cancel_all()
        self._hint = True
        return res.count

    async def arm_dead_mans_switch(self, timeout: int) -> str:
        """Arm Kraken's CancelAllOrdersAfter for ``timeout`` seconds (0 disarms); return the trigger time."""
        res = await self.http.cancel_all_orders_after(timeout)
        return res.triggerTime

    # ------------------------------------------------------------------ the account (REST: the truth)
    async def open_orders(self) -> list[OrderStatusReport]:
        from tradejet.adapters.kraken.parse import order_report

        out = await self.http.open_orders()
        return [order_report(txid, info, self._symbol(info.descr.pair)) for txid, info in out.items()]

    async def balances(self) -> list[Balance]:
        raw = await self.http.balance_ex()
        return [Balance(asset=self.asset_of.get(b.asset, canonical_asset(b.asset)), total=b.total,
                        available=b.available) for b in spot_balances(raw)]

    async def positions(self) -> list[Position]:
        bal = {b.asset: b.total for b in await self.balances()}
        out = []
        for s in self.symbols:
            q = bal.get(self.asset_of.get(self.base_id[s], s.split("/", 1)[0]), 0.0)
            if q != 0.0:
                out.append(Position(symbol=s, qty=q, avg_price=math.nan))
        return out

    async def order_state(self, client_order_id: str) -> OrderStatusReport | None:
        """Kraken's view of one order by ``cl_ord_id`` (open or closed), or None when it has none."""
        from tradejet.adapters.kraken.parse import order_report

        hit = await self.http.find_order(client_order_id)
        if hit is None:
            return None
        txid, info = hit
        return order_report(txid, info, self._symbol(info.descr.pair))

    async def fills_since(self, ts: int | None) -> list[OrderFilled]:
        """Executions with ``ts_event >= ts`` from TradesHistory (all pages), oldest first.

        ``ts=None`` looks back to :attr:`fills_floor_ns` (the last fill the caller knows), or
        the account's whole history when that is unset.
        """
        since = ts if ts is not None else self.fills_floor_ns
        start = None if since is None else since / NS - 1.0
        rows: dict[str, Any] = {}
        ofs = 0
        while True:
            page = await self.http.trades_history(start=start, ofs=ofs or None)
            rows.update(page.trades)
            ofs += len(page.trades)
            if not page.trades or ofs >= page.count:
                break
        unknown = sorted({tr.ordertxid for tr in rows.values() if tr.ordertxid not in self._by_txid
                          and not tr.cl_ord_id})
        for i in range(0, len(unknown), 50):
            for txid, info in (await self.http.query_orders(unknown[i:i + 50])).items():
                if info.cl_ord_id:
                    self._by_txid[txid] = info.cl_ord_id
        out = []
        for tid, tr in rows.items():
            f = trade_fill(tid, tr, client_order_id=self._by_txid.get(tr.ordertxid) or tr.cl_ord_id or "",
                           symbol=self._symbol(tr.pair))
            if since is None or f.ts_event >= since:
                out.append(f)
        out.sort(key=lambda f: (f.ts_event, f.trade_id))
        return out

    def adopt(self, client_order_id: str, symbol: str, side: int, qty: float, txid: str | None = None) -> None:
        """Watch an order sent by an earlier run (a restart); its executions come through events()."""
        if client_order_id in self._orders:
            return
        t = _Tracked(client_order_id, symbol, side, qty, qty)
        t.state = "open" if txid else "unknown"
        t.txid = txid
        if txid:
            self._by_txid[txid] = client_order_id
        self._orders[client_order_id] = t
        self._hint = True

    def mark_seen(self, fills: list[OrderFilled]) -> None:
        """Fills the caller already has (a restart): never handed out again."""
        for f in fills:
            t = self._orders.get(f.client_order_id)
            if t is not None and f.trade_id not in t.seen:
                t.seen.add(f.trade_id)
                t.seen_qty += f.qty

    # ------------------------------------------------------------------ REST sync: executions
    async def sync(self) -> list[Any]:
        """Ask REST about every working order; return the executions and closures since the last ask."""
        self._hint = False
        self._last_sync = time.monotonic()
        out: list[Any] = []
        for t in [t for t in self._orders.values() if t.state == "unknown"]:
            t.lookups += 1
            hit = await self.http.find_order(t.cid)
            if hit is not None:
                self._accept(t, hit[0])
            elif t.lookups >= self.unknown_after:
                t.state = "done"
                self._reject(t.cid, "Kraken has no order with this cl_ord_id after a lost AddOrder answer")
            else:
                self._hint = True
        out += self._drain()
        live = [t for t in self._orders.values() if t.state == "open" and t.txid]
        infos: dict[str, OrderInfo] = {}
        for i in range(0, len(live), 50):
            infos.update(await self.http.query_orders([t.txid for t in live[i:i + 50]], trades=True))
        want: dict[str, _Tracked] = {}
        for t in live:
            info = infos.get(t.txid or "")
            if info is None:
                continue
            new = [x for x in (info.trades or []) if x not in t.seen]
            if new or float(info.vol_exec) > t.seen_qty * (1 + 1e-9) + 1e-12:
                want[t.txid or ""] = t
        fills: list[OrderFilled] = []
        rest_needed: dict[str, _Tracked] = {}
        for txid, t in want.items():
            info = infos[txid]
            new = [x for x in (info.trades or []) if x not in t.seen]
            hinted = [self._hints.get(x) for x in new]
            if new and all(h is not None for h in hinted):
                # the WebSocket told us the details; REST's vol_exec and trade ids confirm them
                got = sum(h.qty for h in hinted) + t.seen_qty
                if abs(got - float(info.vol_exec)) <= 1e-9 * max(1.0, got):
                    for x, h in zip(new, hinted):
                        t.seen.add(x)
                        t.seen_qty += h.qty
                        fills.append(_with_cid(h, t.cid, t.symbol))
                        self._hints.pop(x, None)
                    continue
            rest_needed[txid] = t
        if rest_needed:
            trades: dict[str, Any] = {}
            t_min = min(float(infos[x].opentm) for x in rest_needed)
            ofs = 0
            while True:
                page = await self.http.trades_history(start=t_min - 1.0, ofs=ofs or None)
                trades.update({k: v for k, v in page.trades.items() if v.ordertxid in rest_needed})
                ofs += len(page.trades)
                if not page.trades or ofs >= page.count:
                    break
            for tid, tr in trades.items():
                t = rest_needed[tr.ordertxid]
                if tid in t.seen:
                    continue
                t.seen.add(tid)
                t.seen_qty += float(tr.vol)
                self._hints.pop(tid, None)
                fills.append(trade_fill(tid, tr, client_order_id=t.cid, symbol=t.symbol))
        fills.sort(key=lambda f: (f.ts_event, f.trade_id))
        out += fills
        for t in live:
            info = infos.get(t.txid or "")
            if info is None or info.status not in _DONE:
                continue
            done_qty = float(info.vol_exec)
            if info.trades is not None and set(info.trades) - t.seen:
                self._hint = True  # its last trades are not in TradesHistory yet: ask again
                continue
            t.state = "done"
            lot = 10.0 ** -self.meta[t.symbol].lot_decimals if t.symbol in self.meta else 1e-8
            if info.status != "closed" or t.qty - done_qty >= lot * (1 - 1e-9):  # less than a lot: done
                # cancelled, expired, or closed short of what the engine asked (a capped sell)
                out.append(OrderCanceled(client_order_id=t.cid, ts_event=seconds_to_ns(info.closetm or 0)))
        return out

    def _drain(self) -> list[Any]:
        out, self._queue = self._queue, []
        return out

    # ------------------------------------------------------------------ the event stream
    async def _pump(self, ws: KrakenWs, q: asyncio.Queue) -> None:
        try:
            async for ev in ws.events():
                await q.put(ev)
        except Exception as e:  # noqa: BLE001 - reported through the queue, raised in events()
            await q.put(e)

    async def events(self) -> AsyncIterator[Any]:
        """Yield executions and closed bars, forever (until :meth:`close`)."""
        await self.start()
        if self.ws_public is None:
            raise ConfigError("this Kraken venue has no WebSocket URL for market data", key="ws_url")
        q: asyncio.Queue = asyncio.Queue()
        token = self.http.get_websockets_token
        pub = self._ws_factory(self.ws_public, token)
        self._ws = [pub]
        priv = pub
        if self.ws_private and self.ws_private != self.ws_public:
            priv = self._ws_factory(self.ws_private, token)
            self._ws.append(priv)
        pub.candles.update({(s, self.interval_min): self.trackers[s] for s in self.symbols})
        await pub.subscribe("ohlc", self.symbols, interval=self.interval_min, snapshot=True)
        if self.private:
            await priv.subscribe("executions", None, snap_orders=True, snap_trades=False)
        tasks = [asyncio.create_task(self._pump(w, q)) for w in self._ws]
        pending: dict[int, set[str]] = {}
        try:
            while True:
                for ev in self._drain():
                    yield ev
                item = await next_item(q, self.poll_s)
                if isinstance(item, Exception):
                    raise VenueUnavailable(f"Kraken WebSocket failed: {type(item).__name__}: {item}") from item
                working = any(t.state in ("open", "unknown") for t in self._orders.values())
                if item is None:
                    if self._hint or working:
                        for ev in await self.sync():
                            yield ev
                    continue
                kind = item.kind
                if kind == "execution":
                    self._hint = True
                    d = item.data if isinstance(item.data, dict) else {}
                    try:
                        hint = execution_fill(d)
                    except (KeyError, TypeError, ValueError):
                        hint = None  # an unreadable hint: REST will tell
                    if hint is not None:
                        self._hints[hint.trade_id] = hint
                    # a fill hint: confirm now over REST; other hints wait for the next bar or poll
                    if d.get("exec_type") in ("trade", "filled", "canceled", "expired"):
                        for ev in await self.sync():
                            yield ev
                    continue
                if kind not in ("bar", "gap"):
                    continue
                if self._hint or (working and time.monotonic() - self._last_sync >= self.poll_s):
                    for ev in await self.sync():
                        yield ev
                if kind == "bar":
                    b0 = item.data
                    behind = [self._emitted[x] for x in self.symbols
                              if x != b0.symbol and x in self._emitted and self._emitted[x] < b0.ts - self.tf_ns]
                    # another symbol is a whole candle behind (a snapshot after a restart, a stale feed):
                    # bring every symbol up to date from REST first, so no cross-section is stepped half-full
                    bars = (await self._refill_from(min(behind) + self.tf_ns, b0.symbol) if behind else []) + [b0]
                else:
                    bars = await self._refill(item)
                for b in bars:
                    if b.ts <= self._emitted.get(b.symbol, -1):
                        continue  # handed out already (a refill covered it)
                    self._emitted[b.symbol] = b.ts
                    self.last_close[b.symbol] = b.close
                    yield b
                    got = pending.setdefault(b.ts, set())
                    got.add(b.symbol)
                    if len(got) == len(self.symbols):
                        del pending[b.ts]
                        for old in [x for x in pending if x < b.ts]:
                            del pending[old]
                        yield BarsComplete(ts=b.ts)
        finally:
            for w in self._ws:
                await w.close()
            for task in tasks:
                task.cancel()

    async def _refill(self, gap: WsEvent) -> list[Bar]:
        """Every committed candle since the gap began, for EVERY symbol, in time order (never a forming one).

        A reconnect opens the same hole in every symbol's feed; refilling them together keeps
        each timestamp's cross-section whole (one symbol refilled alone would step the engine
        on partial cross-sections). Candles already handed out are dropped by the caller.
        """
        sym = gap.symbol or ""
        if self._emitted.get(sym, -1) >= int(gap.data["end_ns"]) - self.tf_ns:
            return []  # an earlier refill covered this symbol's hole
        return await self._refill_from(int(gap.data["start_ns"]), sym)

    async def _refill_from(self, start_ns: int, why: str) -> list[Bar]:
        since = start_ns // NS - self.interval_min * 60
        rows: list[tuple[int, int, Bar]] = []
        for i, s in enumerate(self.symbols):
            res = await self.http.ohlc(self.pair_key[s], self.interval_min, since=since)
            for b in ohlc_bars(s, res, self.interval_min):
                if b.ts >= start_ns and b.ts > self._emitted.get(s, -1):
                    rows.append((b.ts, i, b))
        rows.sort(key=lambda r: (r[0], r[1]))
        bars = [r[2] for r in rows]
        for b in bars:
            t = self.trackers[b.symbol]
            if t.last_closed_ts is None or b.ts > t.last_closed_ts:
                t.last_closed_ts = b.ts
        self.gaps_refilled += 1
        self.bars_refilled += len(bars)
        log.info("refilled %d missed candles over REST (%s, from %d)", len(bars), why, start_ns)
        return bars

    async def close(self) -> None:
        """Close the WebSocket connections (the REST client belongs to the caller)."""
        for w in self._ws:
            await w.close()


def _with_cid(f: OrderFilled, cid: str, symbol: str) -> OrderFilled:
    import msgspec

    return msgspec.structs.replace(f, client_order_id=cid, symbol=symbol)


def _with_qty(order: SubmitOrder, qty: float) -> SubmitOrder:
    import msgspec

    return msgspec.structs.replace(order, qty=qty)

