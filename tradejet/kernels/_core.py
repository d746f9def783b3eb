"""Shared machinery of the indicator kernels: the jit decorator, an explicit FMA, window scans.

Contract: float64 scalars and 1-D float64 arrays; no allocation; no exceptions.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types  # noqa: F401  (njit re-exported for special-flag kernels)
from numba.core import cgutils
from numba.extending import intrinsic

NAN = np.nan

# WMA's running sums are re-summed exactly over their window once every RESUM * period
# outputs and slid by one value in between. Every form (batch, fused, 2-D, streaming)
# re-sums at the same bars, so they stay equal bit for bit; between re-sums the error
# grows by about one rounding per slide (~1e-14 relative over 8 windows), far inside
# TA-Lib's 1e-9. A re-sum costs ``period`` dependent additions: re-summing every window
# would cost as much as all the slides together. (The rolling variance and VWAP still
# re-sum every window: the strategies' decisions use them, and must not move by an ulp.)
RESUM = 8

# error_model="numpy": a division by zero gives inf/nan instead of a Python-style check
# (which would add a branch to every division); no fastmath: it would let LLVM reorder
# arithmetic differently in the batch, fused and streaming forms and break their exact
# equality (and the 1e-9 agreement with TA-Lib).
jit = njit(cache=True, error_model="numpy", nogil=True)
# The one-bar step functions are inlined into every loop at Numba-IR level: left to LLVM,
# a step that passes arrays and returns a tuple (var_step) stays a real call, 3-4x slower.
jit_inline = njit(cache=True, error_model="numpy", nogil=True, inline="always")


@intrinsic
def fma(typingctx, a, b, c):
    """Return ``a * b + c`` rounded once (LLVM's ``llvm.fma.f64``).

    Written out explicitly so that every form (batch, fused, 2-D, streaming) gets the same
    instruction: an implicit contraction could differ between them. A recurrence
    ``y = fma(y, a, x * k)`` has a 4-cycle dependency chain instead of 6 (mul + add).
    """
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        t = args[0].type
        fn = cgutils.get_or_insert_function(builder.module, cgutils.ir.FunctionType(t, [t, t, t]), "llvm.fma.f64")
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def address_to_f64_pointer(typingctx, address):
    """Return a float64 pointer from an integer address (for ``numba.carray``)."""
    sig = types.CPointer(types.float64)(types.intp)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


@jit
def window_shifted_sums(buf, start, count, wrap, shift):
    """Return (sum(v - shift), sum((v - shift)**2)) over a window, summed in order."""
    k = start
    s1 = 0.0
    s2 = 0.0
    for _ in range(count):
        d = buf[k] - shift
        s1 += d
        s2 += d * d
        k += 1
        if k == wrap:
            k = 0
    return s1, s2


@jit
def window_sum2(a, b, start, count, wrap):
    """Return (sum(a), sum(b), count of b > 0) over the same window of two buffers."""
    k = start
    sa = 0.0
    sb = 0.0
    nz = 0
    for _ in range(count):
        sa += a[k]
        sb += b[k]
        nz += b[k] > 0.0
        k += 1
        if k == wrap:
            k = 0
    return sa, sb, nz


@jit
def window_wsums(buf, start, count, wrap):
    """Return (sum(v_i), sum((i + 1) * v_i)) over a window, oldest first (weights 1..count)."""
    k = start
    s = 0.0
    w = 0.0
    for i in range(count):
        v = buf[k]
        s += v
        w += v * (i + 1)
        k += 1
        if k == wrap:
            k = 0
    return s, w
