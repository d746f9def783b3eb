"""Explicit four-lane vector loops over rows of a block (LLVM ``<4 x double>`` ops).

LLVM's loop vectorizer gives up on a loop that writes several arrays it cannot prove
apart (rows of ``out`` and of a scratch array: it would need a runtime check per pair),
so a loop that computes several rows at once stays scalar. :func:`vmap` builds an
intrinsic that runs such a loop explicitly: four bars a step with vector loads, the
body's vector ops and vector stores, then the remaining bars one at a time with the same
ops on one lane. Each lane performs the body's operations in order with IEEE rounding and
no fast-math flags (``fdiv``, ``fmul``, ``llvm.sqrt``, ``llvm.fma`` are correctly rounded
per lane), so the results are the same bits as the scalar step functions.

Contract: every array is a C-contiguous float64 1-D array; ``array[offset + i]`` is valid
for every ``i < count`` (no bounds checks); outputs do not overlap inputs at a different
index (a step reads four bars before it writes them). The intrinsic returns nonzero when
a lane of a flag the body returns was set (an OR over every bar).

Numba's compile cache only checks the calling module's file: after editing this one,
delete the cached ``*.nbi``/``*.nbc`` files (``find . -name "*.nb[ic]" -delete``).
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tradejet.kernels import _core

_ir = cgutils.ir
_F64 = _ir.DoubleType()
_I64 = _ir.IntType(64)


class Lanes:
    """The body's view of one step: vector ops of width 1 or 4 on ``<w x double>``."""

    def __init__(self, builder, width):
        self.b = builder
        self.w = width
        self.t = _ir.VectorType(_F64, width)

    def k(self, value):
        """A constant (Python float) or a scalar float64 value, in every lane."""
        if isinstance(value, float):
            return _ir.Constant(self.t, [value] * self.w)
        v = _ir.Constant(self.t, _ir.Undefined)
        for i in range(self.w):
            v = self.b.insert_element(v, value, _ir.Constant(_ir.IntType(32), i))
        return v

    def add(self, a, b):
        return self.b.fadd(a, b)

    def sub(self, a, b):
        return self.b.fsub(a, b)

    def mul(self, a, b):
        return self.b.fmul(a, b)

    def div(self, a, b):
        return self.b.fdiv(a, b)

    def neg(self, a):
        return self.b.fneg(a)

    def _call(self, name, *args):
        fn = cgutils.get_or_insert_function(self.b.module, _ir.FunctionType(self.t, [self.t] * len(args)),
                                            f"llvm.{name}.v{self.w}f64")
        return self.b.call(fn, list(args))

    def sqrt(self, a):
        return self._call("sqrt", a)

    def fabs(self, a):
        return self._call("fabs", a)

    def fma(self, a, b, c):
        return self._call("fma", a, b, c)

    def log(self, a):
        """_core.flog lane-wise: fdlibm's log, the same operations in the same order (the same
        bits); lanes outside its range (zero, negative, subnormal, inf, NaN) take the C
        library's log, under a branch (they are rare: the library call is per lane)."""
        b = self.b
        it = _ir.VectorType(_I64, self.w)

        def ik(c):
            return _ir.Constant(it, [c] * self.w)

        bits = b.bitcast(a, it)
        hx = b.ashr(bits, ik(32))
        special = b.or_(b.icmp_signed("<", hx, ik(0x00100000)), b.icmp_signed(">=", hx, ik(0x7FF00000)))
        k = b.sub(b.ashr(hx, ik(20)), ik(1023))
        hx = b.and_(hx, ik(0x000FFFFF))
        i = b.and_(b.add(hx, ik(0x95F64)), ik(0x100000))
        xr = b.or_(b.shl(b.or_(hx, b.xor(i, ik(0x3FF00000))), ik(32)), b.and_(bits, ik(0xFFFFFFFF)))
        f = self.sub(b.bitcast(xr, self.t), self.k(1.0))
        dk = b.sitofp(b.add(k, b.lshr(i, ik(20))), self.t)
        ln2_hi = self.k(_core.LN2_HI)
        ln2_lo = self.k(_core.LN2_LO)
        r0 = self.mul(self.mul(f, f), self.sub(self.k(0.5), self.mul(self.k(0.33333333333333333), f)))
        small = self.sub(self.mul(dk, ln2_hi), self.sub(self.sub(r0, self.mul(dk, ln2_lo)), f))
        s = self.div(f, self.add(self.k(2.0), f))
        z = self.mul(s, s)
        w = self.mul(z, z)
        p1 = self.mul(z, self.add(self.k(_core.LG1), self.mul(w, self.add(self.k(_core.LG3), self.mul(
            w, self.add(self.k(_core.LG5), self.mul(w, self.k(_core.LG7))))))))
        p2 = self.mul(w, self.add(self.k(_core.LG2), self.mul(w, self.add(self.k(_core.LG4), self.mul(
            w, self.k(_core.LG6))))))
        r = self.add(p1, p2)
        hfsq = self.mul(self.mul(self.k(0.5), f), f)
        big = self.sub(self.mul(dk, ln2_hi), self.sub(self.sub(hfsq, self.add(self.mul(s, self.add(hfsq, r)),
                                                                             self.mul(dk, ln2_lo))), f))
        other = self.sub(self.mul(dk, ln2_hi), self.sub(self.sub(self.mul(s, self.sub(f, r)), self.mul(dk, ln2_lo)), f))
        is_small = b.icmp_signed("<", b.and_(b.add(hx, ik(2)), ik(0x000FFFFF)), ik(3))
        is_big = b.icmp_signed(">", b.or_(b.sub(hx, ik(0x6147A)), b.sub(ik(0x6B851), hx)), ik(0))
        fast = b.select(is_small, small, b.select(is_big, big, other))
        slot = cgutils.alloca_once(b, self.t)
        b.store(fast, slot)
        with b.if_then(b.icmp_unsigned("!=", b.bitcast(special, _ir.IntType(self.w)), _ir.Constant(_ir.IntType(self.w), 0)),
                       likely=False):
            b.store(b.select(special, self._call("log", a), fast), slot)
        return b.load(slot)

    # comparisons give lane masks (<w x i1>), as Python's (ordered: False for NaN, except !=)
    def gt(self, a, b):
        return self.b.fcmp_ordered(">", a, b)

    def lt(self, a, b):
        return self.b.fcmp_ordered("<", a, b)

    def ge(self, a, b):
        return self.b.fcmp_ordered(">=", a, b)

    def eq(self, a, b):
        return self.b.fcmp_ordered("==", a, b)

    def ne(self, a, b):
        return self.b.fcmp_unordered("!=", a, b)

    def both(self, m1, m2):
        return self.b.and_(m1, m2)

    def either(self, m1, m2):
        return self.b.or_(m1, m2)

    def where(self, m, a, b):
        return self.b.select(m, a, b)


