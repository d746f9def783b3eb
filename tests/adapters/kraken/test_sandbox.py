"""The sandbox: same shapes as the recordings, Kraken's checks, order lifecycle, faults; our
client and an independent one (urllib + own signing) against it on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request

import httpx
import msgspec
import pytest

from tradejet.adapters.kraken import schemas
from tradejet.adapters.kraken.auth import Credentials, generate_credentials
from tradejet.adapters.kraken.errors import InsufficientFunds, OrderMinimumNotMet, UnknownOrder
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.nonce import NonceSource
from tradejet.adapters.kraken.orders import build_add_order
from tradejet.adapters.kraken.ratelimit import RateLimiter
from tradejet.adapters.kraken.sandbox import Sandbox, match_order
from tradejet.errors import AuthError, ConfigError, InvalidNonce, VenueUnavailable

from .conftest import FakeClock


def run_with(sandbox_kw: dict, fn, client_kw: dict | None = None):
    async def main():
        async with Sandbox(**sandbox_kw) as sb:
            async with KrakenHttp(sb.credentials, base_url=sb.base_url, **(client_kw or {})) as k:
                return await fn(sb, k)
    return asyncio.run(main())


# ---- shapes ---------------------------------------------------------------------------------------

def _keys(obj):
    return set(obj) if isinstance(obj, dict) else None


def test_public_responses_have_the_recorded_shapes(kdata):
    rec_pairs = json.loads((kdata / "AssetPairs.json").read_bytes())["result"]
    rec_assets = json.loads((kdata / "Assets.json").read_bytes())["result"]
    rec_ohlc = json.loads((kdata / "OHLC_BTCUSD_60.json").read_bytes())["result"]
    rec_trades = json.loads((kdata / "Trades_BTCUSD.json").read_bytes())["result"]
    rec_time = json.loads((kdata / "nautilus_trader/http_server_time.json").read_bytes())["result"]
    rec_status = json.loads((kdata / "nautilus_trader/http_system_status.json").read_bytes())["result"]
    ccxt = json.loads((kdata / "ccxt/response_kraken_httpResponses.json").read_bytes())["cases"]
    rec_ticker = next(c for c in ccxt if c["ccxt_method"] == "fetchTicker")["httpResponse"]["result"]["XBTUSDT"]

    async def fn(sb, k):
        out = {}
        async with httpx.AsyncClient(base_url=sb.base_url) as raw:
            for ep, q in [("AssetPairs", ""), ("Assets", ""), ("OHLC", "?pair=XBTUSD&interval=1"),
                          ("Trades", "?pair=XBTUSD"), ("Time", ""), ("SystemStatus", ""), ("Ticker", "?pair=XBTUSD"),
                          ("Depth", "?pair=XBTUSD&count=5"), ("Ticker", "?pair=NOPE")]:
                out[ep + q] = (await raw.get(f"/0/public/{ep}{q}")).json()
        # and our structs decode them
        await k.asset_pairs(), await k.assets(), await k.ohlc("XBTUSD", 1), await k.trades("XBTUSD")
        await k.time(), await k.system_status(), await k.ticker("XBTUSD"), await k.depth("XBTUSD", 5)
        return out

    out = run_with({"seed": 3}, fn, {"public_burst": 50})
    pairs = out["AssetPairs"]["result"]
    assert set(pairs["XXBTZUSD"]) - {"execution_venue"} == set(rec_pairs["XXBTZUSD"]) - {"execution_venue"}
    assert {k: pairs["XXBTZUSD"][k] for k in ("altname", "wsname", "base", "quote", "ordermin", "tick_size")} == \
        {k: rec_pairs["XXBTZUSD"][k] for k in ("altname", "wsname", "base", "quote", "ordermin", "tick_size")}
    assert set(out["Assets"]["result"]["XXBT"]) == set(rec_assets["XXBT"])
    ohlc = out["OHLC?pair=XBTUSD&interval=1"]["result"]
    assert set(ohlc) == {"XBTUSD", "last"} and len(ohlc["XBTUSD"]) == 720
    assert [type(x) for x in ohlc["XBTUSD"][0]] == [type(x) for x in rec_ohlc["BTC/USD"][0]]
    assert ohlc["last"] == ohlc["XBTUSD"][-2][0]  # the last row is the forming candle, as recorded
    tr = out["Trades?pair=XBTUSD"]["result"]
    assert [type(x) for x in tr["XBTUSD"][0]] == [type(x) for x in rec_trades["BTC/USD"][0]]
    assert type(tr["last"]) is type(rec_trades["last"])
    assert set(out["Time"]["result"]) == set(rec_time) and set(out["SystemStatus"]["result"]) == set(rec_status)
    assert set(out["Ticker?pair=XBTUSD"]["result"]["XBTUSD"]) == set(rec_ticker)
    assert out["Ticker?pair=NOPE"] == json.loads((kdata / "error_unknown_pair.json").read_bytes())


def test_private_responses_have_the_recorded_shapes(kdata):
    ccxt = json.loads((kdata / "ccxt/response_kraken_httpResponses.json").read_bytes())["cases"]
    rec_add = next(c for c in ccxt if c["ccxt_method"] == "createOrder")["httpResponse"]["result"]
    rec_open = next(c for c in ccxt if c["description"] == "fetch spot limit order")["httpResponse"]["result"]
    rec_closed = next(c for c in ccxt if c["description"] == "closed market order")["httpResponse"]["result"]
    rec_open, rec_closed = next(iter(rec_open.values())), next(iter(rec_closed.values()))

    async def fn(sb, k):
        pairs = await k.asset_pairs()
        a = await k.add_order(build_add_order("XXBTZUSD", pairs["XXBTZUSD"], "buy", "limit", 0.001, price=1000,
                                              cl_ord_id="shape-1"))
        m = await k.add_order(build_add_order("XXBTZUSD", pairs["XXBTZUSD"], "buy", "market", 0.001,
                                              ref_price=80000))
        sb.advance(1)
        async with httpx.AsyncClient() as raw:
            def signed(ep, **p):
                n = str(k.nonce.next())
                body = urllib.parse.urlencode({"nonce": n, **p})
                path = f"/0/private/{ep}"
                return raw.post(sb.base_url + path, content=body, headers={
                    "API-Key": sb.credentials.api_key, "API-Sign": sb.credentials.sign(path, body)})
            add = (await signed("AddOrder", pair="XBTUSD", type="buy", ordertype="limit", volume="0.001",
                                price="1000.0")).json()["result"]
            q = (await signed("QueryOrders", txid=f"{a.txid[0]},{m.txid[0]}", trades="true")).json()["result"]
        return add, q[a.txid[0]], q[m.txid[0]]

    add, open_o, closed_o = run_with({"seed": 3}, fn)
    assert set(add) == set(rec_add) and set(add["descr"]) == set(rec_add["descr"])
    assert set(open_o) - {"cl_ord_id"} == set(rec_open) and set(open_o["descr"]) == set(rec_open["descr"])
    assert set(closed_o) - {"cl_ord_id"} == set(rec_closed)
    assert open_o["cl_ord_id"] == "shape-1"
    for o in (open_o, closed_o):
        msgspec.convert(o, schemas.OrderInfo)


# ---- Kraken's checks ------------------------------------------------------------------------------

def test_auth_errors_from_the_sandbox():
    async def fn(sb, k):
        async with KrakenHttp(generate_credentials(), base_url=sb.base_url) as wrong_key:
            with pytest.raises(AuthError, match="EAPI:Invalid key"):
                await wrong_key.balance()
        bad = Credentials(sb.credentials.api_key, generate_credentials().reveal_secret())
        async with KrakenHttp(bad, base_url=sb.base_url) as wrong_secret:
            with pytest.raises(AuthError, match="EAPI:Invalid signature"):
                await wrong_secret.balance()
        return await k.balance()

    assert run_with({"seed": 1, "balances": {"ZUSD": "50", "DOT.S": "3"}}, fn) == {"ZUSD": "50.0000", "DOT.S": "3.0000000000"}


def test_nonce_must_increase_and_bad_signature_does_not_consume_it():
    async def fn(sb, k):
        n1 = NonceSource(None, clock_ns=lambda: 5_000_000_000)
        async with KrakenHttp(sb.credentials, base_url=sb.base_url, nonce=n1, retries=0) as a:
            await a.balance()
        n2 = NonceSource(None, clock_ns=lambda: 1_000_000_000)  # a second client behind the first
        async with KrakenHttp(sb.credentials, base_url=sb.base_url, nonce=n2, retries=0) as b:
            with pytest.raises(InvalidNonce, match="another client may share the key"):
                await b.balance()
        return sb.exchange.accounts[sb.credentials.api_key].last_nonce

    assert run_with({"seed": 1}, fn) == 5_000_000


def test_concurrent_calls_against_the_sandbox_never_hit_invalid_nonce():
    async def fn(sb, k):
        k.limiter.rest.limit = 1e9
        sb.exchange.accounts[sb.credentials.api_key].rest.limit = 1e9
        res = await asyncio.gather(*(k.balance() for _ in range(30)), *(k.open_orders() for _ in range(10)))
        return len(res)

    assert run_with({"seed": 1}, fn) == 40


def test_client_limiter_keeps_the_sandbox_from_refusing():
    clock = FakeClock(time.time())

    async def fn(sb, k):
        for _ in range(40):
            await k.balance()
        return sb.faults.fired

    lim = RateLimiter("starter", clock=clock, sleep=clock.sleep)
    fired = run_with({"seed": 1, "clock": clock}, fn, {"limiter": lim, "clock": clock, "sleep": clock.sleep})
    assert fired == [] and len(clock.sleeps) > 20  # it waited instead of being refused


def test_sandbox_refuses_over_the_limit_and_the_client_backs_off():
    clock = FakeClock(time.time())

    async def fn(sb, k):
        k.limiter.rest.limit = 1e9  # a client without a limiter
        for _ in range(20):
            await k.balance()
        return clock.sleeps

    sleeps = run_with({"seed": 1, "clock": clock}, fn, {"clock": clock, "sleep": clock.sleep})
    assert 3.0 in sleeps  # EAPI:Rate limit exceeded -> waited retry_after, then succeeded


def test_injected_rate_limit_fault_is_waited_out():
    clock = FakeClock(time.time())

    async def fn(sb, k):
        sb.faults.inject("rate_limit", "Balance")
        sb.faults.inject("rate_limit", "AddOrder")
        await k.balance()
        btc = (await k.asset_pairs(["XBTUSD"]))["XXBTZUSD"]
        await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "limit", 0.001, price=1000))
        return sb.faults.fired, len(sb.exchange.orders)

    fired, n = run_with({"seed": 1, "clock": clock}, fn, {"clock": clock, "sleep": clock.sleep})
    assert fired == [("rate_limit", "Balance"), ("rate_limit", "AddOrder")] and n == 1


# ---- orders ---------------------------------------------------------------------------------------

def test_order_lifecycle_fills_fees_and_balances():
    async def fn(sb, k):
        pairs = await k.asset_pairs()
        btc = pairs["XXBTZUSD"]
        ex = sb.exchange
        last = ex.market.last_price("XXBTZUSD")
        with pytest.raises(InsufficientFunds):
            await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "market", 1.0, ref_price=last))
        with pytest.raises(OrderMinimumNotMet):
            await k.add_order({"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.00001"})
        v = await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "market", 0.01, ref_price=last, validate=True))
        assert v.txid == [] and not ex.orders
        mkt = await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "market", 0.01, ref_price=last,
                                                cl_ord_id="m1"))
        nxt_open = ex.market.candle("XXBTZUSD", ex.market.index + 1)[1]
        sb.advance(1)
        o = (await k.query_orders(mkt.txid, trades=True))[mkt.txid[0]]
        assert o.status == "closed" and float(o.price) == pytest.approx(nxt_open, abs=0.05)
        assert float(o.fee) == pytest.approx(float(o.cost) * 0.004, abs=1e-5)
        bal = await k.balance()
        assert float(bal["XXBT"]) == pytest.approx(0.01)
        assert float(bal["ZUSD"]) == pytest.approx(1000 - float(o.cost) - float(o.fee), abs=1e-4)
        # a resting limit far below, then cancelled by cl_ord_id; post-only crossing is cancelled
        lim = await k.add_order(build_add_order("XXBTZUSD", btc, "sell", "limit", 0.005, price=last * 3,
                                                cl_ord_id="l1"))
        assert (await k.balance_ex())["XXBT"].hold_trade == "0.0050000000"
        with pytest.raises(InsufficientFunds):
            await k.add_order(build_add_order("XXBTZUSD", btc, "sell", "limit", 0.006, price=last * 3))
        assert (await k.cancel_order(cl_ord_id="l1")).count == 1
        with pytest.raises(UnknownOrder):
            await k.cancel_order(txid=lim.txid[0])
        post = await k.add_order(build_add_order("XXBTZUSD", btc, "sell", "limit", 0.005, price=last / 2,
                                                 post_only=True))
        sb.advance(1)
        p = (await k.query_orders(post.txid))[post.txid[0]]
        assert p.status == "canceled" and p.reason == "Post only order"
        th = await k.trades_history()
        assert th.count == 1 and next(iter(th.trades.values())).ordertxid == mkt.txid[0]
        # amend, edit, batch, cancel all
        a = await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "limit", 0.001, price=1000))
        await k.amend_order(txid=a.txid[0], limit_price="1001.0")
        assert (await k.open_orders())[a.txid[0]].descr.price == "1001.0"
        e = await k.edit_order(a.txid[0], "XBTUSD", price="1002.0")
        assert e.originaltxid == a.txid[0] and e.txid != a.txid[0]
        b = await k.add_order_batch("XBTUSD", [
            {"type": "buy", "ordertype": "limit", "volume": "0.001", "price": "1000.0"},
            {"type": "buy", "ordertype": "limit", "volume": "0.001", "price": "990.0"}])
        assert len(b.orders) == 2 and all(x.txid for x in b.orders)
        assert (await k.cancel_all()).count == 3
        return True

    assert run_with({"seed": 5, "balances": {"ZUSD": "1000"}}, fn)


def test_dead_mans_switch_cancels_everything():
    clock = FakeClock(time.time())

    async def fn(sb, k):
        btc = (await k.asset_pairs(["XBTUSD"]))["XXBTZUSD"]
        await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "limit", 0.001, price=1000))
        r = await k.cancel_all_orders_after(60)
        assert r.triggerTime != "0"
        clock.t += 30
        sb.advance(1)
        assert len(await k.open_orders()) == 1
        clock.t += 31
        sb.advance(1)
        closed = (await k.closed_orders()).closed
        return [o.reason for o in closed.values()]

    assert run_with({"seed": 5, "clock": clock}, fn, {"clock": clock, "sleep": clock.sleep}) == ["Dead man's switch"]


@pytest.mark.parametrize(("args", "want"), [
    (("buy", "market", 0, False, 100, 110, 90, 105), (100, False)),
    (("buy", "limit", 95, False, 100, 110, 90, 105), (95, True)),
    (("buy", "limit", 90, False, 100, 110, 90, 105), None),  # touched, not traded through
    (("buy", "limit", 101, False, 100, 110, 90, 105), (100, False)),  # marketable at the open
    (("sell", "limit", 109, False, 100, 110, 90, 105), (109, True)),
    (("sell", "stop-loss", 95, False, 100, 110, 90, 105), (95, False)),
    (("sell", "stop-loss", 105, False, 100, 110, 90, 105), (100, False)),  # gapped through: fills at open
    (("sell", "take-profit", 108, False, 100, 110, 90, 105), (108, False)),
    (("buy", "stop-loss", 108, False, 100, 110, 90, 105), (108, False)),
    (("buy", "take-profit", 92, False, 100, 110, 90, 105), (92, False)),
])
def test_match_order_rules(args, want):
    m = match_order(*args)
    assert (None if m is None else (m.price, m.maker)) == want


def test_sandbox_binds_locally_only():
    with pytest.raises(ConfigError, match="127.0.0.1"):
        Sandbox(host="0.0.0.0")


# ---- faults: the lost AddOrder answer and friends --------------------------------------------------------

@pytest.mark.parametrize("kind", ["drop_response", "timeout_after_accept", "timeout", "http_500", "unavailable"])
def test_lost_or_failed_add_order_leaves_exactly_one_order(kind):
    async def fn(sb, k):
        btc = (await k.asset_pairs(["XBTUSD"]))["XXBTZUSD"]
        sb.faults.inject(kind, "AddOrder", delay=0.5)
        r = await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "limit", 0.001, price=1000, cl_ord_id="once"))
        orders = [o for o in sb.exchange.orders.values() if o.cl_ord_id == "once"]
        adds = sum(1 for m, p in sb.requests if p == "/0/private/AddOrder")
        return r.txid, [o.txid for o in orders], adds, sb.faults.fired

    txid, orders, adds, fired = run_with({"seed": 2}, fn, {"timeout": 0.2, "backoff": 0.01, "lost_order_delay": 0.01})
    assert fired == [(kind, "AddOrder")]
    assert len(orders) == 1 and txid == orders
    # processed-then-lost answers are found by cl_ord_id and not resent; refused ones are resent once
    assert adds == (1 if kind in ("drop_response", "timeout_after_accept") else 2)


def test_transient_faults_on_queries_are_retried():
    async def fn(sb, k):
        for kind in ("http_500", "unavailable", "invalid_nonce", "timeout"):
            sb.faults.inject(kind, "Balance", delay=0.5)
            assert "ZUSD" in await k.balance()
        sb.faults.inject("http_500", "Time", count=5)
        with pytest.raises(VenueUnavailable, match="HTTP 500"):
            await k.time()
        return sb.faults.fired

    fired = run_with({"seed": 2}, fn, {"timeout": 0.2, "backoff": 0.01, "max_backoff": 0.05, "retries": 3})
    assert len(fired) == 8


def test_admin_endpoint_injects_faults_and_advances():
    async def fn(sb, k):
        async with httpx.AsyncClient(base_url=sb.base_url) as raw:
            r = await raw.post("/_sandbox/fault", json={"kind": "unavailable", "endpoint": "Time"})
            assert r.json()["result"] == {"pending": 1}
            assert (await raw.post("/_sandbox/fault", json={"kind": "nope"})).status_code == 400
            t = (await raw.get("/0/public/Time")).json()
            assert t == {"error": ["EService:Unavailable"]}
            i0 = sb.exchange.market.index
            await raw.post("/_sandbox/advance", json={"n": 3})
            assert sb.exchange.market.index == i0 + 3
            await raw.post("/_sandbox/status", json={"status": "maintenance"})
            return (await k.system_status()).status

    assert run_with({"seed": 2}, fn) == "maintenance"


# ---- any Kraken client works given only the base URL ---------------------------------------------------

def _urllib_private(base: str, key: str, secret: str, method: str, nonce: int, **params: str) -> dict:
    """An independent Kraken client: stdlib only, signing written out from Kraken's docs."""
    path = f"/0/private/{method}"
    post = urllib.parse.urlencode({"nonce": str(nonce), **params})
    sha = hashlib.sha256((str(nonce) + post).encode()).digest()
    sig = base64.b64encode(hmac.new(base64.b64decode(secret), path.encode() + sha, hashlib.sha512).digest())
    req = urllib.request.Request(base + path, data=post.encode(), method="POST", headers={
        "API-Key": key, "API-Sign": sig.decode(), "User-Agent": "independent-test-client",
        "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def test_an_independent_urllib_client_works_against_the_sandbox():
    sb = Sandbox(seed=9, balances={"ZUSD": "500"})
    key, secret = sb.credentials.api_key, sb.credentials.reveal_secret()
    with sb.run_in_thread():
        with urllib.request.urlopen(sb.base_url + "/0/public/Time", timeout=5) as r:
            assert json.loads(r.read())["error"] == []
        n = int(time.time() * 1000)
        assert _urllib_private(sb.base_url, key, secret, "Balance", n) == {"error": [], "result": {"ZUSD": "500.0000"}}
        add = _urllib_private(sb.base_url, key, secret, "AddOrder", n + 1, ordertype="limit", pair="XBTUSD",
                              price="1000.0", type="buy", volume="0.001", cl_ord_id="indep-1")
        assert add["error"] == [] and len(add["result"]["txid"]) == 1
        again = _urllib_private(sb.base_url, key, secret, "Balance", n + 1)  # replayed nonce
        assert again == {"error": ["EAPI:Invalid nonce"]}
        wrong = _urllib_private(sb.base_url, key, base64.b64encode(b"x" * 64).decode(), "Balance", n + 5)
        assert wrong == {"error": ["EAPI:Invalid signature"]}
        oo = _urllib_private(sb.base_url, key, secret, "OpenOrders", n + 6, cl_ord_id="indep-1")
        assert list(oo["result"]["open"]) == add["result"]["txid"]


@pytest.mark.parametrize("kind", ["drop_response", "timeout"])
def test_lost_cancel_answer_is_checked_before_cancelling_again(kind):
    async def fn(sb, k):
        btc = (await k.asset_pairs(["XBTUSD"]))["XXBTZUSD"]
        r = await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "limit", 0.001, price=1000))
        sb.faults.inject(kind, "CancelOrder", delay=0.5)
        res = await k.cancel_order(txid=r.txid[0])
        cancels = sum(1 for m, p in sb.requests if p == "/0/private/CancelOrder")
        return res.count, sb.exchange.orders[r.txid[0]].status, cancels

    count, status, cancels = run_with({"seed": 2}, fn, {"timeout": 0.2, "backoff": 0.01})
    assert count == 1 and status == "canceled"
    assert cancels == (1 if kind == "drop_response" else 2)


