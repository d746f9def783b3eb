"""The store floor of the fused benchmark: trivial @njit loops that only write the rows.

``tradejet bench kernels`` times these beside the fused kernel on the same
``(27, n)`` output buffer, so a reader can see how much of the fused kernel's ns/bar is
simply the memory traffic of writing 27 float64 rows (at 1M bars, 216 MB an iteration:
more than the caches hold). Two loop orders, because the cheapest way to write the
rows is not known in advance: bar by bar (the fused kernel's order, 27 store streams)
and row by row (one vectorized stream at a time).
"""

from __future__ import annotations

from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


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


@intrinsic
def _nt_store4(typingctx, out, k, v0, v1, v2, v3):
    """Store four doubles at ``out[k..k+3]`` (32-byte aligned) with a non-temporal hint."""
    f = types.float64
    sig = types.void(out, k, f, f, f, f)

    def codegen(context, builder, signature, args):
        ir = cgutils.ir
        v4 = ir.VectorType(ir.DoubleType(), 4)
        v = ir.Constant(v4, ir.Undefined)
        for i, s in enumerate(args[2:6]):
            v = builder.insert_element(v, s, ir.Constant(ir.IntType(32), i))
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        ptr = builder.bitcast(builder.gep(data, [args[1]]), v4.as_pointer())
        st = builder.store(v, ptr, align=32)
        st.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _sfence(typingctx):
    sig = types.void()

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, cgutils.ir.FunctionType(cgutils.ir.VoidType(), []),
                                            "llvm.x86.sse.sfence")
        builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def write_rows_row_major_nt(x, out):
    """``out[k, t] = x[t] + k`` row by row with non-temporal stores (no read of the lines
    before they are written: half the memory traffic of a normal store that misses)."""
    n = x.shape[0]
    for k in range(out.shape[0]):
        o = out[k]
        head = min(((32 - (o.ctypes.data & 31)) & 31) >> 3, n)
        for t in range(head):
            o[t] = x[t] + k
        t = head
        while t + 4 <= n:
            _nt_store4(o, t, x[t] + k, x[t + 1] + k, x[t + 2] + k, x[t + 3] + k)
            t += 4
        for u in range(t, n):
            o[u] = x[u] + k
    _sfence()
