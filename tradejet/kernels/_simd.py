"""Four-lane vector tails of the latency-bound batch kernels (LLVM ``<4 x double>`` ops).

A recurrence (ATR's FMA chain, the rolling variance's sums) bounds its loop at one bar per
chain latency; the per-bar work that hangs off it (NATR's division, STDDEV's square root)
is throughput-bound when scalar and, written in the same loop, competes with the chain
for the same ports. Numba's loop vectorizer cannot vectorize a loop that carries a
recurrence and its SLP vectorizer is off, so these intrinsics do that tail for four
consecutive bars with one vector instruction per operation, right inside the
recurrence's loop (a separate pass over a block would run after the chain, not beside it).

Each lane performs exactly the operations of the scalar step function it replaces, in
the same order, with IEEE rounding and no fast-math flags (``fdiv``, ``fmul``,
``llvm.sqrt`` are correctly rounded per lane), so the results are the same bits as the
scalar forms (:mod:`tradejet.kernels.steps`); tests compare batch and streaming bit for bit.

Numba's compile cache only checks the calling module's file: after editing this one,
delete the cached ``*.nbi``/``*.nbc`` files (``find . -name "*.nb[ic]" -delete``).

Contract: ``out`` and the input arrays are C-contiguous float64 1-D arrays and
``k + 3`` is a valid index of each (the caller's loop guarantees it); no bounds checks,
no allocation, no exceptions.
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_ir = cgutils.ir
_F64 = _ir.DoubleType()
_V4 = _ir.VectorType(_F64, 4)


def _splat(value: float):
    return _ir.Constant(_V4, [value] * 4)


def _vec4(builder, scalars):
    v = _ir.Constant(_V4, _ir.Undefined)
    for i, s in enumerate(scalars):
        v = builder.insert_element(v, s, _ir.Constant(_ir.IntType(32), i))
    return v


def _ptr4(context, builder, arrty, arr, k):
    """Pointer to ``arr[k]`` as ``<4 x double>*``."""
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [k]), _V4.as_pointer())


def _nonfinite_flag(builder, v):
    """Nonzero (as intp) when any lane of ``v`` is NaN or inf: ``(v - v) != 0``, lane-wise."""
    bad = builder.fcmp_unordered("!=", builder.fsub(v, v), _splat(0.0))
    bits = builder.bitcast(bad, _ir.IntType(4))
    return builder.zext(bits, _ir.IntType(64))


@intrinsic
def natr_store4(typingctx, out, k, a0, a1, a2, a3, close):
    """Write ``natr_value(a_i, close[k + i])`` to ``out[k + i]`` for i in 0..3, i.e.
    ``(a / c) * 100.0`` where ``c != 0`` (unordered: a NaN close gives NaN), else 0.0.

    Returns a nonzero int when one of the four closes is NaN or inf."""
    f = types.float64
    sig = types.intp(out, k, f, f, f, f, close)

    def codegen(context, builder, signature, args):
        out_v, k_v, b0, b1, b2, b3, close_v = args
        c = builder.load(_ptr4(context, builder, signature.args[6], close_v, k_v), align=8)
        a = _vec4(builder, (b0, b1, b2, b3))
        y = builder.fmul(builder.fdiv(a, c), _splat(100.0))
        y = builder.select(builder.fcmp_unordered("!=", c, _splat(0.0)), y, _splat(0.0))
        builder.store(y, _ptr4(context, builder, signature.args[0], out_v, k_v), align=8)
        return _nonfinite_flag(builder, c)

    return sig, codegen


def _sd4(builder, p, q, inv, nbdev):
    """``sd_value(var_value(p, q, inv)) * nbdev`` lane-wise (p, q: vectors; inv, nbdev: scalars)."""
    inv_v = _vec4(builder, (inv,) * 4)
    m = builder.fmul(p, inv_v)
    var = builder.fsub(builder.fmul(q, inv_v), builder.fmul(m, m))
    sqrt = cgutils.get_or_insert_function(builder.module, _ir.FunctionType(_V4, [_V4]), "llvm.sqrt.v4f64")
    sd = builder.select(builder.fcmp_ordered(">", var, _splat(0.0)), builder.call(sqrt, [var]), _splat(0.0))
    return builder.fmul(sd, _vec4(builder, (nbdev,) * 4))


@intrinsic
def sd_store4(typingctx, out, k, p0, p1, p2, p3, q0, q1, q2, q3, inv, nbdev):
    """Write ``sd_value(var_value(p_i, q_i, inv)) * nbdev`` to ``out[k + i]`` for i in 0..3:
    ``m = p * inv``, ``var = q * inv - m * m``, ``sqrt(var)`` where ``var > 0`` (ordered:
    a NaN variance gives 0.0) else 0.0, times ``nbdev`` (``p``, ``q``: the shifted sums)."""
    f = types.float64
    sig = types.void(out, k, f, f, f, f, f, f, f, f, f, f)

    def codegen(context, builder, signature, args):
        w = _sd4(builder, _vec4(builder, args[2:6]), _vec4(builder, args[6:10]), args[10], args[11])
        builder.store(w, _ptr4(context, builder, signature.args[0], args[0], args[1]), align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def bb_store4(typingctx, upper, middle, lower, k, m0, m1, m2, m3, p0, p1, p2, p3, q0, q1, q2, q3, inv, nbdev):
    """Bollinger bands of four bars: ``w = sd_value(var_value(p_i, q_i, inv)) * nbdev`` as in
    :func:`sd_store4`; ``middle[k + i] = m_i``, ``upper = m_i + w``, ``lower = m_i - w``."""
    f = types.float64
    sig = types.void(upper, middle, lower, k, *([f] * 14))

    def codegen(context, builder, signature, args):
        k_v = args[3]
        mid = _vec4(builder, args[4:8])
        w = _sd4(builder, _vec4(builder, args[8:12]), _vec4(builder, args[12:16]), args[16], args[17])
        for i, y in ((0, builder.fadd(mid, w)), (1, mid), (2, builder.fsub(mid, w))):
            builder.store(y, _ptr4(context, builder, signature.args[i], args[i], k_v), align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def nonfinite4(typingctx, x, k):
    """Nonzero (intp) when one of ``x[k..k+3]`` is NaN or inf."""
    sig = types.intp(x, k)

    def codegen(context, builder, signature, args):
        v = builder.load(_ptr4(context, builder, signature.args[0], args[0], args[1]), align=8)
        return _nonfinite_flag(builder, v)

    return sig, codegen


WINDOW_ROWS = 16  # rows per call of window_sums16 / window_sqdev16 (four <4 x double> accumulators)


def _window_loop(context, builder, signature, args, body):
    """Shared frame of the window intrinsics: ``acc[a] = 0``; for ``j`` in ``0..w-1``:
    ``acc[a] = body(acc[a], x[i - w + j + 4a .. +3], a)``; then ``out[i + 4a ..] = acc[a]``."""
    x_ty, out_ty = signature.args[0], signature.args[-1]
    x_v, w_v, i_v, out_v = args[0], args[1], args[-2], args[-1]
    xdata = context.make_array(x_ty)(context, builder, x_v).data
    accs = [cgutils.alloca_once_value(builder, _splat(0.0)) for _ in range(4)]
    start = builder.sub(i_v, w_v)
    with cgutils.for_range(builder, w_v) as loop:
        base = builder.add(start, loop.index)
        for a in range(4):
            ptr = builder.bitcast(builder.gep(xdata, [builder.add(base, _ir.Constant(base.type, 4 * a))]),
                                  _V4.as_pointer())
            v = builder.load(ptr, align=8)
            builder.store(body(builder, builder.load(accs[a]), v, a), accs[a])
    odata = context.make_array(out_ty)(context, builder, out_v).data
    for a in range(4):
        ptr = builder.bitcast(builder.gep(odata, [builder.add(i_v, _ir.Constant(i_v.type, 4 * a))]),
                              _V4.as_pointer())
        builder.store(builder.load(accs[a]), ptr, align=8)
    return context.get_dummy_value()


@intrinsic
def window_sums16(typingctx, x, w, i, out):
    """``out[i + k] = x[i+k-w] + x[i+k-w+1] + ... + x[i+k-1]`` for k in 0..15: each row
    summed from 0.0 left to right, exactly as alone; the 16 rows share each vector load.

    Contract: ``w >= 1`` (intp), ``i - w >= 0``, ``i + 15 < len(out)``, ``i + 14 < len(x)``."""
    sig = types.void(x, w, i, out)

    def codegen(context, builder, signature, args):
        return _window_loop(context, builder, signature, args, lambda b, acc, v, a: b.fadd(acc, v))

    return sig, codegen


@intrinsic
def window_sqdev16(typingctx, x, w, mean, i, out):
    """``out[i + k] = sum((x[j] - mean[i + k]) ** 2 for j in i+k-w .. i+k-1)`` for k in 0..15,
    each row from 0.0 left to right (``d = x - m``, ``acc = acc + d * d``: no fused multiply-add).

    Contract as :func:`window_sums16`, and ``i + 15 < len(mean)``."""
    sig = types.void(x, w, mean, i, out)

    def codegen(context, builder, signature, args):
        mdata = context.make_array(signature.args[2])(context, builder, args[2]).data
        means = []
        for a in range(4):
            ptr = builder.bitcast(builder.gep(mdata, [builder.add(args[3], _ir.Constant(args[3].type, 4 * a))]),
                                  _V4.as_pointer())
            means.append(builder.load(ptr, align=8))

        def body(b, acc, v, a):
            d = b.fsub(v, means[a])
            return b.fadd(acc, b.fmul(d, d))

        return _window_loop(context, builder, signature, args, body)

    return sig, codegen


@intrinsic
def prefetch(typingctx, x, k):
    """Hint the CPU to bring the cache line of ``x[k]`` in for a read (``llvm.prefetch``, locality
    3). A hint only: it changes no value, and an index past the end is harmless (a prefetch
    never faults), so loops may run it ahead of their last bar without a bound check."""
    sig = types.void(x, k)

    def codegen(context, builder, signature, args):
        i8p = _ir.IntType(8).as_pointer()
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        ptr = builder.bitcast(builder.gep(data, [args[1]]), i8p)
        i32 = _ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [ptr, _ir.Constant(i32, 0), _ir.Constant(i32, 3), _ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
