"""WebSocket v2: book checksums end to end on a recorded session, candle finality, and the
client against the sandbox's WebSocket endpoint (reconnect, resubscribe, gaps, private)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from tradejet.adapters.kraken.book import Book, ChecksumMismatch, book_checksum, level_token
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.orders import build_add_order
from tradejet.adapters.kraken.sandbox import Sandbox
from tradejet.adapters.kraken.ws import CandleTracker, KrakenWs, WsEvent, parse_rfc3339_ns, refill_gap

NS = 1_000_000_000


def test_recorded_book_session_verifies_every_checksum(kdata):
    d = json.loads((kdata / "python-kraken-sdk/orderbook-v2.json").read_bytes(), parse_float=Decimal)
    book = Book("BTC/USD", 10, price_decimals=1, qty_decimals=8)
    book.apply("snapshot", d["init"]["data"][0])
    n = 0
    for u in d["updates"]:
        for item in u["data"]:
            book.apply(u["type"], item)
            n += 1
    assert n == 509 and len(book.asks) == 10 and len(book.bids) == 10


def test_a_corrupted_update_fails_the_checksum(kdata):
    d = json.loads((kdata / "python-kraken-sdk/orderbook-v2.json").read_bytes(), parse_float=Decimal)
    book = Book("BTC/USD", 10, 1, 8)
    book.apply("snapshot", d["init"]["data"][0])
    item = json.loads(json.dumps(d["updates"][0]["data"][0], default=str), parse_float=Decimal)
    item["asks"][2]["qty"] = "0.00100001"  # a level inside the top 10
    with pytest.raises(ChecksumMismatch, match="resubscribe"):
        book.apply("update", item)


def test_checksum_tokens_follow_krakens_guide():
    assert level_token("45285.2", 1) == "452852" and level_token("0.00100000", 8) == "100000"
    assert level_token(Decimal("4.0"), 8) == "400000000"  # precision restored from the pair's decimals
    assert book_checksum([], [], 1, 8) == 0


def _item(ts_s: int, o: float, c: float) -> dict:
    from datetime import datetime, timezone
    iso = datetime.fromtimestamp(ts_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    return {"symbol": "BTC/USD", "open": o, "high": max(o, c), "low": min(o, c), "close": c, "trades": 3,
            "volume": 1.5, "vwap": o, "interval_begin": iso, "interval": 1, "timestamp": iso}


def test_forming_candle_is_never_emitted_as_closed():
    t = CandleTracker("BTC/USD", 1)
    assert t.update(_item(60, 1, 2)) == []
    assert t.update(_item(60, 1, 3)) == []  # still forming: updates, no bar
    out = t.update(_item(120, 3, 4))  # next interval begins: the previous one is final
    assert [e.kind for e in out] == ["bar"] and out[0].data.ts == 60 * NS and out[0].data.close == 3.0
    assert t.update(_item(60, 9, 9)) == []  # late item for a closed candle: ignored
    out = t.update(_item(300, 5, 6))  # 180 and 240 missed, 120's final values unknown
    assert out == [WsEvent("gap", "BTC/USD", {"start_ns": 120 * NS, "end_ns": 300 * NS})]


def test_recorded_ws_ohlc_timestamps():
    assert parse_rfc3339_ns("2026-09-25T17:48:00.000000000Z") % (60 * NS) == 0
    assert parse_rfc3339_ns("2026-09-25T17:48:26.844359Z") % NS == 844359000


def test_sandbox_ws_messages_have_the_recorded_shapes(kdata):
    rec = {n: json.loads((kdata / f"{n}.json").read_bytes()) for n in (
        "ws_status", "ws_ticker", "ws_trade", "ws_ohlc", "ws_book_snapshot", "ws_subscribe_ack",
        "ws_subscribe_refused_legacy_name", "ws_private_session_refused")}

    async def main():
        from websockets.asyncio.client import connect
        async with Sandbox(seed=4) as sb, connect(sb.ws_url) as ws:
            got = {"ws_status": json.loads(await ws.recv())}
            for i, ch in enumerate(("ticker", "trade", "ohlc", "book")):
                await ws.send(json.dumps({"method": "subscribe", "params": {"channel": ch, "symbol": ["BTC/USD"]},
                                          "req_id": i}))
            await ws.send(json.dumps({"method": "subscribe", "params": {"channel": "trade", "symbol": ["XBT/USD"]}}))
            await ws.send(json.dumps({"method": "subscribe", "params": {"channel": "executions", "token": "x"}}))
            msgs = [json.loads(await ws.recv()) for _ in range(10)]
            sb.advance(1)
            msgs += [json.loads(await ws.recv()) for _ in range(4)]
        for m in msgs:
            if m.get("method") == "subscribe" and m.get("success") and m["result"]["channel"] == "trade":
                got["ws_subscribe_ack"] = m
            elif m.get("error", "").startswith("Currency pair"):
                got["ws_subscribe_refused_legacy_name"] = m
            elif m.get("error", "").startswith("ESession"):
                got["ws_private_session_refused"] = m
            elif m.get("channel") == "book" and m["type"] == "snapshot":
                got["ws_book_snapshot"] = m
            elif m.get("type") == "update" and m.get("channel") in ("ticker", "trade", "ohlc"):
                got["ws_" + m["channel"]] = m
        return got

    got = asyncio.run(main())
    assert set(got) == set(rec)
    for name, r in rec.items():
        g = got[name]
        assert set(g) - {"req_id"} == set(r), name
        if "data" in r:
            ignore = {"upcoming_maintenance", "emergency", "trades"} if name != "ws_ohlc" else set()
            assert set(r["data"][0]) - ignore <= set(g["data"][0]), name
        if "result" in r:
            assert set(g["result"]) == set(r["result"])


def _collect(sb_kw, scenario, **ws_kw):
    async def main():
        async with Sandbox(**sb_kw) as sb:
            async with KrakenHttp(sb.credentials, base_url=sb.base_url) as http:
                ws = KrakenWs(sb.ws_url, backoff=0.01, token=http.get_websockets_token, **ws_kw)
                events: list[WsEvent] = []

                async def pump():
                    async for ev in ws.events():
                        events.append(ev)

                task = asyncio.get_running_loop().create_task(pump())
                try:
                    return await asyncio.wait_for(scenario(sb, http, ws, events), 20)
                finally:
                    await ws.close()
                    task.cancel()
    return asyncio.run(main())


async def _until(events, pred, n=1):
    for _ in range(400):
        if sum(1 for e in events if pred(e)) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out; got {[e.kind for e in events][-20:]}")


def test_closed_bars_match_the_sandbox_candles_and_survive_a_disconnect():
    async def scenario(sb, http, ws, events):
        await ws.subscribe("ohlc", ["BTC/USD"], interval=1)
        await ws.subscribe("book", ["BTC/USD"], depth=10)
        await _until(events, lambda e: e.kind == "bar", 10)  # snapshot history
        await _until(events, lambda e: e.kind == "book")
        sb.advance(2)
        await _until(events, lambda e: e.kind == "bar", 12)
        assert sb.disconnect_ws() == 1
        await _until(events, lambda e: e.kind == "reconnected")
        await _until(events, lambda e: e.kind == "book", 3)  # fresh snapshot after resubscribing
        sb.advance(2)
        await _until(events, lambda e: e.kind == "bar", 14)
        return events, sb.exchange.market

    events, m = _collect({"seed": 6}, scenario)
    bars = [e.data for e in events if e.kind == "bar"]
    ts = [b.ts for b in bars]
    assert ts == sorted(set(ts))  # no duplicates after the reconnect
    forming_ts = (m.t0 + m.index * m.interval_s) * NS
    assert all(t < forming_ts for t in ts)  # the forming candle was never emitted
    for b in bars:  # every closed bar equals the sandbox's candle
        i = (b.ts // NS - m.t0) // m.interval_s
        _, o, h, lo, c, v, n = m.candle("XXBTZUSD", i)
        assert (b.open, b.high, b.low, b.close) == (round(o, 1), round(h, 1), round(lo, 1), round(c, 1))
    assert not any(e.kind == "book_resync" for e in events)
    assert sum(1 for e in events if e.kind == "reconnected") == 1


def test_stale_feed_produces_a_gap_refilled_over_rest():
    async def scenario(sb, http, ws, events):
        await ws.subscribe("ohlc", ["BTC/USD"], interval=1)
        await _until(events, lambda e: e.kind == "bar", 10)
        sb.stale = True
        sb.advance(3)
        sb.stale = False
        sb.advance(1)
        await _until(events, lambda e: e.kind == "gap")
        gap = next(e for e in events if e.kind == "gap").data
        bars = await refill_gap(http, "XBTUSD", "BTC/USD", 1, gap)
        return gap, bars, sb.exchange.market

    gap, bars, m = _collect({"seed": 6}, scenario)
    assert (gap["end_ns"] - gap["start_ns"]) // (60 * NS) == 3
    assert [b.ts for b in bars] == list(range(gap["start_ns"], gap["end_ns"], 60 * NS))
    assert all(b.ts < (m.t0 + m.index * 60) * NS for b in bars)


def test_private_executions_and_balances_with_a_token():
    async def scenario(sb, http, ws, events):
        await ws.subscribe("executions", snap_orders=True)
        await ws.subscribe("balances")
        await _until(events, lambda e: e.kind == "ack", 2)
        btc = (await http.asset_pairs(["XBTUSD"]))["XXBTZUSD"]
        r = await http.add_order(build_add_order("XXBTZUSD", btc, "buy", "market", 0.001, ref_price=80000,
                                                 cl_ord_id="ws-1"))
        sb.advance(1)
        await _until(events, lambda e: e.kind == "execution" and e.data["exec_type"] == "filled")
        await _until(events, lambda e: e.kind == "balance", 2)
        return r.txid[0], [e.data for e in events if e.kind == "execution"]

    txid, execs = _collect({"seed": 6}, scenario)
    assert [e["exec_type"] for e in execs] == ["pending_new", "new", "trade", "filled"]
    from tradejet.adapters.kraken.parse import execution_fill
    fill = execution_fill(execs[2])
    assert fill is not None and fill.venue_order_id == txid and fill.client_order_id == "ws-1" and fill.side == 1
    assert fill.qty == 0.001 and fill.fee > 0 and execution_fill(execs[0]) is None
    assert all(e["order_id"] == txid and e["cl_ord_id"] == "ws-1" for e in execs)
    assert execs[2]["last_qty"] == Decimal("0.001") and execs[2]["liquidity_ind"] == "t"


def test_private_channel_without_token_provider_is_refused_early():
    ws = KrakenWs("ws://127.0.0.1:9/v2")

    async def main():
        ws._conn = object()
        await ws.subscribe("executions")

    with pytest.raises(ValueError, match="token provider"):
        asyncio.run(main())


def test_client_resubscribes_when_a_book_checksum_fails():
    """A tiny fake venue sends a snapshot with a wrong checksum, then a right one on resubscribe."""
    from websockets.asyncio.server import serve

    asks, bids = [(Decimal("100.5"), Decimal("1"))], [(Decimal("100.0"), Decimal("2"))]
    good = book_checksum(asks, bids, 1, 8)
    received: list[dict] = []

    async def venue(conn):
        async for raw in conn:
            msg = json.loads(raw)
            received.append(msg)
            if msg["method"] == "subscribe":
                subs = sum(1 for m in received if m["method"] == "subscribe")
                await conn.send(json.dumps({"channel": "book", "type": "snapshot", "data": [{
                    "symbol": "BTC/USD", "asks": [{"price": 100.5, "qty": 1.0}], "bids": [{"price": 100.0, "qty": 2.0}],
                    "checksum": good if subs > 1 else good ^ 1}]}))

    async def main():
        async with serve(venue, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            ws = KrakenWs(f"ws://127.0.0.1:{port}/v2")
            await ws.subscribe("book", ["BTC/USD"], depth=10)
            kinds = []
            async for ev in ws.events():
                kinds.append(ev.kind)
                if ev.kind == "book":
                    break
            await ws.close()
            return kinds

    kinds = asyncio.run(asyncio.wait_for(main(), 10))
    assert kinds == ["book_resync", "book"]
    assert [m["method"] for m in received] == ["subscribe", "unsubscribe", "subscribe"]


def test_reconnect_backs_off_exponentially_then_gives_up():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now
    slept: list[float] = []

    async def fake_sleep(x):
        slept.append(x)

    async def main():
        ws = KrakenWs(f"ws://127.0.0.1:{port}/v2", backoff=0.5, max_backoff=1.5, max_reconnects=4, sleep=fake_sleep)
        async for _ in ws.events():
            pass

    with pytest.raises(ConnectionError, match="gave up after 4 reconnects"):
        asyncio.run(asyncio.wait_for(main(), 10))
    assert slept == [0.5, 1.0, 1.5, 1.5]


def test_ws_trading_methods_against_the_sandbox():
    from tradejet.adapters.kraken.errors import InsufficientFunds, UnknownOrder

    async def scenario(sb, http, ws, events):
        await ws.subscribe("executions")
        await _until(events, lambda e: e.kind == "ack")
        r = await ws.request("add_order", {"order_type": "limit", "side": "buy", "order_qty": 0.001,
                                           "symbol": "BTC/USD", "limit_price": 1000.0, "cl_ord_id": "w-1",
                                           "post_only": True})
        oid = r["result"]["order_id"]
        with pytest.raises(InsufficientFunds):
            await ws.request("add_order", {"order_type": "limit", "side": "buy", "order_qty": 100,
                                           "symbol": "BTC/USD", "limit_price": 1000.0})
        open_ = await http.open_orders()
        assert list(open_) == [oid] and open_[oid].cl_ord_id == "w-1" and open_[oid].oflags.startswith("post")
        c = await ws.request("cancel_order", {"cl_ord_id": ["w-1"]})
        assert c["result"] == {"order_id": oid, "cl_ord_id": "w-1"}
        with pytest.raises(UnknownOrder):
            await ws.request("cancel_order", {"order_id": [oid]})
        d = await ws.request("cancel_all_orders_after", {"timeout": 60})
        assert set(d["result"]) == {"currentTime", "triggerTime"}
        return (await http.closed_orders()).closed[oid].status

    assert _collect({"seed": 6}, scenario) == "canceled"


def test_unreadable_messages_become_error_events():
    from websockets.asyncio.server import serve

    async def venue(conn):
        await conn.send("[1, 2]")
        await conn.send(json.dumps({"channel": "ohlc", "type": "update", "data": [{"symbol": "BTC/USD"}]}))
        await conn.send(json.dumps({"channel": "book", "type": "snapshot", "data": [{
            "symbol": "BTC/USD", "asks": [{"price": "x", "qty": 1}], "bids": []}]}))
        await conn.send(json.dumps({"channel": "status", "type": "update", "data": [{"system": "online"}]}))
        await conn.wait_closed()

    async def main():
        async with serve(venue, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            ws = KrakenWs(f"ws://127.0.0.1:{port}/v2")
            out = []
            async for ev in ws.events():
                out.append(ev.kind)
                if ev.kind == "status":
                    break
            await ws.close()
            return out

    assert asyncio.run(asyncio.wait_for(main(), 10)) == ["error", "error", "error", "status"]


def test_sandbox_refuses_an_interval_it_does_not_replay():
    async def scenario(sb, http, ws, events):
        await ws.subscribe("ohlc", ["BTC/USD"], interval=5)
        await _until(events, lambda e: e.kind == "error")
        return next(e for e in events if e.kind == "error").data["error"]

    assert "interval" in _collect({"seed": 6}, scenario)


def test_ticker_and_trade_events_follow_the_replayed_market():
    async def scenario(sb, http, ws, events):
        await ws.subscribe("ticker", ["BTC/USD", "ETH/USD"])
        await ws.subscribe("trade", ["BTC/USD"])
        await _until(events, lambda e: e.kind == "ticker", 2)  # snapshots
        sb.advance(1)
        await _until(events, lambda e: e.kind == "ticker", 4)
        await _until(events, lambda e: e.kind == "trade", 2)
        return events, sb.exchange.market

    events, m = _collect({"seed": 6}, scenario)
    last_ticker = [e for e in events if e.kind == "ticker" and e.symbol == "BTC/USD"][-1].data
    last_trade = [e for e in events if e.kind == "trade"][-1].data
    open_now = round(m.candle("XXBTZUSD", m.index)[1], 1)
    assert float(last_ticker["last"]) == open_now and float(last_trade["price"]) == open_now
    assert {e.symbol for e in events if e.kind == "ticker"} == {"BTC/USD", "ETH/USD"}
