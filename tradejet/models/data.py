"""Candles for training: read a folder of normalised candle CSVs, or make a synthetic market.

Normalised candle files (``../shared/data`` README): header
``timestamp,open,high,low,close,volume`` (extra columns such as ``adj_close`` are
ignored), ``timestamp`` = the bar's open time in integer Unix seconds UTC, rows
ascending; ``.csv`` or ``.csv.gz``. Bad rows raise :class:`~tradejet.errors.DataError`
naming the file and line. Times become int64 ns inside.

This is the pipeline's own small reader; it goes when the data layer's importers land.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tradejet.errors import DataError

__all__ = ["Candles", "load_candles", "load_folder", "synthetic_market", "data_hash"]

_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class Candles:
    """One symbol's bars: int64 ns open times and float64 OHLCV, ascending."""

    symbol: str
    source: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def interval_s(self) -> int:
        """The most common spacing between bars, in seconds (0 for fewer than 2 bars)."""
        if len(self.ts) < 2:
            return 0
        d = np.diff(self.ts) // 1_000_000_000
        vals, counts = np.unique(d, return_counts=True)
        return int(vals[np.argmax(counts)])

    def tail(self, n: int) -> Candles:
        """Return the last ``n`` bars (all when ``n`` is 0 or larger than the series)."""
        if n <= 0 or n >= len(self):
            return self
        s = slice(len(self) - n, None)
        return Candles(self.symbol, self.source, self.ts[s], self.open[s], self.high[s], self.low[s],
                       self.close[s], self.volume[s])


def load_candles(path: str | Path) -> Candles:
    """Read one normalised candle CSV (``.csv`` or ``.csv.gz``) and check it."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    p = Path(path)
    src = str(p)
    try:
        table = pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(
            include_columns=list(_COLUMNS),
            column_types={"timestamp": pa.int64(), **{c: pa.float64() for c in _COLUMNS[1:]}}))
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as e:
        raise DataError(f"not a normalised candle CSV ({str(e).splitlines()[0]}); "
                        f"expected header {','.join(_COLUMNS)}", source=src) from None
    except OSError as e:
        raise DataError(f"cannot read: {e}", source=src) from None
    cols = {}
    for name in _COLUMNS:
        col = table.column(name)
        if col.null_count:
            i = int(np.flatnonzero(np.asarray(col.is_null()))[0])
            raise DataError(f"{name} is empty", source=src, row=i + 2, column=name)
        cols[name] = col.to_numpy()
    ts = cols["timestamp"].astype(np.int64)
    if len(ts) > 1:
        back = np.flatnonzero(np.diff(ts) <= 0)
        if len(back):
            i = int(back[0]) + 1
            raise DataError(f"timestamp {ts[i]} does not increase (previous {ts[i - 1]})", source=src, row=i + 2,
                            column="timestamp")
    for name in _COLUMNS[1:]:
        a = cols[name]
        bad = np.flatnonzero(~np.isfinite(a) | (a < 0 if name == "volume" else a <= 0))
        if len(bad):
            i = int(bad[0])
            raise DataError(f"{name} must be finite and {'>= 0' if name == 'volume' else '> 0'}, was {a[i]}",
                            source=src, row=i + 2, column=name)
    bad = np.flatnonzero(cols["high"] < cols["low"])
    if len(bad):
        i = int(bad[0])
        raise DataError(f"high {cols['high'][i]} < low {cols['low'][i]}", source=src, row=i + 2, column="high")
    symbol = p.name.split(".")[0]
    return Candles(symbol, src, ts * 1_000_000_000, cols["open"], cols["high"], cols["low"], cols["close"],
                   cols["volume"])


def load_folder(folder: str | Path, *, interval_s: int | None = None, max_rows: int = 0,
                min_rows: int = 500) -> tuple[list[Candles], list[str]]:
    """Read every ``*.csv`` / ``*.csv.gz`` of a folder; return ``(candles, skipped reasons)``.

    Files whose bar interval differs from ``interval_s`` (when given) or with fewer than
    ``min_rows`` bars are skipped with a reason; ``max_rows`` keeps each file's last bars.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError("no such data folder", source=str(root))
    files = sorted([*root.glob("*.csv"), *root.glob("*.csv.gz")])
    if not files:
        raise DataError("no *.csv or *.csv.gz candle files in this folder", source=str(root))
    out, skipped = [], []
    for f in files:
        c = load_candles(f)
        if interval_s is not None and c.interval_s != interval_s:
            skipped.append(f"{f.name}: interval {c.interval_s}s, not {interval_s}s")
            continue
        if len(c) < min_rows:
            skipped.append(f"{f.name}: {len(c)} bars < {min_rows}")
            continue
        out.append(c.tail(max_rows))
    if not out:
        raise DataError(f"no usable candle files ({len(skipped)} skipped: {'; '.join(skipped[:3])})",
                        source=str(root))
    return out, skipped


def synthetic_market(n_symbols: int = 3, n_bars: int = 4000, *, seed: int = 0, interval_s: int = 3600,
                     start_s: int = 1_600_000_000) -> list[Candles]:
    """Return a seeded synthetic market with a persistent drift (so there is something to learn).

    Log returns are ``drift_t + sigma * eps_t`` with a slowly mean-reverting drift, so
    recent returns and MACD carry information about the next day's barrier hits.
    """
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_symbols):
        sigma = 0.01
        eps = rng.standard_normal(n_bars)
        shocks = rng.standard_normal(n_bars) * 0.0006
        drift = np.empty(n_bars)
        d = 0.0
        for i in range(n_bars):
            d = 0.97 * d + shocks[i]
            drift[i] = d
        logret = drift + sigma * eps
        close = 100.0 * (k + 1) * np.exp(np.cumsum(logret))
        open_ = np.concatenate(([close[0]], close[:-1]))
        wick = np.abs(rng.standard_normal((2, n_bars))) * sigma * 0.5
        high = np.maximum(open_, close) * (1 + wick[0])
        low = np.minimum(open_, close) * (1 - wick[1])
        volume = np.exp(rng.normal(8.0, 0.5, n_bars))
        ts = (start_s + np.arange(n_bars, dtype=np.int64) * interval_s) * 1_000_000_000
        out.append(Candles(f"SYN{k}", f"<synthetic seed={seed}>", ts, open_, high, low, close, volume))
    return out


def data_hash(candles: list[Candles]) -> str:
    """SHA-256 over every symbol's name and arrays: one data set, one hash."""
    h = hashlib.sha256()
    for c in candles:
        h.update(c.symbol.encode() + b"\0")
        for a in (c.ts, c.open, c.high, c.low, c.close, c.volume):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
