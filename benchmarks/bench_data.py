"""pytest-benchmark suite for the data layer (the ratios live in ``tradejet bench data``).

Run: ``python -m pytest benchmarks/bench_data.py -m benchmark`` (add ``--benchmark-json=PATH``).
Each test checks parity with its reference before timing.
"""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tradejet.io.importers import import_files
from tradejet.io.ring import BarRing
from tradejet.io.store import PARQUET, BarStore
from tradejet.io.synthetic import synthetic_market
from tradejet.kernels.ringbuf import ring_append_bar_nb

pytestmark = pytest.mark.benchmark
ROWS = 1_000_000


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("csv")
    m = synthetic_market(ROWS, timeframe="1m", symbols=["BTC/USD"], seed=1)
    b = m.bars("BTC/USD")
    t = pa.table({"timestamp": b["ts"] // 1_000_000_000, **{c: b[c] for c in ("open", "high", "low", "close",
                                                                               "volume", "trades")}})
    pacsv.write_csv(t, d / "bars.csv")
    return d / "bars.csv"


def test_reference_pyarrow_read_csv(benchmark, csv_file):
    t = benchmark(pacsv.read_csv, csv_file)
    assert t.num_rows == ROWS


def test_import_csv_to_store(benchmark, csv_file, tmp_path):
    n = [0]

    def once():
        n[0] += 1
        d = tmp_path / f"s{n[0]}"
        r = import_files([csv_file], BarStore(d), symbol="BTC/USD", timeframe="1m")
        shutil.rmtree(d)
        return r

    r = benchmark.pedantic(once, rounds=5, warmup_rounds=1)
    assert r.imported == ROWS and r.rejected == 0


def test_ring_append_python(benchmark):
    ring = BarRing(4096)
    t = [0]

    def once():
        t[0] += 1
        ring.append(t[0], 1.0, 2.0, 0.5, 1.5, 10.0, 3.0)

    benchmark(once)
    assert ring.last_ts == t[0]


def test_ring_append_numba_1m_bars(benchmark):
    from numba import njit

    @njit
    def loop(ts_buf, values, state, start, n):
        bad = 0
        for i in range(n):
            bad += ring_append_bar_nb(ts_buf, values, state, start + i, 1.0, 2.0, 0.5, 1.5, 10.0, 3.0)
        return bad

    ring = BarRing(4096)
    base = [0]

    def once():
        assert loop(ring.ts_buf, ring.values, ring.state, base[0], 1_000_000) == 0
        base[0] += 1_000_000

    once()
    benchmark(once)


@pytest.mark.parametrize("n", [10, 10_000, 1_000_000])
def test_record_batch_is_flat_in_n(benchmark, n):
    ring = BarRing(1_000_000)
    ts = np.arange(1_300_000, dtype=np.int64)
    ring.extend(ts, np.vstack([ts * 1.0] * 6))
    rb = benchmark(ring.record_batch, n)
    assert rb.num_rows == n


@pytest.fixture(scope="module")
def store_1m(tmp_path_factory):
    m = synthetic_market(ROWS, timeframe="1m", symbols=["ETH/USD"], seed=2)
    s = BarStore(tmp_path_factory.mktemp("store"))
    s.write("bench", "ETH/USD", "1m", m.bars("ETH/USD"))
    return s, m


def test_store_range_read_one_day(benchmark, store_1m):
    s, m = store_1m
    start = int(m.ts[ROWS // 2])
    c = benchmark(s.read, "bench", "ETH/USD", "1m", start, start + 1440 * 60_000_000_000)
    assert c["ts"].size == 1440


def test_reference_parquet_read_whole(benchmark, store_1m):
    s, _ = store_1m
    t = benchmark(pq.read_table, s.series_dir("bench", "ETH/USD", "1m") / PARQUET)
    assert t.num_rows == ROWS
