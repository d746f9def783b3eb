from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradejet.errors import DataError
from tradejet.io.ledger import Ledger, quote_asset
from tradejet.messages import OrderFilled, SubmitOrder


def order(cid="c1", symbol="BTC/USD", side=1, qty=1.0, strategy=0, ts=1):
    return SubmitOrder(client_order_id=cid, symbol=symbol, side=side, qty=qty, order_type=0, ts_init=ts,
                       strategy=strategy)


def fill(tid, cid="c1", symbol="BTC/USD", side=1, qty=1.0, price=100.0, fee=0.0, ts=2):
    return OrderFilled(client_order_id=cid, venue_order_id="V" + cid, trade_id=tid, symbol=symbol, side=side,
                       qty=qty, price=price, fee=fee, ts_event=ts, ts_init=ts)


@pytest.fixture
def led(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        yield ledger


def test_wal_and_full_sync(led):
    assert led._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert led._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert led.schema_version == 1


def test_order_is_idempotent_by_client_id_and_keeps_history(led):
    assert led.record_order(order())
    assert not led.record_order(order(qty=5.0))
    assert led.order("c1").qty == 1.0
    led.set_order_status("c1", "new", ts=3, venue_order_id="OABC-1", raw='{"txid":["OABC-1"]}')
    assert led.order("c1").venue_order_id == "OABC-1"
    assert [s for s, _, _ in led.order_history("c1")] == ["pending_new", "new"]
    assert [o.client_order_id for o in led.orders(open_only=True)] == ["c1"]


def test_partial_then_full_fill_moves_order_position_and_cash(led):
    led.set_cash("USD", 1000.0, ts=0)
    led.record_order(order(qty=2.0))
    assert led.record_fill(fill("t1", qty=0.5, price=100.0, fee=0.1))
    assert led.order("c1").status == "partially_filled"
    assert led.record_fill(fill("t2", qty=1.5, price=104.0, fee=0.3, ts=3))
    o = led.order("c1")
    assert o.status == "filled" and o.filled_qty == 2.0
    assert o.avg_fill_price == pytest.approx((0.5 * 100 + 1.5 * 104) / 2)
    (p,) = led.positions()
    assert (p.symbol, p.strategy, p.qty) == ("BTC/USD", 0, 2.0)
    assert p.avg_price == pytest.approx(103.0)
    assert led.cash()["USD"] == pytest.approx(1000 - 50 - 0.1 - 156 - 0.3)


def test_duplicate_fill_changes_nothing(led):
    led.record_order(order())
    assert led.record_fill(fill("t1"))
    before = led.snapshot()
    assert not led.record_fill(fill("t1"))
    assert led.snapshot() == before
    assert len(led.fills()) == 1


def test_sell_realizes_pnl_and_closing_flattens(led):
    led.record_order(order("b", qty=2.0))
    led.record_fill(fill("t1", cid="b", qty=2.0, price=100.0))
    led.record_order(order("s", side=-1, qty=2.0))
    led.record_fill(fill("t2", cid="s", side=-1, qty=1.0, price=110.0, ts=3))
    (p,) = led.positions()
    assert p.qty == 1.0 and p.avg_price == 100.0 and p.realized_pnl == pytest.approx(10.0)
    led.record_fill(fill("t3", cid="s", side=-1, qty=1.0, price=90.0, ts=4))
    assert led.positions() == []
    (flat,) = led.positions(include_flat=True)
    assert flat.realized_pnl == pytest.approx(0.0)


def test_adopted_position_is_marked_backfilled(led):
    led.adopt_position("ETH/USD", 3.0, 2000.0, ts=5)
    (p,) = led.positions()
    assert p.backfilled and p.qty == 3.0
    assert led.reconciliation_events()[0][1] == "backfilled"
    assert led.net_position("ETH/USD") == 3.0


def test_snapshot_counts_and_equity(led):
    led.record_order(order("a"))
    led.record_order(order("b"))
    led.record_fill(fill("t", cid="a"))
    led.mark_equity(10, 1234.5, 1000.0)
    s = led.snapshot()
    assert (s.orders, s.open_orders, s.fills, s.equity, s.equity_ts) == (2, 1, 1, 1234.5, 10)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda l: l.record_fill(fill("x", qty=0.0)), "qty must be > 0"),
        (lambda l: l.record_fill(fill("x", price=float("nan"))), "price must be > 0"),
        (lambda l: l.record_fill(fill("x", side=0)), "side must be 1 or -1"),
        (lambda l: l.record_order(order(qty=-1.0)), "qty must be > 0"),
        (lambda l: l.set_order_status("nope", "new", ts=1), "no order with client id"),
        (lambda l: l.set_order_status("nope", "open", ts=1), "unknown order status"),
        (lambda l: l.set_cash("USD", math.inf, ts=1), "must be finite"),
        (lambda l: l.table("sqlite_master"), "no ledger table"),
    ],
)
def test_bad_input_is_refused_with_a_reason(led, call, match):
    with pytest.raises(DataError, match=match):
        call(led)


