"""``tradejet ledger show|export``: read a ledger (cash, positions, orders, fills)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradejet.config import tradejet_home
from tradejet.errors import DataError

TABLES = ("orders", "order_events", "fills", "positions", "cash", "equity_marks", "reconciliation_events")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ledger", help="show or export a ledger (SQLite)")
    acts = p.add_subparsers(dest="ledger_cmd", metavar="ACTION", required=True)
    s = acts.add_parser("show", help="final cash, positions, equity and order/fill counts")
    s.add_argument("--ledger", help="ledger file (default $TRADEJET_HOME/ledger.sqlite)")
    s.add_argument("--json", action="store_true", help="print JSON, for scripts")
    s.set_defaults(func=_show)
    e = acts.add_parser("export", help="write the ledger's tables as Parquet or CSV")
    e.add_argument("--ledger", help="ledger file (default $TRADEJET_HOME/ledger.sqlite)")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    e.set_defaults(func=_export)


def _open(args: argparse.Namespace):
    from tradejet.io.ledger import Ledger

    path = Path(args.ledger) if args.ledger else tradejet_home() / "ledger.sqlite"
    if not path.is_file():
        raise DataError("no such ledger", source=str(path))
    return Ledger(path)


def _show(args: argparse.Namespace) -> int:
    import msgspec

    with _open(args) as led:
        snap = led.snapshot()
    if args.json:
        sys.stdout.write(msgspec.json.encode(snap).decode() + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{args.ledger or 'ledger'}[/]: {snap.orders} orders ({snap.open_orders} open), "
              f"{snap.fills} fills, equity {snap.equity if snap.equity is not None else 'n/a'}")
    cash = Table("asset", "cash", title="Cash")
    for asset, amount in snap.cash.items():
        cash.add_row(asset, f"{amount:,.2f}")
    con.print(cash)
    pos = Table("symbol", "strategy", "qty", "avg price", "realized P&L", "backfilled", title="Positions")
    for p in snap.positions:
        pos.add_row(p.symbol, str(p.strategy), f"{p.qty:.8g}", f"{p.avg_price:.8g}", f"{p.realized_pnl:,.2f}",
                    "yes" if p.backfilled else "")
    con.print(pos)
    return 0


def _export(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with _open(args) as led:
        for name in TABLES:
            cols, rows = led.table(name)
            table = pa.Table.from_pylist([dict(zip(cols, r)) for r in rows]) if rows else \
                pa.table({c: pa.array([], pa.null()) for c in cols})
            if args.format == "parquet":
                pq.write_table(table, out / f"{name}.parquet")
            else:
                pacsv.write_csv(table, out / f"{name}.csv")
    print(f"wrote {len(TABLES)} tables to {out}")
    return 0
