"""A cancellation that lands as the awaited item arrives must not be lost.

The live session's kill switch cancels the task that reads the venue's event queue. On
Python 3.11, ``asyncio.wait_for`` returns the item instead when both happen in the same turn
of the loop (CPython gh-86296): the session went on trading until its bar limit. The venue
reads through :func:`next_item` (``asyncio.timeout``) and the kill also stops the engine."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tradejet.adapters.kraken.venue import next_item


async def _item_and_cancel_in_one_turn(read):
    q: asyncio.Queue = asyncio.Queue()
    t = asyncio.create_task(read(q))
    await asyncio.sleep(0)  # t now waits on the queue
    q.put_nowait("bar")
    t.cancel()  # the kill, in the same turn as the bar
    try:
        return await t, q
    except asyncio.CancelledError:
        return "cancelled", q


def test_next_item_keeps_a_cancellation_that_lands_with_the_item():
    got, q = asyncio.run(_item_and_cancel_in_one_turn(lambda q: next_item(q, 5.0)))
    assert got == "cancelled"
    assert q.get_nowait() == "bar"  # and the item is not lost either


def test_next_item_times_out_to_none_and_returns_items():
    async def go():
        q: asyncio.Queue = asyncio.Queue()
        empty = await next_item(q, 0.01)
        q.put_nowait(7)
        return empty, await next_item(q, 1.0)

    assert asyncio.run(go()) == (None, 7)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="asyncio.wait_for no longer loses it from 3.12")
def test_the_premise_wait_for_loses_it_on_this_python():
    # why next_item exists: if this starts failing, wait_for was fixed here too
    got, _ = asyncio.run(_item_and_cancel_in_one_turn(lambda q: asyncio.wait_for(q.get(), 5.0)))
    assert got == "bar"


def test_the_kill_switch_also_stops_the_engine(tmp_path):
    # a cancellation lost anywhere below (a library's wait) still ends the run at the next event
    from tradejet.engine.live_session import LiveSession

    class Engine:
        stopped = 0

        def stop(self):
            Engine.stopped += 1

    async def go():
        sess = LiveSession(Engine(), object(), tmp_path / "j")
        sess._task = asyncio.create_task(asyncio.sleep(10))
        sess.kill("SIGUSR1")
        with pytest.raises(asyncio.CancelledError):
            await sess._task
        return sess

    sess = asyncio.run(go())
    assert sess.killed == "SIGUSR1" and Engine.stopped == 1
