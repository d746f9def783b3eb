"""Compile half of the backtest on the second core while the first compiles the rest.

With an empty Numba cache, ``tradejet backtest`` spends most of its start compiling the
driver (:func:`tradejet.engine.driver.run_bars_nb` and the ~170 kernels it calls), one
function after another on one core. Numba looks every callee up in its on-disk cache
before compiling it, so a second process that compiles some callees *with the exact
signatures the driver uses* and saves them lets the first process load them instead.

:func:`start` launches ``python -m tradejet.engine.precompile`` when it can help (at
least two usable CPUs, a cold cache for the driver, not disabled by
``TRADEJET_PARALLEL_COMPILE=0``). The child compiles the decision half of the step
(:func:`tradejet.engine.step.decide_nb`: regime, selector, strategies, risk checks) as the C
function the driver calls through its address (:func:`tradejet.engine.step.decide_address`),
marks it done, then the indicator block's vector lanes (another C function called through
its address), then the kernels the run needs after its last bar (metrics, the
portfolio-risk replay). Meanwhile the parent compiles the synthetic market and the fill
context, then (:func:`parent_share`, called by :func:`tradejet.engine.simulate.run`) the
indicator block and the fill model, then the driver, which finds those callees in the
cache and links neither C function; it then waits for the child's ``decide`` mark
(:func:`wait`) and loads that code from the cache. The first chunks of bars run the
indicators one pair at a time until the lanes are marked done (:func:`ready`; the same
values either way). Nothing races: a signature that does not match exactly, or a helper
that died, only means the parent compiles that part itself (the cache writes are
atomic). ``tests/engine/test_precompile.py`` checks that every signature here is the one
the driver uses.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

__all__ = ["jobs", "parent_share", "ready", "run_jobs", "start", "wait"]


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _driver_cached() -> bool:
    """True when the driver's cache index exists (a warm cache: nothing to share)."""
    try:
        from tradejet.engine.driver import run_bars_nb

        return os.path.exists(run_bars_nb._cache._cache_file._index_path)
    except Exception:  # noqa: BLE001 - Numba internals moved: assume warm, never start a useless child
        return True


_child: subprocess.Popen | None = None
_marks: str | None = None
_ENV_MARKS = "TRADEJET_PRECOMPILE_MARKS"


def start() -> subprocess.Popen | None:
    """Start the compile helper process if it can shorten a cold start; return it or None.

    The process is killed at interpreter exit if it is still running (its cache writes
    are atomic, so a kill loses work, never corrupts the cache). It marks each finished
    job with a file in a temporary folder; :func:`parent_share` waits for the marks.
    """
    global _child, _marks
    if os.environ.get("TRADEJET_PARALLEL_COMPILE", "1") == "0" or _usable_cpus() < 2 or _driver_cached():
        return None
    marks = tempfile.mkdtemp(prefix="tradejet-precompile-")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tradejet.engine.precompile"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, **{_ENV_MARKS: marks}))
    except OSError:
        shutil.rmtree(marks, ignore_errors=True)
        return None
    _child, _marks = proc, marks
    atexit.register(_stop, proc, marks)
    return proc


def _stop(proc: subprocess.Popen, marks: str) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    shutil.rmtree(marks, ignore_errors=True)


def parent_share() -> bool:
    """In the parent, while the helper runs: compile the driver's other half (the indicator
    block and the fill model's bookkeeping, with the driver's own signatures). Returns False
    (doing nothing) when no helper was started.

    The driver calls the decision step through its address (a C function the helper builds),
    so compiling the driver does not need it: the parent compiles the driver next, then waits
    for the helper's ``decide`` mark (:func:`wait`) before the first bar.
    """
    if _child is None or _marks is None:
        return False
    for _name, job in _parent_jobs():
        job()
    return True


def wait(name: str = "decide", timeout: float = 120.0) -> str | None:
    """Wait until the helper has marked job ``name`` done, has exited, or ``timeout`` seconds
    passed, so that the parent loads that job's code from the cache instead of compiling it a
    second time. Returns why it stopped (``"marked"``, ``"exited"``, ``"timeout"``), or None
    when no helper was started."""
    if _child is None or _marks is None:
        return None
    deadline = time.monotonic() + timeout
    done = os.path.join(_marks, name)
    while True:
        if os.path.exists(done):
            return "marked"
        if _child.poll() is not None:
            return "exited"
        if time.monotonic() >= deadline:
            return "timeout"
        time.sleep(0.02)


