"""``tradejet data import|list|show|resample|synth``: the bar store from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _store(args):
    from tradejet.config import default_store_dir
    from tradejet.io.store import BarStore

    return BarStore(args.store if args.store else default_store_dir())


def _console():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="DIR", help="bar store folder (default: $TRADEJET_HOME/data)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="import, list, show and resample stored bars")
    cmds = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    imp = cmds.add_parser("import", help="import bar or trade files into the store (bad rows quarantined)")
    imp.add_argument("paths", nargs="+", metavar="PATH",
                     help="files (.csv, .csv.gz, .parquet, Kraken .zip; ARCHIVE.zip:MEMBER picks a member)")
    imp.add_argument("--symbol", required=True, help="symbol, e.g. XBT/USD")
    imp.add_argument("--timeframe", required=True, help="bar length: 1m, 5m, 15m, 1h, 4h, 1d (trades: bars to build)")
    imp.add_argument("--format", choices=("kraken", "kraken-trades", "csv", "parquet"),
                     help="input format (default: detected from the name and first line)")
    imp.add_argument("--venue", default="kraken", help="venue folder in the store (default: kraken)")
    imp.add_argument("--strict", action="store_true",
                     help="stop at the first bad row (default: quarantine bad rows to <store>/rejected/)")
    _add_store(imp)
    imp.set_defaults(func=cmd_import)

    ls = cmds.add_parser("list", help="list stored series: symbol, timeframe, first, last, rows, gaps")
    _add_store(ls)
    ls.set_defaults(func=cmd_list)

    sh = cmds.add_parser("show", help="print the last bars of a series")
    sh.add_argument("symbol")
    sh.add_argument("--timeframe", required=True)
    sh.add_argument("--last", type=int, default=20, metavar="N", help="bars to show (default 20)")
    sh.add_argument("--venue", help="venue (needed only when several hold the symbol)")
    _add_store(sh)
    sh.set_defaults(func=cmd_show)

    rs = cmds.add_parser("resample", help="build a coarser timeframe from a stored one (UTC buckets, gaps kept)")
    rs.add_argument("symbol")
    rs.add_argument("--from", dest="src", required=True, metavar="TF", help="stored timeframe, e.g. 1m")
    rs.add_argument("--to", dest="dst", required=True, metavar="TF", help="target timeframe, e.g. 1h")
    rs.add_argument("--venue", help="venue (needed only when several hold the symbol)")
    _add_store(rs)
    rs.set_defaults(func=cmd_resample)

    dl = cmds.add_parser("download", help="download candles from Kraken (OHLC for the last 720, Trades before)")
    dl.add_argument("--symbol", required=True, help="pair, any of Kraken's names: BTC/USD, XBTUSD, XXBTZUSD")
    dl.add_argument("--timeframe", default="1m", help="1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w, 15d (default 1m)")
    dl.add_argument("--since", required=True, metavar="DATE",
                    help="first candle, UTC: 2026-11-01, 2026-11-01T12:00, or Unix seconds")
    dl.add_argument("--base-url", default=None, metavar="URL",
                    help="Kraken REST base URL (default https://api.kraken.com; the sandbox: http://127.0.0.1:8787)")
    dl.add_argument("--config", metavar="FILE", help="config file (its universe maps pair names)")
    dl.add_argument("--venue", default="kraken", help="venue folder in the store (default: kraken)")
    _add_store(dl)
    dl.set_defaults(func=cmd_download)

    sy = cmds.add_parser("synth", help="write the seeded synthetic market to the store (demo data)")
    sy.add_argument("--days", type=float, default=30.0)
    sy.add_argument("--timeframe", default="1m")
    sy.add_argument("--seed", type=int, default=0)
    sy.add_argument("--symbols", nargs="+", help="default: the ten USD majors")
    sy.add_argument("--venue", default="synthetic")
    _add_store(sy)
    sy.set_defaults(func=cmd_synth)


def cmd_import(args) -> int:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tradejet.io.importers import import_files

    store = _store(args)
    steps = len(args.paths) * 2 + len(args.paths)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("import", total=steps)

        def on_step(source: str, what: str) -> None:
            name = source if what == "write" else Path(source).name
            progress.update(task, description=f"{what} {name}", advance=1)

        report = import_files(args.paths, store, symbol=args.symbol, timeframe=args.timeframe, venue=args.venue,
                              fmt=args.format, strict=args.strict, on_step=on_step)
    for f in report.files:
        if len(report.files) > 1 or f.rejected or f.warning:
            line = f"{f.source}: {f.summary()}"
            if f.rejected_path:
                line += f"; rejected rows in {f.rejected_path}"
            print(line)
    print(report.summary())
    return 0


def _fmt(ts: int | None) -> str:
    from tradejet.io.timeframes import fmt_ts

    return "-" if ts is None else fmt_ts(ts)


def cmd_list(args) -> int:
    from rich.table import Table

    store = _store(args)
    infos = store.list()
    if not infos:
        print(f"no bars in the store {store.root}")
        return 0
    table = Table(title=f"bars in {store.root}")
    for name in ("venue", "symbol", "timeframe", "first", "last", "rows", "gaps"):
        table.add_column(name, justify="right" if name in ("rows", "gaps") else "left")
    for i in infos:
        table.add_row(i.venue, i.symbol, i.timeframe, _fmt(i.first), _fmt(i.last), str(i.rows), str(i.gaps))
    _console().print(table)
    return 0


def cmd_show(args) -> int:
    from rich.table import Table

    from tradejet.errors import DataError
    from tradejet.io.symbols import canonical_symbol
    from tradejet.io.timeframes import timeframe_name

    if args.last < 1:
        raise DataError(f"--last must be >= 1, was {args.last}")
    store = _store(args)
    venue = store.find(args.symbol, args.timeframe, args.venue)
    table_all = store.read_table(venue, args.symbol, args.timeframe)
    n = table_all.num_rows
    from tradejet.io.store import table_columns

    cols = table_columns(table_all.slice(max(n - args.last, 0)))
    table = Table(title=f"{canonical_symbol(args.symbol)} {timeframe_name(args.timeframe)} @ {venue} "
                        f"(last {cols['ts'].size} of {n})")
    for name in ("ts", "open", "high", "low", "close", "volume", "trades"):
        table.add_column(name, justify="left" if name == "ts" else "right")
    for k in range(cols["ts"].size):
        t = cols["trades"][k]
        table.add_row(_fmt(int(cols["ts"][k])), *(f"{cols[c][k]:.10g}" for c in ("open", "high", "low", "close")),
                      f"{cols['volume'][k]:.8g}", "-" if t != t else f"{t:.0f}")
    _console().print(table)
    return 0


def cmd_resample(args) -> int:
    from tradejet.errors import DataError
    from tradejet.io.symbols import canonical_symbol
    from tradejet.io.timeframes import parse_timeframe, timeframe_name
    from tradejet.io.validate import validate_bars
    from tradejet.kernels.resample import resample_bars

    src_ns, dst_ns = parse_timeframe(args.src), parse_timeframe(args.dst)
    if dst_ns <= src_ns or dst_ns % src_ns:
        raise DataError(f"--to must be a whole multiple of --from ({timeframe_name(args.src)}), was "
                        f"{timeframe_name(args.dst)}")
    store = _store(args)
    venue = store.find(args.symbol, args.src, args.venue)
    cols = store.read(venue, args.symbol, args.src)
    out = resample_bars(cols["ts"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"],
                        cols["trades"], bucket_ns=dst_ns)
    bars = dict(zip(("ts", "open", "high", "low", "close", "volume", "trades"), out[:7]))
    validate_bars(bars, dst_ns, source=f"resample {args.src}->{args.dst}", strict=True)
    partial = int((out[7] < dst_ns // src_ns).sum())
    r = store.write(venue, args.symbol, args.dst, bars)
    print(f"{canonical_symbol(args.symbol)} @ {venue}: {cols['ts'].size} {timeframe_name(args.src)} bars -> "
          f"{bars['ts'].size} {timeframe_name(args.dst)} bars ({partial} built from fewer than "
          f"{dst_ns // src_ns} bars); {r.added} added, {r.replaced} replaced, {r.total} stored")
    return 0


def cmd_synth(args) -> int:
    from tradejet.io.synthetic import synthetic_market

    store = _store(args)
    m = synthetic_market(days=args.days, timeframe=args.timeframe, seed=args.seed, symbols=args.symbols)
    added = m.to_store(store, args.venue)
    print(f"synthetic market (seed {args.seed}): {len(m.symbols)} symbols x {m.ts.size} {m.timeframe} bars; "
          f"{added} bars added to {store.root} @ {args.venue}")
    return 0


def parse_since(text: str) -> int:
    """Return ``--since`` (``2026-11-01``, ``2026-11-01T12:00[:00][Z]``, Unix seconds) as Unix ns, UTC.

    >>> parse_since("1970-01-02"), parse_since("60")
    (86400000000000, 60000000000)
    """
    import datetime as dt

    from tradejet.errors import ConfigError

    t = text.strip()
    if t.isdigit():
        return int(t) * 1_000_000_000
    try:
        d = dt.datetime.fromisoformat(t.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise ConfigError(f"--since must be a UTC date like 2026-11-01 or 2026-11-01T12:00, or Unix seconds;"
                          f" was {text!r}", key="--since") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp()) * 1_000_000_000 + d.microsecond * 1000


def cmd_download(args) -> int:
    import asyncio
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from tradejet.adapters.kraken.download import download_bars
    from tradejet.adapters.kraken.http import DEFAULT_BASE_URL, KrakenHttp
    from tradejet.config import load_config
    from tradejet.engine.universe import Universe
    from tradejet.errors import ConfigError

    since = parse_since(args.since)
    if since > time.time_ns():
        raise ConfigError(f"--since is in the future: {args.since}", key="--since")
    cfg = load_config(args.config)
    universe = Universe.from_config(cfg.universe)
    pair = universe.pair(args.symbol)  # canonical <-> Kraken names come from the universe
    store = _store(args)

    async def main():
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[pos]}"),
                      TimeElapsedColumn(), TimeRemainingColumn(), transient=True,
                      disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task(f"{pair.symbol} {args.timeframe}", total=None, pos="")

            def on_progress(done: int, end: int, phase: str) -> None:
                from tradejet.io.timeframes import fmt_ts

                start = since - since % 60_000_000_000
                bar.update(task, total=max(end - start, 1), completed=max(done - start, 0),
                           description=f"{pair.symbol} {args.timeframe} {phase}", pos=fmt_ts(done))

            async with KrakenHttp(base_url=args.base_url or DEFAULT_BASE_URL) as client:
                return await download_bars(client, store, pair=pair.pair_key, symbol=pair.symbol,
                                           timeframe=args.timeframe, since_ns=since, venue=args.venue,
                                           progress=on_progress)

    report = asyncio.run(main())
    print(report.summary())
    return 0
