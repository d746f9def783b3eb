"""Data layer: CSV import vs pyarrow.csv, ring appends, record_batch, store range reads.

Every case runs tradejet and its reference side by side in this process, checks that they
agree, then reports medians over ``--repeat`` runs and the ratio:

- ``csv import``: ``import_files`` (read + validate + Parquet/IPC write with fsync) of an
  N-row CSV vs ``pyarrow.csv.read_csv`` alone. Target: validation + store write cost at
  most 2x the bare read (overhead ratio = (import - read) / read <= 2).
- ``ring append (numba)`` / ``ring append (python)``: ns per bar; targets < 50 ns and
  < 1500 ns. Reference: ``collections.deque(maxlen).append`` of a tuple.
- ``record_batch(n)``: time for n = 10 .. N, which must stay flat (zero copy); reference:
  building the same batch by copying the columns.
- ``store range read``: one day of bars from the memory-mapped IPC file vs reading the
  whole Parquet file with ``pyarrow.parquet.read_table``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=1_000_000, help="bars in the CSV and the store (default 1M)")
    p.add_argument("--repeat", type=int, default=5, help="runs per case; the median is reported (default 5)")
    p.add_argument("--appends", type=int, default=1_000_000, help="bars per ring-append run (default 1M)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")


_BEST: list[float] = []  # best time of the last _median call (reported beside the median)


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    _BEST[:] = [min(times)]
    return statistics.median(times)


def run(args) -> int:
    rows = max(int(args.rows), 100)
    repeat = max(int(args.repeat), 1)
    appends = max(int(args.appends), 100)
    results: list[dict] = []

    def add(name, ours, ref, unit="s", target=None, ok=None, note="", best=None):
        results.append({"case": name, "tradejet": ours, "reference": ref,
                        "ratio": (ours / ref) if ref else None, "unit": unit, "target": target, "ok": ok,
                        "note": note, "tradejet_best": best})

    with tempfile.TemporaryDirectory(prefix="tj-bench-data-") as tmp:
        tmp = Path(tmp)
        csv_path = _make_csv(tmp / "bars.csv", rows)
        _bench_import(csv_path, tmp, rows, repeat, add)
        _bench_ring(appends, repeat, add)
        _bench_record_batch(rows, repeat, add)
        _bench_store(tmp, rows, repeat, add)

    _print(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"suite": "data", "rows": rows, "repeat": repeat,
                                               "results": results}, indent=2))
    return 0


def _make_csv(path: Path, rows: int) -> Path:
    """A headered 1m CSV of ``rows`` bars from the synthetic market (one symbol)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from tradejet.io.synthetic import synthetic_market

    m = synthetic_market(rows, timeframe="1m", symbols=["BTC/USD"], seed=1)
    b = m.bars("BTC/USD")
    t = pa.table({"timestamp": b["ts"] // 1_000_000_000, **{c: b[c] for c in ("open", "high", "low", "close",
                                                                               "volume", "trades")}})
    pacsv.write_csv(t, path)
    return path


def _bench_import(csv_path: Path, tmp: Path, rows: int, repeat: int, add) -> None:
    import shutil

    import numpy as np
    import pyarrow.csv as pacsv

    from tradejet.io.importers import import_files, read_file
    from tradejet.io.store import BarStore
    from tradejet.io.validate import validate_bars

    ref_table = pacsv.read_csv(csv_path)
    counter = [0]

    def ours():
        counter[0] += 1
        d = tmp / f"store{counter[0]}"
        r = import_files([csv_path], BarStore(d), symbol="BTC/USD", timeframe="1m")
        shutil.rmtree(d)
        return r

    r = ours()  # warm-up and parity
    assert r.imported == rows and r.rejected == 0, r.summary()
    store = BarStore(tmp / "parity")
    import_files([csv_path], store, symbol="BTC/USD", timeframe="1m")
    np.testing.assert_array_equal(store.read("kraken", "BTC/USD", "1m")["close"], ref_table["close"].to_numpy())
    shutil.rmtree(tmp / "parity")

    t_ref = _median(lambda: pacsv.read_csv(csv_path), repeat)
    t_ours = _median(ours, repeat)
    p = read_file(csv_path)
    t_read = _median(lambda: read_file(csv_path), repeat)
    t_val = _median(lambda: validate_bars(p.cols, 60_000_000_000, lines=p.lines), repeat)
    add(f"csv import {rows:,} rows (total)", t_ours, t_ref,
        note="import_files (read + validate + Parquet/IPC write, fsync) vs pyarrow.csv.read_csv defaults")
    # tradejet's own read is pyarrow.csv with declared types; what it adds on top of a read:
    extra = max(t_ours - t_read, 0.0)
    add("  validation + store write (import - own read)", extra, t_ref, target="<= 2x", ok=extra <= 2.0 * t_ref,
        note="the import minus tradejet's own read, against the bare pyarrow read")
    add("  tradejet read only (typed pyarrow.csv)", t_read, t_ref)
    add("  validate only", t_val, t_ref)