def test_rest_fills_parse_to_messages():
    from tradejet.adapters.kraken.parse import order_report, trade_fill

    async def fn(sb, k):
        btc = (await k.asset_pairs(["XBTUSD"]))["XXBTZUSD"]
        r = await k.add_order(build_add_order("XXBTZUSD", btc, "sell", "market", 0.01, ref_price=80000,
                                              cl_ord_id="p-1"))
        sb.advance(1)
        th = await k.trades_history()
        q = await k.query_orders(r.txid)
        return r.txid[0], th, q

    txid, th, q = run_with({"seed": 2, "balances": {"ZUSD": "0", "XXBT": "0.01"}}, fn)
    (tid, info), = th.trades.items()
    fill = trade_fill(tid, info, client_order_id="p-1", symbol="BTC/USD")
    rep = order_report(txid, q[txid], symbol="BTC/USD")
    assert fill.venue_order_id == txid and fill.side == -1 and fill.qty == 0.01 and fill.liquidity == "taker"
    assert rep.client_order_id == "p-1" and rep.filled_qty == 0.01 and rep.avg_price == fill.price
    assert fill.fee == pytest.approx(fill.qty * fill.price * 0.004, abs=1e-5)


def test_sandbox_repr_hides_the_secret():
    sb = Sandbox(seed=1)
    assert sb.credentials.reveal_secret() not in repr(sb) and sb.credentials.api_key not in repr(sb)


