"""Stopping the dashboard cancels its push loop; a wake-up in the same turn must not undo that.

With ``asyncio.wait_for`` (Python 3.11) the cancellation was lost when the loop's wake event
was set in the same turn (CPython gh-86296): the loop went on and a shutdown awaiting it hung."""

from __future__ import annotations

import asyncio

from tradejet.dashboard.server import Dashboard


def test_push_loop_ends_when_cancelled_as_it_is_woken():
    async def go():
        d = Dashboard(object(), port=0, push_interval=5.0)
        t = asyncio.create_task(d._push_loop())
        await asyncio.sleep(0)  # waiting on the wake event
        d._wake.set()
        t.cancel()  # the shutdown, in the same turn as the wake-up
        try:
            await asyncio.wait_for(asyncio.shield(t), 2.0)
        except asyncio.CancelledError:
            return "cancelled"
        except TimeoutError:
            t.cancel()
            return "still running"
        return "returned"

    assert asyncio.run(go()) == "cancelled"
