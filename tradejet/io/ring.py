"""Fixed-capacity bar ring buffers with zero-copy windows and Arrow record batches.

A :class:`BarRing` holds the last ``capacity`` bars of one symbol in preallocated
columns (``ts`` int64 Unix ns UTC, every other column float64). Each bar is written twice
(mirrored layout, see :mod:`tradejet.kernels.ringbuf`), so :meth:`BarRing.window` and
:meth:`BarRing.record_batch` are contiguous slices of the ring's own memory wherever the
write position is: no copy, O(1) in the window length.

The arrays (``ts_buf``, ``values``, ``state``) are public so the compiled driver can append
with :func:`tradejet.kernels.ringbuf.ring_append_bar_nb` without Python per bar.

>>> ring = BarRing(3)
>>> for t in range(5):
...     ring.append(t, 1.0, 2.0, 0.5, 1.5, 10.0, 3.0)
>>> ring.window(3)["ts"].tolist()
[2, 3, 4]
>>> ring.record_batch(2).schema.field("ts").type
TimestampType(timestamp[ns, tz=UTC])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from tradejet.errors import DataError
from tradejet.io.symbols import canonical_symbol
from tradejet.kernels.ringbuf import (
    CAPACITY,
    COUNT,
    HEAD,
    LAST_TS,
    RING_BAD_ROW,
    RING_OK,
    RING_TS_BEFORE,
    RING_TS_EQUAL,
    ring_append_bar_nb,
    ring_extend_nb,
    ring_upsert_last_nb,
)

__all__ = ["BarRing", "RingSet", "DEFAULT_COLUMNS"]

DEFAULT_COLUMNS = ("ts", "open", "high", "low", "close", "volume", "trades")


def _fmt_ts(ts: int) -> str:
    import datetime as dt

    return f"{ts} ({dt.datetime.fromtimestamp(ts / 1e9, dt.UTC).isoformat(timespec='seconds')})"


class BarRing:
    """The last ``capacity`` bars of one symbol, preallocated, with contiguous views.

    Parameters
    ----------
    capacity : int
        Bars kept; older bars are overwritten.
    columns : sequence of str
        Column names; the first must be ``"ts"`` (int64 ns UTC), the others are float64.
    """

    __slots__ = ("capacity", "columns", "ts_buf", "values", "state", "_cols", "_ncols", "_name")

    def __init__(self, capacity: int, columns: Sequence[str] = DEFAULT_COLUMNS, *, name: str = ""):
        if int(capacity) < 1:
            raise ValueError(f"capacity must be >= 1, was {capacity}")
        columns = tuple(columns)
        if not columns or columns[0] != "ts":
            raise ValueError(f"the first column must be 'ts', was {columns[:1]}")
        if len(set(columns)) != len(columns):
            raise ValueError(f"column names must be unique, were {columns}")
        self.capacity = int(capacity)
        self.columns = columns
        self.ts_buf = np.zeros(2 * self.capacity, np.int64)
        self.values = np.full((len(columns) - 1, 2 * self.capacity), np.nan)
        self.state = np.array([0, 0, self.capacity, 0], np.int64)
        # per-column 1-D views: item assignment on them is the cheapest write Python has
        self._cols = tuple(self.values[k] for k in range(len(columns) - 1))
        self._ncols = len(columns) - 1
        self._name = name

    # -- writing -------------------------------------------------------------------
    def append(self, ts: int, *values: float) -> None:
        """Append one bar (``ts`` then one value per float column); O(1), allocates nothing.

        Raises
        ------
        DataError
            If ``ts`` is not after the last bar's (equal: use :meth:`upsert_last`).
        """
        if self._ncols == 6 and len(values) == 6:
            # default OHLCVT layout: one compiled call (Numba dispatch beats 14 numpy setitems)
            if ring_append_bar_nb(self.ts_buf, self.values, self.state, ts, *values):
                self._refuse(ts)
            return
        st = self.state
        if st[1] and ts <= st[3]:
            self._refuse(ts)
        if len(values) != self._ncols:
            raise ValueError(f"append needs {self._ncols} values after ts ({self.columns[1:]}), got {len(values)}")
        i = int(st[0])
        j = i + self.capacity
        tsb = self.ts_buf
        tsb[i] = ts
        tsb[j] = ts
        for col, x in zip(self._cols, values):
            col[i] = x
            col[j] = x
        i += 1
        st[0] = 0 if i == self.capacity else i
        if st[1] < self.capacity:
            st[1] += 1
        st[3] = ts

    def upsert_last(self, ts: int, *values: float) -> None:
        """Replace the still-forming last bar when ``ts`` equals its ts, else append.

        Raises
        ------
        DataError
            If ``ts`` is earlier than the last bar's.
        """
        row = np.asarray(values, dtype=np.float64)
        code = ring_upsert_last_nb(self.ts_buf, self.values, self.state, np.int64(ts), row)
        if code == RING_BAD_ROW:
            raise ValueError(f"upsert_last needs {self._ncols} values after ts ({self.columns[1:]}), got {len(values)}")
        if code != RING_OK:
            self._refuse(ts)

    def extend(self, ts: np.ndarray, columns: dict[str, np.ndarray] | np.ndarray) -> None:
        """Append many bars at once (e.g. history from the store); all or nothing.

        ``columns`` maps each float column name to an array, or is a ``(n_columns, n)`` array.
        """
        ts = np.ascontiguousarray(ts, dtype=np.int64)
        if isinstance(columns, dict):
            missing = [c for c in self.columns[1:] if c not in columns]
            if missing:
                raise ValueError(f"extend is missing columns {missing}")
            rows = np.empty((self._ncols, ts.size))
            for k, c in enumerate(self.columns[1:]):
                rows[k] = columns[c]
        else:
            rows = np.ascontiguousarray(columns, dtype=np.float64)
            if rows.shape != (self._ncols, ts.size):
                raise ValueError(f"extend needs an array of shape {(self._ncols, ts.size)}, was {rows.shape}")
        if ts.size == 0:
            return
        bad = np.flatnonzero(np.diff(ts) <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise DataError(f"ts must increase: row {i} has {_fmt_ts(int(ts[i]))} after {_fmt_ts(int(ts[i - 1]))}",
                            source=self._name or None)
        if self.state[COUNT] and ts[0] <= self.state[LAST_TS]:
            self._refuse(int(ts[0]))
        # only the last `capacity` bars can survive; skip writing the rest
        keep = min(ts.size, self.capacity)
        code, _ = ring_extend_nb(self.ts_buf, self.values, self.state, ts[-keep:], np.ascontiguousarray(rows[:, -keep:]))
        assert code == RING_OK

    def clear(self) -> None:
        """Forget every bar (the memory is kept)."""
        self.state[HEAD] = 0
        self.state[COUNT] = 0
        self.state[LAST_TS] = 0

    def _refuse(self, ts: int) -> None:
        last = int(self.state[LAST_TS])
        who = f"{self._name}: " if self._name else ""
        if ts == last:
            raise DataError(f"{who}bar ts {_fmt_ts(ts)} equals the last bar's; use upsert_last to replace "
                            "the forming bar")
        raise DataError(f"{who}bar ts {_fmt_ts(ts)} is earlier than the last bar's ts {_fmt_ts(last)}")

    # -- reading -------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.state[COUNT])

    @property
    def last_ts(self) -> int | None:
        """The last bar's ts, or None when empty."""
        return int(self.state[LAST_TS]) if self.state[COUNT] else None

    def _start(self, n: int | None) -> tuple[int, int]:
        count = int(self.state[COUNT])
        if n is None:
            n = count
        n = int(n)
        if n < 0 or n > count:
            raise ValueError(f"n must be in [0, {count}] (bars held), was {n}")
        s = int(self.state[HEAD]) - n
        if s < 0:
            s += self.capacity
        return s, n

    def window(self, n: int | None = None) -> dict[str, np.ndarray]:
        """Return read-only contiguous views of the last ``n`` bars (all held when None).

        The views alias the ring: a later append may overwrite what they show. Copy to keep.
        """
        s, n = self._start(n)
        out = {"ts": self.ts_buf[s:s + n]}
        for name, col in zip(self.columns[1:], self._cols):
            out[name] = col[s:s + n]
        for v in out.values():
            v.flags.writeable = False
        return out

    def last(self) -> dict[str, float | int]:
        """Return the last bar as a dict of scalars."""
        if not self.state[COUNT]:
            raise ValueError("the ring is empty")
        i = int(self.state[HEAD]) - 1 + self.capacity
        out: dict[str, float | int] = {"ts": int(self.ts_buf[i])}
        for name, col in zip(self.columns[1:], self._cols):
            out[name] = float(col[i])
        return out

    def record_batch(self, n: int | None = None):
        """Return a ``pyarrow.RecordBatch`` of the last ``n`` bars sharing the ring's memory.

        ``ts`` is typed ``timestamp[ns, UTC]``; the batch aliases the ring like :meth:`window`.
        """
        import pyarrow as pa

        s, n = self._start(n)
        arrays = [pa.Array.from_buffers(_TS_TYPE(), n, [None, pa.py_buffer(self.ts_buf[s:s + n])])]
        f64 = pa.float64()
        for col in self._cols:
            arrays.append(pa.Array.from_buffers(f64, n, [None, pa.py_buffer(col[s:s + n])]))
        return pa.RecordBatch.from_arrays(arrays, names=list(self.columns))

    def __repr__(self) -> str:
        return f"BarRing({self._name or '-'}, {len(self)}/{self.capacity} bars, last_ts={self.last_ts})"