def ready(name: str) -> bool:
    """True unless a helper is still compiling job ``name`` (no helper, its mark, or it exited)."""
    if _child is None or _marks is None:
        return True
    return os.path.exists(os.path.join(_marks, name)) or _child.poll() is not None


def _parent_jobs():
    """The parent's half: ``[(name, thunk)]`` compiling with the driver's (``run_bars_nb``'s) signatures."""
    import numpy as np
    from numba import typeof, types

    from tradejet.config import Config
    from tradejet.engine.simulate import build_context
    from tradejet.engine.step import on_fill_nb, on_order_done_nb
    from tradejet.kernels.fills import fill_bar_nb
    from tradejet.strategies.indicator_block import block_address, block_types

    ctx, _rows, _fcfg, _ = build_context(["BTC/USD", "ETH/USD"], Config())
    i64, f64, T = types.int64, types.float64, typeof
    row = typeof(np.zeros(2))

    def indicators():  # the types the driver's call has (block_types, as driver.run_args builds them)
        m = np.zeros((2, 2))
        block_address(block_types(ctx.ind_state, ctx.ind_off, ctx.ind_params, m, m, m, m, m,
                                  np.zeros((2, 2), np.bool_), np.zeros((2, 2, 2)), ctx.iv, np.zeros(2), m))

    def fills():
        fill_bar_nb.compile((row, i64, row, row, row))
        on_fill_nb.compile((T(ctx), i64, i64, i64, f64, f64, f64, i64, f64))
        on_order_done_nb.compile((T(ctx), i64, i64, i64, f64, f64))

    return [("indicators", indicators), ("fills", fills)]


def jobs():
    """Return ``[(name, thunk)]``: each thunk compiles one subtree with the driver's own signatures."""
    import numpy as np

    from tradejet.config import Config
    from tradejet.engine.simulate import build_context
    from tradejet.engine.step import decide_address, decide_types, new_buffers

    ctx, _rows, _fcfg, _ = build_context(["BTC/USD", "ETH/USD"], Config())
    intents, out = new_buffers()

    def lanes():  # the indicator block's vector lanes: a C function the driver calls, not links
        from tradejet.strategies.indicator_block import lane_scratch

        lane_scratch(ctx.ind_state, ctx.ind_off, ctx.ind_params)

    def decide():  # the step after its indicators (regime, selector, strategies, risk checks), a C function
        decide_address(decide_types(ctx, np.zeros(2, np.int64), np.zeros((2, 2)), np.zeros((2, 2), np.bool_),
                                    np.zeros((2, 2)), intents, out))

    def metrics():
        from tradejet.kernels.metrics import summarize

        z = np.zeros(3)
        summarize(np.ones(3), 1.0, z, z, z, z, 365.0)

    def portfolio_risk():
        from types import SimpleNamespace

        from tradejet.engine.riskview import portfolio_risk as pr

        T_, n = 4, 2
        fills = {"side": np.ones(1, np.int8), "qty": np.ones(1), "bar": np.zeros(1, np.int64),
                 "pair": np.zeros(1, np.int64), "strategy": np.zeros(1, np.int64)}
        res = SimpleNamespace(close=np.full((T_, n), 100.0), fills=fills, regime=np.zeros(T_, np.int8),
                              equity=np.full(T_, 1000.0), orders={"code": np.zeros(1, np.int64)},
                              symbols=["BTC/USD", "ETH/USD"])
        pr(res, Config())

    return [("decide", decide), ("lanes", lanes), ("metrics", metrics), ("portfolio_risk", portfolio_risk)]


def run_jobs(names: list[str] | None = None) -> dict[str, str]:
    """Run the compile jobs (all, or those named); return ``{name: "ok" | error text}``."""
    out = {}
    for name, job in jobs():
        if names is not None and name not in names:
            continue
        try:
            job()
            out[name] = "ok"
        except Exception as e:  # noqa: BLE001 - a helper: the parent compiles whatever this did not
            out[name] = f"{type(e).__name__}: {e}"
        marks = os.environ.get(_ENV_MARKS)
        if marks and os.path.isdir(marks):  # done (or failed): the parent stops waiting for it
            with open(os.path.join(marks, name), "w") as f:
                f.write(out[name])
    return out


if __name__ == "__main__":
    run_jobs()