def _bench_ring(n: int, repeat: int, add) -> None:
    import collections

    from numba import njit

    from tradejet.io.ring import BarRing
    from tradejet.kernels.ringbuf import ring_append_bar_nb

    @njit(cache=False)
    def loop(ts_buf, values, state, start, n):
        bad = 0
        for i in range(n):
            x = 1.0 + i * 1e-6
            bad += ring_append_bar_nb(ts_buf, values, state, start + i, x, x + 1.0, x - 0.5, x + 0.5, 10.0, 3.0)
        return bad

    ring = BarRing(4096)
    base = [0]

    def nb():
        assert loop(ring.ts_buf, ring.values, ring.state, base[0], n) == 0
        base[0] += n

    nb()  # compile outside the timer
    # parity: the ring holds what the loop wrote
    last = ring.last()
    assert last["ts"] == base[0] - 1 and abs(last["high"] - (2.0 + (n - 1) * 1e-6)) < 1e-9
    t_nb = _median(nb, repeat) / n
    best_nb = _BEST[0] / n
    dq: collections.deque = collections.deque(maxlen=4096)
    m = min(n, 200_000)

    def py_ref():
        app = dq.append
        for i in range(m):
            app((i, 1.0, 2.0, 0.5, 1.5, 10.0, 3.0))

    def py():
        app = ring.append
        s = base[0]
        for i in range(m):
            app(s + i, 1.0, 2.0, 0.5, 1.5, 10.0, 3.0)
        base[0] += m

    py()
    t_py = _median(py, repeat) / m
    best_py = _BEST[0] / m
    t_ref = _median(py_ref, repeat) / m
    add("ring append from numba (per bar)", t_nb * 1e9, t_ref * 1e9, unit="ns", target="< 50 ns",
        ok=t_nb * 1e9 < 50, best=best_nb * 1e9, note="reference: deque.append of a tuple (Python)")
    add("ring append from python (per bar)", t_py * 1e9, t_ref * 1e9, unit="ns", target="< 1500 ns",
        ok=t_py * 1e9 < 1500, best=best_py * 1e9, note="reference: deque.append of a tuple")


def _bench_record_batch(rows: int, repeat: int, add) -> None:
    import numpy as np
    import pyarrow as pa

    from tradejet.io.ring import BarRing

    cap = max(rows, 10)
    ring = BarRing(cap)
    ts = np.arange(cap + cap // 3, dtype=np.int64)
    cols = {c: ts.astype(float) + k for k, c in enumerate(("open", "high", "low", "close", "volume", "trades"))}
    ring.extend(ts, cols)  # wrapped: the window crosses the seam
    inner = 200
    sizes = sorted({10, 1_000, cap // 10, cap})
    times = {}
    for n in sizes:
        rb = ring.record_batch(n)
        assert rb.num_rows == n and rb.column("close").to_numpy()[-1] == cols["close"][-1]

        def ours(n=n):
            for _ in range(inner):
                ring.record_batch(n)

        def copy(n=n):
            w = ring.window(n)
            pa.RecordBatch.from_arrays([pa.array(np.array(w[c])) for c in ring.columns], names=list(ring.columns))

        t = _median(ours, repeat) / inner
        times[n] = t
        t_ref = _median(copy, repeat)
        add(f"record_batch({n:,})", t * 1e6, t_ref * 1e6, unit="us", note="reference: copy the window into Arrow")
    flat = max(times.values()) / min(times.values())
    add("record_batch flatness: max/min over n", flat, 1.0, unit="x", target="flat (~1x)", ok=flat < 3.0)


def _bench_store(tmp: Path, rows: int, repeat: int, add) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from tradejet.io.store import PARQUET, BarStore
    from tradejet.io.synthetic import synthetic_market

    m = synthetic_market(rows, timeframe="1m", symbols=["ETH/USD"], seed=2)
    store = BarStore(tmp / "range")
    store.write("bench", "ETH/USD", "1m", m.bars("ETH/USD"))
    day = 1440 * 60_000_000_000
    mid = int(m.ts[rows // 2])
    start, end = mid, mid + day
    path = store.series_dir("bench", "ETH/USD", "1m") / PARQUET
    part = store.read("bench", "ETH/USD", "1m", start, end)
    sel = (m.ts >= start) & (m.ts < end)
    np.testing.assert_array_equal(part["close"], m.close[0][sel])

    def ours():
        c = store.read("bench", "ETH/USD", "1m", start, end)
        return float(c["close"].sum())

    def whole():
        t = pq.read_table(path)
        return t.num_rows

    t_ours = _median(ours, repeat)
    t_ref = _median(whole, repeat)
    add(f"store range read (1 day of {rows:,})", t_ours * 1e3, t_ref * 1e3, unit="ms",
        note="reference: pyarrow.parquet.read_table of the whole file")


def _print(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tradejet bench data (medians; best of the runs where shown)")
    for c in ("case", "tradejet", "best", "reference", "ratio", "target", "ok"):
        table.add_column(c, justify="left" if c == "case" else "right")
    for r in results:
        unit = r["unit"]
        ours = f"{r['tradejet']:.4g} {unit}"
        ref = f"{r['reference']:.4g} {unit}" if r["reference"] is not None else "-"
        ratio = f"{r['ratio']:.3g}x" if r["ratio"] is not None else "-"
        ok = "-" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        best = f"{r['tradejet_best']:.4g} {unit}" if r.get("tradejet_best") is not None else ""
        table.add_row(r["case"], ours, best, ref, ratio, r["target"] or "", ok)
    Console(width=None if sys.stdout.isatty() else 140).print(table)
    for r in results:
        if r["note"]:
            print(f"  {r['case'].strip()}: {r['note']}")
