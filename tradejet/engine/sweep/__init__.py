"""Parameter sweeps: many compiled backtests over one set of bars, on a process pool or on Ray.

>>> from tradejet.engine.sweep import run_sweep, load_spec      # doctest: +SKIP
>>> summary = run_sweep(load_spec("sweep.toml"), "runs/sweep1")  # doctest: +SKIP

Parts: :mod:`.spec` (the TOML file, validation, the task list), :mod:`.data` (bars as a
memory-mapped Arrow IPC file), :mod:`.worker` (one task = one backtest),
:mod:`.executors` (local process pool, Ray), :mod:`.store` (Parquet results, restart).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tradejet.engine.sweep.executors import LocalExecutor, RayExecutor, make_executor
from tradejet.engine.sweep.spec import SweepSpec, Task, expand, load_spec, parse_spec
from tradejet.engine.sweep.store import PARAM_PREFIX, ResultStore, read_results
from tradejet.errors import ConfigError

__all__ = ["run_sweep", "prepare", "SweepSummary", "load_spec", "parse_spec", "expand", "read_results",
           "make_executor", "LocalExecutor", "RayExecutor", "PARAM_PREFIX", "Task"]

FLUSH_EVERY_S = 1.0
FLUSH_ROWS = 64


@dataclass
class SweepSummary:
    """What a sweep did."""

    out: Path
    total: int
    skipped: int
    ran: int
    failed: int
    elapsed_s: float
    executor: str
    workers: int

    @property
    def tasks_per_s(self) -> float:
        return self.ran / self.elapsed_s if self.elapsed_s > 0 else 0.0


def prepare(spec: SweepSpec, out: str | os.PathLike[str]) -> tuple[Path, list[Task], dict, list[str]]:
    """Load the bars, write ``bars.arrow`` and ``sweep.json`` into ``out``; return (ipc path, tasks, manifest, warnings)."""
    from tradejet.engine.sweep.data import bars_hash, load_sweep_bars, write_bars_ipc

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bars, warnings = load_sweep_bars(spec)
    data_hash = bars_hash(bars)
    tasks = expand(spec, data_hash)
    manifest = {"source": spec.source, "mode": spec.sweep.mode, "seed": spec.sweep.seed,
                "metric": spec.sweep.metric, "params": {p.path: p.kind for p in spec.params},
                "data_hash": data_hash, "base_hash": spec.base_hash, "tasks": len(tasks),
                "symbols": bars.symbols, "bars": bars.n_bars, "start_ns": int(bars.ts[0]), "end_ns": int(bars.ts[-1]),
                "timeframe_ns": int(bars.timeframe_ns)}
    mpath = out / "sweep.json"
    ipc = out / "bars.arrow"
    if mpath.exists():
        old = json.loads(mpath.read_text())
        for key, what in (("params", "other parameters"), ("data_hash", "other bars"), ("base_hash", "another base config")):
            if old.get(key) != manifest[key]:
                raise ConfigError(f"the output folder holds a sweep over {what}; choose another --out",
                                  key="--out", source=str(out))
    if not ipc.exists() or not mpath.exists():
        write_bars_ipc(bars, ipc)
    mpath.write_text(json.dumps(manifest, indent=2))
    return ipc, tasks, manifest, warnings


def run_sweep(spec: SweepSpec, out: str | os.PathLike[str], executor=None, *,
              progress: Callable[[int, int, int], None] | None = None, keep_returns: bool = False,
              max_tasks: int | None = None) -> SweepSummary:
    """Run every task of ``spec`` not yet recorded in ``out``; return a summary.

    ``executor`` defaults to a :class:`LocalExecutor` with one worker per core.
    ``progress(done, total, failed)`` is called after each finished task. Rows are
    appended to ``out``'s Parquet parts at least every second, and compacted into
    ``results.parquet`` at the end. ``max_tasks`` runs only the first tasks of the list
    (a trial run; the rest run when the sweep is started again without it).
    """
    executor = executor or LocalExecutor()
    ipc, tasks, manifest, _ = prepare(spec, out)
    if max_tasks is not None:
        tasks = tasks[:max(0, int(max_tasks))]
    store = ResultStore(out, manifest["params"], keep_returns=keep_returns)
    finished = store.finished_ids()
    todo = [t for t in tasks if t.id not in finished]
    skipped = len(tasks) - len(todo)
    done, failed = skipped, 0
    if progress:
        progress(done, len(tasks), failed)
    t0 = time.perf_counter()
    last = time.monotonic()
    try:
        for row in (executor.execute(todo, str(ipc), spec.base_raw, keep_returns) if todo else ()):
            store.add(row)
            done += 1
            failed += row["status"] != "ok"
            if store.pending >= FLUSH_ROWS or time.monotonic() - last >= FLUSH_EVERY_S:
                store.flush()
                last = time.monotonic()
            if progress:
                progress(done, len(tasks), failed)
    finally:
        store.flush()
    elapsed = time.perf_counter() - t0
    store.compact()
    return SweepSummary(out=Path(out), total=len(tasks), skipped=skipped, ran=len(todo), failed=failed,
                        elapsed_s=elapsed, executor=executor.name, workers=executor.workers or 0)
