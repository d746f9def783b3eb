"""Call a compiled kernel through its address instead of linking it into the caller.

Numba links the code of every callee into each caller's module, then optimizes and emits
the whole module again: a big callee costs its compile time once more at every level that
calls it (measured: the driver spent ~0.8 s re-optimizing the decision step it calls), and
the caller cannot be compiled before the callee. Called through its address, the callee's
machine code is the one already compiled (or loaded from Numba's cache) for its own
dispatcher; the caller only emits the call.

:func:`native_address` gives ``[address, key]`` (an int64 array) of a dispatcher's compiled
function for argument types ``tys``; :func:`call_i64` ``(fn, args)`` (``args`` a tuple) calls
it with Numba's own calling convention (the same call a linked callee gets, arguments by
value, an exception raised by the callee propagates to the caller). The key of the argument
types the caller was compiled for is a constant in its code: an ``fn`` built for other types
returns -1 without calling, so a mismatch is an error the caller reports, never a call that
reads its arguments as other types.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["call_i64", "native_address", "sig_key"]


def sig_key(tys) -> int:
    """A stable positive int63 naming the argument types ``tys`` (their Numba spelling)."""
    text = "|".join(str(t) for t in tys)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def native_address(dispatcher, tys) -> np.ndarray:
    """``[address, sig_key(tys)]`` of ``dispatcher`` compiled (or loaded from the cache) for the
    argument types ``tys``; it must return an int64. The address stays valid while the
    dispatcher lives (a module-level kernel: the whole process)."""
    tys = tuple(tys)
    dispatcher.compile(tys)
    cres = dispatcher.overloads[tys]
    if cres.signature.return_type != types.int64:
        raise TypeError(f"{dispatcher.py_func.__qualname__} returns {cres.signature.return_type}, not int64")
    addr = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
    if not addr:
        raise RuntimeError(f"no compiled code for {dispatcher.py_func.__qualname__}{tys}")
    return np.array([addr, sig_key(tys)], np.int64)


@intrinsic
def call_i64(typingctx, fn, args):
    """Call the compiled function at ``fn[0]`` (:func:`native_address`) with the values of the tuple
    ``args``; return its int64 result, or -1 without calling when ``fn[1]`` is not the key of
    ``args``' types."""
    if not (isinstance(fn, types.Array) and fn.dtype == types.int64 and isinstance(args, types.BaseTuple)):
        return None
    arg_tys = tuple(args)
    key = sig_key(arg_tys)

    def codegen(context, builder, signature, llargs):
        ir = cgutils.ir
        i64 = ir.IntType(64)
        data = context.make_array(signature.args[0])(context, builder, llargs[0]).data
        addr = builder.load(data)
        have = builder.load(builder.gep(data, [ir.Constant(i64, 1)]))
        values = cgutils.unpack_tuple(builder, llargs[1], len(arg_tys))
        result = cgutils.alloca_once_value(builder, ir.Constant(i64, -1))
        with builder.if_then(builder.icmp_signed("==", have, ir.Constant(i64, key)), likely=True):
            fnty = context.call_conv.get_function_type(types.int64, arg_tys)
            callee = builder.inttoptr(addr, fnty.as_pointer())
            status, res = context.call_conv.call_function(builder, callee, types.int64, arg_tys, values)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            builder.store(res, result)
        return builder.load(result)

    return types.int64(fn, args), codegen
