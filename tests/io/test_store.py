from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tradejet.errors import DataError
from tradejet.io.store import ARROW, PARQUET, BarStore, count_gaps

M = 60_000_000_000
ROOT = Path(__file__).resolve().parents[2]


def bars(ts, close=None):
    ts = np.asarray(ts, np.int64)
    c = np.asarray(close, float) if close is not None else ts / M + 100.0
    return {"ts": ts, "open": c, "high": c + 1, "low": c - 1, "close": c, "volume": np.ones(ts.size),
            "trades": np.full(ts.size, 3.0)}


def test_layout_schema_and_zstd(tmp_path):
    store = BarStore(tmp_path)
    r = store.write("Kraken", "xbt/usd", "60m", bars(np.arange(5) * 60 * M))
    assert (r.added, r.replaced, r.total) == (5, 0, 5)
    d = tmp_path / "kraken" / "XBT%2FUSD" / "1h"
    assert sorted(p.name for p in d.iterdir()) == [ARROW, PARQUET]
    meta = pq.ParquetFile(d / PARQUET).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    schema = pq.read_schema(d / PARQUET)
    assert schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert schema.metadata[b"tradejet.symbol"] == b"XBT/USD"
    with pa.memory_map(str(d / ARROW)) as mm:
        assert pa.ipc.open_file(mm).read_all().num_rows == 5
    assert store.series() == [("kraken", "XBT/USD", "1h")]
    info = store.list()[0]
    assert (info.symbol, info.timeframe, info.rows, info.first, info.last, info.gaps) == \
        ("XBT/USD", "1h", 5, 0, 4 * 60 * M, 0)


def test_same_bars_twice_leave_one_copy_and_no_rewrite(tmp_path):
    store = BarStore(tmp_path)
    b = bars(np.arange(100) * M)
    store.write("kraken", "A/B", "1m", b)
    f = store.series_dir("kraken", "A/B", "1m") / PARQUET
    before = (f.stat().st_ino, f.stat().st_mtime_ns)
    r = store.write("kraken", "A/B", "1m", b)
    assert (r.added, r.replaced, r.total) == (0, 0, 100)
    assert (f.stat().st_ino, f.stat().st_mtime_ns) == before
    got = store.read("kraken", "A/B", "1m")
    np.testing.assert_array_equal(got["ts"], b["ts"])
    np.testing.assert_array_equal(got["close"], b["close"])


