"""Reconciliation on start: each kind of finding, against a fake venue with a hand-set account."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tradejet.config import Config
from tradejet.engine import Engine
from tradejet.engine.reconcile import reconcile
from tradejet.io.audit import AuditLog, read_records, verify
from tradejet.io.ledger import Ledger
from tradejet.kernels.codes import Reject, Side, Strategy
from tradejet.messages import Balance, OrderFilled, OrderStatusReport, Position, SubmitOrder
from tradejet.testing import FakeVenue

SYMS = ["BTC/USD", "ETH/USD"]


@pytest.fixture
def led(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        yield led


def _engine(led):
    return Engine(Config(), None, led, symbols=SYMS)


def _fill(cid, tid, qty, price=100.0, side=1, symbol="BTC/USD"):
    return OrderFilled(client_order_id=cid, venue_order_id="V1", trade_id=tid, symbol=symbol, side=side, qty=qty,
                       price=price, fee=0.1, ts_event=5, ts_init=1)


def _run(led, venue, eng=None, **kw):
    return asyncio.run(reconcile(led, venue, engine=eng, symbols=SYMS, ts=9, **kw))


def test_clean_when_both_agree(led):
    eng = _engine(led)
    led.record_order(SubmitOrder(client_order_id="c1", symbol="BTC/USD", side=1, qty=0.5, order_type=0, ts_init=1))
    led.record_fill(_fill("c1", "t1", 0.5))
    venue = FakeVenue(positions=[Position(symbol="BTC/USD", qty=0.5 + 1e-10, avg_price=100.0)],
                      balances=[Balance(asset="USD", total=led.cash()["USD"], available=0.0)],
                      fills=[_fill("c1", "t1", 0.5)])
    rep = _run(led, venue, eng)
    assert rep.clean, rep.findings
    assert not eng.ctx.unreconciled.any()


def test_missed_fill_is_applied_once(led):
    led.record_order(SubmitOrder(client_order_id="c1", symbol="BTC/USD", side=1, qty=0.5, order_type=0, ts_init=1))
    venue = FakeVenue(fills=[_fill("c1", "t1", 0.2), _fill("c1", "t2", 0.3)],
                      positions=[Position(symbol="BTC/USD", qty=0.5, avg_price=100.0)])
    led.record_fill(_fill("c1", "t1", 0.2))
    rep = _run(led, venue)
    assert rep.missed_fills == 1 and [f.kind for f in rep.findings] == ["missed_fill"]
    assert led.net_position("BTC/USD") == pytest.approx(0.5)
    assert led.order("c1").status == "filled"
    assert _run(led, venue).clean  # nothing left the second time


def test_unknown_position_is_adopted_by_defensive(led, tmp_path):
    eng = _engine(led)
    with AuditLog(tmp_path / "audit.jsonl") as audit:
        rep = _run(led, FakeVenue(positions=[Position(symbol="ETH/USD", qty=2.0, avg_price=50.0)]), eng, audit=audit)
    assert rep.adopted == ["ETH/USD"] and [f.kind for f in rep.findings] == ["backfilled"]
    (pos,) = led.positions()
    assert (pos.symbol, pos.qty, pos.strategy, pos.backfilled) == ("ETH/USD", 2.0, Strategy.DEFENSIVE, True)
    assert eng.ctx.pos_qty[Strategy.DEFENSIVE, 1] == 2.0 and eng.ctx.pos_avg[Strategy.DEFENSIVE, 1] == 50.0
    assert verify(tmp_path / "audit.jsonl").ok
    assert [r.event for r in read_records(tmp_path / "audit.jsonl")] == ["reconcile.backfilled"]
    assert led.reconciliation_events()[-1][1] == "backfilled"


def test_quantity_beyond_a_lot_blocks_the_symbol(led):
    eng = _engine(led)
    led.record_order(SubmitOrder(client_order_id="c1", symbol="BTC/USD", side=1, qty=0.5, order_type=0, ts_init=1))
    led.record_fill(_fill("c1", "t1", 0.5))
    rep = _run(led, FakeVenue(positions=[Position(symbol="BTC/USD", qty=0.4, avg_price=100.0)]), eng)
    assert rep.unreconciled == ["BTC/USD"] and eng.ctx.unreconciled.tolist() == [True, False]


def test_orders_open_on_one_side_only(led):
    led.record_order(SubmitOrder(client_order_id="c1", symbol="BTC/USD", side=1, qty=0.5, order_type=0, ts_init=1))
    venue = FakeVenue(orders=[OrderStatusReport(client_order_id="x9", venue_order_id="V9", symbol="ETH/USD", side=1,
                                                order_type=1, qty=1.0, filled_qty=0.0, status="new", ts_event=3)])
    rep = _run(led, venue, apply=False)
    assert sorted(f.kind for f in rep.findings) == ["order_gone", "unknown_open_order"]
    assert led.order("c1").status == "pending_new" and not led.reconciliation_events()  # dry run: untouched
    _run(led, venue)
    assert led.order("c1").status == "expired"


def test_cash_mismatch_is_reported(led):
    led.set_cash("USD", 1000.0, ts=0)
    rep = _run(led, FakeVenue(balances=[Balance(asset="USD", total=990.0, available=990.0)]))
    assert [f.kind for f in rep.findings] == ["cash_mismatch"]


def test_unreconciled_symbols_get_no_new_entries():
    from tradejet.engine.simulate import MarketBars
    from tradejet.io.synthetic import synthetic_market
    from tradejet.testing.paper import build_paper, orders_array

    bars = MarketBars.from_synthetic(synthetic_market(days=60, timeframe="1h", seed=7))
    eng, _ = build_paper(bars, Config())
    eng.ctx.unreconciled[:] = True
    asyncio.run(eng.run())
    o = orders_array(eng)
    buys = o["side"] == Side.BUY
    assert buys.any() and not np.any(o["code"][buys] == Reject.OK)  # schedule refusals come first, then this
    assert np.mean(o["code"][buys] == Reject.UNRECONCILED) > 0.8
