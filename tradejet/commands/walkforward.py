"""``tradejet walkforward``: sweep, choose per training window, judge out of sample, report PBO and deflated Sharpe."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from tradejet.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    from tradejet.commands.sweep import add_executor_arguments

    p = sub.add_parser("walkforward", help="walk-forward optimisation over a sweep, with PBO and deflated Sharpe",
                       description="The sweep file plus a [walkforward] section (mode, train, test, metric, "
                                   "cscv_blocks). Writes DIR/report.html; DIR/sweep holds the sweep (restartable).")
    p.add_argument("--config", metavar="FILE", required=True, help="the walk-forward TOML file")
    add_executor_arguments(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default ./runs/walkforward-<UTC timestamp>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tradejet.commands.sweep import _positive_workers, progress_bar
    from tradejet.engine.sweep import load_spec, make_executor
    from tradejet.engine.walkforward import run_walkforward

    spec = load_spec(args.config)
    if spec.walkforward is None:
        raise ConfigError("a walk-forward file needs a [walkforward] section", key="walkforward", source=spec.source)
    executor = make_executor(args.executor, _positive_workers(args), args.address, args.batch)
    out = Path(args.out) if args.out else Path("runs") / datetime.now(timezone.utc).strftime(
        "walkforward-%Y%m%dT%H%M%SZ")
    con = Console(stderr=True, quiet=args.quiet)
    prog, cb = progress_bar(con, f"walk-forward sweep ({args.executor})")
    with prog:
        res, path = run_walkforward(spec, out, executor, progress=cb)
    if not args.quiet:
        pbo = f"{100 * res.pbo.pbo:.1f}%" if res.pbo else "n/a"
        con.print(f"{len(res.windows)} {res.mode} windows, {res.n_trials} trials; survival (OOS/IS {res.metric}) "
                  f"{res.survival:.2f}; PBO {pbo}; deflated Sharpe of the best {res.dsr:.3f}")
        for w in res.warnings:
            con.print(f"[yellow]warning:[/] {w}")
    print(path)
    return 0
