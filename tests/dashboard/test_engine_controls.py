"""The Engine's operator controls the dashboard drives: pause stops entries (exits still go), halt stops."""

from __future__ import annotations

import asyncio

from tradejet.config import Config
from tradejet.engine.live import OPERATOR_PAUSED
from tradejet.testing.paper import build_paper


def _run(market, pause_at=None, resume_at=None, pause_holding=False):
    eng, venue = build_paper(market, Config())

    def control(e) -> None:
        if pause_holding and not e.paused and e.bars_done > 200 and e.ctx.pos_qty.any():
            e.pause()
            e.pause_bar = e.bars_done
        if e.bars_done == pause_at:
            e.pause()
        if e.bars_done == resume_at:
            e.resume()

    asyncio.run(eng.run(on_bar_done=control))
    return eng


def _entries(eng, first_bar, last_bar=10**9):
    """Accepted orders (seq >= 0) of bars [first, last) that opened or added to a position."""
    return [o for o in eng.log.orders if first_bar <= o[0] < last_bar and o[8] >= 0 and o[6] < 100 and
            _opens(eng, o)]


def _opens(eng, o):
    # the engine's own rule, replayed from its fills: position of (strategy, pair) before bar o[0]
    pos = sum(f[3] * f[4] for f in eng.log.fills if f[2] == o[2] and f[1] == o[1] and f[0] < o[0])
    return not ((o[3] < 0 < pos) or (o[3] > 0 > pos))


def test_pause_stops_new_entries_but_not_exits(market):
    free = _run(market)
    k = 300
    assert _entries(free, k), "the unpaused run has entries after the pause point: the test needs them"
    paused = _run(market, pause_at=k)
    assert paused.paused and paused.paused_entries > 0
    assert _entries(paused, k + 1) == []
    refused = [o for o in paused.log.orders if o[7] == OPERATOR_PAUSED]
    assert refused and all(o[8] == -1 and o[0] >= k for o in refused)


def test_positions_open_at_the_pause_still_exit(market):
    eng = _run(market, pause_holding=True)
    k = eng.pause_bar
    exits = [o for o in eng.log.orders if o[0] >= k and o[8] >= 0]
    assert exits and _entries(eng, k) == []
    assert all(not _opens(eng, o) for o in exits)


def test_resume_lets_entries_through_again(market):
    k = 300
    eng = _run(market, pause_at=k, resume_at=k + 200)
    assert not eng.paused
    assert _entries(eng, k + 1, k + 200) == []
    assert _entries(eng, k + 201)


def test_halt_empties_the_book_and_stops_the_run(market):
    eng, venue = build_paper(market, Config())
    got = []

    def control(e) -> None:
        if e.bars_done > 100 and e.working and not got:
            got.append(e.halt())

    n = asyncio.run(eng.run(on_bar_done=control))
    assert got and got[0] and eng.halted and eng.working == [] and n < market.n_bars
    assert eng.bars_done == n
    eng.resume()
    assert eng.paused  # halted stays halted
