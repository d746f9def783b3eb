"""``tradejet live``: trade on Kraken (or the local sandbox) through the event driver.

Refuses to start (exit 2, one line saying what to fix) unless ``DEPLOYMENT_ENV=live``,
``--i-understand-real-money`` (or ``live.i_understand_real_money = true``) is given, the
Kraken credentials are set (``KRAKEN_API_KEY`` / ``KRAKEN_API_SECRET``, or ``.env``), and
Kraken's SystemStatus is ``online``. Then: the book is rebuilt (warm-up, or the journal of
a restarted run), reconciled with Kraken, and the run trades under
``live.max_order_notional`` / ``live.max_daily_loss`` with CancelAllOrdersAfter kept armed.
The kill switch (``--kill-file`` / ``live.kill_switch_file``, SIGUSR1 or SIGTERM) cancels
every order and stops (exit 3). ``--paper-fills`` runs on live market data with the paper
venue's fill model (no orders reach Kraken; no credentials needed). ``--system swing``
hands over to the US-equities runner.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from tradejet.config import tradejet_home
from tradejet.errors import ConfigError, TradejetError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="trade live on Kraken (or the sandbox) through the event driver",
                       description="Live trading: reconciliation, limits, dead-man's switch, kill switch.")
    p.add_argument("--config", metavar="FILE", help="TOML config ([live] holds the limits)")
    p.add_argument("--base-url", metavar="URL", help="Kraken REST base URL (e.g. the sandbox http://127.0.0.1:8787)")
    p.add_argument("--ws-url", metavar="URL",
                   help="WebSocket v2 URL (default: Kraken's; for a 127.0.0.1 base URL, its port + 1)")
    p.add_argument("--i-understand-real-money", action="store_true", dest="real_money",
                   help="required to send real orders (or live.i_understand_real_money = true)")
    p.add_argument("--ledger", metavar="PATH", help="ledger file (default $TRADEJET_HOME/live/ledger.sqlite)")
    p.add_argument("--system", choices=["crypto", "swing"], default=None,
                   help="crypto (Kraken, default) or swing (US equities, another runner)")
    p.add_argument("--max-bars", type=int, metavar="N", help="stop cleanly after N live bars")
    p.add_argument("--paper-fills", action="store_true",
                   help="live market data, simulated fills with the paper fill model (nothing sent)")
    p.add_argument("--kill-file", metavar="PATH", help="stop (cancelling all orders) when this file appears")
    p.add_argument("--quiet", action="store_true", help="no status lines")
    from tradejet.commands._ml import add_model_arg
    from tradejet.dashboard.options import add_arguments as add_dashboard_arguments

    add_model_arg(p)
    p.add_argument("--retrain", action="store_true",
                   help="retrain in every DOWNTIME window (a worker thread) on the bar store's bars "
                        "(keep it filled with `tradejet data download`); a promoted model is swapped in")
    add_dashboard_arguments(p)
    p.set_defaults(func=run_command)


def _ws_url(base_url: str) -> tuple[str, str]:
    from urllib.parse import urlsplit

    from tradejet.adapters.kraken.ws import WS_PRIVATE, WS_PUBLIC

    u = urlsplit(base_url)
    if u.hostname in ("127.0.0.1", "localhost", "::1"):
        if u.port is None:
            raise ConfigError(f"a local base URL needs a port, was {base_url!r}", key="--base-url")
        url = f"ws://{u.hostname}:{u.port + 1}/v2"
        return url, url
    return WS_PUBLIC, WS_PRIVATE


def _interval_min(cfg) -> int:
    from tradejet.io.timeframes import parse_timeframe

    minutes = parse_timeframe(cfg.backtest.timeframe) // 60_000_000_000
    if minutes not in (1, 5, 15, 30, 60, 240, 1440, 10080, 21600):
        raise ConfigError(f"Kraken serves candles of 1/5/15/30/60/240/1440/10080/21600 minutes, not "
                          f"{cfg.backtest.timeframe}", key="backtest.timeframe")
    return int(minutes)


def run_command(args: argparse.Namespace) -> int:
    from tradejet.config import load_config

    cfg = load_config(args.config)
    system = args.system or cfg.system
    if system == "swing":
        try:
            from tradejet.commands._swing_live import run as run_swing
        except ImportError as e:
            if e.name != "tradejet.commands._swing_live":
                raise
            raise TradejetError("tradejet live --system swing needs the US-equities runner "
                                "(tradejet.commands._swing_live), which is not installed in this build") from None
        return run_swing(args)
    if args.max_bars is not None and args.max_bars < 1:
        raise ConfigError(f"--max-bars must be >= 1, was {args.max_bars}", key="--max-bars")
    base_url = args.base_url or cfg.live.base_url
    kill_file = args.kill_file or cfg.live.kill_switch_file
    if kill_file and Path(kill_file).exists():
        raise ConfigError(f"the kill switch file {kill_file} exists: remove it to start", key="live.kill_switch_file")
    creds = None
    if not args.paper_fills:
        if cfg.deployment_env != "live":
            raise ConfigError(f"tradejet live sends real orders: set DEPLOYMENT_ENV=live (it is "
                              f"{cfg.deployment_env!r}), or use --paper-fills", key="deployment_env")
        if not (args.real_money or cfg.live.i_understand_real_money):
            raise ConfigError("tradejet live sends real orders: pass --i-understand-real-money "
                              "(or set live.i_understand_real_money = true)", key="--i-understand-real-money")
        from tradejet.adapters.kraken.auth import Credentials

        creds = Credentials.from_env()
    return asyncio.run(_main(args, cfg, base_url, creds))


async def _main(args, cfg, base_url: str, creds) -> int:
    import msgspec

    from tradejet.adapters.kraken.http import KrakenHttp
    from tradejet.adapters.kraken.nonce import NonceSource
    from tradejet.adapters.kraken.ratelimit import RateLimiter
    from tradejet.adapters.kraken.venue import KrakenVenue
    from tradejet.engine import Engine
    from tradejet.engine.live_session import LiveSession
    from tradejet.io.audit import AuditLog
    from tradejet.io.ledger import Ledger

    path = Path(args.ledger) if args.ledger else tradejet_home() / "live" / "ledger.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    ws_pub, ws_priv = (args.ws_url, args.ws_url) if args.ws_url else (
        (cfg.live.ws_public, cfg.live.ws_private or cfg.live.ws_public) if cfg.live.ws_public else _ws_url(base_url))
    local = ws_pub.startswith("ws://127.0.0.1") or ws_pub.startswith("ws://localhost")
    http = KrakenHttp(creds, base_url=base_url, nonce=NonceSource(path.with_name(path.name + ".nonce")),
                      limiter=RateLimiter(cfg.live.tier),
                      public_burst=20.0 if local else 5.0, public_rate=5.0 if local else 1.0)
    try:
        status = await http.system_status()
        if status.status != "online" and not args.paper_fills:
            raise TradejetError(f"Kraken SystemStatus is {status.status!r}, not 'online': not starting "
                                f"(see https://status.kraken.com)")
        symbols = list(cfg.universe.symbols)
        interval = _interval_min(cfg)
        venue = KrakenVenue(http, symbols=symbols, interval_min=interval, ws_public=ws_pub, ws_private=ws_priv,
                            poll_s=2.0 if local else 5.0)
        if args.paper_fills:
            venue.private = False
        await venue.start()
        with Ledger(path) as ledger, AuditLog(path.with_name(path.name + ".audit.jsonl")) as audit:
            meta = ledger.get_meta("live_run")
            mode = "paper-fills" if args.paper_fills else "kraken"
            if meta is None:
                if args.paper_fills:
                    cash = float(cfg.backtest.initial_cash)
                else:
                    quote = symbols[0].split("/", 1)[1]
                    cash = next((b.total for b in await venue.balances() if b.asset == quote), 0.0)
                fp = hashlib.sha256(msgspec.json.encode(cfg)).hexdigest()
                # short: "<run id>-<seq>" is sent as cl_ord_id, which Kraken caps at 18 characters of text
                meta_d = {"run_id": "L" + hashlib.sha256(fp.encode() + os.urandom(8)).hexdigest()[:7], "cash": cash,
                          "fingerprint": fp, "mode": mode, "base_url": base_url}
                ledger.set_meta("live_run", json.dumps(meta_d))
            else:
                meta_d = json.loads(meta)
                if meta_d.get("mode") != mode or meta_d.get("fingerprint") != hashlib.sha256(
                        msgspec.json.encode(cfg)).hexdigest():
                    raise ConfigError("this ledger belongs to another live run (other config or mode); a restart "
                                      "must use the same config, or start a new --ledger", source=str(path))
            cfg_run = msgspec.structs.replace(cfg, backtest=msgspec.structs.replace(
                cfg.backtest, initial_cash=float(meta_d["cash"]) if meta_d["cash"] > 0 else cfg.backtest.initial_cash))
            from tradejet.commands._ml import load_model

            model, model_id, ml_note = load_model(args, cfg)
            scorer = None
            if model is not None or args.retrain:
                from tradejet.models.scoring import StreamingScorer

                scorer = StreamingScorer(model, len(symbols))
            audit.append("live_model", {"model": model_id, "ml": ml_note})
            if not args.quiet:
                print(f"tradejet live: {ml_note}", file=sys.stderr, flush=True)
            eng = Engine(cfg_run, None, ledger, symbols=symbols, run_id=meta_d["run_id"], audit=audit,
                         scorer=scorer)
            retrainer = None
            if args.retrain:
                from tradejet.config import default_store_dir
                from tradejet.engine.retrain import DowntimeRetrainer, store_history

                home = Path(cfg.home) if cfg.home else tradejet_home()
                retrainer = DowntimeRetrainer(cfg, home, store_history(default_store_dir(), symbols, interval),
                                              scorer=scorer, background=True, audit=audit)
            run_venue = venue
            if args.paper_fills:
                from tradejet.adapters.paper import PaperVenue
                from tradejet.adapters.paper.live import PaperOnLive

                paper = PaperVenue(symbols, eng.pair_rows, eng.fill_cfg, cash=cfg_run.backtest.initial_cash,
                                   timeframe_ns=interval * 60_000_000_000)
                run_venue = PaperOnLive(venue, paper)
                if path.with_name(path.name + ".journal").exists():
                    run_venue.restore(ledger)
            kill_file = args.kill_file or cfg.live.kill_switch_file
            sess = LiveSession(eng, run_venue, path.with_name(path.name + ".journal"), audit=audit,
                               max_order_notional=cfg.live.max_order_notional,
                               max_daily_loss=cfg.live.max_daily_loss, kill_file=kill_file,
                               dead_mans_switch_s=0 if args.paper_fills else cfg.live.dead_mans_switch_s)
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, sess.kill, "SIGUSR1")
            loop.add_signal_handler(signal.SIGTERM, sess.kill, "SIGTERM")
            loop.add_signal_handler(signal.SIGINT, sess.stop)
            quiet = args.quiet

            def on_bar(e) -> None:
                if retrainer is not None and sess.live_bars:  # not while the journal replays
                    retrainer(e)
                if not quiet and sess.live_bars:
                    print(f"bar {e.bars_done} ts {e.last_ts} equity {sess.equity():.2f} working {len(e.working)}",
                          file=sys.stderr, flush=True)

            def on_ready(ss) -> None:
                rep = ss.reconcile_report
                print(f"tradejet live: trading {len(symbols)} symbols on {base_url} (run {meta_d['run_id']}, "
                      f"{'resumed' if ss.resumed else 'new'}, {ss.replayed_bars} bars rebuilt, reconcile "
                      f"{'clean' if rep is not None and rep.clean else 'found differences: see the audit log'})",
                      file=sys.stderr, flush=True)

            from tradejet.dashboard.options import starter

            dashboard = starter(args, mode="live" if not args.paper_fills else "paper",
                                environment=f"kraken {mode} {base_url}", initial_cash=cfg_run.backtest.initial_cash)
            dash = await dashboard(eng) if dashboard is not None else None
            try:
                await sess.run(max_bars=args.max_bars, on_bar_done=on_bar, on_ready=on_ready)
            finally:
                sess.close()
                if retrainer is not None:
                    retrainer.close(wait=False)
                if dash is not None:
                    await dash.close()
            rep = sess.reconcile_report
            snap = ledger.snapshot()
            print(json.dumps({"ledger": str(path), "run_id": meta_d["run_id"], "resumed": sess.resumed,
                              "replayed_bars": sess.replayed_bars, "live_bars": sess.live_bars,
                              "equity": snap.equity, "orders": snap.orders, "fills": snap.fills,
                              "reconciled": bool(rep is not None and rep.clean),
                              "findings": [f.kind for f in rep.findings] if rep is not None else [],
                              "killed": sess.killed, "gaps_refilled": venue.gaps_refilled,
                              "dead_mans_switch_armed": sess.dms_armed}), flush=True)
            if sess.killed:
                print(f"tradejet live: stopped by the {sess.killed}; all orders cancelled", file=sys.stderr)
                return 3
            return 0
    finally:
        await http.aclose()
