"""``tradejet dashboard``: watch a ledger (and its audit log) in the web dashboard, read-only.

The ledger is opened read-only (SQLite ``mode=ro``), so it can be watched while a paper
or live run writes it; the page shows positions, orders, fills, equity marks,
reconciliation findings and the audit log, and refuses the actions (they need the
running engine: ``tradejet paper|live --dashboard``). Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from tradejet.dashboard.options import add_arguments

    p = sub.add_parser("dashboard", help="watch a ledger in the web dashboard (read-only)",
                       description="Serve the operator's dashboard over a ledger file, read-only.")
    p.add_argument("--ledger", metavar="PATH", required=True, help="the ledger (SQLite) to watch")
    p.add_argument("--audit", metavar="PATH", help="its audit log (default <ledger>.audit.jsonl)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between checks for changes (default 1)")
    add_arguments(p, flag=False)
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from tradejet.dashboard.options import check_options
    from tradejet.dashboard.server import serve_view
    from tradejet.dashboard.state import LedgerView
    from tradejet.errors import ConfigError

    token = check_options(args.host, args.port, args.token)
    if not args.interval > 0:
        raise ConfigError(f"--interval must be > 0 seconds, was {args.interval}", key="--interval")
    view = LedgerView(args.ledger, audit_path=args.audit)

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, done.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
                pass
        d = await serve_view(view, host=args.host, port=args.port, token=token, push_interval=args.interval)
        print(f"tradejet: dashboard at {d.url} (read-only, Ctrl-C to stop)", file=sys.stderr, flush=True)
        try:
            await done.wait()
        finally:
            await d.close()

    asyncio.run(main())
    return 0
