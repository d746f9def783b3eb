"""``tradejet doctor``: pre-flight checks against Kraken (or the sandbox) before money moves.

Checks SystemStatus, the clock against Kraken's Time, the API key and signature, each
permission the bot needs (Query Funds, Query Open/Closed Orders, Create & Modify Orders
with ``validate=true``, Cancel/Close Orders on a nonexistent order id, WebSockets token),
nonces, the account's fee tier, and per universe pair its status, ordermin and costmin
against the configured order size. Prints a pass/fail table with the fix for each failure;
exits 1 when any check fails. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check Kraken access before trading: key permissions, clock, nonces, "
                                      "status, fees, pair minimums vs order sizes")
    p.add_argument("--base-url", default=None, metavar="URL",
                   help="Kraken REST base URL (default https://api.kraken.com; the sandbox: http://127.0.0.1:8787)")
    p.add_argument("--config", metavar="FILE", help="config file: universe.symbols and orders.notional / orders.pairs")
    p.add_argument("--max-skew", type=float, default=None, metavar="S",
                   help="largest clock difference to Kraken that passes, seconds (default 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from tradejet.adapters.kraken.auth import Credentials
    from tradejet.adapters.kraken.http import DEFAULT_BASE_URL, KrakenHttp
    from tradejet.adapters.kraken.nonce import NonceSource
    from tradejet.adapters.kraken.preflight import MAX_SKEW_S, PairOrder, run_checks
    from tradejet.config import load_config, tradejet_home
    from tradejet.engine.universe import Universe
    from tradejet.errors import ConfigError

    if args.max_skew is not None and not args.max_skew > 0:
        raise ConfigError(f"--max-skew must be > 0 seconds, was {args.max_skew}", key="--max-skew")
    cfg = load_config(args.config)
    universe = Universe.from_config(cfg.universe)
    pairs = []
    for p in universe.pairs:
        notional, setting = cfg.orders.for_pair(p.symbol)
        pairs.append(PairOrder(p.symbol, p.pair_key, notional, setting))
    unknown = sorted(set(cfg.orders.pairs) - set(universe.symbols))
    if unknown:
        raise ConfigError(f"orders.pairs names {unknown[0]!r}, which is not in the universe "
                          f"({', '.join(universe.symbols)})", key="orders.pairs", source=args.config)
    try:
        creds: Credentials | None = Credentials.from_env()
    except ConfigError:
        creds = None
    home = tradejet_home({"TRADEJET_HOME": cfg.home} if cfg.home else None)
    nonce = NonceSource.for_key(creds.api_key, home) if creds else NonceSource(None)
    key_hint = repr(creds).split("'")[1] if creds else ""
    nonce_hint = f"high-water mark persisted in {nonce.path}" if nonce.path else "nonces kept in memory only"
    base_url = args.base_url or DEFAULT_BASE_URL

    async def main():
        # retries=0: each check reports what Kraken answered to one call, not the outcome of retries
        async with KrakenHttp(creds, base_url=base_url, nonce=nonce, retries=0, timeout=15.0) as client:
            return await run_checks(client, pairs, has_credentials=creds is not None, key_hint=key_hint,
                                    nonce_hint=nonce_hint,
                                    max_skew=args.max_skew if args.max_skew is not None else MAX_SKEW_S)

    checks = asyncio.run(main())
    table = Table(title=f"tradejet doctor: {base_url}", show_lines=False)
    for col in ("check", "result", "detail", "fix"):
        table.add_column(col, overflow="fold")
    style = {"PASS": "green", "FAIL": "bold red", "SKIP": "yellow"}
    for c in checks:
        table.add_row(escape(c.name), f"[{style[c.status]}]{c.status}[/]", escape(c.detail), escape(c.fix))
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(table)
    failed = [c for c in checks if c.ok is False]
    if failed:
        console.print(f"{len(failed)} of {len(checks)} checks failed: fix them before trading.")
        return 1
    console.print(f"all {len(checks)} checks passed" +
                  (f" ({sum(c.ok is None for c in checks)} skipped)" if any(c.ok is None for c in checks) else ""))
    return 0
