from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from tradejet.errors import DataError
from tradejet.io.ring import BarRing, RingSet
from tradejet.kernels.ringbuf import RING_OK, RING_TS_BEFORE, RING_TS_EQUAL, ring_append_bar_nb, ring_append_nb

COLS = ("open", "high", "low", "close", "volume", "trades")


def bar(t: int) -> tuple[float, ...]:
    return (t + 0.1, t + 0.5, t + 0.0, t + 0.2, 10.0 * t, float(t % 7))


def fill(ring: BarRing, ts) -> None:
    for t in ts:
        ring.append(int(t), *bar(int(t)))


def test_window_is_contiguous_zero_copy_across_the_seam():
    ring = BarRing(5)
    fill(ring, range(1, 13))  # wrapped twice; head in the middle
    w = ring.window(5)
    assert w["ts"].tolist() == [8, 9, 10, 11, 12]
    assert w["close"].tolist() == [t + 0.2 for t in range(8, 13)]
    for name, a in w.items():
        assert a.flags.c_contiguous, name
        assert not a.flags.writeable, name
        base = ring.ts_buf if name == "ts" else ring.values
        assert np.shares_memory(a, base), name
    with pytest.raises(ValueError):
        w["close"][0] = 1.0


def test_window_aliases_the_ring():
    ring = BarRing(4)
    fill(ring, range(1, 4))
    w = ring.window(1)
    ptr = w["ts"].ctypes.data
    assert ring.window(1)["ts"].ctypes.data == ptr  # same memory each time, no copy
    assert ring.window()["ts"].tolist() == [1, 2, 3]
    assert ring.window(0)["ts"].size == 0