# ---- the step functions' small pieces on lanes (the same operations as kernels.steps), shared by
# the fused kernel's vector passes and the indicator block's lanes (strategies.indicator_lanes)

def tr_value(v, h, lo, pc):
    """steps.tr_value: max(h - lo, |pc - h|, |pc - lo|), by selects."""
    g = v.sub(h, lo)
    a = v.fabs(v.sub(pc, h))
    g = v.where(v.gt(a, g), a, g)
    a = v.fabs(v.sub(pc, lo))
    return v.where(v.gt(a, g), a, g)


def dm1(v, h, hp, lp, lo):
    """steps.dmi_step's +DM1 and -DM1 of a bar (``hp``/``lp``: the previous bar's high and low)."""
    z = v.k(0.0)
    diffp = v.sub(h, hp)
    diffm = v.sub(lp, lo)
    return (v.where(v.both(v.gt(diffp, z), v.gt(diffp, diffm)), diffp, z),
            v.where(v.both(v.gt(diffm, z), v.gt(diffm, diffp)), diffm, z))


def up_dn(v, d):
    """steps.rsi_step's up and down moves of a change ``d``."""
    z = v.k(0.0)
    return v.where(v.gt(d, z), d, z), v.where(v.lt(d, z), v.neg(d), z)


def sd_value(v, var):
    """steps.sd_value: the square root of a variance rounding may have pushed below zero, else 0."""
    z = v.k(0.0)
    return v.where(v.gt(var, z), v.sqrt(var), z)