def test_stale_fault_freezes_public_rest_data():
    async def fn(sb, k):
        before = await k.ohlc("XBTUSD", 1)
        sb.stale = True
        sb.advance(5)
        during = await k.ohlc("XBTUSD", 1)
        sb.stale = False
        after = await k.ohlc("XBTUSD", 1)
        return before.last, during.last, after.last

    b, d, a = run_with({"seed": 2}, fn)
    assert b == d and a == b + 5 * 60


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"POST /0/private/Balance HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /0/private/Balance HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    b"POST /0/private/Balance HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
])
def test_malformed_http_gets_400_and_the_server_keeps_serving(request_bytes):
    async def fn(sb, k):
        r, w = await asyncio.open_connection("127.0.0.1", sb.port)
        w.write(request_bytes)
        await w.drain()
        status = (await r.readline()).split()[1]
        w.close()
        return status, (await k.time()).unixtime > 0

    status, alive = run_with({"seed": 1}, fn)
    assert status in (b"400", b"411") and alive


def test_speed_one_follows_the_wall_clock_and_faster_speeds_replay():
    sb = Sandbox(seed=1, speed=1)
    m = sb.exchange.market
    assert sb.due_index(m.t0 + m.index * 60 + 59.9, 0, 0) == m.index  # still the forming minute
    assert sb.due_index(m.t0 + (m.index + 2) * 60, 0, 0) == m.index + 2
    fast = Sandbox(seed=1, speed=60)
    assert fast.due_index(1000.0 + 3.5, 1000.0, 720) == 723  # one candle per wall second
    with pytest.raises(ConfigError, match="speed"):
        Sandbox(speed=-1)


