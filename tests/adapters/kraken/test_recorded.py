"""The client against recorded real Kraken bodies (../shared/data/kraken_api)."""

from __future__ import annotations

import asyncio
import gzip
import json
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.orders import build_add_order
from tradejet.adapters.kraken.parse import ohlc_bars, order_report, spot_balances
from tradejet.adapters.kraken.schemas import AssetPair, OrderInfo, decode_envelope, decode_result
from tradejet.errors import ResponseError

from .conftest import check_signed, form


def serve(body: bytes, seen: list | None = None):
    def venue(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, content=body)
    return httpx.MockTransport(venue)


def run(coro_fn, body: bytes, creds=None, seen=None):
    async def main():
        async with KrakenHttp(creds, transport=serve(body, seen)) as k:
            return await coro_fn(k)
    return asyncio.run(main())


def test_asset_pairs_recorded(recorded):
    pairs = run(lambda k: k.asset_pairs(), recorded("AssetPairs.json"))
    assert set(pairs) == {"XXBTZUSD", "XDGUSD", "XETHXXBT", "SOLUSD", "ACAEUR"}
    btc = pairs["XXBTZUSD"]
    assert (btc.altname, btc.wsname, btc.base, btc.quote) == ("XBTUSD", "XBT/USD", "XXBT", "ZUSD")
    assert (btc.ordermin, btc.costmin, btc.tick_size, btc.pair_decimals, btc.lot_decimals) == \
        ("0.00005", "0.5", "0.1", 1, 8)
    assert pairs["ACAEUR"].status == "cancel_only"


def test_asset_pairs_full_recording_decodes_every_pair(kdata):
    body = gzip.decompress((kdata / "AssetPairs_full_2026-01-12.json.gz").read_bytes())
    pairs = run(lambda k: k.asset_pairs(), body)
    assert len(pairs) == 1434
    for key in ("XXBTZUSD", "XETHZUSD", "SOLUSD", "XXRPZUSD", "ADAUSD", "DOTUSD", "LINKUSD", "XLTCZUSD",
                "XDGUSD", "AVAXUSD"):
        p = pairs[key]
        assert Decimal(p.ordermin) > 0 and Decimal(p.costmin) > 0 and Decimal(p.tick_size) > 0
    assert pairs["XXBTZUSD"].fees[0] == (0, 0.4)
    raw = json.loads(body)["result"]
    assert {k: v["ordermin"] for k, v in raw.items()} == {k: v.ordermin for k, v in pairs.items()}


def test_nautilus_asset_pairs_time_status(kdata):
    pairs = run(lambda k: k.asset_pairs(), (kdata / "nautilus_trader/http_asset_pairs.json").read_bytes())
    assert "XBTUSDT" in pairs
    t = run(lambda k: k.time(), (kdata / "nautilus_trader/http_server_time.json").read_bytes())
    assert t.unixtime == 1762820224
    s = run(lambda k: k.system_status(), (kdata / "nautilus_trader/http_system_status.json").read_bytes())
    assert s.status == "online"


def test_assets_recorded(recorded):
    assets = run(lambda k: k.assets(), recorded("Assets.json"))
    assert assets["XXBT"].altname == "XBT" and assets["ZUSD"].decimals == 4


def test_ohlc_recorded_forming_candle_dropped(recorded):
    seen: list[httpx.Request] = []
    res = run(lambda k: k.ohlc("BTC/USD", 60), recorded("OHLC_BTCUSD_60.json"), seen=seen)
    assert res.pair == "BTC/USD" and len(res.rows) == 4 and res.last == 1790355600
    assert res.rows[0].open == "84001.9" and res.rows[0].count == 9205
    bars = ohlc_bars("BTC/USD", res, 60)
    assert len(bars) == 3  # the last row (after `last`) is still forming
    assert bars[0].ts == 1790348400 * 10**9 and bars[0].close == 83777.5 and bars[0].timeframe_ns == 3600 * 10**9
    assert dict(seen[0].url.params) == {"pair": "BTC/USD", "interval": "60"}


def test_ohlc_nautilus_721_rows(kdata):
    res = run(lambda k: k.ohlc("XBTUSDT", 1), (kdata / "nautilus_trader/http_ohlc.json").read_bytes())
    assert len(res.rows) == 721
    assert len(ohlc_bars("XBTUSDT", res, 1)) == 720
    times = [r.time for r in res.rows]
    assert all(b - a == 60 for a, b in zip(times, times[1:]))


def test_ohlc_ccxt_string_last(kdata):
    cases = json.loads((kdata / "ccxt/response_kraken_httpResponses.json").read_bytes())["cases"]
    body = json.dumps(next(c for c in cases if c["ccxt_method"] == "fetchOHLCV")["httpResponse"]).encode()
    res = run(lambda k: k.ohlc("XBTUSDT", 60, since=1706628191), body)
    assert res.last == 1706796000 and len(res.rows) == 6