def _ptr(context, builder, arrty, arr, offset):
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.gep(data, [offset])


def _emit(context, builder, sig, args, n_out, n_in, n_const, body, whole_loop=True):
    pairs = [(sig.args[2 * j], args[2 * j], args[2 * j + 1]) for j in range(n_out + n_in)]
    ptrs = [_ptr(context, builder, t, a, o) for t, a, o in pairs]
    consts = list(args[2 * (n_out + n_in):2 * (n_out + n_in) + n_const])
    count = args[-1]
    flag_ptr = cgutils.alloca_once_value(builder, _ir.Constant(_I64, 0))

    def step(i, width):
        lanes = Lanes(builder, width)
        vt = _ir.VectorType(_F64, width)
        ins = [builder.load(builder.bitcast(builder.gep(p, [i]), vt.as_pointer()), align=8)
               for p in ptrs[n_out:]]
        res = body(lanes, *ins, *consts)
        outs, flag = (res if isinstance(res, tuple) and len(res) == 2 and isinstance(res[0], list) else (res, None))
        for p, v in zip(ptrs[:n_out], outs):
            builder.store(v, builder.bitcast(builder.gep(p, [i]), vt.as_pointer()), align=8)
        if flag is not None:
            bits = builder.zext(builder.bitcast(flag, _ir.IntType(width)), _I64)
            builder.store(builder.or_(builder.load(flag_ptr), bits), flag_ptr)

    if not whole_loop:  # one step of four lanes at index ``count``
        step(count, 4)
        return builder.load(flag_ptr)
    whole = builder.and_(count, _ir.Constant(count.type, -4))
    zero = _ir.Constant(count.type, 0)
    with cgutils.for_range_slice(builder, zero, whole, _ir.Constant(count.type, 4)) as (i, _):
        step(i, 4)
    with cgutils.for_range_slice(builder, whole, count, _ir.Constant(count.type, 1)) as (i, _):
        step(i, 1)
    return builder.load(flag_ptr)


def vmap(name: str, n_out: int, n_in: int, n_const: int, body, whole_loop: bool = True):
    """Return an intrinsic ``name(out_1, off_1, .., in_1, off_1, .., const_1, .., count) -> intp``.

    For ``i`` in ``range(count)``: ``out_j[off_j + i]`` = the j-th vector that
    ``body(lanes, in_1[off_1 + i], .., const_1, ..)`` returns (a list; or ``(list, flag
    mask)``: the intrinsic returns nonzero if the mask was set in any lane).

    With ``whole_loop=False`` the last argument is an index ``i`` instead of a count and
    the intrinsic does the one step of four lanes at ``i..i+3``: a caller interleaves such
    steps with a scalar loop (the vector work then runs beside the loop's chains)."""
    params = [f"x{j}, k{j}" for j in range(n_out + n_in)] + [f"c{j}" for j in range(n_const)] + ["count"]
    plist = ", ".join(params)

    def typer(typingctx, args):
        sig = types.intp(*args)

        def codegen(context, builder, signature, cargs):
            return _emit(context, builder, signature, cargs, n_out, n_in, n_const, body, whole_loop)

        return sig, codegen

    ns = {"typer": typer}
    # a typer with one named parameter per argument: numba binds intrinsic arguments by signature
    exec(f"def {name}(typingctx, {plist}):\n    return typer(typingctx, ({plist},))\n", ns)  # noqa: S102
    return intrinsic(ns[name])