def test_not_a_database_and_a_newer_schema_are_refused(tmp_path):
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="not a usable ledger database"):
        Ledger(bad)
    newer = tmp_path / "newer.sqlite"
    con = sqlite3.connect(newer)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(DataError, match="newer than this tradejet"):
        Ledger(newer)


def test_quote_asset():
    assert quote_asset("BTC/USD") == "USD" and quote_asset("SPY") == "USD" and quote_asset("ETH/EUR") == "EUR"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, -1]), st.floats(0.01, 5.0), st.floats(1.0, 1000.0),
                          st.floats(0.0, 2.0)), min_size=1, max_size=30))
def test_position_accounting_matches_a_brute_force_ledger(tmp_path_factory, trades):
    with Ledger(tmp_path_factory.mktemp("h") / "l.sqlite") as led:
        qty = avg = realized = cash = 0.0
        for i, (side, q, px, fee) in enumerate(trades):
            led.record_fill(fill(f"t{i}", cid=f"c{i}", side=side, qty=q, price=px, fee=fee, ts=i), strategy=1)
            # brute force: average-cost accounting, flips reopen at the fill price
            cash += -side * q * px - fee
            if qty == 0 or (qty > 0) == (side > 0):
                avg = (avg * abs(qty) + px * q) / abs(qty + side * q)
                qty += side * q
            else:
                closed = min(q, abs(qty))
                realized += closed * (px - avg) * (1 if qty > 0 else -1)
                new = qty + side * q
                if abs(new) <= 1e-12 * max(1.0, abs(qty)):
                    new, avg = 0.0, 0.0
                elif (new > 0) != (qty > 0):
                    avg = px
                qty = new
        (p,) = led.positions(include_flat=True)
        assert p.qty == pytest.approx(qty, abs=1e-9)
        assert p.avg_price == pytest.approx(avg, rel=1e-9, abs=1e-9)
        assert p.realized_pnl == pytest.approx(realized, rel=1e-9, abs=1e-6)
        assert led.cash()["USD"] == pytest.approx(cash, rel=1e-9, abs=1e-6)


def test_kill_9_never_leaves_a_fill_without_its_position(tmp_path):
    path = tmp_path / "l.sqlite"
    code = textwrap.dedent(f"""
        from tradejet.io.ledger import Ledger
        from tradejet.messages import OrderFilled, SubmitOrder
        led = Ledger({str(path)!r})
        i = 0
        while True:
            led.record_order(SubmitOrder(client_order_id=f"c{{i}}", symbol="BTC/USD", side=1, qty=1.0,
                                         order_type=0, ts_init=i))
            led.record_fill(OrderFilled(client_order_id=f"c{{i}}", venue_order_id="v", trade_id=f"t{{i}}",
                                        symbol="BTC/USD", side=1, qty=1.0, price=100.0, fee=0.25,
                                        ts_event=i, ts_init=i))
            i += 1
            if i == 30:
                print("ready", flush=True)
    """)
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=os.getcwd()) as child:
        assert child.stdout.readline().strip() == b"ready"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    with Ledger(path) as led:
        n = len(led.fills())
        assert n >= 30
        assert led.net_position("BTC/USD") == pytest.approx(n)
        assert led.cash()["USD"] == pytest.approx(-100.25 * n)
        assert all(led.order(f"c{i}").status == "filled" for i in range(n))
        assert len(led.orders()) in (n, n + 1)  # the kill may fall between an order and its fill
