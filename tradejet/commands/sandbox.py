"""``tradejet sandbox``: run a local Kraken-compatible exchange on 127.0.0.1.

Any Kraken Spot client works against it given the printed base URL (REST) and WebSocket
URL; faults are injected with ``POST /_sandbox/fault`` (see
:mod:`tradejet.adapters.kraken.sandbox.server`).
"""

from __future__ import annotations

import argparse

from tradejet.errors import ConfigError, DataError


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


def replay_market(data: str, timeframe: str | None = None, start: int | None = None):
    """Return an :class:`~tradejet.adapters.kraken.sandbox.market.ArrayMarket` over the bars in ``data``."""
    import numpy as np

    from tradejet.adapters.kraken.sandbox.market import ArrayMarket
    from tradejet.adapters.kraken.sandbox.pairs import ALIASES
    from tradejet.engine.sources import load_bars

    bars, _ = load_bars(data, timeframe)
    interval_s = bars.timeframe_ns // 1_000_000_000
    if interval_s % 60 or interval_s // 60 not in (1, 5, 15, 30, 60, 240, 1440, 10080, 21600):
        raise ConfigError(f"Kraken serves OHLC in 1/5/15/30/60/240/1440/10080/21600-minute intervals; the data's "
                          f"timeframe is {interval_s}s", key="--timeframe", source=data)
    keys = {s: ALIASES.get(s) or ALIASES.get(s.replace("BTC/", "XBT/")) for s in bars.symbols}
    unknown = [s for s, k in keys.items() if k is None]
    if unknown:
        raise ConfigError(f"the sandbox does not list {unknown}; it knows {sorted(set(ALIASES.values()))}",
                          key="--data", source=data)
    full = np.arange(bars.ts[0], bars.ts[-1] + 1, bars.timeframe_ns, dtype=np.int64)
    pos = np.searchsorted(full, bars.ts)
    candles = {}
    for j, s in enumerate(bars.symbols):
        a = np.full((full.shape[0], 5), np.nan)
        a[pos] = np.column_stack([bars.open[:, j], bars.high[:, j], bars.low[:, j], bars.close[:, j],
                                  bars.volume[:, j]])
        candles[keys[s]] = a
    try:
        return ArrayMarket(candles, full // 1_000_000_000, interval_s=int(interval_s), start=start)
    except DataError as e:  # names what is wrong with the data
        raise ConfigError(str(e), key="--data", source=data) from None


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
    src.add_argument("--data", metavar="DIR", help="replay candles from a bar store or a folder of candle files")
    p.add_argument("--timeframe", help="with --data: which timeframe to replay when it holds several")
    p.add_argument("--start", type=int, default=None, metavar="N",
                   help="with --data: the first forming candle (the ones before are OHLC history; default 720)")
    p.add_argument("--participation", type=float, default=None, metavar="X",
                   help="fill at most X * a candle's volume per candle (partial fills); default: no cap")
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

    if args.participation is not None and not args.participation > 0:
        raise ConfigError(f"--participation must be > 0, was {args.participation}", key="--participation")
    market = replay_market(args.data, args.timeframe, args.start) if args.data else None
    if (args.api_key is None) != (args.api_secret is None):
        raise ConfigError("give both --api-key and --api-secret, or neither (a pair is then generated)",
                          key="--api-key/--api-secret")
    creds = Credentials(args.api_key, args.api_secret) if args.api_key else None
    ws_port = args.ws_port if args.ws_port is not None else (args.port + 1 if args.port else 0)
    sb = Sandbox(port=args.port, ws_port=ws_port, credentials=creds, balances=parse_balances(args.balance),
                 seed=args.seed, tier=args.tier, speed=args.speed or None, permissions=args.permissions,
                 market=market, participation=args.participation)

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
