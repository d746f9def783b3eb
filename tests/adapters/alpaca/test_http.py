"""AlpacaHttp over httpx.MockTransport: documented shapes decoded, bad answers named, errors mapped, no secrets."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from tests.adapters.alpaca.conftest import ACCOUNT, CALENDAR, CLOCK, FILL, KEY, MULTI_BARS, ORDER, POSITION, SECRET
from tradejet.adapters.alpaca.http import LIVE_URL, PAPER_URL, AlpacaCredentials, AlpacaHttp, trading_url
from tradejet.adapters.alpaca.schemas import num, parse_time_ns
from tradejet.errors import AuthError, ConfigError, OrderRejected, RateLimited, ResponseError, VenueUnavailable


def call(handler, fn, creds, sleeps=None, **kw):
    async def main():
        async with AlpacaHttp(creds, transport=httpx.MockTransport(handler), sleep=sleeps or _nosleep, **kw) as c:
            return await fn(c)
    return asyncio.run(main())


async def _nosleep(_s: float) -> None:
    return None


def routes(table: dict):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        key = f"{request.method} {request.url.path}"
        ans = table[key]
        if callable(ans):
            return ans(request)
        return httpx.Response(200, json=ans)
    handler.seen = seen
    return handler


def test_every_endpoint_decoded_from_documented_samples(creds):
    page2 = {"bars": [{"t": "2022-03-01T05:00:00Z", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10}],
             "symbol": "AAPL", "next_page_token": None}

    def bars(request):
        if request.url.params.get("page_token") == "tok":
            return httpx.Response(200, json=page2)
        return httpx.Response(200, json={"bars": MULTI_BARS["bars"]["AAPL"], "symbol": "AAPL",
                                         "next_page_token": "tok"})
    h = routes({"GET /v2/account": ACCOUNT, "GET /v2/positions": [POSITION], "GET /v2/orders": [ORDER],
                "GET /v2/orders:by_client_order_id": ORDER, "GET /v2/orders/" + ORDER["id"]: ORDER,
                "GET /v2/account/activities/FILL": [FILL], "GET /v2/clock": CLOCK, "GET /v2/calendar": CALENDAR,
                "GET /v2/stocks/AAPL/bars": bars, "GET /v2/stocks/bars": MULTI_BARS,
                "POST /v2/orders": ORDER, "DELETE /v2/orders/" + ORDER["id"]: lambda r: httpx.Response(204)})

    async def all_(c: AlpacaHttp):
        return (await c.account(), await c.positions(), await c.list_orders("all"),
                await c.get_order_by_client_id(ORDER["client_order_id"]), await c.get_order(ORDER["id"]),
                await c.fills(), await c.clock(), await c.calendar("1970-01-01", "1970-01-03"), await c.bars("AAPL"),
                await c.multi_bars(["AAPL", "TSLA"]),
                await c.submit_order(symbol="AAPL", qty=5, side="buy", client_order_id=ORDER["client_order_id"]),
                await c.cancel_order(ORDER["id"]))
    acct, pos, orders, by_cid, by_id, fills, clock, cal, bars_, multi, placed, canceled = call(h, all_, creds)
    assert num(acct.cash, "a", "cash") == -23140.2 and acct.multiplier == "4" and acct.buying_power == "262113.632"
    assert pos[0].avg_entry_price == "100.0" and pos[0].qty == "5"
    assert orders[0].status == "accepted" and by_cid.id == ORDER["id"] and by_id.symbol == "AAPL"
    assert fills[0].order_id == FILL["order_id"] and fills[0].price == "1.63"
    assert clock.is_open and parse_time_ns(clock.timestamp, "c", "t") == 1651169224451420928
    assert cal[0].settlement_date == "1970-01-06"
    assert [b.c for b in bars_] == [165.12, 1.5]  # two pages joined by next_page_token
    assert multi["TSLA"][0].vw == 855.748243
    assert placed.client_order_id == ORDER["client_order_id"] and canceled is True
    req = h.seen[0]
    assert req.headers["APCA-API-KEY-ID"] == KEY and req.headers["APCA-API-SECRET-KEY"] == SECRET
    post = next(r for r in h.seen if r.method == "POST")
    assert json.loads(post.content) == {"symbol": "AAPL", "qty": "5", "side": "buy", "type": "market",
                                        "time_in_force": "day", "client_order_id": ORDER["client_order_id"]}
    assert any(r.url.host == "data.alpaca.markets" for r in h.seen if "/stocks/" in r.url.path)
    assert all(r.url.host == "paper-api.alpaca.markets" for r in h.seen if "/stocks/" not in r.url.path)


@pytest.mark.parametrize("body, field", [
    ({k: v for k, v in ACCOUNT.items() if k != "cash"}, "cash"),
    ({**ACCOUNT, "status": 7}, "status"),
    ({**ACCOUNT, "trading_blocked": "no"}, "trading_blocked"),
])
def test_malformed_account_names_endpoint_and_field(creds, body, field):
    h = routes({"GET /v2/account": body})
    with pytest.raises(ResponseError, match=rf"GET /v2/account.*{field}"):
        call(h, lambda c: c.account(), creds)


def test_malformed_nested_and_non_json_answers(creds):
    bad = {"bars": {"AAPL": [{"t": "x", "o": "one", "h": 1, "l": 1, "c": 1, "v": 1}]}, "next_page_token": None}
    with pytest.raises(ResponseError, match=r"GET /v2/stocks/bars.*field bars\[\.\.\.\]\[0\]\.o"):
        call(routes({"GET /v2/stocks/bars": bad}), lambda c: c.multi_bars(["AAPL"]), creds)
    with pytest.raises(ResponseError, match=r"GET /v2/clock.*not valid JSON"):
        call(routes({"GET /v2/clock": lambda r: httpx.Response(200, content=b"<html>")}), lambda c: c.clock(), creds)
    with pytest.raises(ResponseError, match=r"GET /v2/positions.*\[0\]\.qty"):
        call(routes({"GET /v2/positions": [{**POSITION, "qty": None}]}), lambda c: c.positions(), creds)
    with pytest.raises(ResponseError, match="field cash is not a number: 'abc'"):
        num("abc", "GET /v2/account", "cash")
    with pytest.raises(ResponseError, match="GET /v2/clock: field timestamp is not an RFC 3339"):
        parse_time_ns("yesterday", "GET /v2/clock", "timestamp")


def _status(code: int, body: dict | None = None, headers: dict | None = None):
    return lambda r: httpx.Response(code, json=body or {"code": code * 100000, "message": f"m{code}"},
                                    headers=headers)


@pytest.mark.parametrize("code, method, exc", [
    (401, "GET", AuthError), (403, "GET", AuthError), (403, "POST", OrderRejected), (422, "POST", OrderRejected),
])
def test_http_errors_map_to_typed_exceptions(creds, code, method, exc):
    if method == "GET":
        h, fn = routes({"GET /v2/account": _status(code)}), (lambda c: c.account())
    else:
        body = {"code": 40310000, "message": "insufficient buying power"} if code == 403 else None
        h = routes({"POST /v2/orders": _status(code, body)})
        fn = lambda c: c.submit_order(symbol="AAPL", qty=1, side="buy", client_order_id="x-1")  # noqa: E731
    with pytest.raises(exc, match=rf"HTTP {code}"):
        call(h, fn, creds)
    assert len(h.seen) == 1  # never retried


def test_404_by_client_id_is_none_and_cancel_of_gone_order_is_false(creds):
    h = routes({"GET /v2/orders:by_client_order_id": _status(404), "DELETE /v2/orders/abc": _status(422)})
    assert call(h, lambda c: c.get_order_by_client_id("nope"), creds) is None
    assert call(h, lambda c: c.cancel_order("abc"), creds) is False


def test_429_backs_off_then_succeeds_and_gives_up_after_retries(creds, sleeps):
    n = {"i": 0}

    def clock(r):
        n["i"] += 1
        return httpx.Response(429, json={"message": "rate limit"}, headers={"Retry-After": "2"}) if n["i"] < 3 \
            else httpx.Response(200, json=CLOCK)
    assert call(routes({"GET /v2/clock": clock}), lambda c: c.clock(), creds, sleeps).is_open
    assert sleeps.waits == [2.0, 2.0]
    with pytest.raises(RateLimited) as e:
        call(routes({"GET /v2/clock": _status(429, headers={"Retry-After": "1"})}), lambda c: c.clock(), creds,
             retries=2)
    assert e.value.retry_after == 1.0


def test_5xx_retried_for_reads_only(creds, sleeps):
    n = {"i": 0}

    def acct(r):
        n["i"] += 1
        return httpx.Response(503, text="busy") if n["i"] == 1 else httpx.Response(200, json=ACCOUNT)
    assert call(routes({"GET /v2/account": acct}), lambda c: c.account(), creds, sleeps).id == ACCOUNT["id"]
    assert n["i"] == 2 and sleeps.waits == [0.5]


def test_lost_order_answer_found_by_client_id_is_not_resent(creds):
    posts, lookups = [], []

    def post(r):
        posts.append(json.loads(r.content))
        raise httpx.ReadTimeout("lost", request=r)

    def lookup(r):
        lookups.append(r.url.params["client_order_id"])
        return httpx.Response(200, json={**ORDER, "client_order_id": "cid-7", "status": "filled"})
    h = routes({"POST /v2/orders": post, "GET /v2/orders:by_client_order_id": lookup})
    o = call(h, lambda c: c.submit_order(symbol="AAPL", qty=5, side="buy", client_order_id="cid-7"), creds)
    assert o.status == "filled" and len(posts) == 1 and lookups == ["cid-7"]


def test_lost_order_absent_is_resent_once_with_the_same_client_id(creds):
    posts: list[dict] = []

    def post(r):
        posts.append(json.loads(r.content))
        if len(posts) == 1:
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(200, json={**ORDER, "client_order_id": "cid-8"})
    h = routes({"POST /v2/orders": post, "GET /v2/orders:by_client_order_id": _status(404)})
    o = call(h, lambda c: c.submit_order(symbol="AAPL", qty=5, side="buy", client_order_id="cid-8"), creds,
             lost_order_checks=2)
    assert o.client_order_id == "cid-8" and len(posts) == 2 and posts[0] == posts[1]
    assert sum(r.url.path == "/v2/orders:by_client_order_id" for r in h.seen) == 2


def test_lost_order_with_failing_lookup_is_not_resent(creds):
    posts = []

    def post(r):
        posts.append(r)
        return httpx.Response(500, text="oops")
    h = routes({"POST /v2/orders": post, "GET /v2/orders:by_client_order_id": _status(503)})
    with pytest.raises(VenueUnavailable, match="outcome unknown.*not resent"):
        call(h, lambda c: c.submit_order(symbol="AAPL", qty=1, side="buy", client_order_id="cid-9"), creds,
             retries=1)
    assert len(posts) == 1


def test_a_lookup_echoing_another_client_id_counts_as_absent(creds):
    h = routes({"GET /v2/orders:by_client_order_id": {**ORDER, "client_order_id": "someone-else"}})
    assert call(h, lambda c: c.get_order_by_client_id("mine"), creds) is None


def test_order_arguments_checked_before_sending(creds):
    h = routes({})
    for kw, msg in [({"side": "hold"}, "side"), ({"qty": 0}, "qty"), ({"type": "limit"}, "limit_price"),
                    ({"type": "stop"}, "stop_price"), ({"time_in_force": "forever"}, "time_in_force"),
                    ({"order_class": "bracket"}, "take_profit")]:
        args = {"symbol": "AAPL", "qty": 1, "side": "buy", "client_order_id": "c", **kw}
        with pytest.raises(ValueError, match=msg):
            call(h, lambda c: c.submit_order(**args), creds)
    assert h.seen == []


def test_bracket_body_matches_alpacas_shape(creds):
    h = routes({"POST /v2/orders": {**ORDER, "order_class": "bracket"}})
    call(h, lambda c: c.submit_order(symbol="AAPL", qty=2, side="buy", type="limit", limit_price=100.5,
                                     order_class="bracket", take_profit=110, stop_loss=95.25, time_in_force="gtc",
                                     client_order_id="b-1"), creds)
    body = json.loads(h.seen[0].content)
    assert body["take_profit"] == {"limit_price": "110"} and body["stop_loss"] == {"stop_price": "95.25"}
    assert body["order_class"] == "bracket" and body["limit_price"] == "100.5" and body["time_in_force"] == "gtc"


def test_secrets_never_in_repr_errors_or_logs(creds, caplog):
    caplog.set_level(logging.DEBUG)
    client = AlpacaHttp(creds, transport=httpx.MockTransport(lambda r: httpx.Response(500, text=SECRET)))
    texts = [repr(creds), str(creds), repr(client)]
    for fn in (lambda c: c.account(), lambda c: c.submit_order(symbol="A", qty=1, side="buy", client_order_id="s")):
        with pytest.raises(Exception) as e:
            call(lambda r: httpx.Response(401, json={"message": "unauthorized"}), fn, creds, retries=1)
        texts.append(str(e.value))
        texts.append(repr(e.value))
    texts.append(caplog.text)
    for t in texts:
        assert SECRET not in t and KEY not in t
    assert "…6789" in repr(creds)
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(creds)
    asyncio.run(client.aclose())


def test_credentials_and_urls_from_the_environment():
    assert AlpacaCredentials.from_env({}) is None
    c = AlpacaCredentials.from_env({"APCA_API_KEY_ID": "k1", "APCA_API_SECRET_KEY": "s1"})
    assert c.headers() == {"APCA-API-KEY-ID": "k1", "APCA-API-SECRET-KEY": "s1"}
    with pytest.raises(ConfigError, match="APCA_API_SECRET_KEY"):
        AlpacaCredentials.from_env({"APCA_API_KEY_ID": "k1"})
    assert trading_url("live") == LIVE_URL and trading_url("paper") == PAPER_URL and trading_url("") == PAPER_URL
    assert AlpacaHttp(c, base_url="http://127.0.0.1:9").data_url == "http://127.0.0.1:9"


def test_no_credentials_is_an_auth_error_before_any_request():
    h = routes({})
    with pytest.raises(AuthError, match="APCA_API_KEY_ID"):
        call(h, lambda c: c.account(), None)
    assert h.seen == []
