"""``tradejet backtest``: run the crypto system over the synthetic market, a bar store or a folder of files."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from tradejet.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="run the compiled backtest and write its report",
                       description="With no arguments: the crypto system over the built-in synthetic market.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", metavar="DIR", help="a bar store or a folder of candle files (<PAIR>_<tf>.csv[.gz])")
    src.add_argument("--synthetic", action="store_true", help="the built-in seeded synthetic market (default)")
    p.add_argument("--config", metavar="FILE", help="TOML config (defaults otherwise)")
    add_system_args(p)
    p.add_argument("--from", dest="start", metavar="DATE", help="first bar (ISO date/time, UTC)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last bar (ISO date/time, UTC)")
    p.add_argument("--timeframe", help="which timeframe to take from --data when it holds several")
    p.add_argument("--out", metavar="DIR", help="report folder (default ./runs/<UTC timestamp>)")
    p.add_argument("--no-png", action="store_true", help="skip equity.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    from tradejet.commands._ml import add_model_arg

    add_model_arg(p)
    p.set_defaults(func=run_command)


def add_system_args(p: argparse.ArgumentParser) -> None:
    """``--system`` and ``--ml`` (shared with ``tradejet paper``)."""
    p.add_argument("--system", choices=("crypto", "swing"),
                   help="which system (default: the config's, crypto); swing: US equity daily bars")
    p.add_argument("--ml", choices=("guard", "off", "rules-only"), default="guard",
                   help="swing ML guard: guard (the config: the promoted swing model, else [swing] ml_fallback), "
                        "off (rules alone), rules-only (the model when sound, else the rules)")


def apply_system_args(cfg, args, *, backtest: bool = False):
    """Return ``cfg`` with ``--system`` / ``--ml`` applied."""
    import msgspec

    if getattr(args, "system", None):
        cfg = msgspec.structs.replace(cfg, system=args.system)
    if backtest:
        cfg = msgspec.structs.replace(cfg, deployment_env="backtest")
    ml = getattr(args, "ml", "guard")
    if cfg.system == "swing" and ml != "guard":
        sw = (msgspec.structs.replace(cfg.swing, ml_enabled=False) if ml == "off"
              else msgspec.structs.replace(cfg.swing, ml_fallback="rules-only"))
        cfg = msgspec.structs.replace(cfg, swing=sw)
    return cfg


def load_market(args, cfg):
    """Return ``(bars, label, warnings)``: --data (equity files for swing) or the system's synthetic market."""
    from tradejet.engine.simulate import MarketBars
    from tradejet.engine.sources import load_bars

    swing = cfg.system == "swing"
    if args.data:
        bars, warnings = load_bars(args.data, args.timeframe, equities=swing)
        return bars, f"{Path(args.data).name} ({len(bars.symbols)} symbols)", warnings
    if swing:
        from tradejet.engine.swing import synthetic_equities

        seed = cfg.backtest.synthetic_seed
        bars = synthetic_equities(years=cfg.swing.synthetic_years, seed=seed)
        return bars, f"synthetic US equities, seed {seed}", []
    from tradejet.io.synthetic import synthetic_market

    bt = cfg.backtest
    bars = MarketBars.from_synthetic(synthetic_market(days=bt.synthetic_days, timeframe=bt.timeframe,
                                                      seed=bt.synthetic_seed))
    return bars, f"synthetic market, seed {bt.synthetic_seed}", []