def test_merge_by_ts_new_values_win(tmp_path):
    store = BarStore(tmp_path)
    store.write("kraken", "A/B", "1m", bars([0, M, 3 * M]))
    new = bars([3 * M, 2 * M, 5 * M, M], close=[50.0, 40.0, 70.0, 101.0])  # unsorted; M unchanged
    r = store.write("kraken", "A/B", "1m", new)
    assert (r.added, r.replaced, r.total) == (2, 1, 5)
    got = store.read("kraken", "A/B", "1m")
    assert (got["ts"] // M).tolist() == [0, 1, 2, 3, 5]
    assert got["close"].tolist() == [100.0, 101.0, 40.0, 50.0, 70.0]
    assert store.info("kraken", "A/B", "1m").gaps == 1


def test_range_read_binary_searches_the_memory_map(tmp_path):
    store = BarStore(tmp_path)
    ts = np.arange(0, 200_000, 2, dtype=np.int64) * M
    store.write("kraken", "A/B", "1m", bars(ts))
    before = pa.total_allocated_bytes()
    t = store.read_table("kraken", "A/B", "1m", start=1001 * M, end=1011 * M)
    assert pa.total_allocated_bytes() - before < 4096  # nothing loaded into Arrow's memory pool
    assert (t.column("ts").cast(pa.int64()).to_numpy() // M).tolist() == [1002, 1004, 1006, 1008, 1010]
    got = store.read("kraken", "A/B", "1m", start=None, end=4 * M)
    assert (got["ts"] // M).tolist() == [0, 2]
    assert store.read("kraken", "A/B", "1m", start=10**15 * M)["ts"].size == 0
    full = store.read("kraken", "A/B", "1m")
    sel = (ts >= 500 * M) & (ts < 90_000 * M)
    part = store.read("kraken", "A/B", "1m", start=500 * M, end=90_000 * M)
    np.testing.assert_array_equal(part["close"], full["close"][sel])


def test_lost_or_stale_ipc_file_is_rebuilt_from_parquet(tmp_path):
    store = BarStore(tmp_path)
    store.write("kraken", "A/B", "1m", bars([0, M]))
    d = store.series_dir("kraken", "A/B", "1m")
    old_ipc = (d / ARROW).read_bytes()
    store.write("kraken", "A/B", "1m", bars([2 * M]))
    (d / ARROW).write_bytes(old_ipc)  # as if the crash hit between the two renames
    assert (store.read("kraken", "A/B", "1m")["ts"] // M).tolist() == [0, 1, 2]
    (d / ARROW).unlink()
    assert (store.read("kraken", "A/B", "1m")["ts"] // M).tolist() == [0, 1, 2]
    assert (d / ARROW).exists()


def test_missing_series_and_bad_names(tmp_path):
    store = BarStore(tmp_path)
    with pytest.raises(DataError, match="no 1m bars for A/B"):
        store.read("kraken", "A/B", "1m")
    store.write("kraken", "A/B", "1m", bars([0]))
    store.write("binance", "A/B", "1m", bars([0]))
    with pytest.raises(DataError, match="pick one with --venue"):
        store.find("A/B", "1m")
    assert store.find("a-b", "1m", "binance") == "binance"
    with pytest.raises(DataError, match="timeframes stored: 1m"):
        store.find("A/B", "1h")
    with pytest.raises(DataError, match="venue must be a plain name"):
        store.series_dir("../x", "A/B", "1m")
    with pytest.raises(DataError, match="symbol must look like"):
        store.series_dir("kraken", "A B", "1m")


def test_corrupt_parquet_is_a_data_error(tmp_path):
    store = BarStore(tmp_path)
    store.write("kraken", "A/B", "1m", bars([0]))
    (store.series_dir("kraken", "A/B", "1m") / PARQUET).write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not readable Parquet"):
        store.read("kraken", "A/B", "1m")


def test_count_gaps():
    assert count_gaps(np.array([0, 1, 2]) * M, M) == 0
    assert count_gaps(np.array([0, 3, 4, 10]) * M, M) == 7
    assert count_gaps(np.array([], np.int64), M) == 0


CHILD = textwrap.dedent("""
    import sys, numpy as np
    from tradejet.io.store import BarStore
    M = 60_000_000_000
    store = BarStore(sys.argv[1])
    base = int(sys.argv[2])
    def version(k):
        n = base + k
        ts = np.arange(n, dtype=np.int64) * M
        c = np.full(n, float(k))
        return {"ts": ts, "open": c, "high": c, "low": c, "close": c, "volume": c, "trades": c}
    store.write("kraken", "A/B", "1m", version(1))
    print("ready", flush=True)
    k = 2
    while True:
        store.write("kraken", "A/B", "1m", version(k))
        k += 1
""")


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.03, 0.08])
def test_kill_9_mid_write_leaves_old_or_new_never_torn(tmp_path, delay):
    base = 300_000
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(base)], stdout=subprocess.PIPE,
                             env=env, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        d = tmp_path / "kraken" / "A%2FB" / "1m"
        deadline = time.monotonic() + 30
        while not any(p.name.startswith(".bars.") for p in d.iterdir()):  # a write is under way
            assert time.monotonic() < deadline, "the child never started a write"
            time.sleep(0.0005)
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    leftover = [p.name for p in d.iterdir() if p.name.startswith(".bars.")]
    if delay == 0.0:
        assert leftover, "the kill should have landed inside a write (its temp file left behind)"
    store = BarStore(tmp_path)
    got = store.read("kraken", "A/B", "1m")
    k = got["close"][0]
    assert k >= 1 and np.all(got["close"] == k), "a torn mix of two versions"
    assert got["ts"].size == base + int(k)
    np.testing.assert_array_equal(got["ts"], np.arange(base + int(k)) * M)
    # the Parquet copy on its own is whole too
    assert pq.read_table(d / PARQUET).num_rows in (base + int(k), base + int(k) + 1)
    # and the store takes the next write, clearing the temp file the crash left behind
    store.write("kraken", "A/B", "1m", {c: v[:1] for c, v in got.items()} | {"ts": np.array([10**6 * M])})
    assert not any(p.name.startswith(".bars.") for p in d.iterdir())
