"""``tradejet sandbox``: run a local Kraken-compatible exchange on 127.0.0.1.

Any Kraken Spot client works against it given the printed base URL (REST) and WebSocket
URL; faults are injected with ``POST /_sandbox/fault`` (see
:mod:`tradejet.adapters.kraken.sandbox.server`).
"""

from __future__ import annotations

import argparse

from tradejet.errors import ConfigError


def parse_balances(items: list[str] | None) -> dict[str, str]:
    """Return ``["USD=10000", "BTC=0.5"]`` as Kraken asset ids: ``{"ZUSD": "10000", "XXBT": "0.5"}``."""
    from decimal import Decimal, InvalidOperation

    from tradejet.adapters.kraken.sandbox.pairs import ASSETS

    names = {"BTC": "XXBT", "DOGE": "XXDG"}
    for key, rec in ASSETS.items():
        names[key] = key
        names[rec["altname"]] = key
    out: dict[str, str] = {}
    for item in items or ["USD=10000"]:
        asset, sep, amount = item.partition("=")
        if not sep:
            raise ConfigError(f"--balance takes ASSET=AMOUNT, was {item!r}", key="--balance")
        key = names.get(asset.strip().upper())
        if key is None:
            raise ConfigError(f"unknown asset {asset!r}; one of {sorted(set(names) - set(ASSETS))}", key="--balance")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise ConfigError(f"balance must be a number, was {amount!r}", key="--balance") from None
        if not value.is_finite() or value < 0:
            raise ConfigError(f"balance must be >= 0, was {amount}", key="--balance")
        out[key] = amount
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sandbox", help="run a local Kraken-compatible exchange (REST + WebSocket v2) on 127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="REST port (0 = any free port); default 8787")
    p.add_argument("--ws-port", type=int, default=None, help="WebSocket v2 port; default REST port + 1")
    p.add_argument("--api-key", default=None, help="API key to accept (a key pair is generated when omitted)")
    p.add_argument("--api-secret", default=None, help="base64 API secret to accept")
    p.add_argument("--balance", action="append", metavar="ASSET=AMOUNT",
                   help="starting balance, repeatable (default USD=10000)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--synthetic", action="store_true", help="replay a seeded synthetic market (the default)")
    src.add_argument("--data", metavar="DIR", help="replay candles from a bar store (not available yet)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic market")
    p.add_argument("--speed", type=float, default=1.0,
                   help="market seconds per wall-clock second: 1 = real time, candles aligned to the clock"
                        " (default); 60 = one 1-minute candle per second; 0 = only POST /_sandbox/advance")
    p.add_argument("--permissions", default=None, metavar="LIST",
                   help="what the key may do, comma list of funds, open, closed, trade, cancel, websocket"
                        " (default all); e.g. 'funds,open,closed' makes a key without trading rights")
    p.add_argument("--tier", choices=["starter", "intermediate", "pro"], default="starter",
                   help="Kraken verification tier whose rate limits are enforced")
    p.add_argument("--venue", choices=["kraken", "alpaca"], default="kraken",
                   help="kraken (default) or alpaca: a local Alpaca trading + daily-bars server (--data: a folder of"
                        " {SYMBOL}_1d.csv; --speed: market seconds per wall second; --balance USD=...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    if getattr(args, "venue", "kraken") == "alpaca":
        from tradejet.adapters.alpaca.server import run_sandbox

        return run_sandbox(args)

    from tradejet.adapters.kraken.auth import Credentials
    from tradejet.adapters.kraken.sandbox import Sandbox

    if args.data:
        raise ConfigError("--data needs the bar store, which is not wired in yet; use --synthetic", key="--data")
    if (args.api_key is None) != (args.api_secret is None):
        raise ConfigError("give both --api-key and --api-secret, or neither (a pair is then generated)",
                          key="--api-key/--api-secret")
    creds = Credentials(args.api_key, args.api_secret) if args.api_key else None
    ws_port = args.ws_port if args.ws_port is not None else (args.port + 1 if args.port else 0)
    sb = Sandbox(port=args.port, ws_port=ws_port, credentials=creds, balances=parse_balances(args.balance),
                 seed=args.seed, tier=args.tier, speed=args.speed or None, permissions=args.permissions)

    async def main() -> None:
        await sb.start()
        print(f"Kraken sandbox REST      {sb.base_url}", flush=True)
        print(f"Kraken sandbox WebSocket {sb.ws_url}", flush=True)
        if creds is None:
            # generated for this run only: printed so the user can configure a client
            print(f"KRAKEN_API_KEY={sb.credentials.api_key}", flush=True)
            print(f"KRAKEN_API_SECRET={sb.credentials.reveal_secret()}", flush=True)
        print("faults: POST /_sandbox/fault {\"kind\": \"drop_response\", \"endpoint\": \"AddOrder\"}; Ctrl-C stops",
              flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await sb.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0
