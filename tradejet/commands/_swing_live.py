"""The swing system on Alpaca: what ``tradejet live --system swing`` runs (not a command itself).

``run(args)`` refuses to start without Alpaca keys (``APCA_API_KEY_ID`` /
``APCA_API_SECRET_KEY``), and with ``DEPLOYMENT_ENV=live`` without
``--i-understand-real-money``. It then:

1. reads the account (blocked accounts refused; cash-only: the broker's buying power and
   multiplier are ignored) and the market clock (closed: it idles until the open, it
   never orders outside market hours);
2. warms the engine's indicators up on Alpaca's daily bars with the ledger detached (those
   decisions are discarded, nothing is sent);
3. loads the ledger's positions into the engine's book and reconciles with the broker
   (unknown broker positions adopted as backfilled, differing ones blocked);
4. runs :class:`~tradejet.engine.live.Engine` with ``config.system = "swing"`` over an
   :class:`~tradejet.adapters.alpaca.venue.AlpacaVenue` that enforces market hours,
   cash-only, ``--max-order-notional`` and ``--max-daily-loss``.

Ledger and audit log default to ``$TRADEJET_HOME/live/swing/<paper|live>/``: apart from
crypto's and from each other. ``python -m tradejet.commands._swing_live`` takes the same
flags (the operator script uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path

log = logging.getLogger("tradejet.live.swing")

DEFAULT_SWING_SYMBOLS = ("SPY", "QQQ", "AAPL", "MSFT", "NVDA")
DEFAULT_MAX_ORDER_NOTIONAL = 10_000.0
DEFAULT_MAX_DAILY_LOSS = 1_000.0
EXIT_REFUSED = 2


def _refuse(msg: str) -> int:
    print(f"tradejet live --system swing: refusing to start: {msg}", file=sys.stderr)
    return EXIT_REFUSED


def _float_opt(args, name: str, env_key: str, default: float | None) -> float | None:
    from tradejet.errors import ConfigError

    v = getattr(args, name, None)
    if v is None and os.environ.get(env_key):
        try:
            v = float(os.environ[env_key])
        except ValueError:
            raise ConfigError(f"{env_key} must be a number, was {os.environ[env_key]!r}", key=env_key) from None
    if v is None:
        return default
    v = float(v)
    if not (v > 0 and math.isfinite(v)):
        raise ConfigError(f"--{name.replace('_', '-')} must be > 0, was {v}", key=name)
    return v


def swing_symbols(cfg, args=None) -> list[str]:
    """The equity universe: ``--symbols`` / ``$TRADEJET_SWING_SYMBOLS``, else ``[swing] symbols``, else the
    config's universe unless it is crypto's."""
    from tradejet.config import DEFAULT_SYMBOLS

    raw = getattr(args, "symbols", None) or os.environ.get("TRADEJET_SWING_SYMBOLS")
    if raw:
        return [s.strip().upper() for s in str(raw).split(",") if s.strip()]
    swing = getattr(cfg, "swing", None)
    if swing is not None:  # the swing system's own list (the backtest and paper runs use it too)
        return list(swing.symbols)
    syms = cfg.universe.resolved_symbols()
    if list(cfg.universe.symbols) == list(DEFAULT_SYMBOLS) or any("/" in s and not s.endswith("/USD") for s in syms):
        return list(DEFAULT_SWING_SYMBOLS)
    return syms


def _load_book(eng, ledger) -> list[str]:
    """Put the ledger's open positions into the engine's book (a restart keeps managing them)."""
    from tradejet.kernels.codes import N_STRATEGIES, Strategy
    from tradejet.strategies.base import IV_ATR, on_entry_fill_nb

    ctx = eng.ctx
    loaded = []
    for pos in ledger.positions():
        p = eng.index.get(pos.symbol)
        if p is None or pos.qty == 0:
            continue
        s = pos.strategy if 0 <= pos.strategy < N_STRATEGIES else Strategy.DEFENSIVE
        if ctx.pos_qty[s, p] != 0.0:
            continue
        ctx.pos_qty[s, p] = pos.qty
        ctx.pos_avg[s, p] = pos.avg_price
        if pos.qty > 0:
            on_entry_fill_nb(ctx.pos_state[s, p], ctx.strat_params[s], eng.last_ts or 0, pos.avg_price,
                             ctx.iv[p, IV_ATR], True)
        loaded.append(pos.symbol)
    return loaded


def run(args) -> int:
    """Run the swing system live on Alpaca (paper or live by ``DEPLOYMENT_ENV``); return the exit code."""
    import msgspec

    from tradejet.adapters.alpaca import AlpacaCredentials, trading_url
    from tradejet.config import load_config, tradejet_home
    from tradejet.errors import AuthError

    cfg = load_config(getattr(args, "config", None))
    cfg = msgspec.structs.replace(cfg, system="swing")
    env_name = cfg.deployment_env if cfg.deployment_env in ("paper", "live") else "paper"
    creds = AlpacaCredentials.from_env()
    if creds is None:
        return _refuse("no Alpaca credentials: set APCA_API_KEY_ID and APCA_API_SECRET_KEY")
    if env_name == "live" and not getattr(args, "i_understand_real_money", False):
        return _refuse("DEPLOYMENT_ENV=live trades real money: add --i-understand-real-money")
    base_url = getattr(args, "base_url", None) or trading_url(env_name)
    max_notional = _float_opt(args, "max_order_notional", "TRADEJET_MAX_ORDER_NOTIONAL", DEFAULT_MAX_ORDER_NOTIONAL)
    max_loss = _float_opt(args, "max_daily_loss", "TRADEJET_MAX_DAILY_LOSS", DEFAULT_MAX_DAILY_LOSS)
    max_bars = getattr(args, "max_bars", None)
    if max_bars is not None and max_bars < 1:
        return _refuse(f"--max-bars must be >= 1, was {max_bars}")
    poll = _float_opt(args, "poll_seconds", "TRADEJET_POLL_SECONDS", 30.0)
    ledger_path = Path(getattr(args, "ledger", None) or tradejet_home() / "live" / "swing" / env_name /
                       "ledger.sqlite")
    symbols = swing_symbols(cfg, args)
    log.info("[%s] swing on Alpaca %s, symbols %s, key %s", env_name, base_url, symbols, creds.masked_key())
    try:
        return asyncio.run(_main(cfg, creds, base_url, env_name, symbols, ledger_path, max_notional, max_loss,
                                 max_bars, poll, quiet=bool(getattr(args, "quiet", False)),
                                 warmup=int(getattr(args, "warmup_days", None) or 300)))
    except AuthError as e:
        return _refuse(str(e))


async def _main(cfg, creds, base_url, env_name, symbols, ledger_path, max_notional, max_loss, max_bars, poll,
                *, quiet: bool, warmup: int) -> int:
    import msgspec

    from tradejet.adapters.alpaca import AlpacaHttp
    from tradejet.adapters.alpaca.schemas import num
    from tradejet.adapters.alpaca.venue import AlpacaVenue
    from tradejet.engine.live import Engine
    from tradejet.engine.reconcile import reconcile
    from tradejet.io.audit import AuditLog
    from tradejet.io.ledger import Ledger
    from tradejet.messages import OrderCanceled, SubmitOrder

    async with AlpacaHttp(creds, base_url=base_url) as client:
        acct = await client.account()
        if acct.status != "ACTIVE" or acct.trading_blocked or acct.account_blocked or acct.trade_suspended_by_user:
            return _refuse(f"the Alpaca account cannot trade (status {acct.status}, trading_blocked "
                           f"{acct.trading_blocked}, account_blocked {acct.account_blocked})")
        cash = num(acct.cash, "GET /v2/account", "cash")
        log.info("[%s] account cash %.2f USD (cash-only: buying power %s, multiplier %s ignored)", env_name, cash,
                 acct.buying_power, acct.multiplier)
        cfg = msgspec.structs.replace(cfg, backtest=msgspec.structs.replace(cfg.backtest,
                                                                            initial_cash=max(cash, 1e-9)))
        venue = AlpacaVenue(client, symbols, environment=env_name, client_id_prefix="sw-", poll_s=poll,
                            closed_poll_s=max(poll, min(300.0, 10 * poll)), max_order_notional=max_notional,
                            max_daily_loss=max_loss, max_bars=max_bars)
        clock = await venue.clock(fresh=True)
        if not clock.is_open:
            log.info("[%s] market closed (next open %s): idling, no orders until then", env_name, clock.next_open)
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
        with Ledger(ledger_path) as ledger, AuditLog(ledger_path.with_name(ledger_path.name + ".audit.jsonl")) as audit:
            run_id = f"sw-{time.time_ns() // 1_000_000:x}"  # new per start: client ids never repeat at Alpaca
            eng = Engine(cfg, venue, ledger, symbols=symbols, run_id=run_id, audit=audit)
            audit.append("swing_started", {"environment": env_name, "run_id": run_id, "base_url": base_url,
                                           "symbols": symbols, "cash": cash, "max_order_notional": max_notional,
                                           "max_daily_loss": max_loss})
            # 1. warm-up on history, ledger detached: decisions are discarded, nothing is sent
            hist = await venue.warmup_bars(warmup)
            eng.ledger = None
            dropped = []
            for b in hist:
                dropped += [c for c in eng.on_bar(b) if isinstance(c, SubmitOrder)]
            dropped += [c for c in eng.flush() if isinstance(c, SubmitOrder)]
            for c in dropped:
                eng.on_order_event(OrderCanceled(client_order_id=c.client_order_id, ts_event=c.ts_init))
            eng.ledger = ledger
            # 2. the ledger's book, then the broker's view
            loaded = _load_book(eng, ledger)
            rep = await reconcile(ledger, venue, engine=eng, audit=audit, ts=time.time_ns())
            for f in rep.findings:
                log.warning("[%s] reconcile: %s %s %s", env_name, f.kind, f.symbol or "", f.detail)
            audit.append("swing_reconciled", {"environment": env_name, "warmup_bars": len(hist),
                                              "loaded": loaded, "adopted": rep.adopted,
                                              "unreconciled": rep.unreconciled, "clean": rep.clean})
            # 3. live
            loop = asyncio.get_running_loop()
            stopped: list[bool] = []

            def on_signal() -> None:
                stopped.append(True)
                eng.stop()
                venue.stop()

            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, on_signal)
                except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
                    pass
            start_bars = eng.bars_done
            await eng.run()
            eng.checkpoint()
            snap = ledger.snapshot()
            audit.append("swing_stopped" if stopped else "swing_finished",
                         {"environment": env_name, "bars": eng.bars_done - start_bars, "refused": venue.refused})
        result = {"environment": env_name, "ledger": str(ledger_path), "bars": eng.bars_done - start_bars,
                  "warmup_bars": len(hist), "orders": snap.orders, "fills": snap.fills, "equity": snap.equity,
                  "refused": len(venue.refused), "adopted": rep.adopted, "unreconciled": rep.unreconciled}
        if not quiet:
            print(f"[{env_name}] swing: {result['bars']} days, {snap.orders} orders, {snap.fills} fills, "
                  f"{len(venue.refused)} refused before sending", file=sys.stderr)
        print(json.dumps(result))
        return 130 if stopped else 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags ``tradejet live --system swing`` understands (for the stand-alone entry point)."""
    p.add_argument("--config", metavar="FILE", help="TOML config (defaults otherwise); system is forced to swing")
    p.add_argument("--base-url", help="Alpaca trading base URL (default by DEPLOYMENT_ENV; the local server's URL)")
    p.add_argument("--i-understand-real-money", action="store_true", help="required with DEPLOYMENT_ENV=live")
    p.add_argument("--ledger", metavar="PATH",
                   help="ledger file (default $TRADEJET_HOME/live/swing/<env>/ledger.sqlite)")
    p.add_argument("--max-bars", type=int, metavar="N", help="stop after N trading days")
    p.add_argument("--max-order-notional", type=float, metavar="USD", help=f"default {DEFAULT_MAX_ORDER_NOTIONAL:g}")
    p.add_argument("--max-daily-loss", type=float, metavar="USD", help=f"default {DEFAULT_MAX_DAILY_LOSS:g}")
    p.add_argument("--symbols", help="comma-separated equity symbols (default SPY,QQQ,AAPL,MSFT,NVDA)")
    p.add_argument("--poll-seconds", type=float, help="seconds between polls while open (default 30)")
    p.add_argument("--warmup-days", type=int, help="daily bars to warm indicators up on (default 300)")
    p.add_argument("--quiet", action="store_true")


def main(argv: list[str] | None = None) -> int:
    from tradejet.errors import TradejetError

    p = argparse.ArgumentParser(prog="python -m tradejet.commands._swing_live",
                                description="The swing system live on Alpaca (paper or live by DEPLOYMENT_ENV).")
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except TradejetError as e:
        print(f"tradejet live --system swing: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
