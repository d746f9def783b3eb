"""Sweep throughput: tasks/s on 1 and 2 local workers, Ray's per-task overhead, a 200-task sweep on both executors.

Over the real data (the ten USDT majors, hourly, 2017-2022: ~45k bars x 10 symbols),
each task one full compiled backtest. Rates are steady-state: timed from the moment
every worker has finished its first task (worker start, bar mapping and the Numba
cache load come before) to the last result; the wall time with start-up is printed
too. Per-task overhead = wall time per task on one worker minus the mean time the task
itself took inside the worker, for each executor on tiny tasks (200 bars), so the
dispatch cost is not hidden behind the backtest. The 200-task sweep is run with both
executors and the two result tables must be equal bit for bit (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

SWEEP = """
[sweep]
mode = "grid"
[data]
path = "{data}"
pattern = "*USDT_1h_*_2022-10.csv*"
{span}
[params]
"strategies.trend_following.adx_min" = [15.0, 20.0, 25.0, 30.0, 35.0]
"indicators.ema_slow" = [36, 48, 72, 96, 120]
"risk.max_drawdown" = [0.2, 0.3, 0.5, 1.0]
"strategies.breakout.stop_atr" = [2.0, 3.0]
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR", help="folder with the *USDT_1h_*_2022-10 files (default: TRADEJET_DATA)")
    p.add_argument("--scaling-tasks", type=int, default=40, help="tasks for the 1- vs 2-worker figure (default 40)")
    p.add_argument("--overhead-tasks", type=int, default=60, help="tiny tasks for the overhead figure (default 60)")
    p.add_argument("--tasks", type=int, default=200, help="tasks of the two-executor sweep (default 200, max 200)")
    p.add_argument("--no-ray", action="store_true", help="skip Ray (local figures only)")
    p.add_argument("--start", help="first bar of the full-span runs (ISO date; default: all of 2017-2022)")
    p.add_argument("--end", help="last bar of the full-span runs (ISO date)")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")


def _spec(data: Path, span: str = ""):
    from tradejet.engine.sweep import parse_spec

    return parse_spec(SWEEP.format(data=data, span=span), source="bench-sweep")


