"""The threads of the two-thread kernel forms: one pool per process, the second half placed
off the caller's CPU.

Used by the fused set (:func:`tradejet.kernels.fused.features`, ``features_2d``) and by the
indicators whose bars split into independent pieces (:mod:`tradejet.kernels.api`). The
kernels release the GIL, so the caller computes one piece while a pool thread computes the
other.
"""

from __future__ import annotations

import os

_POOL = None
_POOL_PID = 0
_SCHED_GETCPU = None
# os.cpu_count() reads a file under /sys on every call (~2 us, a fifth of a 10k-bar indicator)
_CPUS = os.cpu_count() or 1


def pool():
    """The pool (started once per process and kept: starting threads per call costs more than
    a small computation). A forked child (a sweep's worker) gets its own: the parent's threads
    do not exist in it, and work queued to them would never run."""
    global _POOL, _POOL_PID
    if _POOL is None or _POOL_PID != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=max(_CPUS, 2), thread_name_prefix="tradejet-features")
        _POOL_PID = os.getpid()
    return _POOL


def caller_cpu() -> int:
    """The CPU this thread runs on now (-1 where that cannot be asked: not Linux/glibc)."""
    global _SCHED_GETCPU
    if _SCHED_GETCPU is None:
        try:
            import ctypes

            _SCHED_GETCPU = ctypes.CDLL(None, use_errno=True).sched_getcpu
            _SCHED_GETCPU.restype = ctypes.c_int
        except (OSError, AttributeError):
            _SCHED_GETCPU = False
    return int(_SCHED_GETCPU()) if _SCHED_GETCPU else -1


def beside(cpu: int, fn, *args):
    """Run ``fn(*args)`` on this pool thread kept off CPU ``cpu`` (the caller's, which computes
    the other half meanwhile), then lift the restriction. Left to itself, the scheduler at times
    wakes the pool thread on the caller's CPU and leaves both there for the whole call: a run
    then takes the time of both halves on one CPU."""
    if cpu < 0 or not hasattr(os, "sched_setaffinity"):
        return fn(*args)
    allowed = os.sched_getaffinity(0)
    others = allowed - {cpu}
    if not others or others == allowed:
        return fn(*args)
    os.sched_setaffinity(0, others)
    try:
        return fn(*args)
    finally:
        os.sched_setaffinity(0, allowed)


def default_threads() -> int:
    """The threads a two-thread form may use when its caller does not say: TRADEJET_THREADS when
    it is set (a sweep's worker sets it to 1, its process being one of a pool that already fills
    the CPUs), else the CPUs. (Not NUMBA_NUM_THREADS: that sizes Numba's own parallel backend,
    which these forms do not use.)"""
    env = os.environ.get("TRADEJET_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    return _CPUS


def thread_cap(threads) -> int:
    """``threads`` as a count (None: :func:`default_threads`; below 1: one), or ValueError naming it."""
    if threads is None:
        return default_threads()
    try:
        return max(1, int(threads))
    except (TypeError, ValueError):
        raise ValueError(f"threads must be a whole number or None, got {threads!r}") from None


def cap_when(large: bool, threads) -> int:
    """:func:`thread_cap` for a computation large enough for a second thread, else 1 (a
    ``threads`` given is still checked, so a bad value is named whatever the size). The callers
    ask about the size first: the default's look at the environment costs ~0.7 us, a tenth of a
    10k-bar indicator."""
    if not large:
        if threads is not None:
            thread_cap(threads)
        return 1
    return thread_cap(threads)


def two(here, here_args, there, there_args, *, place: bool = True) -> int:
    """``here(*here_args) + there(*there_args)``, the second on a pool thread while this thread
    runs the first (the pool's thread starts later, after its wake-up: give it the lighter
    piece). ``place``: keep the pool thread off this thread's CPU (:func:`beside`); its two
    affinity changes cost ~80 us here (a migration each), worth it for a long computation (the
    fused set: tens of ms) but not for a short one."""
    if place:
        f = pool().submit(beside, caller_cpu(), there, *there_args)
    else:
        f = pool().submit(there, *there_args)
    try:
        r = here(*here_args)
    finally:
        r2 = f.result()
    return int(r) + int(r2)