def test_trades_recorded_three_sources(recorded, kdata):
    res = run(lambda k: k.trades("BTC/USD"), recorded("Trades_BTCUSD.json"))
    assert res.last == "1790359841138228746" and res.rows[1].side == "b" and res.rows[0].trade_id == 109118758
    res = run(lambda k: k.trades("XBTUSDT"), (kdata / "nautilus_trader/http_trades.json").read_bytes())
    assert len(res.rows) == 1000
    cases = json.loads((kdata / "ccxt/response_kraken_httpResponses.json").read_bytes())["cases"]
    body = json.dumps(next(c for c in cases if c["ccxt_method"] == "fetchTrades")["httpResponse"]).encode()
    res = run(lambda k: k.trades("XBTUSDT"), body)
    assert res.rows[0].cursor == "1710327959173746878"  # 8-element rows in newer recordings


def ccxt_case(kdata, method, description=None):
    cases = json.loads((kdata / "ccxt/response_kraken_httpResponses.json").read_bytes())["cases"]
    for c in cases:
        if c["ccxt_method"] == method and (description is None or c["description"] == description):
            return json.dumps(c["httpResponse"]).encode()
    raise LookupError(method)


def test_ccxt_private_bodies(kdata, creds):
    r = run(lambda k: k.add_order({"pair": "LTCUSDT", "type": "buy", "ordertype": "market", "volume": "0.1"}),
            ccxt_case(kdata, "createOrder"), creds)
    assert r.txid == ["OL7LNO-R4SAD-6UINEU"] and r.descr.order == "buy 0.10000000 LTCUSDT @ market"
    q = run(lambda k: k.query_orders(["OR6EGN-KQSEG-AMI6CL"]), ccxt_case(kdata, "fetchOrder", "fetch spot limit order"),
            creds)
    o = q["OR6EGN-KQSEG-AMI6CL"]
    assert o.status == "open" and o.oflags == "post,fciq" and o.refid is None
    rep = order_report("OR6EGN-KQSEG-AMI6CL", o)
    assert rep.limit_price == 50.0 and rep.filled_qty == 0.0 and rep.side == 1
    q = run(lambda k: k.query_orders(["OGMZCL-KC6MC-ZRBGM6"]), ccxt_case(kdata, "fetchOrder", "closed market order"),
            creds)
    rep = order_report("OGMZCL-KC6MC-ZRBGM6", q["OGMZCL-KC6MC-ZRBGM6"])
    assert rep.status == "closed" and rep.avg_price == 71.05741 and rep.ts_event == 1705260547472865800
    for desc in ("open take-profit market order", "open stop-loss-limit order", "fetch open trailing stop order"):
        oo = run(lambda k: k.open_orders(), ccxt_case(kdata, "fetchOpenOrders", desc), creds)
        assert len(oo) == 1
    ticker = run(lambda k: k.ticker(["XBTUSDT"]), ccxt_case(kdata, "fetchTicker"))
    assert ticker["XBTUSDT"].c[0] == "73380.60000" and ticker["XBTUSDT"].t == [6405, 21103]


# ---- request shapes against ccxt's request fixtures --------------------------------------------

LTC_META = {"altname": "LTCUSDT", "base": "XLTC", "quote": "USDT", "pair_decimals": 2, "lot_decimals": 8,
            "tick_size": "0.01", "ordermin": "0.05", "costmin": "0.5"}
XBT_META = {"altname": "XBTUSDT", "base": "XXBT", "quote": "USDT", "pair_decimals": 1, "lot_decimals": 8,
            "tick_size": "0.1", "ordermin": "0.00005", "costmin": "0.5"}


def _ours(desc: str) -> dict[str, str]:
    """Our AddOrder parameters for each ccxt spot case (ccxt's unified input, translated)."""
    spot = {
        "Spot market buy": ("buy", "market", 0.1, {}),
        "Spot market sell": ("sell", "market", 0.1, {}),
        "Stop loss market order (type 2)": ("sell", "stop-loss", 0.1, {"price": 55}),
        "Stop loss limit order (type 2)": ("sell", "stop-loss-limit", 0.1, {"price": 55, "price2": 54}),
        "take profit limit order": ("sell", "take-profit-limit", 0.1, {"price": 120, "price2": 110}),
        "take profit market order (type 2)": ("sell", "take-profit", 0.1, {"price": 120}),
        "order with multiple oflags combined": ("buy", "limit", 0.1, {"price": 50, "oflags": ["fcib"],
                                                                      "post_only": True}),
    }
    side, ot, vol, kw = spot[desc]
    return build_add_order("LTCUSDT", LTC_META, side, ot, vol, ref_price=70, **kw)


