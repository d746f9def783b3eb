"""``run_checks`` (tradejet doctor) against the sandbox on 127.0.0.1 with a key restricted or broken
in each way, and against httpx.MockTransport for venues that answer wrongly."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tradejet.adapters.kraken.auth import Credentials, generate_credentials
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.preflight import NONCE_FIX, PairOrder, run_checks
from tradejet.adapters.kraken.sandbox import Sandbox
from tradejet.adapters.kraken.sandbox.keys import ENDPOINT_PERMISSIONS, PERMISSIONS, parse_permissions
from tradejet.errors import ConfigError

from .conftest import DOC_KEY, DOC_SECRET, check_signed, form, ok

PAIRS = [PairOrder("BTC/USD", "XXBTZUSD", 20.0), PairOrder("DOGE/USD", "XDGUSD", 20.0, "orders.pairs.'DOGE/USD'")]


def doctor(sandbox_kw=None, creds="sandbox", pairs=PAIRS, before=None, **kw):
    async def main():
        async with Sandbox(seed=2, **(sandbox_kw or {})) as sb:
            if before:
                before(sb)
            c = sb.credentials if creds == "sandbox" else creds
            async with KrakenHttp(c, base_url=sb.base_url, retries=0) as k:
                return await run_checks(k, pairs, has_credentials=c is not None, key_hint="abcd...", **kw)
    return {c.name: c for c in asyncio.run(main())}


def failed(checks):
    return {n for n, c in checks.items() if c.ok is False}


def test_all_pass_with_a_full_key():
    checks = doctor()
    assert not failed(checks) and not [n for n, c in checks.items() if c.ok is None]
    assert set(checks) >= {"system status (SystemStatus)", "clock skew (Time)", "API key and signature",
                           "Query Funds (Balance)", "Query Open Orders & Trades (OpenOrders)",
                           "Query Closed Orders & Trades (ClosedOrders)", "Create & Modify Orders (AddOrder validate)",
                           "Cancel/Close Orders (CancelOrder)", "Access WebSockets API (GetWebSocketsToken)",
                           "fee tier (TradeVolume)", "nonce", "pair BTC/USD", "pair DOGE/USD"}
    assert "taker 0.40 %" in checks["fee tier (TradeVolume)"].detail
    assert "EOrder:Unknown order" in checks["Cancel/Close Orders (CancelOrder)"].detail


def test_validate_places_nothing_on_the_sandbox():
    async def main():
        async with Sandbox(seed=2) as sb, KrakenHttp(sb.credentials, base_url=sb.base_url, retries=0) as k:
            await run_checks(k, PAIRS, has_credentials=True)
            return dict(sb.exchange.orders), [p for _, p in sb.requests]
    orders, paths = asyncio.run(main())
    assert orders == {} and "/0/private/AddOrder" in paths and "/0/private/CancelOrder" in paths


def test_a_key_without_trade_rights_fails_create_and_cancel_with_the_fix():
    checks = doctor({"permissions": "funds,open,closed,websocket"})
    assert failed(checks) == {"Create & Modify Orders (AddOrder validate)", "Cancel/Close Orders (CancelOrder)"}
    c = checks["Create & Modify Orders (AddOrder validate)"]
    assert "EGeneral:Permission denied" in c.detail and "enable 'Create & Modify Orders'" in c.fix
    assert "enable 'Cancel/Close Orders'" in checks["Cancel/Close Orders (CancelOrder)"].fix


@pytest.mark.parametrize("perms,endpoint,name", [
    ("open,closed,trade,cancel,websocket", "Balance", "Query Funds"),
    ("funds,closed,trade,cancel,websocket", "OpenOrders", "Query Open Orders & Trades"),
    ("funds,open,trade,cancel,websocket", "ClosedOrders", "Query Closed Orders & Trades"),
    ("funds,open,closed,trade,cancel", "GetWebSocketsToken", "Access WebSockets API"),
])
def test_each_missing_permission_is_named(perms, endpoint, name):
    checks = doctor({"permissions": perms})
    key = f"{name} ({endpoint})"
    assert key in failed(checks) and f"enable '{name}'" in checks[key].fix
    assert checks["API key and signature"].ok is True  # "Permission denied" proves key and signature are good


def test_a_wrong_key_fails_once_and_skips_the_other_private_calls():
    checks = doctor(creds=generate_credentials())
    key = checks["API key and signature"]
    assert key.ok is False and "EAPI:Invalid key" in key.detail and "KRAKEN_API_KEY" in key.fix
    assert "Temporary lockout" in key.fix
    assert checks["Create & Modify Orders (AddOrder validate)"].ok is None
    assert checks["nonce"].ok is None and checks["pair BTC/USD"].ok is True  # public checks still run


def test_a_wrong_secret_is_reported_as_a_signature_failure():
    async def main():
        async with Sandbox(seed=2) as sb:
            c = Credentials(sb.credentials.api_key, generate_credentials().reveal_secret())
            async with KrakenHttp(c, base_url=sb.base_url, retries=0) as k:
                return {x.name: x for x in await run_checks(k, PAIRS, has_credentials=True)}

    checks = asyncio.run(main())
    key = checks["API key and signature"]
    assert key.ok is False and "EAPI:Invalid signature" in key.detail and "KRAKEN_API_SECRET" in key.fix


def test_no_credentials_is_a_failure_with_the_variables_to_set():
    checks = doctor(creds=None)
    assert checks["API key and signature"].ok is False
    assert "KRAKEN_API_KEY and KRAKEN_API_SECRET" in checks["API key and signature"].fix


def test_clock_skew_injected_at_the_server_fails_with_the_ntp_fix():
    checks = doctor({"clock": lambda: time.time() + 90})
    c = checks["clock skew (Time)"]
    assert c.ok is False and "behind Kraken" in c.detail and "NTP" in c.fix
    assert doctor(max_skew=5.0, clock=lambda: time.time() - 2.0)["clock skew (Time)"].ok is True


def test_maintenance_fails_the_status_and_skips_what_cannot_be_checked():
    checks = doctor(before=lambda sb: setattr(sb.exchange, "status", "maintenance"))
    st = checks["system status (SystemStatus)"]
    assert st.ok is False and "maintenance" in st.detail and "online" in st.fix
    assert checks["Query Funds (Balance)"].ok is None and "EService:Unavailable" in checks["Query Funds (Balance)"].detail
    assert checks["nonce"].ok is None


def test_a_nonce_refused_points_at_a_shared_key():
    def other_client_was_here(sb):  # another client used a far larger nonce on this key
        sb.exchange.accounts[sb.credentials.api_key].last_nonce = 10**19

    checks = doctor(before=other_client_was_here)
    c = checks["nonce"]
    assert c.ok is False and c.fix == NONCE_FIX
    assert "API key shared with another client" in c.fix and "give every program its own API key" in c.fix
    assert checks["Query Funds (Balance)"].fix == NONCE_FIX


def test_an_order_size_below_ordermin_or_costmin_fails_with_the_size_to_set():
    pairs = [PairOrder("BTC/USD", "XXBTZUSD", 1.0), PairOrder("DOGE/USD", "XDGUSD", 0.4, "orders.pairs.'DOGE/USD'"),
             PairOrder("SOL/USD", "SOLUSD", 50.0)]
    checks = doctor(pairs=pairs)
    btc, doge = checks["pair BTC/USD"], checks["pair DOGE/USD"]
    assert btc.ok is False and "< ordermin 0.00005" in btc.detail and btc.fix.startswith("raise orders.notional to")
    need = float(btc.fix.split("at least ")[1].split()[0])
    assert 0.00005 * 70000 < need < 0.00005 * 110000 * 1.1  # ordermin x price (+10 %), with the sandbox's price
    assert doge.ok is False and "raise orders.pairs.'DOGE/USD'" in doge.fix
    assert checks["pair SOL/USD"].ok is True


def test_a_pair_not_online_fails():
    def halt(sb):
        from tradejet.adapters.kraken.sandbox.pairs import PAIRS as SP
        SP["XDGUSD"]["status"] = "cancel_only"

    try:
        checks = doctor(before=halt)
    finally:
        from tradejet.adapters.kraken.sandbox.pairs import PAIRS as SP
        SP["XDGUSD"]["status"] = "online"
    assert checks["pair DOGE/USD"].ok is False and "cancel_only" in checks["pair DOGE/USD"].detail


def test_an_unreachable_venue_is_one_clear_failure():
    async def main():
        async with KrakenHttp(base_url="http://127.0.0.1:9", retries=0, timeout=2) as k:
            return await run_checks(k, PAIRS, has_credentials=False)
    checks = asyncio.run(main())
    assert len(checks) == 1 and checks[0].ok is False and "--base-url" in checks[0].fix


def test_the_sandbox_permission_table_matches_krakens_names():
    assert set(PERMISSIONS.values()) == {"Query Funds", "Query Open Orders & Trades", "Query Closed Orders & Trades",
                                         "Create & Modify Orders", "Cancel/Close Orders", "Access WebSockets API"}
    assert all(set(v) <= set(PERMISSIONS) for v in ENDPOINT_PERMISSIONS.values())
    assert parse_permissions("all") is None and parse_permissions(" funds ,trade") == {"funds", "trade"}
    with pytest.raises(ConfigError, match="unknown permission 'withdraw'"):
        parse_permissions("funds,withdraw")


# ---- venues that answer wrongly (MockTransport) ----------------------------------------------------

def mock_venue(overrides):
    pair = {"altname": "XBTUSD", "wsname": "XBT/USD", "base": "XXBT", "quote": "ZUSD", "pair_decimals": 1,
            "lot_decimals": 8, "cost_decimals": 5, "ordermin": "0.00005", "costmin": "0.5", "tick_size": "0.1",
            "status": "online"}
    answers = {
        "SystemStatus": ok({"status": "online", "timestamp": "2026-12-06T00:00:00Z"}),
        "AssetPairs": ok({"XXBTZUSD": pair}),
        "Ticker": ok({"XXBTZUSD": {"a": ["1", "1", "1"], "b": ["1", "1", "1"], "c": ["80000.0", "1"], "v": ["1", "1"],
                                   "p": ["1", "1"], "t": [1, 1], "l": ["1", "1"], "h": ["1", "1"], "o": "1"}}),
        "Balance": ok({"ZUSD": "100.0"}), "OpenOrders": ok({"open": {}}), "ClosedOrders": ok({"closed": {}, "count": 0}),
        "AddOrder": ok({"descr": {"order": "buy 0.00005 XBTUSD @ limit 40000.0"}}),
        "CancelOrder": httpx.Response(200, json={"error": ["EOrder:Unknown order"]}),
        "GetWebSocketsToken": ok({"token": "SECRET-TOKEN-VALUE", "expires": 900}),
        "TradeVolume": ok({"currency": "ZUSD", "volume": "12.5", "fees": {"XXBTZUSD": {"fee": "0.2600"}},
                           "fees_maker": {"XXBTZUSD": {"fee": "0.1600"}}}),
    }
    answers.update(overrides)
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        ep = request.url.path.rsplit("/", 1)[-1]
        seen.append((ep, form(request) if request.method == "POST" else dict(request.url.params)))
        if request.method == "POST":
            check_signed(request)
        if ep == "Time":
            return ok({"unixtime": int(time.time()), "rfc1123": "x"})
        return answers[ep]
    return handler, seen


def run_mock(overrides):
    handler, seen = mock_venue(overrides)

    async def main():
        async with KrakenHttp(Credentials(DOC_KEY, DOC_SECRET), transport=httpx.MockTransport(handler), retries=0) as k:
            return {c.name: c for c in await run_checks(k, PAIRS[:1], has_credentials=True)}
    return asyncio.run(main()), seen


def test_doctor_requests_are_what_kraken_expects():
    checks, seen = run_mock({})
    assert not failed(checks)
    add = dict(seen)["AddOrder"]
    assert add["validate"] == "true" and add["ordertype"] == "limit" and add["type"] == "buy"
    assert float(add["price"]) == 40000.0 and float(add["volume"]) >= 0.00005
    assert dict(seen)["TradeVolume"]["pair"] == "XXBTZUSD"
    assert "taker 0.26 % / maker 0.16 %" in checks["fee tier (TradeVolume)"].detail
    assert all("SECRET-TOKEN-VALUE" not in c.detail + c.fix for c in checks.values())


def test_a_venue_that_places_a_validate_order_fails_and_the_order_is_cancelled():
    checks, seen = run_mock({"AddOrder": ok({"descr": {"order": "buy"}, "txid": ["OREAL1-AAAAA-BBBBBB"]}),
                             "CancelOrder": ok({"count": 1})})
    c = checks["Create & Modify Orders (AddOrder validate)"]
    assert c.ok is False and "ignores validate=true" in c.fix
    assert any(ep == "CancelOrder" and p.get("txid") == "OREAL1-AAAAA-BBBBBB" for ep, p in seen)


def test_an_order_check_refusal_still_proves_the_trade_permission():
    checks, _ = run_mock({"AddOrder": httpx.Response(200, json={"error": ["EOrder:Insufficient funds"]})})
    c = checks["Create & Modify Orders (AddOrder validate)"]
    assert c.ok is True and "EOrder:Insufficient funds" in c.detail


def test_a_cancel_refused_for_the_made_up_id_still_proves_the_cancel_permission():
    checks, seen = run_mock({"CancelOrder": httpx.Response(200, json={"error": ["EGeneral:Invalid arguments:txid"]})})
    c = checks["Cancel/Close Orders (CancelOrder)"]
    assert c.ok is True and "EGeneral:Invalid arguments:txid" in c.detail
    txid = next(p["txid"] for ep, p in seen if ep == "CancelOrder")
    assert [len(part) for part in txid.split("-")] == [6, 5, 6] and txid.startswith("O")


def test_a_cancel_refused_for_permissions_fails():
    checks, _ = run_mock({"CancelOrder": httpx.Response(200, json={"error": ["EGeneral:Permission denied"]})})
    assert checks["Cancel/Close Orders (CancelOrder)"].ok is False
