"""``tradejet paper``: the event driver on the paper venue over replayed bars, with a live status.

Restarted on the same ledger, a run resumes after the last bar it completed: it
rebuilds its book (indicators, regime, positions, the paper venue's working orders) by
re-stepping the bars before that one at full speed (orders get the same client ids, so
the ledger keeps each once; fills the same trade ids), then goes on at ``--speed``.
Its end state equals an uninterrupted run's. Ctrl-C stops cleanly: open orders are
cancelled, the ledger checkpointed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import signal
import sys
import time
from pathlib import Path

from tradejet.config import tradejet_home
from tradejet.errors import ConfigError, DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("paper", help="paper-trade replayed bars through the event driver",
                       description="The event driver and the paper venue over the synthetic market or bar files.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", metavar="DIR", help="a bar store or a folder of candle files")
    src.add_argument("--synthetic", action="store_true", help="the built-in seeded synthetic market (default)")
    p.add_argument("--speed", default="max", help="replay speed: 1x (real time), 60x, ... or max (default)")
    p.add_argument("--ledger", metavar="PATH", help="ledger file (default $TRADEJET_HOME/paper/ledger.sqlite)")
    p.add_argument("--config", metavar="FILE", help="TOML config (defaults otherwise)")
    from tradejet.commands.backtest import add_system_args

    add_system_args(p)
    rng = p.add_mutually_exclusive_group()
    rng.add_argument("--max-bars", type=int, metavar="N", help="stop after the first N bars of the data")
    rng.add_argument("--from", dest="start", metavar="DATE", help="first bar (ISO date/time, UTC)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last bar (ISO date/time, UTC)")
    p.add_argument("--timeframe", help="which timeframe to take from --data when it holds several")
    p.add_argument("--quiet", action="store_true", help="no live status")
    p.add_argument("--log-json", action="store_true", help="structured logs: one JSON object per line")
    from tradejet.commands._ml import add_model_arg

    add_model_arg(p)
    p.add_argument("--retrain", action="store_true",
                   help="retrain the model in every DOWNTIME window on the bars replayed so far (train, gate, "
                        "promote, swap the scorer's model; see tradejet.engine.retrain)")
    from tradejet.dashboard.options import add_arguments as add_dashboard_arguments

    add_dashboard_arguments(p)
    p.set_defaults(func=run_command)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"ts": record.created, "level": record.levelname, "logger": record.name,
                           "msg": record.getMessage()})


def load_source(args, cfg):
    """Return ``(bars, label, source)``: the bars a paper/backtest run replays and a fingerprintable source."""
    from tradejet.commands.backtest import _date_ns
    from tradejet.engine.simulate import MarketBars
    from tradejet.engine.sources import load_bars

    start, end = _date_ns(getattr(args, "start", None), "--from"), _date_ns(getattr(args, "end", None), "--to")
    if start is not None and end is not None and end <= start:
        raise ConfigError(f"--to ({args.end}) must be after --from ({args.start})", key="--to")
    if cfg.system == "swing":  # US equity daily files (adjusted), or the synthetic daily equity market
        from tradejet.commands.backtest import load_market

        bars, label, _ = load_market(args, cfg)
        source = ({"data": str(Path(args.data).resolve()), "timeframe": args.timeframe} if args.data else
                  {"synthetic_equities": [cfg.swing.synthetic_years, cfg.backtest.synthetic_seed]})
    elif args.data:
        bars, _ = load_bars(args.data, args.timeframe)
        source = {"data": str(Path(args.data).resolve()), "timeframe": args.timeframe}
        label = f"{Path(args.data).name} ({len(bars.symbols)} symbols)"
    else:
        from tradejet.io.synthetic import synthetic_market

        bt = cfg.backtest
        bars = MarketBars.from_synthetic(synthetic_market(days=bt.synthetic_days, timeframe=bt.timeframe,
                                                          seed=bt.synthetic_seed))
        source = {"synthetic": [bt.synthetic_days, bt.timeframe, bt.synthetic_seed]}
        label = f"synthetic market, seed {bt.synthetic_seed}"
    if start is not None or end is not None:
        bars = bars.slice_time(start, end)
    source["system"] = cfg.system
    source["range"] = [int(bars.ts[0]), int(bars.ts[-1])]
    return bars, label, source


def _run_identity(ledger, cfg, source: dict) -> str:
    """Return the run id kept in the ledger; refuse a ledger made by another run (other data or config)."""
    import msgspec

    fp = hashlib.sha256(msgspec.json.encode(cfg) + json.dumps(source, sort_keys=True).encode()).hexdigest()
    stored = ledger.get_meta("paper_run")
    if stored is None:
        run_id = "p" + fp[:10]
        ledger.set_meta("paper_run", json.dumps({"run_id": run_id, "fingerprint": fp, "source": source,
                                                 "config": msgspec.json.encode(cfg).decode()}))
        return run_id
    meta = json.loads(stored)
    if meta.get("fingerprint") != fp:
        raise ConfigError("this ledger belongs to another paper run (different data, range or config); "
                          "use a new --ledger", source=str(ledger.path))
    return str(meta["run_id"])


def resume_point(ledger, bars) -> int:
    """Return how many bars the ledger says were completed (0 for a new run)."""
    last = ledger.get_meta("last_bar")
    if not last:
        return 0
    n, ts = (int(x) for x in last.split())
    if n > bars.n_bars or int(bars.ts[n - 1]) != ts:
        raise DataError(f"the ledger's last bar ({n}, ts {ts}) is not in these bars", source=str(ledger.path))
    return n


def run_command(args: argparse.Namespace) -> int:
    import msgspec
    from rich.console import Console

    from tradejet.adapters.paper import parse_speed
    from tradejet.config import load_config
    from tradejet.engine.reconcile import reconcile
    from tradejet.io.audit import AuditLog
    from tradejet.io.ledger import Ledger
    from tradejet.testing.paper import build_paper

    if args.log_json:
        for h in logging.getLogger().handlers:
            h.setFormatter(_JsonFormatter())
    from tradejet.commands.backtest import apply_system_args

    cfg = apply_system_args(load_config(args.config), args)
    speed = parse_speed(args.speed)
    if args.max_bars is not None and args.max_bars < 1:
        raise ConfigError(f"--max-bars must be >= 1, was {args.max_bars}", key="--max-bars")
    bars, label, source = load_source(args, cfg)
    from tradejet.dashboard.options import starter

    dashboard = starter(args, mode="paper", environment=label, initial_cash=cfg.backtest.initial_cash)
    stop = bars.n_bars if args.max_bars is None else min(args.max_bars, bars.n_bars)
    source["stop"] = stop
    from tradejet.commands._ml import load_model

    if cfg.system == "swing":  # swing entries go through its ML guard (--ml), not ml_signal's scorer
        if getattr(args, "retrain", False):
            raise ConfigError("--retrain is for the crypto system's daily DOWNTIME window; train the swing model "
                              "with `tradejet models train --system swing`", key="--retrain")
        model, model_id, ml_note = None, None, "swing: entries through the ML guard (--ml)"
    else:
        model, model_id, ml_note = load_model(args, cfg)
    source["model"] = model_id  # another model makes other decisions: another run
    source["retrain"] = bool(getattr(args, "retrain", False))
    scorer = None
    if model is not None or (source["retrain"] and cfg.system != "swing"):
        from tradejet.models.scoring import StreamingScorer

        scorer = StreamingScorer(model, len(bars.symbols))
    # swing keeps its ledger and audit log apart from crypto's
    default = tradejet_home() / "paper" / ("swing" if cfg.system == "swing" else "") / "ledger.sqlite"
    path = Path(args.ledger) if args.ledger else default
    con = Console(stderr=True, quiet=args.quiet)
    with Ledger(path) as ledger, AuditLog(path.with_name(path.name + ".audit.jsonl")) as audit:
        run_id = _run_identity(ledger, cfg, source)
        done = resume_point(ledger, bars)
        eng, venue = build_paper(bars, cfg, ledger=ledger, audit=audit, speed=speed, fast_until=done, stop=stop,
                                 run_id=run_id,
                                 scorer=scorer)
        hook = _retrainer(cfg, bars, eng, audit) if source["retrain"] else None
        eng.replay_until = done
        audit.append("paper_started", {"run_id": run_id, "resume_after": done, "stop": stop, "source": label,
                                       "model": model_id, "ml": ml_note, "system": cfg.system,
                                       "env": cfg.deployment_env})
        con.print(ml_note)
        if done:
            con.print(f"resuming {run_id} after bar {done:,} of {stop:,} (re-stepping to rebuild the book)")
        status = _Status(eng, venue, stop, label, cfg.backtest.initial_cash)
        interrupted = False
        if 0 < done < stop:
            # rebuild the book up to the last completed bar, then see what the crash left behind:
            # reported to the audit log, not applied (the replay that follows re-makes those events)
            venue.feed.stop = done
            interrupted = asyncio.run(_drive(eng, status, con, quiet=True, hook=hook))
            venue.feed.stop = stop
            found = asyncio.run(reconcile(ledger, venue, engine=eng, ts=venue.bar_ts, apply=False))
            audit.append("resume_reconcile", {"after_bar": done, "findings": [msgspec.to_builtins(f)
                                                                               for f in found.findings]})
            if found.findings:
                con.print(f"resume: {len(found.findings)} differences between the ledger and the rebuilt venue "
                          f"(events after bar {done:,}; the replay re-makes them): see the audit log")
        if not interrupted:
            interrupted = asyncio.run(_drive(eng, status, con, quiet=args.quiet, hook=hook, dashboard=dashboard))
        if interrupted:
            for o in list(venue._work):
                venue.cancel_now(o.cid)
                if (row := ledger.order(o.cid)) is not None and row.is_open:
                    ledger.set_order_status(o.cid, "canceled", ts=venue.bar_ts, detail="stopped by the operator")
            eng.checkpoint()
            audit.append("paper_stopped", {"bars": eng.bars_done})
            print(f"tradejet paper: stopped after bar {eng.bars_done:,}; restart with the same command to resume",
                  file=sys.stderr)
            return 130
        rep = asyncio.run(reconcile(ledger, venue, engine=eng, audit=audit, ts=venue.bar_ts))
        audit.append("paper_finished", {"bars": eng.bars_done, "reconcile_clean": rep.clean})
        snap = ledger.snapshot()
    if not args.quiet:
        con.print(status.render())
    for f in rep.findings:
        con.print(f"[yellow]reconcile:[/] {f.kind} {f.symbol or ''} {f.detail}")
    out = {"ledger": str(path), "bars": eng.bars_done, "equity": snap.equity, "orders": snap.orders,
           "fills": snap.fills, "reconciled": rep.clean, "system": cfg.system, "env": cfg.deployment_env,
           "risk": status.risk_summary()}
    if eng.guard is not None:
        out["ml_guard"] = eng.guard.state
        out["blocked"] = sorted(eng.blocked())
    print(json.dumps(out))
    return 0


def _retrainer(cfg, bars, eng, audit):
    """The DOWNTIME retraining hook of a replay: trains in the loop on the bars up to the current one."""
    import numpy as np

    from tradejet.config import tradejet_home
    from tradejet.engine.retrain import DowntimeRetrainer
    from tradejet.models.data import Candles

    def history(ts: int) -> list:
        end = int(np.searchsorted(bars.ts, ts, "right"))
        out = []
        for p, sym in enumerate(bars.symbols):
            idx = np.flatnonzero(bars.have[:end, p])
            out.append(Candles(sym, "paper replay", bars.ts[idx], bars.open[idx, p], bars.high[idx, p],
                               bars.low[idx, p], bars.close[idx, p], bars.volume[idx, p]))
        return out

    home = Path(cfg.home) if cfg.home else tradejet_home()
    return DowntimeRetrainer(cfg, home, history, scorer=eng.scorer, background=False, audit=audit)


async def _drive(eng, status, con, *, quiet: bool, hook=None, dashboard=None) -> bool:
    """Run the engine; True when stopped early (a signal, or the dashboard's kill switch).

    With ``dashboard`` (``async start(engine)``), it serves while the engine runs and after
    the run ends, until a signal, so that the page can still be read.
    """
    if dashboard is None:
        return await _drive_engine(eng, status, con, quiet=quiet, hook=hook)
    dash = await dashboard(eng)
    try:
        interrupted = await _drive_engine(eng, status, con, quiet=quiet, hook=hook)
        if not interrupted:
            dash.view.finished = not eng.halted
            dash.notify()
            print("tradejet: the run ended; the dashboard stays up until Ctrl-C", file=sys.stderr, flush=True)
            await _until_signal()
        return interrupted or eng.halted
    finally:
        await dash.close()


async def _until_signal() -> None:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, done.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    await done.wait()


async def _drive_engine(eng, status, con, *, quiet: bool, hook=None) -> bool:
    loop = asyncio.get_running_loop()
    stopped = []

    def on_signal() -> None:
        stopped.append(True)
        eng.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    if quiet or not sys.stderr.isatty():
        def on_bar_quiet(e) -> None:
            status.risk.on_bar(e)
            if hook is not None:
                hook(e)

        await eng.run(on_bar_done=on_bar_quiet)
        return bool(stopped)
    from rich.live import Live

    with Live(status.render(), console=con, refresh_per_second=4, transient=False) as live:
        last = [0.0]

        def on_bar_done(e) -> None:
            status.risk.on_bar(e)
            if hook is not None:
                hook(e)
            now = time.monotonic()
            if now - last[0] >= 0.25:
                last[0] = now
                live.update(status.render())

        await eng.run(on_bar_done=on_bar_done)
        live.update(status.render())
    return bool(stopped)


class _Status:
    """The live terminal status: regime, active strategies, positions, P&L, last orders, latency."""

    def __init__(self, eng, venue, total: int, label: str, cash0: float):
        from tradejet.engine.riskview import RiskMonitor

        self.eng, self.venue, self.total, self.label, self.cash0 = eng, venue, total, label, cash0
        self.t0 = time.monotonic()
        self.risk = RiskMonitor(eng.config, len(eng.symbols))

    def risk_summary(self) -> dict:
        """The online VaR backtest so far (printed in the final JSON line)."""
        r = self.risk
        lr, p = r.kupiec()
        f = lambda x: float(x) if x is not None and x == x else None  # noqa: E731
        return {"var_level": r.level, "var_1bar": f(r.var), "cvar_1bar": f(r.cvar), "bars_at_risk": r.bars_at_risk,
                "breaches": r.breaches, "kupiec_lr": lr, "kupiec_p": p}

    def _risk_tables(self):
        from rich.table import Table

        from tradejet.kernels.codes import STRATEGY_TEXT

        r, e = self.risk, self.eng
        lr, p = r.kupiec()
        lv = f"{100 * r.level:g}%"
        t = Table(title="portfolio risk", show_header=False, expand=False)
        t.add_column("k")
        t.add_column("v", justify="right")
        eq = r.equity
        share = (lambda x: f"{x:,.2f}  ({x / eq:.3%})") if eq == eq and eq > 0 else (lambda x: f"{x:,.2f}")
        t.add_row(f"one-bar {lv} VaR / CVaR", f"{share(r.var)} / {share(r.cvar)}" if r.var == r.var else "warming up")
        t.add_row("VaR breaches", f"{r.breaches:,} in {r.bars_at_risk:,} bars at risk "
                  f"(expected {r.bars_at_risk * (1 - r.level):,.1f})")
        t.add_row("Kupiec p-value", "n/a" if p is None else f"{p:.3g}")
        top = sorted(((c, s) for s, c in zip(e.symbols, r.contribution_pair) if c != 0), reverse=True)[:5]
        t.add_row("risk by pair", ", ".join(f"{s} {c:.0%}" for c, s in top) or "-")
        strat = [(c, STRATEGY_TEXT[k]) for k, c in enumerate(r.contribution_strategy) if c != 0]
        t.add_row("risk by strategy", ", ".join(f"{s} {c:.0%}" for c, s in sorted(strat, reverse=True)) or "-")
        corr = r.correlation(e.ctx)
        heat = Table(title="correlation (EWMA, the limits' estimate)", expand=False)
        short = [s.split("/")[0][:5] for s in e.symbols]
        heat.add_column("")
        for s in short:
            heat.add_column(s, justify="right")
        for i, s in enumerate(short):
            cells = []
            for j in range(len(short)):
                c = corr[i, j]
                if c != c:
                    cells.append("[dim]·[/]")
                else:
                    style = "bold red" if c >= 0.8 else "red" if c >= 0.6 else "yellow" if c >= 0.3 else "green"
                    cells.append(f"[{style}]{c:.2f}[/]")
            heat.add_row(s, *cells)
        return t, heat

    def render(self):
        from datetime import datetime, timezone

        from rich.console import Group
        from rich.table import Table

        from tradejet.engine.step import INFO_ACTIVE, INFO_EQUITY, INFO_REGIME, INFO_TRADING_STATE
        from tradejet.kernels.codes import ORDER_TYPE_TEXT, REGIME_TEXT, STRATEGY_TEXT, TRADING_STATE_TEXT

        e = self.eng
        ctx = e.ctx
        eq = float(ctx.info[INFO_EQUITY]) if e.bars_done else self.cash0
        when = (datetime.fromtimestamp(e.last_ts / 1e9, timezone.utc).strftime("%Y-%m-%d %H:%M")
                if e.last_ts is not None else "-")
        active = int(ctx.info[INFO_ACTIVE])
        head = Table(title=f"tradejet paper ({e.env}, {e.config.system}): {self.label}", show_header=False,
                     expand=False)
        head.add_column("k")
        head.add_column("v", justify="right")
        head.add_row("bar", f"{e.bars_done:,} / {self.total:,}  ({when} UTC)")
        head.add_row("regime", REGIME_TEXT[int(ctx.info[INFO_REGIME])])
        head.add_row("trading state", TRADING_STATE_TEXT[int(ctx.info[INFO_TRADING_STATE])])
        head.add_row("active", ", ".join(STRATEGY_TEXT[s] for s in range(len(STRATEGY_TEXT)) if active >> s & 1)
                     or "-")
        head.add_row("equity", f"{eq:,.2f}  (P&L {eq - self.cash0:+,.2f}, {eq / self.cash0 - 1:+.2%})")
        head.add_row("working orders", str(len(e.working)))
        blocked = e.blocked()
        if blocked:
            head.add_row("blocked", "; ".join(f"{k}: {v}" for k, v in blocked.items()))
        if e.guard is not None:
            head.add_row("ML guard", f"{e.guard.state}: {e.guard.reason}")
        lat = e.latency_percentiles()
        if lat:
            head.add_row("latency (us)", f"p50 {lat['p50_us']:.0f}  p99 {lat['p99_us']:.0f}  "
                         f"p99.9 {lat['p99.9_us']:.0f}  max {lat['max_us']:.0f}")
        pos = Table(title="positions", expand=False)
        for c in ("strategy", "symbol", "qty", "avg", "mark"):
            pos.add_column(c, justify="right" if c in ("qty", "avg", "mark") else "left")
        for s in range(ctx.pos_qty.shape[0]):
            for p in range(ctx.pos_qty.shape[1]):
                q = ctx.pos_qty[s, p]
                if q != 0.0:
                    pos.add_row(STRATEGY_TEXT[s], e.symbols[p], f"{q:.6g}", f"{ctx.pos_avg[s, p]:.6g}",
                                f"{ctx.mark[p]:.6g}")
        orders = Table(title="last orders", expand=False)
        for c in ("client id", "symbol", "side", "type", "qty", "strategy"):
            orders.add_column(c)
        for o in e.last_orders[-5:]:
            orders.add_row(o.client_order_id, o.symbol, "buy" if o.side > 0 else "sell",
                           ORDER_TYPE_TEXT[o.order_type], f"{o.qty:.6g}", STRATEGY_TEXT[o.strategy])
        return Group(head, pos, orders, *self._risk_tables())