def _TS_TYPE():
    import pyarrow as pa

    return pa.timestamp("ns", tz="UTC")


class RingSet:
    """One :class:`BarRing` per symbol, addressed by canonical symbol.

    >>> rs = RingSet(10, ["BTC/USD", "eth-usd"])
    >>> rs.append("BTC/USD", 60, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    >>> rs.append("ETH/USD", 60, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0)
    >>> ts, close = rs.cross_section("close")
    >>> ts, close.tolist()
    (60, [1.0, 2.0])
    """

    def __init__(self, capacity: int, symbols: Iterable[str] = (), columns: Sequence[str] = DEFAULT_COLUMNS):
        self.capacity = int(capacity)
        self.columns = tuple(columns)
        self._rings: dict[str, BarRing] = {}
        for s in symbols:
            self.add(s)

    def add(self, symbol: str) -> BarRing:
        """Add (or return the existing) ring for ``symbol``."""
        key = canonical_symbol(symbol)
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = BarRing(self.capacity, self.columns, name=key)
        return ring

    @property
    def symbols(self) -> tuple[str, ...]:
        """Canonical symbols, in the order they were added."""
        return tuple(self._rings)

    def __getitem__(self, symbol: str) -> BarRing:
        key = canonical_symbol(symbol)
        try:
            return self._rings[key]
        except KeyError:
            raise KeyError(f"no ring for symbol {key!r}; have {list(self._rings)}") from None

    def __contains__(self, symbol: str) -> bool:
        return canonical_symbol(symbol) in self._rings

    def __len__(self) -> int:
        return len(self._rings)

    def append(self, symbol: str, ts: int, *values: float) -> None:
        """Append one bar to ``symbol``'s ring."""
        self[symbol].append(ts, *values)

    def latest_ts(self) -> int | None:
        """The newest bar ts over all symbols (None when every ring is empty)."""
        last = [r.last_ts for r in self._rings.values() if len(r)]
        return max(last) if last else None

    def cross_section(self, column: str = "close", ts: int | None = None) -> tuple[int | None, np.ndarray]:
        """Return ``(ts, values)``: ``column`` of every symbol at ``ts`` (default: the newest ts).

        ``values`` follows :attr:`symbols`; a symbol with no bar at exactly ``ts`` (gap, late
        feed, not listed yet) gets NaN, so a breadth count never mixes bars of different times.
        """
        if column not in self.columns[1:]:
            raise ValueError(f"column must be one of {self.columns[1:]}, was {column!r}")
        k = self.columns.index(column) - 1
        if ts is None:
            ts = self.latest_ts()
        out = np.full(len(self._rings), np.nan)
        if ts is None:
            return None, out
        for j, ring in enumerate(self._rings.values()):
            n = len(ring)
            if not n or ring.last_ts < ts:
                continue
            s, _ = ring._start(n)
            seg = ring.ts_buf[s:s + n]
            i = int(np.searchsorted(seg, ts))
            if i < n and seg[i] == ts:
                out[j] = ring.values[k, s + i]
        return int(ts), out

    def __repr__(self) -> str:
        return f"RingSet({len(self)} symbols, capacity={self.capacity})"