def test_auto_advance_runs_in_the_background():
    async def fn(sb, k):
        i0 = sb.exchange.market.index
        for _ in range(100):
            await asyncio.sleep(0.02)
            if sb.exchange.market.index >= i0 + 2:
                return True
        return False

    assert run_with({"seed": 1, "speed": 600, "interval_s": 60}, fn)  # 10 candles per wall second


def test_refused_edit_keeps_the_original_order_and_its_hold():
    from tradejet.adapters.kraken.errors import InsufficientFunds

    async def fn(sb, k):
        btc = (await k.asset_pairs(["XBTUSD"]))["XXBTZUSD"]
        a = await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "limit", 0.05, price=1000))
        hold = (await k.balance_ex())["ZUSD"].hold_trade
        with pytest.raises(InsufficientFunds):
            await k.edit_order(a.txid[0], "XBTUSD", price="100000.0")  # 5,000 USD > 100 USD balance
        o = (await k.query_orders(a.txid))[a.txid[0]]
        return hold, (await k.balance_ex())["ZUSD"].hold_trade, o.status

    hold_before, hold_after, status = run_with({"seed": 2, "balances": {"ZUSD": "100"}}, fn)
    assert status == "open" and hold_before == hold_after and float(hold_after) > 50


def test_bad_order_fields_are_refused_like_kraken():
    from tradejet.adapters.kraken.errors import InvalidArguments

    async def fn(sb, k):
        base = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.001", "price": "1000.0"}
        for bad in ({"volume": "0.123456789"}, {"price": "1000.05"}, {"type": "long"}, {"ordertype": "iceberg"},
                    {"cl_ord_id": "a", "userref": "5"}, {"timeinforce": "GTD"}, {"volume": "-1"},
                    {"price": "NaN"}):
            with pytest.raises(InvalidArguments):
                await k.add_order({**base, **bad})
        return len(sb.exchange.orders)

    assert run_with({"seed": 2}, fn) == 0


def test_maintenance_and_cancel_only_modes():
    from tradejet.errors import OrderRejected

    async def fn(sb, k):
        btc = (await k.asset_pairs(["XBTUSD"]))["XXBTZUSD"]
        a = await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "limit", 0.001, price=1000))
        sb.exchange.status = "cancel_only"
        with pytest.raises(OrderRejected, match="cancel_only"):
            await k.add_order(build_add_order("XXBTZUSD", btc, "buy", "limit", 0.001, price=1000))
        assert (await k.cancel_order(txid=a.txid[0])).count == 1
        sb.exchange.status = "maintenance"
        with pytest.raises(VenueUnavailable, match="EService:Unavailable"):
            await k.balance()
        return (await k.system_status()).status

    assert run_with({"seed": 2}, fn, {"retries": 1, "backoff": 0.01}) == "maintenance"
