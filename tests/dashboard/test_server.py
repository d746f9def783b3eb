"""The dashboard server on a real socket (127.0.0.1): API answers decode into their structs, the OpenAPI
document is valid and covers every route, tokens, Host/Origin checks, actions, broken requests."""

from __future__ import annotations

import asyncio
import json

import httpx
import msgspec
import pytest

from tradejet.dashboard import schema
from tradejet.dashboard.options import check_options
from tradejet.dashboard.server import Dashboard, attach, serve_view
from tradejet.dashboard.state import LedgerView
from tradejet.errors import ConfigError
from tradejet.io.audit import read_records, verify

TOKEN = "s3cret-token-0123456789"


def run(coro):
    return asyncio.run(coro)


async def _serve(engine, **kw):
    d = await attach(engine, port=0, environment="test market", **kw)
    return d, httpx.AsyncClient(base_url=f"http://127.0.0.1:{d.bound_port}", timeout=10)


async def _raw(port: int, data: bytes) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)
    await w.drain()
    out = await asyncio.wait_for(r.read(), 10)
    w.close()
    return out


def test_openapi_is_valid_and_covers_every_route(paper_engine):
    from openapi_spec_validator import validate

    async def main():
        d, c = await _serve(paper_engine[0])
        async with c:
            doc = (await c.get("/api/openapi.json")).json()
        served = {(m, p) for (m, p) in d._routes} | {("GET", "/api/events"), ("GET", "/")}
        await d.close()
        return doc, served

    doc, served = run(main())
    validate(doc)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == served
    assert set(doc["components"]["schemas"]) >= {"Status", "Update", "ActionRequest", "EquityCurve", "ErrorBody"}
    assert doc["paths"]["/api/actions/kill"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ActionRequest"}


def test_every_get_route_answers_its_struct(paper_engine):
    eng, ledger, _ = paper_engine

    async def main():
        d, c = await _serve(eng)
        out = {}
        async with c:
            for r in schema.ROUTES:
                if r.method == "GET" and not isinstance(r.response, str):
                    resp = await c.get(r.path)
                    assert resp.status_code == 200, (r.path, resp.text)
                    assert resp.headers["content-type"] == "application/json"
                    out[r.path] = msgspec.json.decode(resp.content, type=r.response, strict=True)
        await d.close()
        return out

    got = run(main())
    st = got["/api/status"]
    assert st.mode == "paper" and st.bars_done == eng.bars_done and st.environment == "test market"
    assert st.working_orders == len(eng.working) > 0 and not st.paused
    assert {o.client_order_id for o in got["/api/orders"]} == {w.cid for w in eng.working}
    fills = got["/api/fills"]
    assert [f.trade_id for f in fills] == [f.trade_id for f in reversed(ledger.fills())][:50]
    led_pos = {(p.symbol, p.qty) for p in ledger.positions()}
    assert {(p.symbol, p.qty) for p in got["/api/positions"]} == led_pos
    eq = got["/api/equity"]
    assert eq.total_bars == eng.bars_done and eq.points[-1].equity == pytest.approx(eng.log.equity[-1])
    assert got["/api/latency"].n == eng.n_latency and got["/api/latency"].p99_us > 0
    assert [a.event for a in got["/api/audit"]][-1] == "paper_started"
    pnl = got["/api/pnl"]
    realized = sum(r.realized for r in pnl.by_pair)
    assert realized == pytest.approx(float(eng.ctx.realized.sum()))


def test_server_sent_events_push_updates(paper_engine):
    eng = paper_engine[0]

    async def main():
        d, c = await _serve(eng, push_interval=0.05)
        events = []
        async with c, c.stream("GET", "/api/events") as resp:
            assert resp.headers["content-type"] == "text/event-stream"
            lines = resp.aiter_lines()
            async def next_event():
                data = None
                async for line in lines:
                    if line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data:
                        return msgspec.json.decode(data, type=schema.Update)
            events.append(await asyncio.wait_for(next_event(), 5))
            eng.pause()  # a change the pusher must notice (what an action does)
            events.append(await asyncio.wait_for(next_event(), 5))
        await d.close()
        return events

    first, second = run(main())
    assert not first.status.paused and second.status.paused and second.seq > first.seq


def test_token_is_required_everywhere_when_set(paper_engine):
    eng = paper_engine[0]

    async def main():
        d, c = await _serve(eng, token=TOKEN)
        codes = {}
        async with c:
            for path in ("/", "/static/app.js", "/api/status", "/api/openapi.json", "/api/events"):
                codes[path] = (await c.get(path)).status_code
            codes["wrong"] = (await c.get("/api/status", headers={"Authorization": "Bearer nope"})).status_code
            codes["post"] = (await c.post("/api/actions/pause", json={"confirm": "pause"})).status_code
            codes["bearer"] = (await c.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})).status_code
            codes["query"] = (await c.get(f"/api/status?token={TOKEN}")).status_code
            page = await c.get(f"/?token={TOKEN}")
            codes["cookie"] = (await c.get("/static/app.js", headers={"Cookie": f"tj_token={TOKEN}"})).status_code
        await d.close()
        return codes, page

    codes, page = run(main())
    assert all(codes[p] == 401 for p in ("/", "/static/app.js", "/api/status", "/api/openapi.json", "/api/events",
                                          "wrong", "post"))
    assert not eng.paused
    assert codes["bearer"] == codes["query"] == codes["cookie"] == 200
    assert page.status_code == 200 and "tj_token=" + TOKEN in page.headers["set-cookie"]
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]


