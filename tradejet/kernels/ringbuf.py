"""Ring-buffer kernels: allocation-free appends the compiled driver calls per bar.

Contract
--------
A ring is three plain arrays (no jitclass, so kernels stay cacheable):

- ``ts_buf``: int64, shape ``(2 * capacity,)``, Unix ns UTC.
- ``values``: float64, shape ``(n_columns, 2 * capacity)``, one C-contiguous row per column.
- ``state``: int64, shape ``(4,)``: ``[head, count, capacity, last_ts]``; ``head`` is the slot
  the next bar goes to, ``count`` the bars held (<= capacity).

Mirrored writes: slot ``i`` is written at ``i`` and ``i + capacity``, so the last ``n``
bars always sit in the contiguous range ``[(head - n) % capacity, ... + n)``; windows are
slices, never copies, wherever the seam is.

Status codes (returned, never raised inside a loop): :data:`RING_OK`,
:data:`RING_TS_EQUAL` (a bar with the last bar's ``ts``: use upsert),
:data:`RING_TS_BEFORE` (older than the last bar), :data:`RING_BAD_ROW` (row length does not
match the number of columns). A rejected write changes nothing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "RING_OK", "RING_TS_EQUAL", "RING_TS_BEFORE", "RING_BAD_ROW",
    "HEAD", "COUNT", "CAPACITY", "LAST_TS",
    "ring_append_nb", "ring_append_bar_nb", "ring_upsert_last_nb", "ring_extend_nb", "ring_start_nb",
]

RING_OK = 0
RING_TS_EQUAL = 1
RING_TS_BEFORE = 2
RING_BAD_ROW = 3

HEAD = 0
COUNT = 1
CAPACITY = 2
LAST_TS = 3


@njit(cache=True)
def _check_ts_nb(state, ts):
    if state[COUNT] > 0:
        if ts == state[LAST_TS]:
            return RING_TS_EQUAL
        if ts < state[LAST_TS]:
            return RING_TS_BEFORE
    return RING_OK


@njit(cache=True)
def _advance_nb(state, ts):
    cap = state[CAPACITY]
    h = state[HEAD] + 1
    state[HEAD] = 0 if h == cap else h
    if state[COUNT] < cap:
        state[COUNT] += 1
    state[LAST_TS] = ts


@njit(cache=True)
def ring_append_nb(ts_buf, values, state, ts, row):
    """Append one bar (``row``: float64, one value per column); return a status code."""
    if row.shape[0] != values.shape[0]:
        return RING_BAD_ROW
    code = _check_ts_nb(state, ts)
    if code != RING_OK:
        return code
    i = state[HEAD]
    j = i + state[CAPACITY]
    ts_buf[i] = ts
    ts_buf[j] = ts
    for k in range(values.shape[0]):
        values[k, i] = row[k]
        values[k, j] = row[k]
    _advance_nb(state, ts)
    return RING_OK


@njit(cache=True)
def ring_append_bar_nb(ts_buf, values, state, ts, open_, high, low, close, volume, trades):
    """Append one OHLCVT bar to a ring with the 6 default value columns; return a status code."""
    if values.shape[0] != 6:
        return RING_BAD_ROW
    code = _check_ts_nb(state, ts)
    if code != RING_OK:
        return code
    i = state[HEAD]
    j = i + state[CAPACITY]
    ts_buf[i] = ts
    ts_buf[j] = ts
    values[0, i] = open_
    values[0, j] = open_
    values[1, i] = high
    values[1, j] = high
    values[2, i] = low
    values[2, j] = low
    values[3, i] = close
    values[3, j] = close
    values[4, i] = volume
    values[4, j] = volume
    values[5, i] = trades
    values[5, j] = trades
    _advance_nb(state, ts)
    return RING_OK


@njit(cache=True)
def ring_upsert_last_nb(ts_buf, values, state, ts, row):
    """Replace the last bar if ``ts`` equals its ts, else append; return a status code."""
    if row.shape[0] != values.shape[0]:
        return RING_BAD_ROW
    code = _check_ts_nb(state, ts)
    if code == RING_TS_BEFORE:
        return code
    if code == RING_OK:
        return ring_append_nb(ts_buf, values, state, ts, row)
    cap = state[CAPACITY]
    i = state[HEAD] - 1
    if i < 0:
        i += cap
    for k in range(values.shape[0]):
        values[k, i] = row[k]
        values[k, i + cap] = row[k]
    return RING_OK


@njit(cache=True)
def ring_extend_nb(ts_buf, values, state, ts, rows):
    """Append many bars (``rows``: ``(n_columns, n)``); stop at the first refused one.

    Returns ``(code, index)``: ``index`` is the number of bars appended.
    """
    for t in range(ts.shape[0]):
        code = ring_append_nb(ts_buf, values, state, ts[t], rows[:, t])
        if code != RING_OK:
            return code, t
    return RING_OK, ts.shape[0]


@njit(cache=True)
def ring_start_nb(state, n):
    """Return the buffer index where the window of the last ``n`` bars starts."""
    cap = state[CAPACITY]
    s = state[HEAD] - n
    if s < 0:
        s += cap
    return s
