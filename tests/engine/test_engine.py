"""The Engine's contract with its ledger and venue: write before send, ids made before sending, fills once."""

from __future__ import annotations

import asyncio

import pytest

from tradejet.config import Config
from tradejet.engine import Engine, ExecutionVenue
from tradejet.engine.simulate import MarketBars
from tradejet.io.ledger import Ledger
from tradejet.io.synthetic import synthetic_market
from tradejet.messages import OrderFilled, SubmitOrder
from tradejet.testing import FakeVenue
from tradejet.testing.paper import build_paper


@pytest.fixture(scope="module")
def bars():
    return MarketBars.from_synthetic(synthetic_market(days=40, timeframe="1h", seed=7))


class _CheckingVenue:
    """Wraps the paper venue: every order must already be in the ledger when it arrives."""

    def __init__(self, inner, ledger):
        self.inner, self.ledger, self.sent = inner, ledger, []
        self.name = "checking"

    def events(self):
        return self.inner.events()

    async def submit(self, order: SubmitOrder) -> None:
        row = self.ledger.order(order.client_order_id)
        assert row is not None and row.qty == order.qty, "order sent before it was written"
        self.sent.append(order.client_order_id)
        await self.inner.submit(order)

    async def cancel(self, cid):
        await self.inner.cancel(cid)

    async def open_orders(self):
        return await self.inner.open_orders()

    async def balances(self):
        return await self.inner.balances()

    async def positions(self):
        return await self.inner.positions()

    async def fills_since(self, ts):
        return await self.inner.fills_since(ts)


def test_orders_are_written_before_they_are_sent(bars, tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        eng, venue = build_paper(bars, Config(), ledger=led, run_id="r1")
        chk = _CheckingVenue(venue, led)
        assert isinstance(chk, ExecutionVenue) and isinstance(venue, ExecutionVenue)
        eng.adapter = chk
        asyncio.run(eng.run())
        assert chk.sent and chk.sent == [f"r1-{i}" for i in range(len(chk.sent))]  # deterministic ids, in order
        assert [o.client_order_id for o in led.orders()] == chk.sent
        # a replay of the same run makes the same ids and the ledger keeps each once
        eng2, venue2 = build_paper(bars, Config(), ledger=led, run_id="r1")
        asyncio.run(eng2.run())
        assert len(led.orders()) == len(chk.sent)
        assert led.snapshot().fills == len(eng.log.fills) == len(eng2.log.fills)
        assert eng2.log.equity == eng.log.equity


def test_a_fill_is_in_the_ledger_before_the_book_changes(bars, tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        eng, venue = build_paper(bars, Config(), ledger=led)
        booked = []
        real_book = eng._book_fill

        def spy(w, fill, *a):
            assert any(f.trade_id == fill.trade_id for f in led.fills()), "booked before written"
            booked.append(fill.trade_id)
            return real_book(w, fill, *a)

        eng._book_fill = spy
        asyncio.run(eng.run())
        assert booked and len(booked) == len(set(booked))


def test_unknown_fills_are_kept_and_reported(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        eng = Engine(Config(), FakeVenue(), led, symbols=["BTC/USD"])
        f = OrderFilled(client_order_id="elsewhere", venue_order_id="V", trade_id="T1", symbol="BTC/USD", side=1,
                        qty=0.1, price=100.0, fee=0.0, ts_event=1, ts_init=1)
        assert eng.on_fill(f) and not eng.on_fill(f)
        assert eng.unknown_fills == 1 and led.net_position("BTC/USD") == pytest.approx(0.1)
        assert eng.ctx.pos_qty.sum() == 0.0  # not booked to any strategy: reconciliation's job


def test_run_over_a_fake_feed_steps_each_timestamp_once():
    from tradejet.messages import Bar, BarsComplete

    ok = dict(open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0)
    evs = [Bar(symbol="BTC/USD", ts=1, **ok), BarsComplete(ts=1), Bar(symbol="BTC/USD", ts=2, **ok),
           Bar(symbol="ETH/USD", ts=2, **ok), BarsComplete(ts=2), BarsComplete(ts=3)]
    eng = Engine(Config(), FakeVenue(events=evs), None, symbols=["BTC/USD", "ETH/USD"])
    assert asyncio.run(eng.run()) == 3 and eng.log.ts == [1, 2, 3]
    assert eng.latency_percentiles()["n"] == 3


def test_example_bot_runs(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, str(root / "examples" / "embedded_bot.py"), "--days", "20", "--ledger",
                          str(tmp_path / "b.sqlite")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "480 bars" in out.stdout and "orders" in out.stdout
