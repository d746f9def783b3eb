"""The live journal: a restart that replays it has exactly the book of the run it replaces; the session's limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradejet.config import Config
from tradejet.engine import Engine
from tradejet.engine.journal import Control, Journal, feed, read_journal, replay
from tradejet.engine.live_session import LiveSession
from tradejet.engine.simulate import MarketBars
from tradejet.errors import DataError
from tradejet.io.ledger import Ledger
from tradejet.io.synthetic import synthetic_market
from tradejet.kernels.codes import OrderType, Side
from tradejet.messages import Bar, BarsComplete, OrderFilled, SubmitOrder


def _book(eng: Engine):
    c = eng.ctx
    return (eng.bars_done, eng.seq, [w.cid for w in eng.working], [w.filled for w in eng.working],
            c.pos_qty.copy(), c.pos_avg.copy(), c.account.copy(), c.info.copy(), c.unreconciled.copy())


def test_replaying_the_journal_rebuilds_the_same_book(tmp_path):
    from tradejet.testing.paper import build_paper

    bars = MarketBars.from_synthetic(synthetic_market(days=40, timeframe="1h", seed=7))
    cfg = Config()
    led_a = Ledger(tmp_path / "a.sqlite")
    eng, venue = build_paper(bars, cfg, ledger=led_a, run_id="j", stop=700)
    path = tmp_path / "run.journal"

    async def drive():
        with Journal(path) as j:
            j.append(Control(kind="block", symbols=["BTC/USD"]))
            feed(eng, Control(kind="block", symbols=["BTC/USD"]))
            async for ev in venue.events():  # the journal sees each event before the engine
                j.append(ev)
                for c in feed(eng, ev):
                    if isinstance(c, SubmitOrder):
                        venue.submit_now(c)
                    else:
                        venue.cancel_now(c.client_order_id)

    import asyncio

    asyncio.run(drive())
    assert len(led_a.fills()) > 10, "the run must trade for the test to mean anything"
    events = read_journal(path)
    assert sum(isinstance(e, Bar) for e in events) == 700 * len(bars.symbols)
    # a fresh engine on the same ledger (the restarted process) replays it
    eng_b = Engine(cfg, None, Ledger(tmp_path / "a.sqlite"), symbols=list(bars.symbols), run_id="j")
    replay(eng_b, events)
    a, b = _book(eng), _book(eng_b)
    assert a[:4] == b[:4]
    for x, y in zip(a[4:], b[4:]):
        np.testing.assert_array_equal(x, y)
    assert eng_b.ctx.unreconciled[eng_b.index["BTC/USD"]]
    # nothing was recorded twice by the replay
    assert len(eng_b.ledger.fills()) == len(led_a.fills())
    assert len(eng_b.ledger.orders()) == len(led_a.orders())


def test_a_torn_last_record_is_dropped_and_appends_resume_cleanly(tmp_path):
    p = tmp_path / "j.journal"
    with Journal(p) as j:
        j.append(BarsComplete(ts=1))
        j.append(Bar(symbol="BTC/USD", ts=2, open=1.0, high=1.0, low=1.0, close=1.0, volume=0.0))  # trades NaN
    data = p.read_bytes()
    p.write_bytes(data[:-3])  # a kill mid-write
    assert read_journal(p) == [BarsComplete(ts=1)]
    with Journal(p) as j:
        j.append(BarsComplete(ts=3))
    got = read_journal(p)
    assert got == [BarsComplete(ts=1), BarsComplete(ts=3)]
    bar = Bar(symbol="X/USD", ts=4, open=1.0, high=1.0, low=1.0, close=1.0, volume=0.0)
    with Journal(p) as j:
        j.append(bar)
    assert math.isnan(read_journal(p)[-1].trades)  # NaN survives (JSON would turn it into null)


def test_a_broken_record_in_the_middle_is_an_error_naming_it(tmp_path):
    p = tmp_path / "j.journal"
    with Journal(p) as j:
        j.append(BarsComplete(ts=1))
        j.append(BarsComplete(ts=2))
    data = bytearray(p.read_bytes())
    data[5] = 0xC1  # msgpack's never-used byte
    p.write_bytes(bytes(data))
    with pytest.raises(DataError, match="journal record is not an event"):
        read_journal(p)


def test_unknown_control_is_refused():
    eng = Engine(Config(), None, None, symbols=["BTC/USD"])
    with pytest.raises(DataError, match="unknown journal control"):
        feed(eng, Control(kind="explode"))


def test_session_limits_refuse_big_orders_and_buys_after_the_daily_loss(tmp_path):
    from tradejet.engine.step import INFO_EQUITY

    eng = Engine(Config(), None, None, symbols=["BTC/USD"])
    now = [10 * 86_400 * 10**9]
    sess = LiveSession(eng, None, tmp_path / "j", max_order_notional=1000.0, max_daily_loss=100.0,
                       clock=lambda: now[0])
    sess.last_close["BTC/USD"] = 50_000.0
    eng.ctx.info[INFO_EQUITY] = 10_000.0

    def order(side, qty, limit=math.nan):
        return SubmitOrder(client_order_id="x", symbol="BTC/USD", side=side, qty=qty, ts_init=0,
                           order_type=OrderType.LIMIT if limit == limit else OrderType.MARKET, limit_price=limit)

    assert sess.refuse(order(Side.BUY, 0.01)) is None  # 500
    assert "max_order_notional" in sess.refuse(order(Side.BUY, 0.03))  # 1500 at the last close
    assert "max_order_notional" in sess.refuse(order(Side.SELL, 0.01, limit=200_000.0))
    eng.ctx.info[INFO_EQUITY] = 9_850.0  # down 150 today
    assert "max_daily_loss" in sess.refuse(order(Side.BUY, 0.001))
    assert sess.refuse(order(Side.SELL, 0.001)) is None  # exits still allowed
    now[0] += 86_400 * 10**9  # a new UTC day starts from the current equity
    assert sess.refuse(order(Side.BUY, 0.001)) is None


def test_a_fill_is_in_the_journal_before_the_ledger(tmp_path):
    """GuardedVenue journals (and syncs) an execution before the engine books it into the ledger."""
    import asyncio

    from tradejet.engine.live_session import GuardedVenue

    fill = OrderFilled(client_order_id="c", venue_order_id="v", trade_id="t1", symbol="BTC/USD", side=1, qty=1.0,
                       price=1.0, fee=0.0, ts_event=1, ts_init=0)

    class Venue:
        async def events(self):
            yield fill

    eng = Engine(Config(), None, Ledger(tmp_path / "l.sqlite"), symbols=["BTC/USD"])
    sess = LiveSession(eng, Venue(), tmp_path / "j")
    j = Journal(tmp_path / "j")

    async def main():
        async for ev in GuardedVenue(Venue(), j, sess).events():
            assert read_journal(tmp_path / "j") == [fill]  # already on disk
            assert eng.ledger.fills() == []
            eng.on_fill(ev)

    asyncio.run(main())
    j.close()
    assert [f.trade_id for f in eng.ledger.fills()] == ["t1"]


def test_a_fill_after_the_engine_gave_up_on_a_market_order_is_still_booked():
    """A live run that lags the feed can expire a market order (max_order_bars) that Kraken already filled."""
    from tradejet.engine.live import WorkingOrder
    from tradejet.kernels.portfolio import ACC_CASH
    from tradejet.messages import CancelOrder

    eng = Engine(Config(), None, None, symbols=["BTC/USD"])
    hour = 3600 * 10**9

    def bar(k):
        return Bar(symbol="BTC/USD", ts=k * hour, open=100.0, high=101.0, low=99.0, close=100.0, volume=10.0)

    eng.on_bar(bar(0))
    w = WorkingOrder("tj-x", 0, 0, 0, Side.BUY, OrderType.MARKET, 1.0, math.nan, 0.0, eng.bars_done, 0)
    eng.working.append(w)
    eng._by_cid[w.cid] = w
    cmds = []
    k = 1
    while not any(isinstance(c, CancelOrder) for c in cmds):
        cmds += eng.on_bar(bar(k))
        k += 1
        assert k < 100
    assert "tj-x" not in eng._by_cid
    q0, cash0 = eng.ctx.pos_qty[0, 0], eng.ctx.account[ACC_CASH]
    assert eng.on_fill(OrderFilled(client_order_id="tj-x", venue_order_id="O1", trade_id="T1", symbol="BTC/USD",
                                   side=Side.BUY, qty=1.0, price=100.0, fee=0.25, ts_event=k * hour, ts_init=0))
    eng.on_bar(bar(k))
    assert eng.unknown_fills == 0
    assert eng.ctx.pos_qty[0, 0] == q0 + 1.0
    assert eng.ctx.account[ACC_CASH] == pytest.approx(cash0 - 100.25)
    assert eng.working == []  # booked and done
