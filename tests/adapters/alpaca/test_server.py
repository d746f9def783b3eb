"""The client and the venue against the local Alpaca-shaped server on 127.0.0.1 (real HTTP)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time

import httpx
import pytest

from tradejet.adapters.alpaca.http import AlpacaCredentials, AlpacaHttp
from tradejet.adapters.alpaca.market import synthetic_market
from tradejet.adapters.alpaca.schemas import NEW_YORK, num
from tradejet.adapters.alpaca.server import AlpacaServer
from tradejet.adapters.alpaca.venue import AlpacaVenue
from tradejet.engine.ports import ExecutionVenue
from tradejet.errors import AuthError, OrderRejected
from tradejet.kernels.codes import OrderType
from tradejet.messages import OrderAccepted, OrderCanceled, OrderFilled
from tradejet.messages import OrderRejected as OrderRejectedEvent
from tradejet.messages import SubmitOrder

SYMS = ["SPY", "AAPL"]


def with_server(fn, *, server_kw=None, client_kw=None):
    async def main():
        kw = {"market": synthetic_market(SYMS, days=40, seed=2), "cash": 50_000.0, **(server_kw or {})}
        async with AlpacaServer(**kw) as srv:
            async with AlpacaHttp(AlpacaCredentials(srv.key_id, srv.secret), base_url=srv.base_url,
                                  sleep=_nosleep, **(client_kw or {})) as c:
                return await fn(srv, c)
    return asyncio.run(main())


async def _nosleep(_s: float) -> None:
    return None


def order(cid: str, qty: float = 2.0, side: int = 1, symbol: str = "SPY", typ: int = OrderType.MARKET,
          price: float = float("nan")) -> SubmitOrder:
    return SubmitOrder(client_order_id=cid, symbol=symbol, side=side, qty=qty, order_type=typ, ts_init=1,
                       limit_price=price if typ == OrderType.LIMIT else float("nan"),
                       stop_price=price if typ == OrderType.STOP_LOSS else float("nan"))


async def _never(_s: float) -> None:
    raise AssertionError("the venue idled: the test expected more events")


async def drain(v: AlpacaVenue) -> list:
    return await v._poll_executions()


def test_every_endpoint_against_the_server():
    async def fn(srv, c):
        srv.advance(5)  # two sessions closed, the third open
        assert (await c.clock()).is_open
        o = await c.submit_order(symbol="SPY", qty=3, side="buy", client_order_id="e-1")
        lim = await c.submit_order(symbol="AAPL", qty=1, side="buy", type="limit", limit_price=1.0,
                                   time_in_force="gtc", client_order_id="e-2")
        acct, pos, fills = await c.account(), await c.positions(), await c.fills()
        open_, all_ = await c.list_orders("open"), await c.list_orders("all")
        by_cid, by_id = await c.get_order_by_client_id("e-2"), await c.get_order(o.id)
        assert await c.cancel_order(lim.id) is True and await c.cancel_order(lim.id) is False
        assert await c.cancel_order("no-such-id") is False
        cal = await c.calendar("2024-01-01", "2024-01-31")
        bars = await c.bars("SPY", limit=1)  # paged one bar a page
        multi = await c.multi_bars(SYMS, limit=1)
        return o, acct, pos, fills, open_, all_, by_cid, by_id, cal, bars, multi, srv
    o, acct, pos, fills, open_, all_, by_cid, by_id, cal, bars, multi, srv = with_server(fn)
    day3 = srv.sessions[2].day
    assert o.status == "filled" and num(o.filled_avg_price, "", "") == srv.market.bars["SPY"][day3][0]
    assert num(acct.cash, "", "") == pytest.approx(50_000 - 3 * srv.market.bars["SPY"][day3][0])
    assert [(p.symbol, p.qty) for p in pos] == [("SPY", "3")]
    assert len(fills) == 1 and fills[0].order_id == o.id and fills[0].side == "buy"
    assert [x.client_order_id for x in open_] == ["e-2"] and {x.client_order_id for x in all_} == {"e-1", "e-2"}
    assert by_cid.id != by_id.id and by_id.client_order_id == "e-1"
    assert [d.date for d in cal][:3] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert "2024-01-15" not in [d.date for d in cal]  # Martin Luther King Jr. Day
    assert len(bars) == 2 and len(multi["SPY"]) == 2 and len(multi["AAPL"]) == 2  # only final bars
    assert bars[1].o == srv.market.bars["SPY"][srv.sessions[1].day][0]


def test_wrong_keys_are_refused():
    async def fn(srv, c):
        async with AlpacaHttp(AlpacaCredentials(srv.key_id, "wrong"), base_url=srv.base_url) as bad:
            with pytest.raises(AuthError, match="HTTP 401"):
                await bad.account()
        return True
    assert with_server(fn)


@pytest.mark.parametrize("kind", ["drop_response", "timeout_after_accept", "http_500"])
def test_lost_order_response_gives_exactly_one_order(kind):
    async def fn(srv, c):
        srv.advance()
        srv.inject(kind, "POST /v2/orders", delay=0.5)
        o = await c.submit_order(symbol="SPY", qty=1, side="buy", client_order_id="lost-1")
        return o, srv
    o, srv = with_server(fn, client_kw={"timeout": 0.3})
    assert o.client_order_id == "lost-1"
    assert [x.client_order_id for x in srv.orders.values()] == ["lost-1"] and len(srv.activities) == 1
    assert srv.fired == [(kind, "POST /v2/orders")]


def test_rate_limit_fault_is_retried_and_timeouts_on_reads_too():
    async def fn(srv, c):
        srv.inject("rate_limit", "GET /v2/account", count=2)
        a = await c.account()
        srv.inject("timeout", "GET /v2/clock", delay=0.5)
        k = await c.clock()
        return a, k, srv
    a, k, srv = with_server(fn, client_kw={"timeout": 0.3})
    assert a.status == "ACTIVE" and k.is_open is False
    assert srv.fired.count(("rate_limit", "GET /v2/account")) == 2


def test_server_refuses_orders_when_closed_and_beyond_buying_power_or_holdings():
    async def fn(srv, c):
        with pytest.raises(OrderRejected, match="HTTP 422.*market is closed"):
            await c.submit_order(symbol="SPY", qty=1, side="buy", client_order_id="c-1")
        srv.advance()
        with pytest.raises(OrderRejected, match="HTTP 403.*insufficient buying power"):
            await c.submit_order(symbol="SPY", qty=10_000, side="buy", client_order_id="c-2")
        with pytest.raises(OrderRejected, match="HTTP 403.*insufficient qty"):
            await c.submit_order(symbol="SPY", qty=1, side="sell", client_order_id="c-3")
        await c.submit_order(symbol="SPY", qty=1, side="buy", client_order_id="c-4")
        with pytest.raises(OrderRejected, match="client_order_id must be unique"):
            await c.submit_order(symbol="SPY", qty=1, side="buy", client_order_id="c-4")
        return srv
    srv = with_server(fn)
    assert list(srv.by_cid) == ["c-4"]


def _venue(srv, c, **kw) -> AlpacaVenue:
    return AlpacaVenue(c, SYMS, client_id_prefix="t-", **kw)


def test_venue_is_an_execution_venue():
    async def fn(srv, c):
        return isinstance(_venue(srv, c), ExecutionVenue)
    assert with_server(fn)


def test_venue_refuses_outside_market_hours_without_sending():
    async def fn(srv, c):
        v = _venue(srv, c)
        await v.submit(order("t-1"))
        evs = await drain(v)
        return evs, srv
    evs, srv = with_server(fn)
    assert len(evs) == 1 and isinstance(evs[0], OrderRejectedEvent) and "market closed" in evs[0].reason
    assert ("POST", "/v2/orders") not in srv.requests and not srv.orders


def test_venue_refuses_on_a_holiday():
    async def fn(srv, c):
        # July 4th 2024, 11:00 New York: a Thursday, NYSE closed
        srv.set_time(int(datetime.combine(date(2024, 7, 4), time(11), NEW_YORK).timestamp()) * 10**9)
        clock = await c.clock()
        cal = await c.calendar("2024-07-01", "2024-07-05")
        v = _venue(srv, c)
        await v.submit(order("t-h"))
        with pytest.raises(OrderRejected, match="market is closed"):
            await c.submit_order(symbol="SPY", qty=1, side="buy", client_order_id="raw")
        return clock, cal, await drain(v), srv
    clock, cal, evs, srv = with_server(fn, server_kw={"market": synthetic_market(SYMS, days=200)})
    assert clock.is_open is False and clock.next_open.startswith("2024-07-05T09:30:00")
    assert [d.date for d in cal] == ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"]
    assert [d.close for d in cal] == ["16:00", "16:00", "13:00", "16:00"]  # the early close before the 4th
    assert isinstance(evs[0], OrderRejectedEvent) and "market closed" in evs[0].reason and not srv.orders


def test_venue_flow_accept_fill_cancel_and_account():
    async def fn(srv, c):
        srv.advance(3)  # a final bar exists: the reference price for the limits
        v = _venue(srv, c)
        await v.submit(order("t-1", qty=2))
        await v.submit(order("t-1", qty=2))  # the same client id again: one order
        await v.submit(order("t-2", qty=1, symbol="AAPL", typ=OrderType.LIMIT, price=1.0))
        first = await drain(v)
        opn = await v.open_orders()
        await v.cancel("t-2")
        await v.cancel("t-unknown")
        second = await drain(v)
        return first, opn, second, await v.positions(), await v.balances(), await v.fills_since(None), srv
    first, opn, second, pos, bal, fills, srv = with_server(fn)
    assert [type(e).__name__ for e in first] == ["OrderAccepted", "OrderAccepted", "OrderFilled"]
    f = first[2]
    assert isinstance(f, OrderFilled) and f.client_order_id == "t-1" and f.qty == 2.0 and f.side == 1
    assert [o.client_order_id for o in opn] == ["t-2"] and opn[0].order_type == OrderType.LIMIT
    assert second == [OrderCanceled(client_order_id="t-2", ts_event=second[0].ts_event)]
    assert [(p.symbol, p.qty) for p in pos] == [("SPY", 2.0)]
    assert bal[0].asset == "USD" and bal[0].total == pytest.approx(srv.cash)
    assert [x.trade_id for x in fills] == [f.trade_id] and len(srv.orders) == 2


def test_cash_only_whatever_the_broker_multiplier():
    async def fn(srv, c):
        srv.advance(3)  # a final bar exists: the reference price for the limits
        acct = await c.account()
        v = _venue(srv, c)
        price = srv.market.bars["SPY"][srv.sessions[0].day][0]
        await v.submit(order("t-big", qty=20_000 / price * 1.5))  # 30k: fits 4x margin, not the 20k cash
        evs = await drain(v)
        return acct, evs, await v.balances(), srv
    acct, evs, bal, srv = with_server(fn, server_kw={"cash": 20_000.0, "multiplier": 4})
    assert acct.multiplier == "4" and num(acct.buying_power, "", "") == 80_000.0
    assert isinstance(evs[0], OrderRejectedEvent) and "cash-only" in evs[0].reason and not srv.orders
    assert bal[0].available == 20_000.0


def test_max_order_notional_and_max_daily_loss():
    async def fn(srv, c):
        srv.advance(3)  # a final bar exists: the reference price for the limits
        v = _venue(srv, c, max_order_notional=1_000.0, max_daily_loss=500.0)
        await v.submit(order("t-n", qty=10))  # ~4,700 USD of SPY
        await v.submit(order("t-ok", qty=1))
        srv.cash -= 2_000.0  # equity 2,000 below the previous close: no new buys
        await v.submit(order("t-l", qty=1))
        await v.submit(order("t-s", qty=1, side=-1))  # sells stay allowed
        return await drain(v), srv
    evs, srv = with_server(fn)
    rej = {e.client_order_id: e.reason for e in evs if isinstance(e, OrderRejectedEvent)}
    assert "max_order_notional" in rej["t-n"] and "max_daily_loss" in rej["t-l"]
    assert set(srv.by_cid) == {"t-ok", "t-s"}
    assert sum(isinstance(e, OrderAccepted) for e in evs) == 2


def test_lost_answer_with_failed_lookup_is_resolved_on_later_polls():
    async def fn(srv, c):
        srv.advance(3)  # a final bar exists: the reference price for the limits
        v = _venue(srv, c)
        srv.inject("drop_response", "POST /v2/orders")
        srv.inject("http_500", "GET /v2/orders:by_client_order_id", count=8)
        await v.submit(order("t-u"))
        assert "t-u" in v._unknown
        srv.faults.clear()
        return await drain(v), srv
    evs, srv = with_server(fn, client_kw={"retries": 1})
    assert [type(e).__name__ for e in evs] == ["OrderAccepted", "OrderFilled"] and list(srv.by_cid) == ["t-u"]


def test_bracket_legs_activate_and_cancel_each_other():
    async def fn(srv, c):
        srv.advance()
        day = srv.sessions[0].day
        o_, hi, lo, _, _ = srv.market.bars["SPY"][day]
        b = await c.submit_order(symbol="SPY", qty=1, side="buy", order_class="bracket", take_profit=round(lo, 2),
                                 stop_loss=round(lo * 0.5, 2), time_in_force="gtc", client_order_id="br-1")
        srv.advance()  # the close works the legs against the day's range
        return b, await c.get_order(b.id) if False else srv.orders[b.id], srv
    b, after, srv = with_server(fn)
    assert b.order_class == "bracket" and [leg.status for leg in b.legs] == ["new", "new"]
    assert [leg.status for leg in after.legs] == ["filled", "canceled"] and "SPY" not in srv.positions


def test_only_the_local_address_binds():
    from tradejet.errors import ConfigError

    with pytest.raises(ConfigError, match="127.0.0.1"):
        AlpacaServer(host="0.0.0.0")


def test_admin_routes_over_http():
    async def fn(srv, c):
        async with httpx.AsyncClient(base_url=srv.base_url) as h:
            r1 = (await h.post("/_sandbox/advance", json={"n": 1})).json()
            r2 = (await h.post("/_sandbox/position", json={"symbol": "SPY", "qty": 5, "avg_entry_price": 400})).json()
            r3 = await h.post("/_sandbox/fault", json={"kind": "nonsense"})
        return r1, r2, r3
    r1, r2, r3 = with_server(fn)
    assert r1["is_open"] is True and r2["positions"] == {"SPY": [5.0, 400.0]}
    assert r3.status_code == 400 and "fault kind" in r3.json()["message"]


def test_fill_activities_page_and_filter_by_time():
    async def fn(srv, c):
        srv.advance()
        for i in range(3):
            await c.submit_order(symbol="SPY", qty=1, side="buy", client_order_id=f"p-{i}")
        t_first = srv.activities[0]["transaction_time"]
        srv.advance(2)
        await c.submit_order(symbol="AAPL", qty=1, side="buy", client_order_id="p-3")
        paged = await c.fills(page_size=1)
        later = await c.fills(after=t_first)
        return paged, later
    paged, later = with_server(fn)
    assert [f.qty for f in paged] == ["1"] * 4 and len({f.id for f in paged}) == 4
    assert [f.symbol for f in later] == ["AAPL"]


def test_venue_reports_each_fill_once_across_polls():
    async def fn(srv, c):
        srv.advance(3)
        v = _venue(srv, c)
        await v.submit(order("t-a"))
        first = await drain(v)
        await v.submit(order("t-b"))
        second = await drain(v)
        third = await drain(v)
        return first, second, third, v
    first, second, third, v = with_server(fn)
    fills = [e.client_order_id for e in first + second + third if isinstance(e, OrderFilled)]
    assert fills == ["t-a", "t-b"] and third == [] and v._fills_after is not None


def test_events_hand_out_missed_days_but_only_the_newest_days_orders_go_out():
    async def fn(srv, c):
        v = _venue(srv, c, wait=_never)
        v.last_day = srv.sessions[0].day  # the bot was down for days 1..4
        srv.advance(11)  # sessions 0-4 closed, session 5 open
        evs = []
        async for ev in v.events():
            evs.append(ev)
            if type(ev).__name__ == "BarsComplete" and len([e for e in evs if type(e).__name__ == "BarsComplete"]) == 1:
                await v.submit(order("t-old", qty=1))  # decided on the first missed day: stale
            if len([e for e in evs if type(e).__name__ == "BarsComplete"]) == 4:
                v.stop()
                await v.submit(SubmitOrder(client_order_id="t-new", symbol="SPY", side=1, qty=1.0,
                                           order_type=OrderType.MARKET, ts_init=ev.ts))
                break
        return evs, await drain(v), srv
    evs, after, srv = with_server(fn)
    days = sorted({e.ts for e in evs if type(e).__name__ == "Bar"})
    assert len(days) == 4 and sum(type(e).__name__ == "Bar" for e in evs) == 8
    rej = [e for e in evs + after if isinstance(e, OrderRejectedEvent)]
    assert [r.client_order_id for r in rej] == ["t-old"] and "stale" in rej[0].reason
    assert list(srv.by_cid) == ["t-new"]


def test_speed_mode_follows_wall_time_and_works_orders_at_each_close():
    wall = [100.0]
    srv = AlpacaServer(market=synthetic_market(SYMS, days=10, seed=2), speed=3600.0, wall=lambda: wall[0])
    srv.tick()
    assert not srv.is_open()  # 08:30 New York
    wall[0] += 1.5  # 1.5 market hours later: 10:00
    srv.tick()
    assert srv.is_open()
    srv.place({"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit", "limit_price": "0.01",
               "time_in_force": "day", "client_order_id": "d-1"})
    wall[0] += 24  # a day later: the close passed (the day order expired), the next session open
    srv.tick()
    assert srv.is_open() and srv.by_cid["d-1"].status == "expired"
    assert srv.final_days() == [srv.sessions[0].day]
    with pytest.raises(Exception, match="step or a speed"):
        AlpacaServer(speed=1.0, step_s=1.0)


def test_sandbox_command_serves_alpaca(tmp_path):
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(root))
    p = subprocess.Popen([sys.executable, "-m", "tradejet", "sandbox", "--venue", "alpaca", "--port", "0",
                          "--balance", "USD=2500", "--api-key", "PKLOCAL1", "--api-secret", "local-secret"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        r = httpx.get(url + "/v2/account",
                      headers={"APCA-API-KEY-ID": "PKLOCAL1", "APCA-API-SECRET-KEY": "local-secret"})
        assert r.status_code == 200 and r.json()["cash"] == "2500"
    finally:
        p.terminate()
        p.communicate(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "tradejet", "sandbox", "--venue", "alpaca", "--balance", "BTC=1"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode != 0 and "USD=AMOUNT" in bad.stderr


def test_venue_survives_an_outage_and_refuses_orders_it_cannot_check():
    async def fn(srv, c):
        srv.advance(3)
        waits = []

        async def wait(s):
            waits.append(s)
            srv.faults.clear()

        v = _venue(srv, c, wait=wait, max_bars=1)
        srv.inject("http_500", "GET /v2/account/activities/FILL", count=10)
        evs = [ev async for ev in v.events()]  # the outage: one wait, then the day's bars
        srv.inject("http_500", "GET /v2/clock", count=10)
        await v.submit(SubmitOrder(client_order_id="t-x", symbol="SPY", side=1, qty=1.0,
                                   order_type=OrderType.MARKET, ts_init=evs[-1].ts))
        srv.faults.clear()
        return evs, waits, await drain(v), srv
    evs, waits, after, srv = with_server(fn, client_kw={"retries": 1})
    assert len(waits) == 1 and sum(type(e).__name__ == "Bar" for e in evs) == 2
    assert isinstance(after[0], OrderRejectedEvent) and "cannot check" in after[0].reason and not srv.orders