def _date_ns(text: str | None, key: str) -> int | None:
    if text is None:
        return None
    try:
        d = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"not an ISO date or date-time: {text!r}", key=key) from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp() * 1_000_000_000)


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from tradejet.config import load_config
    from tradejet.engine.report import write_report
    from tradejet.engine.simulate import run
    from tradejet.engine.summary import to_report

    t_launch = time.perf_counter()
    cfg = apply_system_args(load_config(args.config), args, backtest=True)
    start, end = _date_ns(args.start, "--from"), _date_ns(args.end, "--to")
    if start is not None and end is not None and end <= start:
        raise ConfigError(f"--to ({args.end}) must be after --from ({args.start})", key="--to")
    from tradejet.engine import precompile

    precompile.start()  # with a cold Numba cache, a second process compiles half of the driver
    bars, label, warnings = load_market(args, cfg)
    if start is not None or end is not None:
        bars = bars.slice_time(start, end)
    out = Path(args.out) if args.out else Path("runs") / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError("output folder exists and is not empty; choose another --out", key="--out", source=str(out))

    con = Console(stderr=True, quiet=args.quiet)
    with Progress(TextColumn("[bold]backtest[/]"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} bars"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=con, transient=True) as prog:
        task = prog.add_task("run", total=bars.n_bars, rate="compiling...")
        began = [0.0]

        def progress(done: int, total: int) -> None:
            if not began[0]:
                began[0] = time.perf_counter()
            rate = done * len(bars.symbols) / max(time.perf_counter() - began[0], 1e-9)
            prog.update(task, completed=done, rate=f"{rate:,.0f} bar-steps/s")

        scores, ml_note = _scores(args, cfg, bars)
        result = run(bars, cfg, scores=scores, progress=progress, chunk=max(5_000, bars.n_bars // 50))
    result.warnings[:0] = warnings + [ml_note]
    report, series = to_report(result, cfg, title=f"tradejet backtest: {label}")
    write_report(out, report, series, png=not args.no_png)
    if not args.quiet:
        _summary(con, result, out, time.perf_counter() - t_launch)
        if cfg.system == "swing":
            _swing_summary(con, result, cfg)
    print(out)
    return 0


def _scores(args, cfg, bars):
    """``ml_signal``'s scores for the whole run in one batch (features are causal), and a note."""
    from tradejet.commands._ml import load_model

    if cfg.system == "swing":  # swing entries go through its ML guard (--ml), scored inside run()
        return None, "swing: entries through the ML guard (--ml)"
    model, _mid, note = load_model(args, cfg)
    if model is None:
        return None, note
    from tradejet.models.scoring import batch_scores

    try:
        return batch_scores(model, bars.open, bars.high, bars.low, bars.close, bars.volume, bars.have), note
    finally:
        model.close()


def _swing_summary(con, res, cfg) -> None:
    from rich.table import Table

    tr = res.extra.get("tranches", {})
    t = Table(title=f"swing ({cfg.deployment_env}): per symbol")
    ks = sorted({k for d in tr.get("by_symbol", {}).values() for k in d} | set(tr.get("filled", {})), key=int)
    for c in ("symbol", "P&L", "trades", "win rate", *[f"{k} tr." for k in ks]):
        t.add_column(c, justify="left" if c == "symbol" else "right")
    for sym, g in res.by_pair.items():
        d = tr.get("by_symbol", {}).get(sym, {})
        wr = g.get("win_rate")
        t.add_row(sym, f"{g['pnl']:+,.2f}", str(g["trades"]), "-" if wr is None else f"{wr:.0%}",
                  *[str(d.get(k, 0)) for k in ks])
    t.add_row("all", f"{sum(g['pnl'] for g in res.by_pair.values()):+,.2f}", str(res.metrics.get("trades", 0)), "",
              *[str(tr.get("filled", {}).get(k, 0)) for k in ks])
    con.print(t)
    g = res.extra.get("ml_guard")
    if g:
        con.print(f"ML guard: {g['state']} ({g['reason']}); fallback {g['fallback']}", markup=False)
        if g["state"] != "ok" and g["fallback"] == "block" and not res.metrics.get("trades"):
            con.print("no trades: the ML guard blocks entries without a sound promoted swing model; train one "
                      "(tradejet models train --system swing) or run with --ml off (rules alone)", markup=False)


def _summary(con, res, out: Path, wall: float) -> None:
    from rich.table import Table

    from tradejet.engine.report import _metric

    t = Table(title="tradejet backtest", show_header=False)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate", "profit_factor",
              "trades", "fees", "final_equity"):
        if k in res.metrics:
            label, value = _metric(k, res.metrics[k])
            t.add_row(label, value)
    t.add_row("bars x symbols", f"{res.bars:,} x {len(res.symbols)}")
    t.add_row("bar-steps/s", f"{res.bar_steps_per_s:,.0f}")
    t.add_row("prepare (s)", f"{res.prepare_s:.2f}")
    t.add_row("compile (s)", f"{res.compile_s:.2f}")
    t.add_row("wall time (s)", f"{wall:.2f}")
    con.print(t)
    for w in res.warnings:
        con.print(f"[yellow]warning:[/] {w}")
    con.print(f"report: {out / 'report.html'}")
    _ = sys
