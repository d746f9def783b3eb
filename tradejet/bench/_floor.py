"""The store floor of the fused benchmark: trivial @njit loops that only write the rows.

``tradejet bench kernels`` times these beside the fused kernel on the same
``(27, n)`` output buffer, so a reader can see how much of the fused kernel's ns/bar is
simply the memory traffic of writing 27 float64 rows (at 1M bars, 216 MB an iteration:
more than the caches hold). Two loop orders, because the cheapest way to write the
rows is not known in advance: bar by bar (the fused kernel's order, 27 store streams)
and row by row (one vectorized stream at a time).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def write_rows_bar_major(x, out):
    """``out[k, t] = x[t] + k`` for every row ``k``, bar by bar."""
    for t in range(x.shape[0]):
        v = x[t]
        for k in range(out.shape[0]):
            out[k, t] = v + k


@njit(cache=True, nogil=True)
def write_rows_row_major(x, out):
    """``out[k, t] = x[t] + k`` for every row ``k``, row by row."""
    for k in range(out.shape[0]):
        o = out[k]
        for t in range(x.shape[0]):
            o[t] = x[t] + k
