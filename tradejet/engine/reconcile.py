"""Reconciliation on start: the ledger (and the engine's book) against what the venue says.

Checks, in order, each finding written to the ledger's reconciliation events and the
audit log (when ``apply``):

1. fills the venue has since the ledger's last one and the ledger lacks (``missed_fill``):
   recorded, and booked by the engine when one is given;
2. open orders: working at the venue but unknown to the ledger (``unknown_open_order``);
   open in the ledger but not at the venue (``order_gone``: marked ``expired`` when
   applied; fills for it arrive through step 1);
3. positions, per symbol (net over strategies): held at the venue and unknown to the
   ledger (``backfilled``: adopted with :meth:`Ledger.adopt_position` under the
   ``defensive`` strategy, which manages it by its exit rules; for the swing system under
   ``swing``, marked backfilled: its exits manage it, no scale-in unless
   ``swing.scale_backfilled``); quantities that differ by more than one lot
   (``quantity_mismatch``: the symbol is blocked for new entries and scale-ins, exits
   stay allowed, ``ctx.unreconciled[p] = True``); a blocked symbol whose quantities agree
   again is unblocked (``reconciled``);
4. cash in the quote currency (``cash_mismatch``, reported only).

>>> import asyncio, tempfile, pathlib
>>> from tradejet.io.ledger import Ledger
>>> from tradejet.testing import FakeVenue
>>> led = Ledger(pathlib.Path(tempfile.mkdtemp()) / "l.sqlite")
>>> rep = asyncio.run(reconcile(led, FakeVenue(), symbols=["BTC/USD"], ts=0))
>>> rep.clean
True
"""

from __future__ import annotations

import math

import msgspec

from tradejet.kernels.codes import Strategy

__all__ = ["Finding", "ReconcileReport", "reconcile"]


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    symbol: str | None
    detail: str


class ReconcileReport(msgspec.Struct, kw_only=True):
    findings: list[Finding] = msgspec.field(default_factory=list)
    missed_fills: int = 0
    adopted: list[str] = msgspec.field(default_factory=list)
    unreconciled: list[str] = msgspec.field(default_factory=list)
    cleared: list[str] = msgspec.field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


def _lot(engine, p: int | None) -> float:
    if engine is None or p is None:
        return 1e-8
    from tradejet.kernels.fills import PAIR

    dec = engine.pair_rows[p, PAIR.LOT_DECIMALS]
    return 10.0 ** -dec if dec == dec else 1e-9


