"""What one worker does: map the bars once, then run tasks (one compiled backtest each) and return rows.

A worker is a process of the local pool or a Ray actor; both hold one :class:`SweepWorker`.
Its row for a task is plain Python (str, int, float, bytes): the same on both executors.
"""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
from typing import Any

import numpy as np

__all__ = ["SweepWorker", "METRIC_COLUMNS", "error_row"]

METRIC_COLUMNS = ("total_return", "cagr", "ann_volatility", "sharpe", "sortino", "max_drawdown", "calmar",
                  "n_trades", "win_rate", "profit_factor", "avg_trade", "exposure", "turnover", "fees",
                  "final_equity", "orders", "orders_rejected")


def error_row(task, message: str, worker: str = "") -> dict[str, Any]:
    """Return the row of a task that failed (``message`` says why)."""
    row = {"task_id": task.id, "task": task.index, "params": dict(task.params), "status": "error",
           "error": message, "worker": worker, "run_s": math.nan, "task_s": math.nan, "cpu_s": math.nan,
           "returns": None}
    row.update({m: math.nan for m in METRIC_COLUMNS})
    return row


class SweepWorker:
    """Holds the mapped bars, the base config and the fill-model context cache of one worker."""

    def __init__(self, ipc_path: str, base_raw: dict[str, Any], keep_returns: bool = False):
        from tradejet.engine.sweep.data import map_bars_ipc

        t0 = time.perf_counter()
        self.bars, self.data_hash = map_bars_ipc(ipc_path)
        self.base_raw = base_raw
        self.keep_returns = keep_returns
        self._ctx: dict[tuple[float, float], np.ndarray] = {}  # (spread_window, vol_window) -> bar context
        self._lr: np.ndarray | None = None  # the bars' log returns from the first bar context (for the indicators)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.load_s = time.perf_counter() - t0

    def warm(self) -> float:
        """Compile (or load from the Numba cache) the driver; return the seconds it took."""
        from tradejet.config import Config
        from tradejet.engine.simulate import run

        t0 = time.perf_counter()
        run(self.bars.slice_time(int(self.bars.ts[0]), int(self.bars.ts[min(50, self.bars.n_bars - 1)])), Config())
        return time.perf_counter() - t0

    def _bar_context(self, cfg) -> np.ndarray:
        from tradejet.engine.simulate import bar_context_array
        from tradejet.kernels import fills as F

        fcfg = F.config_array(cfg.fills)
        key = (float(fcfg[F.CFG.SPREAD_WINDOW]), float(fcfg[F.CFG.VOL_WINDOW]))
        ctx = self._ctx.get(key)
        if ctx is None:
            if len(self._ctx) >= 4:  # a few window pairs at most; each is bars x symbols x N_BAR floats
                self._ctx.pop(next(iter(self._ctx)))
            ctx = self._ctx[key] = bar_context_array(self.bars, fcfg)
        return ctx

    def run(self, task) -> dict[str, Any]:
        """Run one task; a failure becomes an error row, never an exception."""
        from tradejet.engine.simulate import run
        from tradejet.engine.sweep.spec import build_config
        from tradejet.errors import TradejetError

        t0, c0 = time.perf_counter(), time.process_time()
        try:
            cfg = build_config(self.base_raw, task.params)
            res = run(self.bars, cfg, bar_context=self._bar_context(cfg))
        except TradejetError as e:
            return error_row(task, f"{type(e).__name__}: {e}", self.name)
        except Exception as e:  # noqa: BLE001 - a task's bug is recorded with its traceback, the sweep goes on
            tb = traceback.format_exception_only(type(e), e)[-1].strip()
            return error_row(task, f"{tb} (in {traceback.extract_tb(e.__traceback__)[-1].name})", self.name)
        m = res.metrics
        row = {"task_id": task.id, "task": task.index, "params": dict(task.params), "status": "ok", "error": "",
               "worker": self.name, "run_s": float(res.elapsed_s), "task_s": time.perf_counter() - t0,
               "cpu_s": time.process_time() - c0, "returns": None}
        for k in METRIC_COLUMNS:
            v = m.get(k, math.nan)
            row[k] = float(v) if v is not None else math.nan
        if self.keep_returns:
            eq = np.asarray(res.equity, np.float64)
            prev = np.concatenate([[cfg.backtest.initial_cash], eq[:-1]])
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(prev > 0, eq / prev - 1.0, 0.0)
            row["returns"] = r.tobytes()
        return row


# One SweepWorker per pool process: the pool's initializer fills it, tasks read it. A
# process-pool worker has no other place to keep state between tasks.
_WORKER: SweepWorker | None = None


def init_process(ipc_path: str, base_raw: dict[str, Any], keep_returns: bool) -> None:
    """Pool initializer: map the bars and compile once per process."""
    global _WORKER
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("TRADEJET_THREADS", "1")  # the kernels' two-thread forms too (kernels._threads)
    _WORKER = SweepWorker(ipc_path, base_raw, keep_returns)
    _WORKER.warm()


def run_in_process(task) -> dict[str, Any]:
    """Pool task entry point."""
    assert _WORKER is not None, "init_process did not run"
    return _WORKER.run(task)