@given(cap=st.integers(1, 12), steps=st.lists(st.integers(1, 1000), min_size=0, max_size=60))
def test_ring_matches_a_list_model(cap, steps):
    ring = BarRing(cap)
    model: list[tuple] = []
    t = 0
    for dt in steps:
        t += dt
        ring.append(t, *bar(t))
        model.append((t, *bar(t)))
        assert len(ring) == min(len(model), cap)
        assert ring.last_ts == t
        for n in {0, 1, len(ring) // 2, len(ring)}:
            w = ring.window(n)
            expect = model[len(model) - n:] if n else []
            assert w["ts"].tolist() == [r[0] for r in expect]
            for k, c in enumerate(COLS):
                assert w[c].tolist() == [r[k + 1] for r in expect]
    with pytest.raises(ValueError, match="n must be in"):
        ring.window(len(ring) + 1)


def test_equal_ts_needs_upsert_and_earlier_ts_names_both():
    ring = BarRing(3, name="BTC/USD")
    fill(ring, [60, 120])
    with pytest.raises(DataError, match="equals the last bar's; use upsert_last"):
        ring.append(120, *bar(1))
    with pytest.raises(DataError) as ei:
        ring.append(60, *bar(1))
    assert "60" in str(ei.value) and "120" in str(ei.value) and "BTC/USD" in str(ei.value)
    with pytest.raises(DataError, match="earlier than the last bar's ts 120"):
        ring.upsert_last(100, *bar(1))
    assert ring.window()["ts"].tolist() == [60, 120]  # refused writes changed nothing


def test_upsert_last_replaces_the_forming_bar_then_appends():
    ring = BarRing(2)
    fill(ring, [1, 2, 3])  # wrapped: last bar sits at slot 0
    ring.upsert_last(3, 9.0, 9.5, 8.0, 9.1, 1.0, 2.0)
    assert ring.last() == {"ts": 3, "open": 9.0, "high": 9.5, "low": 8.0, "close": 9.1, "volume": 1.0, "trades": 2.0}
    assert ring.window(2)["close"].tolist() == [2.2, 9.1]
    ring.upsert_last(4, *bar(4))
    assert ring.window()["ts"].tolist() == [3, 4]
    # the mirror copy was updated too: a window starting at the seam shows the new value
    assert ring.values[3, 0] == ring.values[3, 2]


def test_record_batch_shares_the_ring_memory():
    ring = BarRing(6)
    fill(ring, range(1, 10))
    rb = ring.record_batch(4)
    assert rb.schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert rb.schema.names == ["ts", *COLS]
    assert rb.column("ts").cast(pa.int64()).to_pylist() == [6, 7, 8, 9]
    w = ring.window(4)
    assert rb.column("ts").buffers()[1].address == w["ts"].ctypes.data
    for c in COLS:
        assert rb.column(c).buffers()[1].address == w[c].ctypes.data
    lo, hi = ring.values.ctypes.data, ring.values.ctypes.data + ring.values.nbytes
    assert lo <= rb.column("close").buffers()[1].address < hi
    # writing to the ring shows through the batch: proof that nothing was copied
    ring.values[3, :] = -1.0
    assert rb.column("close").to_pylist() == [-1.0] * 4


def test_record_batch_of_all_sizes_has_right_rows():
    ring = BarRing(3)
    assert ring.record_batch().num_rows == 0
    fill(ring, [5, 6])
    assert ring.record_batch(2).column("open").to_pylist() == [5.1, 6.1]


@njit(cache=True)
def _drive(ts_buf, values, state, ts):
    bad = 0
    for t in ts:
        if ring_append_bar_nb(ts_buf, values, state, t, 1.0 * t, 2.0 * t, 0.5 * t, 1.5 * t, 3.0, 4.0) != RING_OK:
            bad += 1
    return bad


def test_numba_append_from_a_compiled_loop():
    ring = BarRing(4, name="X/Y")
    fill(ring, [1])
    bad = _drive(ring.ts_buf, ring.values, ring.state, np.array([2, 3, 3, 1, 5, 6], np.int64))
    assert bad == 2  # a duplicate and a backwards ts, refused by code
    assert ring.window()["ts"].tolist() == [2, 3, 5, 6]
    assert ring.window()["high"].tolist() == [4.0, 6.0, 10.0, 12.0]
    ring.append(7, *bar(7))  # Python and Numba share the same state
    assert ring.window(2)["ts"].tolist() == [6, 7]
    row = np.array(bar(8))
    assert ring_append_nb(ring.ts_buf, ring.values, ring.state, 8, row) == RING_OK
    assert ring_append_nb(ring.ts_buf, ring.values, ring.state, 8, row) == RING_TS_EQUAL
    assert ring_append_nb(ring.ts_buf, ring.values, ring.state, 2, row) == RING_TS_BEFORE


def test_custom_columns_and_bad_arguments():
    ring = BarRing(3, ("ts", "close"))
    ring.append(1, 5.0)
    ring.append(2, 6.0)
    assert ring.window()["close"].tolist() == [5.0, 6.0]
    with pytest.raises(ValueError, match="needs 1 values"):
        ring.append(3, 1.0, 2.0)
    with pytest.raises(ValueError, match="capacity"):
        BarRing(0)
    with pytest.raises(ValueError, match="first column"):
        BarRing(3, ("close", "ts"))


def test_extend_keeps_the_last_capacity_bars_all_or_nothing():
    ring = BarRing(4)
    ts = np.arange(1, 11, dtype=np.int64)
    cols = {c: ts * 1.0 + k for k, c in enumerate(COLS)}
    ring.extend(ts, cols)
    assert ring.window()["ts"].tolist() == [7, 8, 9, 10]
    assert ring.window()["volume"].tolist() == [11.0, 12.0, 13.0, 14.0]
    with pytest.raises(DataError, match="earlier than the last"):
        ring.extend(np.array([3, 11]), {c: np.ones(2) for c in COLS})
    with pytest.raises(DataError, match="ts must increase"):
        ring.extend(np.array([12, 12]), {c: np.ones(2) for c in COLS})
    assert ring.window()["ts"].tolist() == [7, 8, 9, 10]


def test_ringset_addresses_by_canonical_symbol_and_aligns_cross_sections():
    rs = RingSet(8, ["BTC/USD", "eth-usd", "SOL_USD"])
    assert rs.symbols == ("BTC/USD", "ETH/USD", "SOL/USD")
    for t in (60, 120, 180):
        rs.append("btc/usd", t, *bar(t))
    for t in (60, 120):
        rs.append("ETH/USD", t, *bar(t + 1000))
    ts, close = rs.cross_section("close")
    assert ts == 180
    assert close[0] == 180.2 and np.isnan(close[1]) and np.isnan(close[2])  # ETH late, SOL empty
    ts, close = rs.cross_section("close", ts=120)
    assert close[:2].tolist() == [120.2, 1120.2] and np.isnan(close[2])
    assert "eth_usd" in rs and rs["ETH-USD"] is rs["eth/usd"]
    with pytest.raises(KeyError, match="no ring for symbol 'DOGE/USD'"):
        rs["doge/usd"]
    with pytest.raises(ValueError, match="column must be one of"):
        rs.cross_section("price")
    assert RingSet(4, ["A/B"]).cross_section()[0] is None