async def reconcile(ledger, venue, *, engine=None, symbols: list[str] | None = None, audit=None, ts: int,
                    apply: bool = True, cash_tolerance: float = 1e-6, system: str | None = None) -> ReconcileReport:
    """Compare ``ledger`` (and ``engine``'s book) with ``venue``; return the findings.

    ``apply=False`` only reports (``tradejet reconcile`` without ``--apply``). ``system``
    (default: the engine's, else crypto) picks who adopts backfilled positions.
    """
    rep = ReconcileReport()
    if system is None:
        system = engine.config.system if engine is not None else "crypto"
    env = engine.env if engine is not None else None
    syms = list(engine.symbols if engine is not None else (symbols or []))
    index = {s: i for i, s in enumerate(syms)}

    def found(kind: str, symbol: str | None, detail: str) -> None:
        rep.findings.append(Finding(kind=kind, symbol=symbol, detail=detail))
        if apply:
            ledger.record_reconciliation(ts, kind, detail, symbol)
            if audit is not None:
                audit.append(f"reconcile.{kind}", {"symbol": symbol, "detail": detail}
                             | ({"env": env} if env else {}))

    # 1. missed fills
    known = {f.trade_id for f in ledger.fills()}
    for f in await venue.fills_since(None):
        if f.trade_id in known:
            continue
        rep.missed_fills += 1
        found("missed_fill", f.symbol, f"trade {f.trade_id} of {f.client_order_id}: {f.side:+d} {f.qty!r} @ "
              f"{f.price!r}")
        if apply:
            if engine is not None:
                engine.on_fill(f)
            else:
                ledger.record_fill(f)

    # 2. open orders
    venue_open = {o.client_order_id: o for o in await venue.open_orders()}
    ledger_open = {o.client_order_id: o for o in ledger.orders(open_only=True)}
    for cid, o in venue_open.items():
        row = ledger.order(cid) if cid else None
        if row is None:
            found("unknown_open_order", o.symbol, f"venue order {o.venue_order_id} ({cid}) is not in the ledger")
        elif not row.is_open:
            found("order_state", o.symbol, f"{cid} is {row.status} in the ledger but open at the venue")
    for cid, row in ledger_open.items():
        if cid not in venue_open:
            found("order_gone", row.symbol, f"{cid} is {row.status} in the ledger but not open at the venue")
            if apply:
                ledger.set_order_status(cid, "expired", ts=ts, detail="not open at the venue on reconcile")

    # 3. positions
    venue_pos = {p.symbol: p for p in await venue.positions()}
    ledger_syms = {p.symbol for p in ledger.positions()}
    for sym in sorted(set(venue_pos) | ledger_syms):
        vq = venue_pos[sym].qty if sym in venue_pos else 0.0
        lq = ledger.net_position(sym)
        p = index.get(sym)
        tol = _lot(engine, p)
        if abs(vq - lq) <= tol:
            if engine is not None and p is not None and engine.ctx.unreconciled[p]:
                found("reconciled", sym, f"venue and ledger agree again ({vq!r}): new entries allowed")
                rep.cleared.append(sym)
                if apply:
                    engine.ctx.unreconciled[p] = False
            continue
        if lq == 0.0 and vq != 0.0:
            avg = venue_pos[sym].avg_price
            owner = Strategy.SWING if system == "swing" else Strategy.DEFENSIVE
            found("backfilled", sym, f"venue holds {vq!r} at {avg!r}, the ledger nothing: adopted by "
                  f"{'swing (exits only)' if owner == Strategy.SWING else 'defensive'}")
            rep.adopted.append(sym)
            if apply:
                ledger.adopt_position(sym, vq, avg if math.isfinite(avg) else 0.0, ts=ts, strategy=owner)
                if engine is not None and p is not None:
                    if owner == Strategy.SWING:
                        from tradejet.engine.swing import adopt_in_book

                        adopt_in_book(engine.ctx, p, vq, avg, ts)
                    else:
                        _adopt_in_book(engine, p, vq, avg, ts)
        else:
            found("quantity_mismatch", sym, f"venue {vq!r}, ledger {lq!r} (lot {tol!r}): new entries blocked")
            rep.unreconciled.append(sym)
            if apply and engine is not None and p is not None:
                engine.ctx.unreconciled[p] = True

    # 4. cash
    quote = engine.quote if engine is not None else (syms[0].split("/", 1)[1] if syms and "/" in syms[0] else "USD")
    vb = {b.asset: b.total for b in await venue.balances()}
    if quote in vb:
        lc = ledger.cash().get(quote, 0.0)
        if abs(vb[quote] - lc) > cash_tolerance * max(1.0, abs(lc)):
            found("cash_mismatch", None, f"{quote}: venue {vb[quote]!r}, ledger {lc!r}")
    return rep


def _adopt_in_book(engine, p: int, qty: float, avg: float, ts: int) -> None:
    """Put an adopted position in the Context under ``defensive`` (its exit rules manage it)."""
    from tradejet.strategies.base import IV_ATR, on_entry_fill_nb

    ctx = engine.ctx
    s = Strategy.DEFENSIVE
    ctx.pos_qty[s, p] = qty
    ctx.pos_avg[s, p] = avg
    if qty > 0:
        on_entry_fill_nb(ctx.pos_state[s, p], ctx.strat_params[s], ts, avg, ctx.iv[p, IV_ATR], True)
