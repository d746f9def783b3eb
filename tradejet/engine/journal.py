"""The live run's event journal: every event the engine consumed, in order, so a restart rebuilds its book exactly.

A live venue's events (bars, executions) depend on wall-clock timing, so a restarted
live run cannot re-make them the way a paper replay does. Instead each event is appended
here *before* the engine sees it (length-prefixed msgpack records of the tagged
:mod:`tradejet.messages` structs, NaN kept as NaN, plus :class:`Control` records for what the runner did to the book: entries
blocked during warm-up, positions adopted, symbols marked unreconciled). On restart,
:func:`replay` feeds the journal through a fresh engine with the same config and run id:
the same decisions come out (client order ids included), nothing is sent, and the book
(indicators, regime, positions, working orders, reserved cash) is what it was at the
kill. A torn last record (a kill mid-write) is dropped.

Durability: :meth:`Journal.append` writes through to the OS; :meth:`Journal.sync`
(fsync) is called before anything leaves the process that depends on the journal (an
order sent, a fill booked), so the journal always holds every event the ledger reflects.

>>> import tempfile, pathlib
>>> from tradejet.messages import BarsComplete
>>> p = pathlib.Path(tempfile.mkdtemp()) / "j.journal"
>>> with Journal(p) as j:
...     j.append(BarsComplete(ts=5))
>>> read_journal(p)
[BarsComplete(ts=5)]
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import msgspec

from tradejet.errors import DataError
from tradejet.messages import (
    Bar,
    BarsComplete,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
)

__all__ = ["Control", "Journal", "JournalEvent", "read_journal", "replay", "apply_control"]


class Control(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Something the runner did to the engine's book besides events.

    ``kind``: ``block`` / ``unblock`` (new entries on ``symbols``, e.g. during warm-up),
    ``adopt`` (a venue position taken over by ``defensive``: ``qty`` at ``price``),
    ``unreconciled`` (``symbols`` blocked until reconciled).
    """

    kind: str
    symbols: list[str] = []
    qty: float = 0.0
    price: float = math.nan
    ts: int = 0


JournalEvent = Bar | BarsComplete | OrderFilled | OrderAccepted | OrderRejected | OrderCanceled | Control
_DECODER = msgspec.msgpack.Decoder(JournalEvent)
_ENCODER = msgspec.msgpack.Encoder()
_LEN = struct.Struct("<I")


class Journal:
    """An append-only journal file (see the module docs)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _trim_torn_tail(self.path)
        self._f = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self.n = 0

    def append(self, event: JournalEvent) -> None:
        """Write one event (through to the OS; :meth:`sync` makes it durable)."""
        b = _ENCODER.encode(event)
        self._f.write(_LEN.pack(len(b)) + b)
        self.n += 1

    def sync(self) -> None:
        """fsync: every appended event survives a crash from here on."""
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if not self._f.closed:
            self.sync()
            self._f.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _records(data: bytes) -> tuple[list[bytes], int]:
    """Split the file into complete records; return them and the length they cover."""
    out, pos, n = [], 0, len(data)
    while pos + 4 <= n:
        (k,) = _LEN.unpack_from(data, pos)
        if pos + 4 + k > n:
            break
        out.append(data[pos + 4: pos + 4 + k])
        pos += 4 + k
    return out, pos


def _trim_torn_tail(path: Path) -> None:
    """Cut a last record a kill left half-written, so appends start on a record boundary."""
    if not path.exists():
        return
    data = path.read_bytes()
    _, end = _records(data)
    if end != len(data):
        with open(path, "rb+") as f:
            f.truncate(end)


def read_journal(path: str | os.PathLike[str]) -> list[JournalEvent]:
    """Return the journal's events; a torn last record is dropped, a broken complete one is an error."""
    p = Path(path)
    if not p.exists():
        return []
    recs, _ = _records(p.read_bytes())
    out: list[JournalEvent] = []
    for i, rec in enumerate(recs):
        try:
            out.append(_DECODER.decode(rec))
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise DataError(f"journal record is not an event: {e}", source=str(p), row=i + 1) from None
    return out


def apply_control(engine, c: Control) -> None:
    """Do to ``engine``'s book what a :class:`Control` record says."""
    from tradejet.engine.reconcile import _adopt_in_book

    idx = [engine.index[s] for s in c.symbols if s in engine.index]
    if c.kind == "block" or c.kind == "unreconciled":
        engine.ctx.unreconciled[idx] = True
    elif c.kind == "unblock":
        engine.ctx.unreconciled[idx] = False
    elif c.kind == "adopt":
        for p in idx:
            _adopt_in_book(engine, p, c.qty, c.price, c.ts)
    else:
        raise DataError(f"unknown journal control {c.kind!r}")


def feed(engine, ev: JournalEvent) -> list:
    """Hand one event to ``engine`` as :meth:`Engine.run` does; return the commands it made."""
    if isinstance(ev, Bar):
        return engine.on_bar(ev)
    if isinstance(ev, BarsComplete):
        return engine.flush(ev.ts)
    if isinstance(ev, OrderFilled):
        engine.on_fill(ev)
    elif isinstance(ev, (OrderAccepted, OrderRejected, OrderCanceled)):
        engine.on_order_event(ev)
    elif isinstance(ev, Control):
        apply_control(engine, ev)
    return []


def replay(engine, events: list[JournalEvent]) -> int:
    """Feed journaled events through ``engine`` (commands dropped: they were sent before); return bars stepped."""
    start = engine.bars_done
    for ev in events:
        feed(engine, ev)
    return engine.bars_done - start


__all__ += ["feed"]
