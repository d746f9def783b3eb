"""A sweep's bars: loaded once by the driver, written as one Arrow IPC file, memory-mapped by each worker.

The file holds ``ts`` (int64 ns) and ``open high low close volume`` as fixed-size lists of
``n_symbols`` float64, so each field's values are one contiguous ``(n_bars, n_symbols)``
block. Workers map those blocks copy-on-write (``numpy.memmap(mode="c")``): every worker
on a machine shares the same page-cache pages, nothing is shipped per task, and the
arrays stay writable (the compiled driver keeps one signature, no read-only variant).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from tradejet.errors import DataError

__all__ = ["load_sweep_bars", "write_bars_ipc", "map_bars_ipc", "bars_hash"]

FIELDS = ("open", "high", "low", "close", "volume")


def load_sweep_bars(spec):
    """Return ``(MarketBars, warnings)`` for a spec's ``[data]`` (path, pattern, timeframe, dates)."""
    from tradejet.engine.sources import load_bars
    from tradejet.engine.sweep.spec import _iso

    root = spec.data_path()
    d = spec.data
    if d.pattern:
        if not root.is_dir():
            raise DataError("no such folder", source=str(root))
        files = sorted(f for f in root.glob(d.pattern) if f.is_file())
        if not files:
            raise DataError(f"no file matches pattern {d.pattern!r}", source=str(root))
        with tempfile.TemporaryDirectory(prefix="tradejet-sweep-") as tmp:
            for f in files:
                (Path(tmp) / f.name).symlink_to(f.resolve())
            bars, warnings = load_bars(tmp, d.timeframe)
        bars.source = str(root / d.pattern)
    else:
        bars, warnings = load_bars(root, d.timeframe)
    start = _iso(d.start, "data.start", spec.source) if d.start else None
    end = _iso(d.end, "data.end", spec.source) if d.end else None
    if start is not None or end is not None:
        bars = bars.slice_time(start, end)
    return bars, warnings


def bars_hash(bars) -> str:
    """Return a SHA-256 prefix over the symbols, timeframe, timestamps and OHLCV (the data part of a task key)."""
    h = hashlib.sha256()
    h.update("\x1f".join(bars.symbols).encode())
    h.update(np.int64(bars.timeframe_ns).tobytes())
    h.update(np.ascontiguousarray(bars.ts, np.int64).tobytes())
    for f in FIELDS:
        h.update(np.ascontiguousarray(getattr(bars, f), np.float64).tobytes())
    return h.hexdigest()[:20]


def write_bars_ipc(bars, path: str | os.PathLike[str]) -> Path:
    """Write ``bars`` as one Arrow IPC file (atomically: temp file, fsync, rename); return the path."""
    import json

    import pyarrow as pa

    path = Path(path)
    n = len(bars.symbols)
    cols = {"ts": pa.array(np.ascontiguousarray(bars.ts, np.int64))}
    for f in FIELDS:
        flat = np.ascontiguousarray(getattr(bars, f), np.float64).reshape(-1)
        cols[f] = pa.FixedSizeListArray.from_arrays(pa.array(flat), n)
    meta = {"symbols": json.dumps(bars.symbols), "timeframe_ns": str(int(bars.timeframe_ns)), "source": bars.source,
            "hash": bars_hash(bars)}
    table = pa.table(cols).replace_schema_metadata(meta)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def map_bars_ipc(path: str | os.PathLike[str]):
    """Return ``(MarketBars, data_hash)`` whose arrays are copy-on-write maps of the IPC file's buffers."""
    import json

    import pyarrow as pa

    from tradejet.engine.simulate import MarketBars

    path = Path(path)
    try:
        src = pa.memory_map(str(path), "r")
        reader = pa.ipc.open_file(src)
        table = reader.read_all()
        src.seek(0)
        whole = src.read_buffer(src.size())  # zero-copy: gives the mapping's base address
    except (OSError, pa.ArrowInvalid) as e:
        raise DataError(f"cannot read the sweep's bar file: {e}", source=str(path)) from None
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    symbols = json.loads(meta["symbols"])
    T, n = table.num_rows, len(symbols)

    def block(name: str, dtype, shape) -> np.ndarray:
        arr = table.column(name).chunk(0)
        if name != "ts":
            arr = arr.flatten()
        buf = arr.buffers()[1]
        offset = buf.address - whole.address + arr.offset * np.dtype(dtype).itemsize
        return np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=shape)

    ts = np.asarray(block("ts", np.int64, (T,)))
    cols = {f: block(f, np.float64, (T, n)) for f in FIELDS}
    bars = MarketBars(symbols=symbols, ts=ts, timeframe_ns=int(meta["timeframe_ns"]), source=meta.get("source", ""),
                      **cols)
    return bars, meta["hash"]