def test_binding_elsewhere_needs_a_token(paper_engine):
    from tradejet.dashboard.state import EngineView

    with pytest.raises(ConfigError, match="needs a token"):
        Dashboard(EngineView(paper_engine[0]), host="0.0.0.0", port=0)
    with pytest.raises(ConfigError, match="at least 16"):
        check_options("127.0.0.1", 8080, "short")
    with pytest.raises(ConfigError, match="--port"):
        check_options("127.0.0.1", 70000, None)
    assert check_options("127.0.0.1", 0, None) is None
    generated = check_options("0.0.0.0", 0, None)
    assert generated and len(generated) >= 16

    async def main():
        d = await attach(paper_engine[0], host="0.0.0.0", port=0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{d.bound_port}") as c:
            a = (await c.get("/api/status")).status_code
            b = (await c.get("/api/status", headers={"Authorization": f"Bearer {d.token}"})).status_code
        await d.close()
        return d, a, b

    d, a, b = run(main())
    assert d.token and f"?token={d.token}" in d.url and (a, b) == (401, 200)


def test_foreign_host_and_cross_origin_actions_are_refused(paper_engine):
    eng = paper_engine[0]

    async def main():
        d, c = await _serve(eng)
        async with c:
            rebinding = (await c.get("/api/status", headers={"Host": "evil.example:80"})).status_code
            origin = await c.post("/api/actions/pause", json={"confirm": "pause"},
                                  headers={"Origin": "http://evil.example"})
            form = await c.post("/api/actions/pause", content=b"confirm=pause",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        await d.close()
        return rebinding, origin, form

    rebinding, origin, form = run(main())
    assert rebinding == 403 and origin.status_code == 403 and "cross-origin" in origin.json()["error"]
    assert form.status_code == 415 and not eng.paused


@pytest.mark.parametrize(("body", "status", "match"), [
    (b'{"confirm": "paus"}', 400, "confirm must be 'pause'"),
    (b'{"confirm": "pause", "force": true}', 400, "force"),
    (b'{"reason": "x"}', 400, "confirm"),
    (b'not json', 400, "bad action body"),
])
def test_bad_action_bodies_are_refused(paper_engine, body, status, match):
    eng = paper_engine[0]

    async def main():
        d, c = await _serve(eng)
        async with c:
            r = await c.post("/api/actions/pause", content=body, headers={"Content-Type": "application/json"})
        await d.close()
        return r

    r = run(main())
    assert r.status_code == status and match in r.json()["error"] and not eng.paused


def test_pause_resume_and_kill_act_on_the_engine_and_are_audited(paper_engine):
    eng, ledger, audit = paper_engine
    working = [w.cid for w in eng.working]

    async def main():
        d, c = await _serve(eng)
        res = {}
        async with c:
            for a in ("pause", "resume", "kill", "resume"):
                r = await c.post(f"/api/actions/{a}", json={"confirm": a, "reason": f"test {a}"})
                res[a] = (r.status_code, r.json(), eng.paused, eng.halted)
            res["orders"] = (await c.get("/api/orders")).json()
            res["status"] = (await c.get("/api/status")).json()
        await d.close()
        return res

    res = run(main())
    assert res["pause"][0] == 200 and res["pause"][2:] == (True, False)
    assert res["resume"][0] == 409  # the last resume: after the kill
    assert res["kill"][0] == 200 and res["kill"][2:] == (True, True)
    assert sorted(res["kill"][1]["cancelled"]) == sorted(working)
    assert res["orders"] == [] and res["status"]["trading_state"] == "HALTED"
    assert not ledger.orders(open_only=True)
    assert all(ledger.order(c).status == "canceled" for c in working)
    events = [(r.event, r.data.get("reason")) for r in read_records(audit.path)]
    assert events[-3:] == [("dashboard.pause", "test pause"), ("dashboard.resume", "test resume"),
                           ("dashboard.kill", "test kill")]
    assert verify(audit.path).ok


@pytest.mark.parametrize(("raw", "status"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 400),
    (b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"POST /api/actions/pause HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
    (b"POST /api/actions/pause HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999\r\n\r\n", 413),
    (b"POST /api/actions/pause HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n", 400),
    (b"GET /api/fills?limit=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 400),
    (b"GET /api/audit?limit=abc HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 400),
    (b"GET /api/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 404),
    (b"DELETE /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 405),
    (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 405),
])
def test_broken_requests_get_a_clear_error(paper_engine, raw, status):
    async def main():
        d = await attach(paper_engine[0], port=0)
        out = await _raw(d.bound_port, raw)
        await d.close()
        return out

    out = run(main())
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == str(status).encode(), out[:300]
    assert json.loads(body)["error"]


def test_ledger_view_is_read_only_and_matches_the_ledger(paper_engine):
    eng, ledger, audit = paper_engine
    path = ledger.path

    async def main():
        d = await serve_view(LedgerView(path), port=0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{d.bound_port}") as c:
            st = msgspec.json.decode((await c.get("/api/status")).content, type=schema.Status)
            eq = msgspec.json.decode((await c.get("/api/equity")).content, type=schema.EquityCurve)
            orders = (await c.get("/api/orders")).json()
            act = await c.post("/api/actions/kill", json={"confirm": "kill"})
        await d.close()
        return st, eq, orders, act

    st, eq, orders, act = run(main())
    assert st.mode == "watch" and st.ledger_mode == "paper" and st.read_only and st.bars_done == eng.bars_done
    assert st.run_id == "t" and st.initial_cash == 10_000.0
    assert eq.total_bars == len(ledger.equity_marks())
    assert eq.points[-1].equity == pytest.approx(ledger.equity_marks()[-1][1])
    assert {o["client_order_id"] for o in orders} == {o.client_order_id for o in ledger.orders(open_only=True)}
    assert act.status_code == 409 and "read-only" in act.json()["error"] and not eng.halted


def test_ledger_view_refuses_what_is_not_a_ledger(tmp_path):
    from tradejet.dashboard.state import audit_tail
    from tradejet.errors import DataError

    with pytest.raises(DataError, match="no such ledger file"):
        LedgerView(tmp_path / "missing.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="junk.sqlite"):
        LedgerView(tmp_path / "junk.sqlite")
    import sqlite3
    sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(DataError, match="not a tradejet ledger"):
        LedgerView(tmp_path / "other.sqlite")
    bad = tmp_path / "a.jsonl"
    bad.write_text('{"seq": 1, "ts": 1, "event": "x", "data": {}, "prev": "0"}\n{"seq": "two"}\n')
    with pytest.raises(DataError, match="not an audit record"):
        audit_tail(bad)


def test_alerts_name_unreconciled_symbols_the_breaker_and_refused_models(paper_engine):
    from tradejet.dashboard.state import EngineView
    from tradejet.engine.step import INFO_BREAKER

    eng, ledger, audit = paper_engine
    view = EngineView(eng)
    assert {a.kind for a in view.alerts()} <= {"data"}
    eng.ctx.unreconciled[eng.symbols.index("ETH/USD")] = True
    eng.ctx.info[INFO_BREAKER] = 1.0
    audit.append("model_refused", {"model": "crypto-7", "reason": "sha256 mismatch"})
    got = {(a.kind, a.severity, a.symbol): a.message for a in view.alerts()}
    assert "ETH/USD" in got[("unreconciled", "critical", "ETH/USD")]
    assert "breaker" in got[("breaker", "critical", None)]
    assert "crypto-7" in got[("model_refused", "critical", None)] and "sha256" in got[("model_refused", "critical", None)]
    ledger.record_reconciliation(1, "quantity_mismatch", "ledger 1, venue 2", "SOL/USD")
    watch = {(a.kind, a.symbol) for a in LedgerView(ledger.path).alerts()}
    assert ("unreconciled", "SOL/USD") in watch and ("model_refused", None) in watch


def test_a_busy_port_is_a_clear_error(paper_engine):
    async def main():
        d = await attach(paper_engine[0], port=0)
        try:
            with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{d.bound_port}"):
                await attach(paper_engine[0], port=d.bound_port)
        finally:
            await d.close()

    run(main())


def test_kill_switch_reports_a_cancel_the_venue_refused_and_keeps_that_order_open(paper_engine):
    from tradejet.errors import VenueUnavailable

    eng, ledger, audit = paper_engine
    venue = eng.adapter
    stuck = eng.working[0].cid

    class RefusingVenue:  # the paper venue, except that one cancel times out
        name = "paper"

        def __getattr__(self, attr):
            return getattr(venue, attr)

        async def cancel(self, cid):
            if cid == stuck:
                raise VenueUnavailable("cancel timed out")
            await venue.cancel(cid)

    eng.adapter = RefusingVenue()

    async def main():
        d, c = await _serve(eng)
        async with c:
            r = await c.post("/api/actions/kill", json={"confirm": "kill"})
        await d.close()
        return r.json()

    res = run(main())
    assert eng.halted and stuck not in res["cancelled"] and "1 error" in res["message"]
    assert ledger.order(stuck).is_open
    last = list(read_records(audit.path))[-1]
    assert last.event == "dashboard.kill" and any("cancel timed out" in e for e in last.data["errors"])
