"""pytest-benchmark: from_signals against vectorbt and backtrader on the SMA(10)/SMA(50)
crossover over a synthetic random walk. Run explicitly:

    python -m pytest benchmarks/bench_backtest.py -m benchmark -p no:cacheprovider

Compile happens in the fixtures (outside the timer); parity is asserted before timing.
The full side-by-side table with ratios is ``tradejet bench backtest``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tradejet.bench.backtest import random_walk, run_backtrader, sma_cross_signals
from tradejet.engine.backtest import from_signals

pytestmark = pytest.mark.benchmark
N = 1_000_000
N_BT = 20_000
FEE = 0.001


@pytest.fixture(scope="module")
def market():
    close = random_walk(N, 0)
    entries, exits = sma_cross_signals(close)
    from_signals(close[:100], entries[:100], exits[:100], fee=FEE)  # compile outside the timer
    return close, entries, exits


def test_tradejet_from_signals(benchmark, market):
    close, entries, exits = market
    r = benchmark(from_signals, close, entries, exits, fee=FEE)
    benchmark.extra_info["bars_per_s"] = N / benchmark.stats["median"]
    assert r.orders.idx.size > 1000


def test_vectorbt_from_signals(benchmark, market):
    vbt = pytest.importorskip("vectorbt")
    close, entries, exits = market
    ours = from_signals(close, entries, exits, fee=FEE)
    pf = benchmark(vbt.Portfolio.from_signals, close, entries, exits, fees=FEE, init_cash=1.0)
    np.testing.assert_array_equal(pf.orders.values["idx"], ours.orders.idx)
    assert float(pf.final_value()) == pytest.approx(ours.final_value, rel=1e-9)
    benchmark.extra_info["bars_per_s"] = N / benchmark.stats["median"]


def test_backtrader(benchmark, market):
    pytest.importorskip("backtrader")
    close, entries, exits = market
    c = close[:N_BT].copy()
    final, n_orders = benchmark.pedantic(run_backtrader, args=(c, FEE), rounds=1, iterations=1)
    ours = from_signals(c, entries[:N_BT], exits[:N_BT], fee=FEE)
    assert n_orders == ours.orders.idx.size
    assert final == pytest.approx(ours.final_value, rel=1e-6)
    benchmark.extra_info["bars_per_s"] = N_BT / benchmark.stats["median"]
