"""pytest-benchmark: one bar cross-section (10 symbols) through the event driver. Run explicitly:

    python -m pytest benchmarks/bench_latency.py -m benchmark -p no:cacheprovider

The percentile table (p50/p99/p99.9/max over >= 100k cross-sections) and the baseline
check are ``tradejet bench latency``; this times the mean of the same path.
"""

from __future__ import annotations

import itertools

import pytest

from tradejet.config import Config
from tradejet.engine import Engine
from tradejet.engine.simulate import MarketBars
from tradejet.io.synthetic import synthetic_market
from tradejet.messages import Bar

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def feed():
    bars = MarketBars.from_synthetic(synthetic_market(days=400, timeframe="1h", seed=1))
    msgs = [[Bar(symbol=s, ts=int(bars.ts[t]), open=bars.open[t, p], high=bars.high[t, p], low=bars.low[t, p],
                 close=bars.close[t, p], volume=bars.volume[t, p]) for p, s in enumerate(bars.symbols)]
            for t in range(bars.n_bars)]
    return bars.symbols, msgs


def test_cross_section_of_10_symbols(benchmark, feed):
    symbols, msgs = feed
    eng = Engine(Config(), None, None, symbols=symbols, record=False)
    for row in msgs[:1000]:  # warm-up (and compile) outside the timer
        for m in row:
            eng.on_bar(m)
    rows = itertools.cycle(msgs[1000:])
    last = [None]

    def step():
        row = next(rows)
        if last[0] is not None and row[0].ts <= last[0]:  # wrapped around: a fresh engine keeps time moving
            return
        last[0] = row[0].ts
        for m in row:
            eng.on_bar(m)

    benchmark.pedantic(step, rounds=5000, iterations=1)
    assert eng.bars_done > 1000
