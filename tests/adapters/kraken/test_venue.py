"""KrakenVenue: against a fake Kraken on httpx.MockTransport, then against the sandbox on 127.0.0.1."""

from __future__ import annotations

import asyncio
import math
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.adapters.kraken.conftest import FakeClock, err, form, ok
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.sandbox import Sandbox
from tradejet.adapters.kraken.sandbox.pairs import ASSETS, PAIRS
from tradejet.adapters.kraken.venue import KrakenVenue
from tradejet.adapters.kraken.ws import KrakenWs
from tradejet.kernels.codes import OrderType, Side
from tradejet.messages import Bar, BarsComplete, OrderAccepted, OrderCanceled, OrderFilled, OrderRejected, SubmitOrder

NS = 1_000_000_000


class FakeKraken:
    """Just enough of Kraken's private API, with the faults the venue must survive."""

    def __init__(self):
        self.calls: list[str] = []
        self.bodies: dict[str, list[dict]] = {}
        self.orders: dict[str, dict] = {}
        self.trades: dict[str, dict] = {}
        self.balance = {"ZUSD": {"balance": "10000.0000", "hold_trade": "0.0000"}}
        self.lose_add = 0          # AddOrder placed, answer lost (timeout)
        self.fail_lookup = 0       # OpenOrders answers 500 this many times
        self.fill = "full"         # what a new order does at once: full | none | part
        self.n = 0

    def place(self, p: dict) -> str:
        self.n += 1
        txid = f"OTX{self.n:03d}-AAAAA-BBBBBB"
        vol = float(p["volume"])
        o = {"status": "open", "opentm": 1700000000.0 + self.n, "cl_ord_id": p.get("cl_ord_id"),
             "descr": {"pair": "XBTUSD", "type": p["type"], "ordertype": p["ordertype"], "price": p.get("price", "0"),
                       "price2": "0", "leverage": "none", "order": f"{p['type']} {p['volume']} XBTUSD"},
             "vol": p["volume"], "vol_exec": "0.00000000", "cost": "0", "fee": "0", "price": "0", "trades": []}
        self.orders[txid] = o
        q = {"full": vol, "part": round(vol / 2, 8), "none": 0.0}[self.fill]
        if q > 0:
            tid = f"TT{self.n:03d}-CCCCC-DDDDDD"
            self.trades[tid] = {"ordertxid": txid, "pair": "XXBTZUSD", "time": 1700000000.5 + self.n,
                                "type": p["type"], "ordertype": p["ordertype"], "price": "85000.0",
                                "cost": f"{q * 85000:.5f}", "fee": f"{q * 85000 * 0.004:.5f}", "vol": f"{q:.8f}"}
            o["trades"].append(tid)
            o["vol_exec"] = f"{q:.8f}"
            o["price"] = "85000.0"
            if q >= vol:
                o["status"], o["closetm"] = "closed", 1700000001.0 + self.n
        return txid

    def __call__(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[1]
        self.calls.append(name)
        p = form(request) if request.method == "POST" else dict(parse_qsl(request.url.query.decode()))
        self.bodies.setdefault(name, []).append(p)
        if name == "AssetPairs":
            return ok({k: PAIRS[k] for k in ("XXBTZUSD", "XETHZUSD")})
        if name == "Assets":
            return ok(ASSETS)
        if name == "BalanceEx":
            return ok(self.balance)
        if name == "AddOrder":
            txid = self.place(p)
            if self.lose_add:
                self.lose_add -= 1
                raise httpx.ReadTimeout("answer lost", request=request)
            return ok({"descr": {"order": "x"}, "txid": [txid]})
        if name == "OpenOrders":
            if self.fail_lookup:
                self.fail_lookup -= 1
                return httpx.Response(500, text="<html>oops</html>")
            cl = p.get("cl_ord_id")
            return ok({"open": {t: o for t, o in self.orders.items() if o["status"] == "open"
                                and (not cl or o["cl_ord_id"] == cl)}})
        if name == "ClosedOrders":
            cl = p.get("cl_ord_id")
            closed = {t: o for t, o in self.orders.items() if o["status"] != "open" and (not cl or o["cl_ord_id"] == cl)}
            return ok({"closed": closed, "count": len(closed)})
        if name == "QueryOrders":
            return ok({t: self.orders[t] for t in p["txid"].split(",")})
        if name == "TradesHistory":
            return ok({"trades": self.trades, "count": len(self.trades)})
        if name == "CancelOrder":
            o = self.orders.get(p.get("txid", ""))
            if o is None or o["status"] != "open":
                return err("EOrder:Unknown order")
            o["status"], o["closetm"] = "canceled", 1700000100.0
            return ok({"count": 1})
        return err("EGeneral:Unknown method")


def _venue(fake: FakeKraken, creds, **kw) -> KrakenVenue:
    clock = FakeClock()
    http = KrakenHttp(creds, transport=httpx.MockTransport(fake), sleep=clock.sleep, clock=clock,
                      lost_order_delay=0.0)
    return KrakenVenue(http, symbols=["BTC/USD", "ETH/USD"], interval_min=60, **kw)


def _order(cid: str, qty: float, side: int = Side.BUY, **kw) -> SubmitOrder:
    return SubmitOrder(client_order_id=cid, symbol="BTC/USD", side=side, qty=qty, order_type=OrderType.MARKET,
                       ts_init=0, **kw)


def _run(coro):
    return asyncio.run(coro)


def test_a_lost_addorder_that_filled_at_once_is_accepted_and_filled_never_rejected(creds):
    fake = FakeKraken()
    fake.lose_add = 1  # placed, answer lost, and filled before anyone looks: not in OpenOrders

    async def main():
        v = _venue(fake, creds)
        await v.start()
        v.last_close["BTC/USD"] = 85000.0
        await v.submit(_order("tj-0", 0.01))
        return v._drain() + await v.sync()

    evs = _run(main())
    assert fake.calls.count("AddOrder") == 1  # looked up by cl_ord_id, never resent
    assert "ClosedOrders" in fake.calls
    assert [type(e) for e in evs] == [OrderAccepted, OrderFilled]
    acc, fill = evs
    assert acc.venue_order_id == "OTX001-AAAAA-BBBBBB"
    assert (fill.client_order_id, fill.trade_id, fill.qty, fill.price) == ("tj-0", "TT001-CCCCC-DDDDDD", 0.01, 85000.0)
    assert fill.fee == pytest.approx(0.01 * 85000 * 0.004)


def test_outcome_unknown_is_resolved_by_cl_ord_id_later(creds):
    fake = FakeKraken()
    fake.lose_add = 1
    fake.fail_lookup = 10  # the lookup fails too: outcome unknown, nothing resent

    async def main():
        v = _venue(fake, creds)
        await v.start()
        v.last_close["BTC/USD"] = 85000.0
        await v.submit(_order("tj-1", 0.01))
        first = v._drain()
        fake.fail_lookup = 0
        return first, await v.sync()

    first, later = _run(main())
    assert first == []  # no verdict while unknown: neither accepted nor rejected
    assert fake.calls.count("AddOrder") == 1
    assert [type(e) for e in later] == [OrderAccepted, OrderFilled]


def test_an_order_kraken_never_got_is_rejected_after_the_lookups(creds):
    fake = FakeKraken()

    async def main():
        v = _venue(fake, creds, unknown_after=2)
        await v.start()
        v.adopt("tj-ghost", "BTC/USD", Side.BUY, 0.01)  # a restart: an order the ledger has, Kraken not
        a = await v.sync()
        b = await v.sync()
        return a, b

    a, b = _run(main())
    assert a == []
    assert len(b) == 1 and isinstance(b[0], OrderRejected) and b[0].client_order_id == "tj-ghost"


def test_orders_are_rounded_and_minimums_checked_before_sending(creds):
    fake = FakeKraken()
    fake.fill = "none"

    async def main():
        v = _venue(fake, creds)
        await v.start()
        v.last_close["BTC/USD"] = 85000.0
        await v.submit(_order("tj-2", 0.123456789))
        await v.submit(SubmitOrder(client_order_id="tj-3", symbol="BTC/USD", side=Side.BUY, qty=0.01,
                                   order_type=OrderType.LIMIT, limit_price=84999.97, ts_init=0))
        await v.submit(_order("tj-4", 0.00001))  # below ordermin 0.00005
        await v.submit(_order("tj-2", 0.5))  # the same client id again: one order
        await v.submit(_order("a-client-id-longer-than-18", 0.01))  # Kraken takes <= 18 chars of text
        return v._drain()

    evs = _run(main())
    sent = fake.bodies["AddOrder"]
    assert len(sent) == 2
    assert sent[0]["volume"] == "0.12345678" and sent[0]["cl_ord_id"] == "tj-2"
    assert sent[1]["price"] == "85000.0" and sent[1]["ordertype"] == "limit"
    rej = [e for e in evs if isinstance(e, OrderRejected)]
    assert [r.client_order_id for r in rej] == ["tj-4", "a-client-id-longer-than-18"] and "ordermin" in rej[0].reason
    assert "18 characters" in rej[1].reason


def test_staking_balances_are_never_spot_and_exits_are_sized_from_what_is_held(creds):
    fake = FakeKraken()
    fake.balance = {"ZUSD": {"balance": "100.0000", "hold_trade": "0"},
                    "XXBT": {"balance": "0.5000000000", "hold_trade": "0.1000000000"},
                    "XBT.S": {"balance": "7.0"}, "XBT.M": {"balance": "3.0"}, "ETH.F": {"balance": "2.0"},
                    "ETH.B": {"balance": "1.0"}}

    async def main():
        v = _venue(fake, creds)
        await v.start()
        v.last_close["BTC/USD"] = 85000.0
        bal = {b.asset: b for b in await v.balances()}
        pos = await v.positions()
        await v.submit(_order("tj-5", 1.0, side=Side.SELL))  # asks for more than is free
        evs = v._drain() + await v.sync()
        return bal, pos, evs

    bal, pos, evs = _run(main())
    assert set(bal) == {"USD", "BTC"}
    assert (bal["BTC"].total, bal["BTC"].available) == (0.5, pytest.approx(0.4))
    assert [(p.symbol, p.qty) for p in pos] == [("BTC/USD", 0.5)]
    assert fake.bodies["AddOrder"][0]["volume"] == "0.40000000"
    # filled what was held; the engine's remainder is freed by a cancel, after the fill
    assert [type(e) for e in evs] == [OrderAccepted, OrderFilled, OrderCanceled]
    assert evs[1].qty == pytest.approx(0.4)


def test_a_partial_fill_is_booked_and_the_order_kept_until_it_ends(creds):
    fake = FakeKraken()
    fake.fill = "part"

    async def main():
        v = _venue(fake, creds)
        await v.start()
        v.last_close["BTC/USD"] = 85000.0
        await v.submit(_order("tj-6", 0.02))
        a = v._drain() + await v.sync()
        b = await v.sync()  # nothing new: nothing handed out twice
        await v.cancel("tj-6")
        c = await v.sync()
        return a, b, c

    a, b, c = _run(main())
    assert [type(e) for e in a] == [OrderAccepted, OrderFilled] and a[1].qty == 0.01
    assert b == []
    assert [type(e) for e in c] == [OrderCanceled]


def test_fills_since_learns_client_ids_of_orders_it_did_not_send(creds):
    fake = FakeKraken()

    async def main():
        v = _venue(fake, creds)
        await v.start()
        fake.place({"type": "buy", "ordertype": "market", "volume": "0.01", "cl_ord_id": "other-run-7"})
        return await v.fills_since(None)

    fills = _run(main())
    assert [(f.client_order_id, f.symbol, f.side, f.qty) for f in fills] == [("other-run-7", "BTC/USD", 1, 0.01)]
    assert "QueryOrders" in fake.calls


def test_unknown_universe_symbol_is_a_config_error(creds):
    from tradejet.errors import ConfigError

    fake = FakeKraken()

    async def main():
        v = KrakenVenue(KrakenHttp(creds, transport=httpx.MockTransport(fake)), symbols=["BTC/USD", "FOO/USD"])
        await v.start()

    with pytest.raises(ConfigError, match="FOO/USD"):
        _run(main())


def test_secrets_never_in_the_venue_repr(creds):
    from tests.adapters.kraken.conftest import DOC_SECRET

    v = _venue(FakeKraken(), creds)
    assert DOC_SECRET not in repr(v) and creds.api_key not in repr(v)


# ---------------------------------------------------------------------- against the sandbox


def _sandbox_session(scenario, symbols=("BTC/USD", "ETH/USD"), **sb_kw):
    async def main():
        async with Sandbox(seed=5, pairs=["XXBTZUSD", "XETHZUSD"], **sb_kw) as sb:
            async with KrakenHttp(sb.credentials, base_url=sb.base_url) as http:
                v = KrakenVenue(http, symbols=list(symbols), interval_min=1, ws_public=sb.ws_url, poll_s=0.2,
                                ws_factory=lambda url, token: KrakenWs(url, token=token, backoff=0.01))
                await v.start()
                for s in symbols:
                    hist = await v.history(s)
                    v.set_last_bar(s, hist[-1].ts)
                events: list = []

                async def pump():
                    async for ev in v.events():
                        events.append(ev)

                task = asyncio.get_running_loop().create_task(pump())
                try:
                    return await asyncio.wait_for(scenario(sb, v, events), 30)
                finally:
                    task.cancel()
                    await v.close()
    return asyncio.run(main())


async def _until(events, pred, n=1):
    for _ in range(1000):
        if sum(1 for e in events if pred(e)) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out; got {[type(e).__name__ for e in events][-20:]}")


def test_sandbox_bars_are_closed_whole_cross_sections_and_a_reconnect_refills_the_hole():
    async def scenario(sb, v, events):
        await asyncio.sleep(0.3)  # subscribed; the snapshot's candles are all handed out already
        sb.advance(2)
        await _until(events, lambda e: isinstance(e, BarsComplete), 2)
        # drop the connection and move the market further than the snapshot reaches back
        sb.disconnect_ws()
        sb.advance(14)
        await _until(events, lambda e: isinstance(e, BarsComplete), 16)
        sb.advance(1)
        await _until(events, lambda e: isinstance(e, BarsComplete), 17)
        return events, sb.exchange.market, v.gaps_refilled, v.bars_refilled

    events, m, gaps, refilled = _sandbox_session(scenario)
    bars = [e for e in events if isinstance(e, Bar)]
    marks = [e.ts for e in events if isinstance(e, BarsComplete)]
    forming = (m.t0 + m.index * m.interval_s) * NS
    assert marks == sorted(set(marks)) and len(marks) == 17
    assert all(t < forming for t in marks)  # the forming candle never handed out
    assert [b - a for a, b in zip(marks, marks[1:])] == [60 * NS] * 16  # no hole, no repeat
    # each timestamp: both symbols' bars, then its marker (a whole cross-section)
    seq = [(e.ts, e.symbol) if isinstance(e, Bar) else (e.ts, "|") for e in events if isinstance(e, (Bar, BarsComplete))]
    for k, t in enumerate(marks):
        assert sorted(seq[3 * k: 3 * k + 2]) == [(t, "BTC/USD"), (t, "ETH/USD")] and seq[3 * k + 2] == (t, "|")
    for b in bars:  # each equals the sandbox's final candle
        i = (b.ts // NS - m.t0) // m.interval_s
        key = "XXBTZUSD" if b.symbol == "BTC/USD" else "XETHZUSD"
        pd = PAIRS[key]["pair_decimals"]
        _, o, h, lo, c, vol, n = m.candle(key, i)
        assert (b.open, b.high, b.low, b.close) == (round(o, pd), round(h, pd), round(lo, pd), round(c, pd))
    # the hole (14 candles) reaches past the WebSocket snapshot (10): refilled over REST, both symbols
    assert gaps >= 1 and refilled >= 2 * 4


def test_sandbox_market_order_fills_in_parts_and_rest_confirms_every_piece():
    async def scenario(sb, v, events):
        await asyncio.sleep(0.3)
        price = sb.exchange.market.last_price("XXBTZUSD")
        await v.submit(SubmitOrder(client_order_id="live-1", symbol="BTC/USD", side=Side.BUY, qty=0.05,
                                   order_type=OrderType.MARKET, ts_init=0))
        await v.submit(SubmitOrder(client_order_id="live-2", symbol="BTC/USD", side=Side.BUY, qty=0.0000001,
                                   order_type=OrderType.MARKET, ts_init=0))
        for _ in range(12):
            sb.advance(1)
            await asyncio.sleep(0.05)
        await _until(events, lambda e: isinstance(e, OrderFilled), 2)
        await asyncio.sleep(0.5)
        return events, sb, price

    events, sb, price = _sandbox_session(scenario, participation=1e-6)
    fills = [e for e in events if isinstance(e, OrderFilled)]
    o = next(o for o in sb.exchange.orders.values() if o.cl_ord_id == "live-1")
    assert len(fills) >= 2, "the volume cap should split the order"
    assert [f.trade_id for f in fills] == o.trades  # REST truth: every piece, once, in order
    assert sum(f.qty for f in fills) == pytest.approx(float(o.vol_exec))
    assert all(f.client_order_id == "live-1" and f.venue_order_id == o.txid for f in fills)
    for f in fills:
        tr = sb.exchange.trades[f.trade_id]
        assert (f.qty, f.price, f.fee) == (float(tr["vol"]), float(tr["price"]), float(tr["fee"]))
    assert any(isinstance(e, OrderAccepted) and e.client_order_id == "live-1" for e in events)
    rej = [e for e in events if isinstance(e, OrderRejected)]
    assert [r.client_order_id for r in rej] == ["live-2"]  # below ordermin: refused before sending
    assert not any(o.cl_ord_id == "live-2" for o in sb.exchange.orders.values())
    assert math.isfinite(price)


def test_an_order_filled_to_the_lot_is_complete_not_cancelled(creds):
    fake = FakeKraken()

    async def main():
        v = _venue(fake, creds)
        await v.start()
        v.last_close["BTC/USD"] = 85000.0
        await v.submit(_order("tj-9", 0.123456789))  # sent as 0.12345678 (lot 8 decimals), filled whole
        return v._drain() + await v.sync()

    evs = _run(main())
    assert [type(e) for e in evs] == [OrderAccepted, OrderFilled]
    assert evs[1].qty == 0.12345678