def _same(a: dict[str, str], b: dict[str, str]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        if a[k] == b[k]:
            continue
        try:
            if Decimal(a[k]) != Decimal(b[k]):
                return False
        except ArithmeticError:
            return False
    return True


def test_add_order_requests_match_ccxt_fixtures(kdata, creds):
    fx = json.loads((kdata / "ccxt/request_kraken.json").read_bytes())["methods"]["createOrder"]
    checked = 0
    for case in fx:
        if "Margin" in case["description"]:
            continue  # margin (leverage, reduce_only) is out of scope: cash-only spot
        seen: list[httpx.Request] = []
        params = _ours(case["description"])
        run(lambda k, p=params: k.add_order(p), json.dumps({"error": [], "result": {
            "descr": {"order": "x"}, "txid": ["OAAAAA-BBBBB-CCCCCC"]}}).encode(), creds, seen)
        req = seen[0]
        check_signed(req)
        assert str(req.url) == case["url"]
        ours = form(req)
        ours.pop("nonce"), ours.pop("cl_ord_id")
        theirs = dict(parse_qsl(case["output"]))
        theirs.pop("nonce")
        assert _same(ours, theirs), (case["description"], ours, theirs)
        assert req.content.decode().startswith("nonce=")
        checked += 1
    assert checked == 7


OTHER = {
    "fetchMyTrades": lambda k: k.trades_history(start=1699457638),
    "fetchOpenOrders": lambda k: k.open_orders(),
    "fetchClosedOrders": lambda k: k.closed_orders(),
    "cancelAllOrders": lambda k: k.cancel_all(),
    "cancelOrder": lambda k: k.cancel_order(txid="OF7S76-H2IMS-N2ML4U"),
}
RESULTS = {
    "fetchMyTrades": {"trades": {}, "count": 0}, "fetchOpenOrders": {"open": {}},
    "fetchClosedOrders": {"closed": {}, "count": 0}, "cancelAllOrders": {"count": 0},
    "cancelOrder": {"count": 1}, "cancelAllOrdersAfter": {"currentTime": "2023-04-06T06:51:56Z",
                                                          "triggerTime": "0"},
}


def test_other_private_requests_match_ccxt_fixtures(kdata, creds):
    fx = json.loads((kdata / "ccxt/request_kraken.json").read_bytes())["methods"]
    checked = 0
    for method, fn in [*OTHER.items(), ("cancelAllOrdersAfter", None)]:
        for case in fx[method]:
            if "swap" in case["description"]:
                continue
            if method == "cancelAllOrdersAfter":
                timeout = int(dict(parse_qsl(case["output"]))["timeout"])
                fn = lambda k, t=timeout: k.cancel_all_orders_after(t)  # noqa: E731
            seen: list[httpx.Request] = []
            run(fn, json.dumps({"error": [], "result": RESULTS[method]}).encode(), creds, seen)
            check_signed(seen[0])
            assert str(seen[0].url) == case["url"]
            ours = form(seen[0])
            theirs = dict(parse_qsl(case["output"]))
            ours.pop("nonce"), theirs.pop("nonce")
            assert ours == theirs, (method, ours, theirs)
            checked += 1
    assert checked == 7


PUBLIC = {
    "spot ohlcv with since": lambda k: k.ohlc("XBTUSDT", 60, since=1716523348),
    "spot ohlcv": lambda k: k.ohlc("XBTUSDT", 1),
    "fetchTime": lambda k: k.time(),
    "spot fetchTrades": lambda k: k.trades("XBTUSDT"),
    "trades with since": lambda k: k.trades("XBTUSDT", since=1716550666),
    "spot orderbook": lambda k: k.depth("XBTUSDT"),
    "spot ticker": lambda k: k.ticker(["XBTUSDT"]),
    "spot tickers": lambda k: k.ticker(["XBTUSDT", "ETHUSDT"]),
}


def test_public_urls_match_ccxt_fixtures(kdata):
    fx = json.loads((kdata / "ccxt/request_kraken.json").read_bytes())["methods"]
    checked = 0
    for method in ("fetchOHLCV", "fetchTime", "fetchTrades", "fetchOrderBook", "fetchTicker", "fetchTickers"):
        for case in fx[method]:
            seen: list[httpx.Request] = []
            with pytest.raises(ResponseError):  # the body below fits no endpoint: only the URL matters here
                run(PUBLIC[case["description"]], b'{"error": [], "result": {"x": 1}}', None, seen)
            want, got = urlsplit(case["url"]), urlsplit(str(seen[0].url))
            assert (got.scheme, got.netloc, got.path) == (want.scheme, want.netloc, want.path)
            assert parse_qsl(got.query) == parse_qsl(want.query)
            checked += 1
    assert checked == 8


# ---- broken bodies ---------------------------------------------------------------------------------

def test_wrong_field_type_names_endpoint_and_field(recorded):
    body = json.loads(recorded("AssetPairs.json"))
    body["result"]["XXBTZUSD"]["pair_decimals"] = "one"
    with pytest.raises(ResponseError, match=r"AssetPairs.*result\.XXBTZUSD\.pair_decimals"):
        run(lambda k: k.asset_pairs(), json.dumps(body).encode())
    del body["result"]["SOLUSD"]["base"]
    body["result"]["XXBTZUSD"]["pair_decimals"] = 1
    with pytest.raises(ResponseError, match=r"AssetPairs.*`base`.*result\.SOLUSD"):
        run(lambda k: k.asset_pairs(), json.dumps(body).encode())


def test_broken_ohlc_rows_and_missing_last(recorded):
    body = json.loads(recorded("OHLC_BTCUSD_60.json"))
    body["result"]["BTC/USD"][2] = body["result"]["BTC/USD"][2][:5]
    with pytest.raises(ResponseError, match=r"OHLC.*BTC/USD\[2\]"):
        run(lambda k: k.ohlc("BTC/USD", 60), json.dumps(body).encode())
    body = json.loads(recorded("OHLC_BTCUSD_60.json"))
    del body["result"]["last"]
    with pytest.raises(ResponseError, match=r"OHLC.*result\.last"):
        run(lambda k: k.ohlc("BTC/USD", 60), json.dumps(body).encode())
    with pytest.raises(ResponseError, match="result is missing"):
        run(lambda k: k.ohlc("BTC/USD", 60), b'{"error": [], "result": null}')


ENDPOINTS = {"Time": msgspec.json.Decoder, "AssetPairs": dict[str, AssetPair], "QueryOrders": dict[str, OrderInfo]}


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                    max_leaves=12))
def test_any_json_result_is_parsed_or_a_response_error(value):
    body = json.dumps({"error": [], "result": value}).encode()
    env = decode_envelope("X", body)
    for tp in (dict[str, AssetPair], dict[str, OrderInfo], dict[str, str]):
        try:
            decode_result("X", env.result, tp)
        except ResponseError:
            pass


