"""The ledger: orders, fills, positions, cash, equity marks and reconciliation events in SQLite.

Durability rules (DESIGN.md): WAL journal, ``synchronous=FULL``; an order row exists
before its request leaves the process (:meth:`Ledger.record_order`), and a fill is
written in the same transaction that changes positions and cash
(:meth:`Ledger.record_fill`), so a kill -9 at any moment leaves either both or neither.
Both are idempotent: the same client order id or the same venue trade id recorded
twice is kept once, so replays after a crash never double anything.

The exchange's own strings are kept as received in the ``raw`` columns. Times are
int64 ns UTC. Schema changes go through numbered migrations (``PRAGMA user_version``).

>>> import tempfile, pathlib
>>> from tradejet.messages import SubmitOrder
>>> led = Ledger(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite")
>>> led.record_order(SubmitOrder(client_order_id="c1", symbol="BTC/USD", side=1, qty=0.1, order_type=0, ts_init=1))
True
>>> led.order("c1").status
'pending_new'
>>> led.close()
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from tradejet.errors import DataError
from tradejet.messages import OrderFilled, Position, SubmitOrder

__all__ = ["Ledger", "OrderRow", "FillRow", "LedgerSnapshot", "ORDER_STATUSES", "OPEN_STATUSES", "quote_asset"]

ORDER_STATUSES = ("pending_new", "new", "partially_filled", "filled", "canceled", "rejected", "expired", "denied")
OPEN_STATUSES = ("pending_new", "new", "partially_filled")
_QTY_EPS = 1e-12

MIGRATIONS: tuple[str, ...] = (
    # 1: the base schema
    """
    CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        venue_order_id  TEXT,
        symbol          TEXT NOT NULL,
        side            INTEGER NOT NULL CHECK (side IN (-1, 1)),
        order_type      INTEGER NOT NULL,
        qty             REAL NOT NULL CHECK (qty > 0),
        limit_price     REAL,
        stop_price      REAL,
        post_only       INTEGER NOT NULL DEFAULT 0,
        reduce_only     INTEGER NOT NULL DEFAULT 0,
        strategy        INTEGER NOT NULL DEFAULT -1,
        status          TEXT NOT NULL,
        filled_qty      REAL NOT NULL DEFAULT 0,
        avg_fill_price  REAL,
        ts_created      INTEGER NOT NULL,
        ts_updated      INTEGER NOT NULL,
        raw             TEXT
    );
    CREATE INDEX orders_status ON orders (status);
    CREATE TABLE order_events (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
        status          TEXT NOT NULL,
        ts              INTEGER NOT NULL,
        detail          TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE fills (
        trade_id        TEXT PRIMARY KEY,
        client_order_id TEXT NOT NULL,
        venue_order_id  TEXT NOT NULL,
        symbol          TEXT NOT NULL,
        side            INTEGER NOT NULL CHECK (side IN (-1, 1)),
        qty             REAL NOT NULL CHECK (qty > 0),
        price           REAL NOT NULL CHECK (price > 0),
        fee             REAL NOT NULL,
        liquidity       TEXT NOT NULL,
        strategy        INTEGER NOT NULL DEFAULT -1,
        ts_event        INTEGER NOT NULL,
        ts_init         INTEGER NOT NULL,
        raw             TEXT
    );
    CREATE INDEX fills_ts ON fills (ts_event);
    CREATE TABLE positions (
        symbol          TEXT NOT NULL,
        strategy        INTEGER NOT NULL,
        qty             REAL NOT NULL,
        avg_price       REAL NOT NULL,
        realized_pnl    REAL NOT NULL DEFAULT 0,
        fees            REAL NOT NULL DEFAULT 0,
        backfilled      INTEGER NOT NULL DEFAULT 0,
        ts_updated      INTEGER NOT NULL,
        PRIMARY KEY (symbol, strategy)
    );
    CREATE TABLE cash (
        asset           TEXT PRIMARY KEY,
        amount          REAL NOT NULL,
        ts_updated      INTEGER NOT NULL
    );
    CREATE TABLE equity_marks (
        ts              INTEGER PRIMARY KEY,
        equity          REAL NOT NULL,
        cash            REAL NOT NULL
    );
    CREATE TABLE reconciliation_events (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        ts              INTEGER NOT NULL,
        kind            TEXT NOT NULL,
        symbol          TEXT,
        detail          TEXT NOT NULL
    );
    CREATE TABLE meta (
        key             TEXT PRIMARY KEY,
        value           TEXT NOT NULL
    );
    """,
)


class OrderRow(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    venue_order_id: str | None
    symbol: str
    side: int
    order_type: int
    qty: float
    limit_price: float
    stop_price: float
    post_only: bool
    reduce_only: bool
    strategy: int
    status: str
    filled_qty: float
    avg_fill_price: float
    ts_created: int
    ts_updated: int
    raw: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class FillRow(msgspec.Struct, frozen=True, kw_only=True):
    trade_id: str
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: int
    qty: float
    price: float
    fee: float
    liquidity: str
    strategy: int
    ts_event: int
    ts_init: int
    raw: str | None = None


class LedgerSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What ``tradejet ledger show --json`` prints: final cash, positions, equity, counts."""

    cash: dict[str, float]
    positions: list[Position]
    equity: float | None
    equity_ts: int | None
    orders: int
    open_orders: int
    fills: int


def quote_asset(symbol: str) -> str:
    """Return the quote currency of a canonical symbol (``BTC/USD`` -> ``USD``; equities: ``USD``)."""
    return symbol.split("/", 1)[1] if "/" in symbol else "USD"


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _none_to_nan(x: float | None) -> float:
    return float("nan") if x is None else float(x)


class Ledger:
    """A SQLite ledger (WAL, synchronous=FULL). One writer process at a time.

    Parameters
    ----------
    path : the database file; created (with its folder) and migrated if needed.
    clock : int ns UTC, for ``ts_updated`` stamps; injectable for tests.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock=time.time_ns):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise DataError(f"not a usable ledger database: {e}", source=str(self.path)) from None

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise DataError(f"ledger schema version {version} is newer than this tradejet "
                            f"({len(MIGRATIONS)}): upgrade tradejet", source=str(self.path))
        for n in range(version, len(MIGRATIONS)):
            with self._tx():
                for stmt in filter(str.strip, MIGRATIONS[n].split(";")):
                    self._db.execute(stmt)
                self._db.execute(f"PRAGMA user_version = {n + 1}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    # -- orders ----------------------------------------------------------------------------
    def record_order(self, order: SubmitOrder, *, raw: str | None = None) -> bool:
        """Write an order before it is sent. Return False if that client id exists already."""
        if not order.qty > 0:
            raise DataError(f"order qty must be > 0, was {order.qty}", source=order.client_order_id)
        if order.side not in (-1, 1):
            raise DataError(f"order side must be 1 or -1, was {order.side}", source=order.client_order_id)
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO orders (client_order_id, symbol, side, order_type, qty, limit_price, "
                "stop_price, post_only, reduce_only, strategy, status, ts_created, ts_updated, raw) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,'pending_new',?,?,?)",
                (order.client_order_id, order.symbol, order.side, order.order_type, order.qty,
                 _nan_to_none(order.limit_price), _nan_to_none(order.stop_price), int(order.post_only),
                 int(order.reduce_only), order.strategy, order.ts_init, order.ts_init, raw))
            if cur.rowcount == 0:
                return False
            db.execute("INSERT INTO order_events (client_order_id, status, ts) VALUES (?, 'pending_new', ?)",
                       (order.client_order_id, order.ts_init))
        return True

    def set_order_status(self, client_order_id: str, status: str, *, ts: int,
                         venue_order_id: str | None = None, detail: str = "", raw: str | None = None) -> None:
        """Move an order to ``status`` and keep the step in its history."""
        if status not in ORDER_STATUSES:
            raise DataError(f"unknown order status {status!r}; expected one of {ORDER_STATUSES}")
        with self._tx() as db:
            cur = db.execute(
                "UPDATE orders SET status = ?, ts_updated = ?, venue_order_id = COALESCE(?, venue_order_id), "
                "raw = COALESCE(?, raw) WHERE client_order_id = ?",
                (status, ts, venue_order_id, raw, client_order_id))
            if cur.rowcount == 0:
                raise DataError(f"no order with client id {client_order_id!r} in the ledger", source=str(self.path))
            db.execute("INSERT INTO order_events (client_order_id, status, ts, detail) VALUES (?,?,?,?)",
                       (client_order_id, status, ts, detail))

    _ORDER_COLS = ("client_order_id, venue_order_id, symbol, side, order_type, qty, limit_price, stop_price, "
                   "post_only, reduce_only, strategy, status, filled_qty, avg_fill_price, ts_created, ts_updated, raw")

    def _order_row(self, r: tuple) -> OrderRow:
        return OrderRow(client_order_id=r[0], venue_order_id=r[1], symbol=r[2], side=r[3], order_type=r[4],
                        qty=r[5], limit_price=_none_to_nan(r[6]), stop_price=_none_to_nan(r[7]),
                        post_only=bool(r[8]), reduce_only=bool(r[9]), strategy=r[10], status=r[11],
                        filled_qty=r[12], avg_fill_price=_none_to_nan(r[13]), ts_created=r[14],
                        ts_updated=r[15], raw=r[16])

    def order(self, client_order_id: str) -> OrderRow | None:
        r = self._db.execute(f"SELECT {self._ORDER_COLS} FROM orders WHERE client_order_id = ?",
                             (client_order_id,)).fetchone()
        return None if r is None else self._order_row(r)

    def orders(self, *, open_only: bool = False) -> list[OrderRow]:
        where = f"WHERE status IN ({','.join('?' * len(OPEN_STATUSES))})" if open_only else ""
        rows = self._db.execute(f"SELECT {self._ORDER_COLS} FROM orders {where} ORDER BY ts_created, rowid",
                                OPEN_STATUSES if open_only else ()).fetchall()
        return [self._order_row(r) for r in rows]

    def order_history(self, client_order_id: str) -> list[tuple[str, int, str]]:
        return self._db.execute("SELECT status, ts, detail FROM order_events WHERE client_order_id = ? ORDER BY id",
                                (client_order_id,)).fetchall()

    # -- fills -----------------------------------------------------------------------------
    def record_fill(self, fill: OrderFilled, *, strategy: int | None = None, raw: str | None = None) -> bool:
        """Write a fill and apply it to its order, position and cash in one transaction.

        Return False, changing nothing, when that trade id is already in the ledger.
        The strategy defaults to the order's (fills of unknown orders go to strategy -1).
        """
        if not (fill.qty > 0 and math.isfinite(fill.qty)):
            raise DataError(f"fill qty must be > 0, was {fill.qty}", source=fill.trade_id)
        if not (fill.price > 0 and math.isfinite(fill.price)):
            raise DataError(f"fill price must be > 0, was {fill.price}", source=fill.trade_id)
        if fill.side not in (-1, 1):
            raise DataError(f"fill side must be 1 or -1, was {fill.side}", source=fill.trade_id)
        with self._tx() as db:
            if db.execute("SELECT 1 FROM fills WHERE trade_id = ?", (fill.trade_id,)).fetchone():
                return False
            o = db.execute("SELECT strategy, qty, filled_qty, avg_fill_price FROM orders WHERE client_order_id = ?",
                           (fill.client_order_id,)).fetchone()
            strat = strategy if strategy is not None else (o[0] if o else -1)
            db.execute("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (fill.trade_id, fill.client_order_id, fill.venue_order_id, fill.symbol, fill.side, fill.qty,
                        fill.price, fill.fee, fill.liquidity, strat, fill.ts_event, fill.ts_init, raw))
            if o:
                filled = o[2] + fill.qty
                avg = fill.price if o[3] is None else (o[3] * o[2] + fill.price * fill.qty) / filled
                status = "filled" if filled >= o[1] - _QTY_EPS * max(1.0, o[1]) else "partially_filled"
                db.execute("UPDATE orders SET filled_qty = ?, avg_fill_price = ?, status = ?, ts_updated = ?, "
                           "venue_order_id = COALESCE(venue_order_id, ?) WHERE client_order_id = ?",
                           (filled, avg, status, fill.ts_event, fill.venue_order_id, fill.client_order_id))
                db.execute("INSERT INTO order_events (client_order_id, status, ts, detail) VALUES (?,?,?,?)",
                           (fill.client_order_id, status, fill.ts_event, f"fill {fill.trade_id}"))
            self._apply_to_position(db, fill, strat)
            quote = quote_asset(fill.symbol)
            delta = -fill.side * fill.qty * fill.price - fill.fee
            db.execute("INSERT INTO cash (asset, amount, ts_updated) VALUES (?, ?, ?) "
                       "ON CONFLICT(asset) DO UPDATE SET amount = amount + excluded.amount, "
                       "ts_updated = excluded.ts_updated", (quote, delta, fill.ts_event))
        return True

    @staticmethod
    def _apply_to_position(db: sqlite3.Connection, fill: OrderFilled, strategy: int) -> None:
        row = db.execute("SELECT qty, avg_price, realized_pnl, fees FROM positions WHERE symbol = ? AND strategy = ?",
                         (fill.symbol, strategy)).fetchone()
        qty, avg, realized, fees = row if row else (0.0, 0.0, 0.0, 0.0)
        signed = fill.side * fill.qty
        new_qty = qty + signed
        if qty == 0 or (qty > 0) == (signed > 0):  # opening or adding
            avg = (avg * abs(qty) + fill.price * fill.qty) / abs(new_qty)
        else:  # reducing, closing or flipping
            closed = min(abs(signed), abs(qty))
            realized += closed * (fill.price - avg) * (1 if qty > 0 else -1)
            if abs(new_qty) <= _QTY_EPS * max(1.0, abs(qty)):
                new_qty, avg = 0.0, 0.0
            elif (new_qty > 0) != (qty > 0):  # flipped through zero: the rest opens at the fill price
                avg = fill.price
        db.execute("INSERT INTO positions (symbol, strategy, qty, avg_price, realized_pnl, fees, ts_updated) "
                   "VALUES (?,?,?,?,?,?,?) ON CONFLICT(symbol, strategy) DO UPDATE SET qty = excluded.qty, "
                   "avg_price = excluded.avg_price, realized_pnl = excluded.realized_pnl, fees = excluded.fees, "
                   "ts_updated = excluded.ts_updated",
                   (fill.symbol, strategy, new_qty, avg, realized, fees + fill.fee, fill.ts_event))

    def fills(self, *, since_ts: int | None = None) -> list[FillRow]:
        rows = self._db.execute("SELECT * FROM fills WHERE ts_event >= ? ORDER BY ts_event, rowid",
                                (since_ts if since_ts is not None else -(2**62),)).fetchall()
        return [FillRow(trade_id=r[0], client_order_id=r[1], venue_order_id=r[2], symbol=r[3], side=r[4], qty=r[5],
                        price=r[6], fee=r[7], liquidity=r[8], strategy=r[9], ts_event=r[10], ts_init=r[11], raw=r[12])
                for r in rows]

    def last_fill_ts(self) -> int | None:
        return self._db.execute("SELECT MAX(ts_event) FROM fills").fetchone()[0]

    # -- positions and cash ------------------------------------------------------------------
    def positions(self, *, include_flat: bool = False) -> list[Position]:
        rows = self._db.execute("SELECT symbol, strategy, qty, avg_price, realized_pnl, backfilled FROM positions "
                                "ORDER BY symbol, strategy").fetchall()
        return [Position(symbol=r[0], strategy=r[1], qty=r[2], avg_price=r[3], realized_pnl=r[4],
                         backfilled=bool(r[5])) for r in rows if include_flat or r[2] != 0.0]

    def net_position(self, symbol: str) -> float:
        """The symbol's quantity summed over strategies (what the venue sees)."""
        return float(self._db.execute("SELECT COALESCE(SUM(qty), 0) FROM positions WHERE symbol = ?",
                                      (symbol,)).fetchone()[0])

    def adopt_position(self, symbol: str, qty: float, avg_price: float, *, ts: int, strategy: int = -1) -> None:
        """Adopt a position found at the venue that the ledger did not know ("backfilled")."""
        if not (math.isfinite(qty) and math.isfinite(avg_price) and avg_price >= 0):
            raise DataError(f"cannot adopt {symbol}: qty {qty}, avg price {avg_price}")
        with self._tx() as db:
            db.execute("INSERT INTO positions (symbol, strategy, qty, avg_price, backfilled, ts_updated) "
                       "VALUES (?,?,?,?,1,?) ON CONFLICT(symbol, strategy) DO UPDATE SET qty = excluded.qty, "
                       "avg_price = excluded.avg_price, backfilled = 1, ts_updated = excluded.ts_updated",
                       (symbol, strategy, qty, avg_price, ts))
            db.execute("INSERT INTO reconciliation_events (ts, kind, symbol, detail) VALUES (?, 'backfilled', ?, ?)",
                       (ts, symbol, f"adopted qty {qty!r} at avg price {avg_price!r}"))

    def set_cash(self, asset: str, amount: float, *, ts: int) -> None:
        if not math.isfinite(amount):
            raise DataError(f"cash for {asset} must be finite, was {amount}")
        with self._tx() as db:
            db.execute("INSERT INTO cash (asset, amount, ts_updated) VALUES (?,?,?) ON CONFLICT(asset) DO UPDATE "
                       "SET amount = excluded.amount, ts_updated = excluded.ts_updated", (asset, amount, ts))

    def cash(self) -> dict[str, float]:
        return dict(self._db.execute("SELECT asset, amount FROM cash ORDER BY asset").fetchall())

    # -- marks, reconciliation, meta -----------------------------------------------------------
    def mark_equity(self, ts: int, equity: float, cash: float) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO equity_marks VALUES (?,?,?)", (ts, equity, cash))

    def equity_marks(self) -> list[tuple[int, float, float]]:
        return self._db.execute("SELECT ts, equity, cash FROM equity_marks ORDER BY ts").fetchall()

    def record_reconciliation(self, ts: int, kind: str, detail: str, symbol: str | None = None) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO reconciliation_events (ts, kind, symbol, detail) VALUES (?,?,?,?)",
                       (ts, kind, symbol, detail))

    def reconciliation_events(self) -> list[tuple[int, str, str | None, str]]:
        return self._db.execute("SELECT ts, kind, symbol, detail FROM reconciliation_events ORDER BY id").fetchall()

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        r = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if r is None else r[0]

    # -- reading it all --------------------------------------------------------------------------
    def snapshot(self) -> LedgerSnapshot:
        mark = self._db.execute("SELECT ts, equity FROM equity_marks ORDER BY ts DESC LIMIT 1").fetchone()
        n_orders, n_open = self._db.execute(
            f"SELECT COUNT(*), SUM(status IN ({','.join('?' * len(OPEN_STATUSES))})) FROM orders",
            OPEN_STATUSES).fetchone()
        return LedgerSnapshot(cash=self.cash(), positions=self.positions(), equity=mark[1] if mark else None,
                              equity_ts=mark[0] if mark else None, orders=n_orders, open_orders=n_open or 0,
                              fills=self._db.execute("SELECT COUNT(*) FROM fills").fetchone()[0])

    def table(self, name: str) -> tuple[list[str], list[tuple]]:
        """Return (column names, rows) of one table, for export."""
        if name not in ("orders", "order_events", "fills", "positions", "cash", "equity_marks",
                        "reconciliation_events"):
            raise DataError(f"no ledger table {name!r}")
        cur = self._db.execute(f"SELECT * FROM {name}")
        return [d[0] for d in cur.description], cur.fetchall()
