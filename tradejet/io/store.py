"""The bar store: Parquet (zstd) on disk, Arrow IPC beside it for memory-mapped reads.

Layout::

    <root>/<venue>/<symbol>/<timeframe>/bars.parquet   durable copy, zstd, row groups of 64k bars
    <root>/<venue>/<symbol>/<timeframe>/bars.arrow     Arrow IPC file, read memory-mapped
    <root>/rejected/<source>.rejected.csv              rows the importer quarantined

``<symbol>`` is the canonical symbol with ``/`` escaped (``XBT%2FUSD``). Columns: ``ts``
(``timestamp[ns, UTC]``, the bar's open time), ``open high low close volume trades``
(float64; ``trades`` NaN when the source has no count).

Writes merge by ``ts`` (a bar already stored with the same ``ts`` is replaced by the new
one; the same bars written twice leave one copy and no rewrite) and are crash-safe: each
file is written to a temp file in the same folder, fsynced, renamed over the old one, and
the folder is fsynced. Both files carry the same random ``token`` in their metadata; if a
crash lands between the two renames, readers see the tokens differ and trust the Parquet
file (written first) and rebuild the IPC file from it.

Range reads binary-search the ``ts`` column of the memory-mapped IPC file, so only the
pages of the requested range are touched.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tradejet.errors import DataError
from tradejet.io.symbols import canonical_symbol, path_to_symbol, symbol_to_path
from tradejet.io.timeframes import BAR_COLUMNS, FLOAT_COLUMNS, parse_timeframe, timeframe_name

__all__ = ["BarStore", "SeriesInfo", "WriteResult", "bars_table", "count_gaps"]

PARQUET = "bars.parquet"
ARROW = "bars.arrow"
ROW_GROUP = 65_536


@dataclass(frozen=True)
class SeriesInfo:
    """One stored series, as ``tradejet data list`` shows it."""

    venue: str
    symbol: str
    timeframe: str
    first: int | None
    last: int | None
    rows: int
    gaps: int


@dataclass(frozen=True)
class WriteResult:
    """What a write changed: bars new to the store, bars replaced (same ts, other values), total."""

    added: int
    replaced: int
    total: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)


def count_gaps(ts: np.ndarray, timeframe_ns: int) -> int:
    """Return the number of missing bars between the first and last ``ts`` (sorted, on grid).

    >>> count_gaps(np.array([0, 60, 240]) * 10**9, 60 * 10**9)
    2
    """
    if ts.size < 2:
        return 0
    d = np.diff(ts)
    return int(np.sum(d // timeframe_ns - 1, where=d > timeframe_ns, initial=0))


def _schema(meta: dict[str, str] | None = None):
    import pyarrow as pa

    fields = [pa.field("ts", pa.timestamp("ns", tz="UTC"), nullable=False)]
    fields += [pa.field(c, pa.float64(), nullable=False) for c in FLOAT_COLUMNS]
    return pa.schema(fields, metadata=meta)


def bars_table(cols: dict[str, np.ndarray], meta: dict[str, str] | None = None):
    """Return a ``pyarrow.Table`` in the store schema from NumPy columns (``trades`` optional)."""
    import pyarrow as pa

    ts = np.ascontiguousarray(cols["ts"], dtype=np.int64)
    arrays = [pa.Array.from_buffers(pa.timestamp("ns", tz="UTC"), ts.size, [None, pa.py_buffer(ts)])]
    for c in FLOAT_COLUMNS:
        a = cols.get(c)
        a = np.full(ts.size, np.nan) if a is None else np.ascontiguousarray(a, dtype=np.float64)
        if a.shape != ts.shape:
            raise DataError(f"column {c} has {a.size} rows, ts has {ts.size}")
        arrays.append(pa.array(a))
    return pa.Table.from_arrays(arrays, schema=_schema(meta))


def table_columns(table) -> dict[str, np.ndarray]:
    """Return the store columns of ``table`` as NumPy arrays (zero-copy where Arrow allows)."""
    import pyarrow as pa

    table = table.combine_chunks() if any(c.num_chunks > 1 for c in table.columns) else table
    out = {}
    for c in BAR_COLUMNS:
        col = table.column(c)
        arr = col.chunk(0) if col.num_chunks else pa.array([], col.type)
        if c == "ts":
            out[c] = arr.cast(pa.int64()).to_numpy(zero_copy_only=False) if arr.null_count else \
                np.frombuffer(arr.buffers()[1], np.int64, len(arr), arr.offset * 8)
        else:
            out[c] = arr.to_numpy(zero_copy_only=False)
    return out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write) -> None:
    """Write via ``write(fileobj)`` to a temp file beside ``path``, fsync, rename, fsync the folder."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class BarStore:
    """Bars on disk, by venue / symbol / timeframe.

    >>> import tempfile
    >>> store = BarStore(tempfile.mkdtemp())
    >>> m = 60 * 10**9
    >>> cols = {"ts": np.array([0, m]), "open": [1., 2.], "high": [2., 2.], "low": [1., 1.],
    ...         "close": [2., 1.], "volume": [5., 6.]}
    >>> store.write("kraken", "XBT/USD", "1m", cols).added
    2
    >>> store.write("kraken", "XBT/USD", "1m", cols).added  # idempotent
    0
    >>> store.read("kraken", "XBT/USD", "1m", start=m)["close"].tolist()
    [1.0]
    """

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser()

    # -- paths ---------------------------------------------------------------------
    def series_dir(self, venue: str, symbol: str, timeframe: str | int) -> Path:
        """Return the folder of one series (it may not exist)."""
        if not venue or "/" in venue or venue.startswith("."):
            raise DataError(f"venue must be a plain name, was {venue!r}")
        return self.root / venue.lower() / symbol_to_path(symbol) / timeframe_name(timeframe)

    def rejected_path(self, source_name: str) -> Path:
        """Return where the quarantined rows of ``source_name`` go."""
        return self.root / "rejected" / f"{Path(source_name).name}.rejected.csv"

    def series(self) -> list[tuple[str, str, str]]:
        """Return every stored ``(venue, symbol, timeframe)``, sorted."""
        out = []
        if not self.root.is_dir():
            return out
        for p in sorted(self.root.glob(f"*/*/*/{PARQUET}")):
            tf_dir = p.parent
            out.append((tf_dir.parent.parent.name, path_to_symbol(tf_dir.parent.name), tf_dir.name))
        return out

    def find(self, symbol: str, timeframe: str | int, venue: str | None = None) -> str:
        """Return the venue holding ``symbol``/``timeframe`` (the one given, or the only one)."""
        sym, tf = canonical_symbol(symbol), timeframe_name(timeframe)
        if venue:
            if not (self.series_dir(venue, sym, tf) / PARQUET).exists():
                raise DataError(f"no {tf} bars for {sym} at venue {venue} in the store {self.root}")
            return venue.lower()
        venues = [v for v, s, t in self.series() if s == sym and t == tf]
        if not venues:
            have = sorted({t for _, s, t in self.series() if s == sym})
            hint = f" (timeframes stored: {', '.join(have)})" if have else ""
            raise DataError(f"no {tf} bars for {sym} in the store {self.root}{hint}")
        if len(venues) > 1:
            raise DataError(f"{sym} {tf} is stored for venues {venues}; pick one with --venue")
        return venues[0]

    # -- reading -------------------------------------------------------------------
    def _token(self, path: Path, kind: str) -> str | None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            if kind == "parquet":
                meta = pq.read_schema(path).metadata or {}
            else:
                with pa.memory_map(str(path)) as mm:
                    meta = pa.ipc.open_file(mm).schema.metadata or {}
        except FileNotFoundError:
            return None
        except (pa.ArrowInvalid, OSError) as e:
            if kind == "parquet":
                raise DataError(f"store file is not readable Parquet: {e}", source=str(path)) from None
            return None
        return meta.get(b"tradejet.token", b"").decode() or None

    def read_table(self, venue: str, symbol: str, timeframe: str | int,
                   start: int | None = None, end: int | None = None):
        """Return the bars with ``start <= ts < end`` as a ``pyarrow.Table``.

        The table is memory-mapped from the IPC file: only the pages of the range are read.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        d = self.series_dir(venue, symbol, timeframe)
        pq_path, ipc_path = d / PARQUET, d / ARROW
        token = self._token(pq_path, "parquet")
        if token is None:
            if not pq_path.exists():
                raise DataError(f"no {timeframe_name(timeframe)} bars for {canonical_symbol(symbol)} "
                                f"at venue {venue} in the store {self.root}")
        if self._token(ipc_path, "arrow") != token:
            # crash between the two renames (or a lost cache file): Parquet is the truth
            table = pq.read_table(pq_path)
            try:
                self._write_ipc(ipc_path, table)
            except OSError:
                pass
            return _slice(table, start, end)
        mm = pa.memory_map(str(ipc_path))
        table = pa.ipc.open_file(mm).read_all()
        return _slice(table, start, end)

    def read(self, venue: str, symbol: str, timeframe: str | int,
             start: int | None = None, end: int | None = None) -> dict[str, np.ndarray]:
        """Return the bars with ``start <= ts < end`` as NumPy columns (``ts`` int64 ns)."""
        return table_columns(self.read_table(venue, symbol, timeframe, start, end))

    def info(self, venue: str, symbol: str, timeframe: str | int) -> SeriesInfo:
        """Return first/last ts, rows and missing bars of one series."""
        cols = self.read(venue, symbol, timeframe)
        ts = cols["ts"]
        return SeriesInfo(venue, canonical_symbol(symbol), timeframe_name(timeframe),
                          int(ts[0]) if ts.size else None, int(ts[-1]) if ts.size else None,
                          int(ts.size), count_gaps(ts, parse_timeframe(timeframe)))

    def list(self) -> list[SeriesInfo]:
        """Return a :class:`SeriesInfo` per stored series."""
        return [self.info(v, s, t) for v, s, t in self.series()]

    # -- writing -------------------------------------------------------------------
    def write(self, venue: str, symbol: str, timeframe: str | int, cols: dict[str, np.ndarray]) -> WriteResult:
        """Merge ``cols`` (validated bars, ``ts`` int64 ns) into the series; crash-safe.

        Bars whose ``ts`` is already stored replace the stored ones; when nothing changes
        no file is rewritten.
        """
        sym, tf = canonical_symbol(symbol), timeframe_name(timeframe)
        d = self.series_dir(venue, sym, tf)
        new = {c: np.asarray(cols[c]) if c in cols else None for c in BAR_COLUMNS}
        if new["ts"] is None:
            raise DataError("bars to write need a ts column")
        new_ts = np.ascontiguousarray(new["ts"], dtype=np.int64)
        n = new_ts.size
        new = {c: (np.full(n, np.nan) if a is None else np.ascontiguousarray(a, dtype=np.float64))
               for c, a in new.items() if c != "ts"}
        new["ts"] = new_ts
        if n > 1 and np.any(np.diff(new_ts) <= 0):
            order = np.argsort(new_ts, kind="stable")
            new = {c: a[order] for c, a in new.items()}
            new_ts = new["ts"]
            keep = np.r_[new_ts[1:] != new_ts[:-1], True]
            new = {c: a[keep] for c, a in new.items()}
            new_ts = new["ts"]
        old = self.read(venue, sym, tf) if (d / PARQUET).exists() else None
        merged, added, replaced = _merge(old, new)
        total = merged["ts"].size
        if old is not None and not added and not replaced:
            return WriteResult(0, 0, total)
        d.mkdir(parents=True, exist_ok=True)
        for stale in d.glob(".bars.*.tmp-*"):
            stale.unlink(missing_ok=True)
        meta = {"tradejet.token": uuid.uuid4().hex, "tradejet.symbol": sym, "tradejet.timeframe": tf,
                "tradejet.venue": venue.lower()}
        table = bars_table(merged, meta)
        self._write_parquet(d / PARQUET, table)
        self._write_ipc(d / ARROW, table)
        return WriteResult(added, replaced, total)

    @staticmethod
    def _write_parquet(path: Path, table) -> None:
        import pyarrow.parquet as pq

        _atomic_write(path, lambda f: pq.write_table(table, f, compression="zstd", row_group_size=ROW_GROUP))

    @staticmethod
    def _write_ipc(path: Path, table) -> None:
        import pyarrow as pa

        def write(f):
            with pa.ipc.new_file(f, table.schema) as w:
                w.write_table(table.combine_chunks(), max_chunksize=max(table.num_rows, 1))

        _atomic_write(path, write)


def _slice(table, start: int | None, end: int | None):
    if start is None and end is None:
        return table
    import pyarrow as pa

    col = table.column("ts")
    if col.num_chunks != 1:
        table = table.combine_chunks()
        col = table.column("ts")
    arr = col.chunk(0) if col.num_chunks else pa.array([], pa.int64())
    ts = np.frombuffer(arr.buffers()[1], np.int64, len(arr), arr.offset * 8) if len(arr) else np.empty(0, np.int64)
    i = 0 if start is None else int(np.searchsorted(ts, start, "left"))
    j = ts.size if end is None else int(np.searchsorted(ts, end, "left"))
    return table.slice(i, max(j - i, 0))


def _merge(old: dict[str, np.ndarray] | None, new: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int, int]:
    """Merge two ts-sorted column sets; ``new`` wins on equal ts. Return (merged, added, replaced)."""
    if old is None or old["ts"].size == 0:
        return new, new["ts"].size, 0
    if new["ts"].size == 0:
        return old, 0, 0
    if new["ts"][0] > old["ts"][-1]:
        return {c: np.concatenate([old[c], new[c]]) for c in BAR_COLUMNS}, new["ts"].size, 0
    ots, nts = old["ts"], new["ts"]
    pos = np.searchsorted(ots, nts)
    inside = pos < ots.size
    hit = np.zeros(nts.size, bool)
    hit[inside] = ots[pos[inside]] == nts[inside]
    replaced = 0
    if hit.any():
        hp = pos[hit]
        diff = np.zeros(int(hit.sum()), bool)
        for c in FLOAT_COLUMNS:
            a, b = old[c][hp], new[c][hit]
            diff |= ~((a == b) | (np.isnan(a) & np.isnan(b)))
        replaced = int(diff.sum())
    added = int((~hit).sum())
    if not added and not replaced:
        return old, 0, 0
    keep_old = np.ones(ots.size, bool)
    keep_old[pos[hit]] = False
    merged_ts = np.concatenate([ots[keep_old], nts])
    order = np.argsort(merged_ts, kind="stable")
    merged = {"ts": merged_ts[order]}
    for c in FLOAT_COLUMNS:
        merged[c] = np.concatenate([old[c][keep_old], new[c]])[order]
    return merged, added, replaced