def _timed(spec, out: Path, executor, n: int) -> dict:
    from tradejet.engine.sweep import run_sweep
    from tradejet.engine.sweep.store import read_results

    stamps: list[float] = []
    cpu: list[float] = []

    def progress(done, total, failed):
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())

    t0 = time.perf_counter()
    s = run_sweep(spec, out, executor, progress=progress, max_tasks=n)
    wall = time.perf_counter() - t0
    done = stamps[1:]  # the first stamp is the call before any task
    k = max(1, min(executor.workers or 1, len(done) - 1))
    # the driver's own CPU per result (this process: dispatch, collect, Parquet), after the first results
    a = min(len(done) - 1, max(k, len(done) // 10))
    driver_ms = 1000 * (cpu[-1] - cpu[1 + a - 1]) / (len(done) - a) if len(done) > a else float("nan")
    steady = (len(done) - k) / (done[-1] - done[k - 1]) if len(done) > k and done[-1] > done[k - 1] else float("nan")
    t = read_results(out)
    task_s = [x for x in t.column("task_s").to_pylist() if x == x]
    cpu_s = [x for x in t.column("cpu_s").to_pylist() if x == x]
    return {"tasks": s.ran, "failed": s.failed, "wall_s": wall, "tasks_per_s_wall": s.ran / wall,
            "tasks_per_s": steady, "mean_task_s": statistics.fmean(task_s) if task_s else float("nan"),
            "mean_cpu_s": statistics.fmean(cpu_s) if cpu_s else float("nan"), "driver_cpu_ms": driver_ms,
            "wall_per_task_s": (done[-1] - done[k - 1]) / (len(done) - k) if len(done) > k else float("nan")}


def _load() -> str:
    import os

    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"
    except OSError:
        return "n/a"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from tradejet.engine.sweep import LocalExecutor, read_results
    from tradejet.engine.sweep.store import compare_results
    from tradejet.testing import shared_data_dir

    con = Console()
    data = Path(args.data) if args.data else shared_data_dir() / "crypto" / "binance"
    if not any(data.glob("*USDT_1h_*_2022-10.csv*")):
        con.print(f"[red]no *USDT_1h_*_2022-10 files in {data}[/]")
        return 1
    ray_ok = not args.no_ray
    if ray_ok:
        try:
            import ray
        except ImportError:
            con.print("[yellow]Ray is not installed (pip install 'tradejet[ray]'): Ray figures skipped[/]")
            ray_ok = False
    figs: dict = {}
    span = "".join(f'{k} = "{v}"\n' for k, v in (("start", args.start), ("end", args.end)) if v)
    full = _spec(data, span)
    tiny = _spec(data, 'start = "2021-01-01"\nend = "2021-01-09 07:00"')  # 200 hourly bars
    with tempfile.TemporaryDirectory(prefix="tradejet-bench-sweep-") as tmp:
        tmp = Path(tmp)
        con.print("[bold]1 vs 2 local workers[/] (real data, full span)")
        for w in (1, 2):
            figs[f"local_{w}"] = _timed(full, tmp / f"scale{w}", LocalExecutor(w), args.scaling_tasks)
            con.print(f"  {w} worker(s): {figs[f'local_{w}']['tasks_per_s']:.2f} tasks/s")
        figs["speedup_2_vs_1"] = figs["local_2"]["tasks_per_s"] / figs["local_1"]["tasks_per_s"]
        con.print("[bold]per-task overhead[/] (tiny tasks, 1 worker)")
        figs["overhead_local"] = _timed(tiny, tmp / "ovl", LocalExecutor(1), args.overhead_tasks)
        if ray_ok:
            from tradejet.engine.sweep import RayExecutor

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
            try:
                figs["overhead_ray"] = _timed(tiny, tmp / "ovr", RayExecutor(1), args.overhead_tasks)
                figs["driver_ray_batch16"] = _timed(tiny, tmp / "ovr16", RayExecutor(2, batch=16), 200)
                n = min(args.tasks, 200)
                con.print(f"[bold]{n}-task sweep[/] on both executors (2 workers)")
                figs["sweep_local"] = _timed(full, tmp / "big_local", LocalExecutor(2), n)
                figs["sweep_ray"] = _timed(full, tmp / "big_ray", RayExecutor(2), n)
            finally:
                ray.shutdown()
            diff = compare_results(read_results(tmp / "big_local"), read_results(tmp / "big_ray"))
            figs["sweep_equal"] = not diff
        for k in ("overhead_local", "overhead_ray"):
            if k in figs:
                f = figs[k]
                f["overhead_ms"] = 1000 * (f["wall_per_task_s"] - f["mean_task_s"])

    t = Table(title="tradejet bench sweep")
    for c in ("run", "tasks", "failed", "tasks/s (steady)", "tasks/s (with start-up)", "mean task (ms)",
              "CPU/task (ms)", "overhead/task (ms)", "driver CPU/result (ms)"):
        t.add_column(c, justify="right")
    for k, f in figs.items():
        if isinstance(f, dict):
            t.add_row(k, str(f["tasks"]), str(f["failed"]), f"{f['tasks_per_s']:.2f}", f"{f['tasks_per_s_wall']:.2f}",
                      f"{1000 * f['mean_task_s']:.1f}", f"{1000 * f['mean_cpu_s']:.1f}",
                      f"{f['overhead_ms']:.1f}" if "overhead_ms" in f else "", f"{f['driver_cpu_ms']:.2f}")
    con.print(t)
    con.print(f"2 workers vs 1: [bold]{figs['speedup_2_vs_1']:.2f}x[/] (target >= 1.8x); CPU time per task "
              f"{1000 * figs['local_1']['mean_cpu_s']:.0f} ms (1 worker) vs {1000 * figs['local_2']['mean_cpu_s']:.0f} ms "
              f"(2); wall per task in the worker {1000 * figs['local_1']['mean_task_s']:.0f} vs "
              f"{1000 * figs['local_2']['mean_task_s']:.0f} ms (wall > CPU: the cores are shared); load average "
              f"{_load()}")
    if "overhead_ray" in figs:
        con.print(f"Ray per-task overhead {figs['overhead_ray']['overhead_ms']:.1f} ms vs local "
                  f"{figs['overhead_local']['overhead_ms']:.1f} ms")
    if "driver_ray_batch16" in figs:
        con.print(f"driver CPU per result: local {figs['overhead_local']['driver_cpu_ms']:.2f} ms, Ray "
                  f"{figs['overhead_ray']['driver_cpu_ms']:.2f} ms, Ray with --batch 16 "
                  f"{figs['driver_ray_batch16']['driver_cpu_ms']:.2f} ms")
    if "sweep_equal" in figs:
        con.print(f"{figs['sweep_local']['tasks']}-task sweep, local vs Ray results equal bit for bit: "
                  f"[bold]{figs['sweep_equal']}[/]")
    if args.json:
        Path(args.json).write_text(json.dumps(figs, indent=2))
    return 0 if figs.get("sweep_equal", True) else 1
