"""Shared machinery of the indicator kernels: the jit decorator, an explicit FMA, window scans.

Contract: float64 scalars and 1-D float64 arrays; no allocation; no exceptions.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types  # njit: also re-exported for special-flag kernels
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


@intrinsic
def f64_bits(typingctx, x):
    """The IEEE bits of a float64, as an int64."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], cgutils.ir.IntType(64))

    return sig, codegen


@intrinsic
def bits_f64(typingctx, i):
    """The float64 whose IEEE bits are the int64 ``i``."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], cgutils.ir.DoubleType())

    return sig, codegen


# fdlibm's log (e_log.c, Sun Microsystems 1993; error < 1 ulp): ln2 split in two, and the
# coefficients of its polynomial in s = f / (2 + f)
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
LG1 = 6.666666666666735130e-01
LG2 = 3.999999999940941908e-01
LG3 = 2.857142874366239149e-01
LG4 = 2.222219843214978396e-01
LG5 = 1.818357216161805012e-01
LG6 = 1.531383769920937332e-01
LG7 = 1.479819860511658591e-01


@jit_inline
def flog(x):
    """The natural log: fdlibm's algorithm (error < 1 ulp) for positive normal ``x``, the C
    library's ``log`` for the rest (zero, negatives, subnormals, inf, NaN).

    Why not the C library's for all: it is a call per value that LLVM cannot vectorize
    (~4 ns here); this is plain arithmetic, which the fused and 2-D kernels run four values
    at a time (``_vec.Lanes.log``, the same operations in the same order: the same bits).
    fdlibm's branches on ``k == 0`` are folded into its general formulas (with ``k = 0``
    their extra terms are exact zeros), so every value takes one of three formulas."""
    b = f64_bits(x)
    hx = b >> 32
    if hx < 0x00100000 or hx >= 0x7FF00000:
        return math.log(x)
    k = (hx >> 20) - 1023
    hx &= 0x000FFFFF
    i = (hx + 0x95F64) & 0x100000
    # x scaled by a power of two into [sqrt(2)/2, sqrt(2)): x = 2**k * (1 + f)
    f = bits_f64(((hx | (i ^ 0x3FF00000)) << 32) | (b & 0xFFFFFFFF)) - 1.0
    dk = float(k + (i >> 20))
    if (0x000FFFFF & (2 + hx)) < 3:  # |f| < 2**-20
        r = f * f * (0.5 - 0.33333333333333333 * f)
        return dk * LN2_HI - ((r - dk * LN2_LO) - f)
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7))) + w * (LG2 + w * (LG4 + w * LG6))
    if ((hx - 0x6147A) | (0x6B851 - hx)) > 0:
        hfsq = 0.5 * f * f
        return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
    return dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f)
