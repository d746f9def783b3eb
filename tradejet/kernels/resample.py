"""Resampling kernels: bars -> coarser bars, trades -> bars.

Contract
--------
- ``ts``: int64 Unix nanoseconds UTC, sorted ascending (bars: strictly; trades: non-decreasing).
  A bar is stamped with its open time; a bucket is ``[k * bucket_ns, (k + 1) * bucket_ns)``
  counted from the Unix epoch, so 5m/15m/1h/4h/1d buckets are UTC-aligned (1d starts at
  00:00 UTC, 4h at 00:00, 04:00, ... UTC).
- Prices, volumes, trade counts: float64 1-D arrays of the same length as ``ts``.
- Output: one row per bucket that holds at least one input row; a bucket with no input is
  absent (gaps stay gaps, nothing is invented or forward-filled). ``count`` is the number
  of input rows per bucket (input bars or trades), so callers can tell partial buckets.
- Aggregation: open = first open, high = max high, low = min low, close = last close,
  volume = sum, trades = sum. NaN policy: inputs are validated before they get here; a NaN
  in ``trades`` (count unknown) makes the bucket's ``trades`` NaN, nothing else is masked.

Oracles: tests/kernels/test_resample.py (a brute-force Python aggregation, and the real
Kraken 1m/5m/1h files built from the same trades).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["resample_bars_nb", "trades_to_bars_nb", "resample_bars", "trades_to_bars", "bucket_start_nb"]


@njit(cache=True)
def bucket_start_nb(ts: int, bucket_ns: int) -> int:
    """Return the open time of the UTC-aligned bucket holding ``ts`` (floor, also before 1970)."""
    return ts - (ts % bucket_ns)


@njit(cache=True)
def _count_buckets_nb(ts, bucket_ns):
    n = ts.shape[0]
    if n == 0:
        return 0
    k = 1
    cur = bucket_start_nb(ts[0], bucket_ns)
    for i in range(1, n):
        b = bucket_start_nb(ts[i], bucket_ns)
        if b != cur:
            k += 1
            cur = b
    return k


@njit(cache=True)
def resample_bars_nb(ts, open_, high, low, close, volume, trades, bucket_ns):
    """Aggregate sorted bars into UTC-aligned buckets of ``bucket_ns``; gaps stay gaps.

    Returns ``(ts, open, high, low, close, volume, trades, count)``.
    """
    m = _count_buckets_nb(ts, bucket_ns)
    out_ts = np.empty(m, np.int64)
    o = np.empty(m, np.float64)
    h = np.empty(m, np.float64)
    lo = np.empty(m, np.float64)
    c = np.empty(m, np.float64)
    v = np.empty(m, np.float64)
    t = np.empty(m, np.float64)
    cnt = np.empty(m, np.int64)
    j = -1
    cur = np.int64(0)
    for i in range(ts.shape[0]):
        b = bucket_start_nb(ts[i], bucket_ns)
        if j < 0 or b != cur:
            j += 1
            cur = b
            out_ts[j] = b
            o[j] = open_[i]
            h[j] = high[i]
            lo[j] = low[i]
            c[j] = close[i]
            v[j] = volume[i]
            t[j] = trades[i]
            cnt[j] = 1
        else:
            if high[i] > h[j]:
                h[j] = high[i]
            if low[i] < lo[j]:
                lo[j] = low[i]
            c[j] = close[i]
            v[j] += volume[i]
            t[j] += trades[i]
            cnt[j] += 1
    return out_ts, o, h, lo, c, v, t, cnt


@njit(cache=True)
def trades_to_bars_nb(ts, price, qty, bucket_ns):
    """Build OHLCV bars from time-sorted trades; ``trades`` = number of prints per bar.

    Returns ``(ts, open, high, low, close, volume, trades, count)`` (``trades`` is ``count``
    as float64, the OHLCVT convention).
    """
    m = _count_buckets_nb(ts, bucket_ns)
    out_ts = np.empty(m, np.int64)
    o = np.empty(m, np.float64)
    h = np.empty(m, np.float64)
    lo = np.empty(m, np.float64)
    c = np.empty(m, np.float64)
    v = np.empty(m, np.float64)
    t = np.empty(m, np.float64)
    cnt = np.empty(m, np.int64)
    j = -1
    cur = np.int64(0)
    for i in range(ts.shape[0]):
        b = bucket_start_nb(ts[i], bucket_ns)
        p = price[i]
        if j < 0 or b != cur:
            j += 1
            cur = b
            out_ts[j] = b
            o[j] = p
            h[j] = p
            lo[j] = p
            c[j] = p
            v[j] = qty[i]
            cnt[j] = 1
        else:
            if p > h[j]:
                h[j] = p
            if p < lo[j]:
                lo[j] = p
            c[j] = p
            v[j] += qty[i]
            cnt[j] += 1
    for k in range(m):
        t[k] = cnt[k]
    return out_ts, o, h, lo, c, v, t, cnt


def _check(ts: np.ndarray, cols: dict[str, np.ndarray], bucket_ns: int, strict: bool) -> None:
    if bucket_ns <= 0:
        raise ValueError(f"bucket_ns must be > 0, was {bucket_ns}")
    if ts.dtype != np.int64 or ts.ndim != 1:
        raise ValueError(f"ts must be a 1-D int64 array, was {ts.dtype} with {ts.ndim} dims")
    for name, a in cols.items():
        if a.shape != ts.shape:
            raise ValueError(f"{name} must have the shape of ts {ts.shape}, was {a.shape}")
    if ts.size > 1:
        d = np.diff(ts)
        bad = np.flatnonzero(d <= 0) if strict else np.flatnonzero(d < 0)
        if bad.size:
            i = int(bad[0]) + 1
            word = "increasing" if strict else "non-decreasing"
            raise ValueError(f"ts must be {word}: row {i} has {ts[i]} after {ts[i - 1]}")


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def resample_bars(ts, open_, high, low, close, volume, trades=None, *, bucket_ns: int):
    """Check the arguments, then run :func:`resample_bars_nb`.

    >>> import numpy as np
    >>> m = 60_000_000_000
    >>> ts = np.array([0, m, 5 * m], np.int64)
    >>> out = resample_bars(ts, [1., 2., 3.], [2., 4., 3.], [1., 1., 3.], [2., 3., 3.], [1., 1., 1.], bucket_ns=5 * m)
    >>> out[0].tolist(), out[2].tolist(), out[5].tolist()
    ([0, 300000000000], [4.0, 3.0], [2.0, 1.0])
    """
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    cols = {"open": _f64(open_), "high": _f64(high), "low": _f64(low), "close": _f64(close),
            "volume": _f64(volume),
            "trades": _f64(trades) if trades is not None else np.full(ts.shape, np.nan)}
    _check(ts, cols, int(bucket_ns), strict=True)
    return resample_bars_nb(ts, cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"],
                            cols["trades"], np.int64(bucket_ns))


def trades_to_bars(ts, price, qty, *, bucket_ns: int):
    """Check the arguments, then run :func:`trades_to_bars_nb`.

    >>> import numpy as np
    >>> s = 1_000_000_000
    >>> out = trades_to_bars(np.array([1, 30, 61], np.int64) * s, [10., 12., 11.], [1., 2., 3.], bucket_ns=60 * s)
    >>> out[1].tolist(), out[4].tolist(), out[5].tolist()
    ([10.0, 11.0], [12.0, 11.0], [3.0, 3.0])
    """
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    cols = {"price": _f64(price), "qty": _f64(qty)}
    _check(ts, cols, int(bucket_ns), strict=False)
    return trades_to_bars_nb(ts, cols["price"], cols["qty"], np.int64(bucket_ns))