@given(st.binary(max_size=64))
def test_any_bytes_are_an_envelope_or_a_response_error(body):
    try:
        decode_envelope("X", body)
    except ResponseError:
        pass


def test_balances_skip_suffixed_variants():
    bal = {"ZUSD": "100.0", "XXBT": "0.5", "DOT.S": "10", "ADA.F": "5", "XBT.M": "1", "ETH.B": "2",
           "USD.HOLD": "3"}
    out = spot_balances(bal)
    assert {b.asset for b in out} == {"ZUSD", "XXBT"}


def test_trades_since_follows_the_cursor(kdata):
    rec = json.loads((kdata / "nautilus_trader/http_trades.json").read_bytes())["result"]
    rows = rec["XBTUSDT"]
    seen: list[str] = []

    def venue(request: httpx.Request) -> httpx.Response:
        since = int(request.url.params["since"])
        seen.append(request.url.params["since"])
        # the venue's cursor: here the trade id (Kraken's is a ns time; trades can share one)
        page = [r for r in rows if r[6] > since][:300]
        last = str(page[-1][6]) if page else str(since)
        return httpx.Response(200, json={"error": [], "result": {"XBTUSDT": page, "last": last}})

    async def main():
        async with KrakenHttp(transport=httpx.MockTransport(venue), public_burst=1e9) as k:
            return [p async for p in k.trades_since("XBTUSDT", rows[0][6] - 1)]

    pages = asyncio.run(main())
    got = [r.trade_id for p in pages for r in p.rows]
    assert got == [r[6] for r in rows] and len(pages) == 4
    assert seen[1] == pages[0].last  # each call resumes from the previous cursor


def test_suffixed_balances_are_kept_apart_and_mapped_through_assets(recorded):
    from tradejet.adapters.kraken.parse import other_balances
    from tradejet.adapters.kraken.schemas import BalanceExEntry

    assets = json.loads(recorded("Assets.json"))["result"]
    bal = {"ZUSD": BalanceExEntry("100.0", "10.0"), "XXBT": BalanceExEntry("0.5"), "XBT.M": BalanceExEntry("0.2"),
           "DOT.S": BalanceExEntry("7"), "ETH.F": BalanceExEntry("1.5"), "USD.HOLD": BalanceExEntry("3")}
    spot = {b.asset: (b.total, b.available) for b in spot_balances(bal)}
    assert spot == {"ZUSD": (100.0, 90.0), "XXBT": (0.5, 0.5)}
    assert other_balances(bal, assets) == {"XXBT": {"M": 0.2}, "DOT": {"S": 7.0}, "XETH": {"F": 1.5},
                                           "ZUSD": {"HOLD": 3.0}}
