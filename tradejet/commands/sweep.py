"""``tradejet sweep``: run a parameter sweep (local process pool or Ray); ``tradejet sweep show DIR``: its top results."""

from __future__ import annotations

import argparse
import math
from datetime import datetime, timezone
from pathlib import Path

from tradejet.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a parameter sweep of compiled backtests (local or on Ray)",
                       description="Run every task of a sweep file; results go to DIR/results.parquet. "
                                   "Run it again with the same --out to finish a stopped sweep.")
    p.add_argument("--config", metavar="FILE", help="the sweep's TOML file ([sweep], [data], [params])")
    add_executor_arguments(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default ./runs/sweep-<UTC timestamp>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table")
    p.set_defaults(func=run_command)
    subs = p.add_subparsers(dest="sweep_cmd", metavar="show")
    s = subs.add_parser("show", help="print a sweep folder's top results as a table")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--top", type=int, default=20, help="rows to show (default 20)")
    s.add_argument("--by", metavar="METRIC", help="rank by this metric (default: the sweep's metric)")
    s.set_defaults(func=show_command)


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: a process pool on this machine (default); ray: a Ray cluster")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster address (ray only; default: start a local Ray)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: one per CPU)")
    p.add_argument("--batch", type=int, default=1, metavar="K",
                   help="ray: tasks per Ray call (default 1; raise it on a large cluster to unload the driver)")


def _positive_workers(args) -> int | None:
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, was {args.workers}", key="--workers")
    return args.workers


def progress_bar(console, label: str):
    """Return ``(progress, callback)``: a rich bar showing done/total, failures, rate and ETA."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    prog = Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[failed]} failed"), TextColumn("{task.fields[rate]}"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
    state = {"task": None, "t0": None, "first": 0}

    def cb(done: int, total: int, failed: int) -> None:
        import time

        if state["task"] is None:
            state["task"] = prog.add_task(label, total=total, completed=done, failed=failed, rate="starting...")
            state["t0"], state["first"] = time.perf_counter(), done
            return
        el = time.perf_counter() - state["t0"]
        rate = (done - state["first"]) / el if el > 0 else 0.0
        prog.update(state["task"], completed=done, failed=failed, rate=f"{rate:,.2f} tasks/s")

    return prog, cb


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tradejet.engine.sweep import load_spec, make_executor, run_sweep

    if not args.config:
        raise ConfigError("give the sweep file: tradejet sweep --config sweep.toml", key="--config")
    spec = load_spec(args.config)
    executor = make_executor(args.executor, _positive_workers(args), args.address, args.batch)
    out = Path(args.out) if args.out else Path("runs") / datetime.now(timezone.utc).strftime("sweep-%Y%m%dT%H%M%SZ")
    con = Console(stderr=True, quiet=args.quiet)
    prog, cb = progress_bar(con, f"sweep ({args.executor})")
    with prog:
        summary = run_sweep(spec, out, executor, progress=cb)
    if not args.quiet:
        con.print(f"{summary.ran} tasks run ({summary.failed} failed), {summary.skipped} already done, "
                  f"{summary.tasks_per_s:.2f} tasks/s on {summary.workers} {summary.executor} workers")
        _print_top(con, out, 10, None)
    print(out / "results.parquet")
    return 0


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return "n/a"
        return f"{v:.4g}"
    return str(v)


def _print_top(con, folder: Path, top: int, by: str | None) -> None:
    import json

    from rich.table import Table

    from tradejet.engine.sweep import PARAM_PREFIX, read_results

    manifest = folder / "sweep.json"
    if not manifest.exists():
        raise ConfigError("not a sweep folder (no sweep.json)", source=str(folder))
    meta = json.loads(manifest.read_text())
    t = read_results(folder, columns=_columns_without_returns(folder))
    if t is None:
        con.print("no results yet")
        return
    by = by or meta.get("metric", "sharpe")
    if by not in t.column_names:
        raise ConfigError(f"unknown metric {by!r}", key="--by")
    rows = t.to_pylist()
    ok = [r for r in rows if r["status"] == "ok"]
    bad = len(rows) - len(ok)
    # every metric here is "larger is better" (max_drawdown is negative: -0.1 beats -0.3)
    ok.sort(key=lambda r: -(r[by] if r[by] is not None and math.isfinite(r[by]) else -math.inf))
    pcols = [c for c in t.column_names if c.startswith(PARAM_PREFIX)]
    extra = [m for m in ("total_return", "max_drawdown", "n_trades") if m != by]
    table = Table(title=f"{len(rows)}/{meta['tasks']} tasks, {bad} failed, top {min(top, len(ok))} by {by}",
                  caption=str(folder))
    for c in ["#", *[".".join(c[len(PARAM_PREFIX):].split(".")[-2:]) for c in pcols], by, *extra]:
        table.add_column(c, justify="right")
    for r in ok[:top]:
        table.add_row(str(r["task"]), *[_fmt(r[c]) for c in pcols], _fmt(r[by]), *[_fmt(r[m]) for m in extra])
    con.print(table)
    if bad:
        errs: dict[str, int] = {}
        for r in rows:
            if r["status"] != "ok":
                errs[r["error"]] = errs.get(r["error"], 0) + 1
        for e, n in sorted(errs.items(), key=lambda kv: -kv[1])[:5]:
            con.print(f"[yellow]{n} failed:[/] {e}")


def _columns_without_returns(folder: Path) -> list[str] | None:
    """Every result column but a walk-forward's per-bar returns (large, not shown)."""
    import pyarrow.parquet as pq

    files = [folder / "results.parquet", *sorted((folder / "parts").glob("part-*.parquet"))]
    for f in files:
        if f.exists():
            return [n for n in pq.read_schema(f).names if n != "returns"]
    return None


def show_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    _print_top(Console(), Path(args.dir), args.top, args.by)
    return 0
