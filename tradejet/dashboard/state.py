"""What the dashboard shows, read from a running engine (:class:`EngineView`) or a ledger file (:class:`LedgerView`).

Both views answer the same questions with the structs of :mod:`tradejet.dashboard.schema`.
:class:`EngineView` reads the engine's in-memory book (the step's context arrays, its
working orders, its log) and, for fills and reconciliation findings, the ledger through a
second, read-only SQLite connection (WAL lets a reader run beside the writer).
:class:`LedgerView` has only the ledger and the audit log: it never writes, and the
engine-only figures (latency, regime) are null.

Everything here runs on the engine's event loop between two events, so each answer
is cheap: a few indexed SQLite reads with ``LIMIT``, the audit log's tail (not the
whole file), and an equity curve kept incrementally (:class:`EquityTracker`).
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import msgspec
import orjson

from tradejet.dashboard.schema import (
    Alert,
    AuditEvent,
    EquityCurve,
    EquityPoint,
    FillView,
    Latency,
    OpenOrder,
    PnlReport,
    PnlRow,
    PositionView,
    ReconFinding,
    Status,
    TimelineSegment,
    Update,
)
from tradejet.errors import DataError
from tradejet.kernels.codes import ORDER_TYPE_TEXT, REGIME_TEXT, STRATEGY_TEXT, TRADING_STATE_TEXT

__all__ = ["EngineView", "LedgerView", "LedgerReader", "EquityTracker", "audit_tail"]

OPEN_STATUSES = ("pending_new", "new", "partially_filled")
MODEL_REFUSED_EVENTS = ("model_refused",)


def strategy_name(code: int) -> str:
    return STRATEGY_TEXT[code] if 0 <= code < len(STRATEGY_TEXT) else "unassigned"


def side_text(side: int) -> str:
    return "buy" if side > 0 else "sell"


def _finite(x: float) -> float | None:
    return float(x) if x == x and math.isfinite(x) else None


def active_names(mask: int) -> list[str]:
    return [STRATEGY_TEXT[s] for s in range(len(STRATEGY_TEXT)) if mask >> s & 1]


class LedgerReader:
    """A read-only SQLite connection to a ledger (``mode=ro``: this process can never write it)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError("no such ledger file", source=str(self.path))
        try:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0,
                                       check_same_thread=False)
            names = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise DataError(f"not a usable ledger database: {e}", source=str(self.path)) from None
        missing = {"orders", "fills", "positions", "equity_marks", "reconciliation_events", "meta"} - names
        if missing:
            raise DataError(f"not a tradejet ledger: no table(s) {sorted(missing)}", source=str(self.path))

    def close(self) -> None:
        self._db.close()

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise DataError(f"ledger read failed: {e}", source=str(self.path)) from None

    def recent_fills(self, limit: int) -> list[FillView]:
        rows = self._q("SELECT trade_id, client_order_id, symbol, side, qty, price, fee, strategy, ts_event "
                       "FROM fills ORDER BY rowid DESC LIMIT ?", (limit,))
        return [FillView(trade_id=r[0], client_order_id=r[1], symbol=r[2], side=side_text(r[3]), qty=r[4],
                         price=r[5], fee=r[6], strategy=strategy_name(r[7]), ts_event=r[8]) for r in rows]

    def fill_count(self) -> int:
        return int(self._q("SELECT COALESCE(MAX(rowid), 0) FROM fills")[0][0])

    def open_orders(self) -> list[OpenOrder]:
        rows = self._q("SELECT client_order_id, symbol, side, order_type, qty, filled_qty, limit_price, stop_price, "
                       f"strategy, status, ts_created FROM orders WHERE status IN ({','.join('?' * 3)}) "
                       "ORDER BY ts_created, rowid", OPEN_STATUSES)
        return [OpenOrder(client_order_id=r[0], symbol=r[1], side=side_text(r[2]),
                          order_type=ORDER_TYPE_TEXT[r[3]] if 0 <= r[3] < len(ORDER_TYPE_TEXT) else str(r[3]),
                          qty=r[4], filled_qty=r[5], price=r[6] if r[6] is not None else r[7],
                          strategy=strategy_name(r[8]), status=r[9], ts_created=r[10]) for r in rows]

    def positions(self) -> list[tuple[str, int, float, float, float, float]]:
        """``(symbol, strategy, qty, avg_price, realized_pnl, fees)`` of every row, flat ones too."""
        return self._q("SELECT symbol, strategy, qty, avg_price, realized_pnl, fees FROM positions "
                       "ORDER BY symbol, strategy")

    def equity_marks(self, after_ts: int) -> list[tuple[int, float]]:
        return self._q("SELECT ts, equity FROM equity_marks WHERE ts > ? ORDER BY ts", (after_ts,))

    def reconciliation(self, limit: int = 200) -> list[ReconFinding]:
        rows = self._q("SELECT ts, kind, symbol, detail FROM reconciliation_events ORDER BY id DESC LIMIT ?",
                       (limit,))
        return [ReconFinding(ts=r[0], kind=r[1], symbol=r[2], detail=r[3]) for r in rows]

    def meta(self, key: str) -> str | None:
        r = self._q("SELECT value FROM meta WHERE key = ?", (key,))
        return r[0][0] if r else None

    def last_price(self) -> dict[str, float]:
        """The last fill price per symbol (the only mark a ledger has)."""
        return dict(self._q("SELECT symbol, price FROM fills WHERE rowid IN (SELECT MAX(rowid) FROM fills "
                            "GROUP BY symbol)"))


class _AuditTail:
    """The newest records of an audit log, re-read only when the file changed (size or mtime)."""

    _TAIL_BYTES = 256 * 1024

    def __init__(self, path: str | os.PathLike[str] | None):
        self.path = Path(path) if path else None
        self._key: tuple[int, int] | None = None
        self._events: list[AuditEvent] = []

    def events(self) -> list[AuditEvent]:
        """Newest first (at most the records in the last 256 KiB)."""
        if self.path is None:
            return []
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        key = (st.st_size, st.st_mtime_ns)
        if key != self._key:
            self._key = key
            self._events = audit_tail(self.path, self._TAIL_BYTES)
        return self._events


def audit_tail(path: str | os.PathLike[str], tail_bytes: int = 256 * 1024) -> list[AuditEvent]:
    """Parse the complete lines in the last ``tail_bytes`` of an audit log; newest first.

    A line that is not an audit record raises :class:`DataError` naming the file.
    """
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        start = max(0, size - tail_bytes)
        f.seek(start)
        data = f.read()
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first line is cut
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # torn last line: not acknowledged yet
    out = []
    for raw in reversed(lines):
        try:
            out.append(msgspec.convert(orjson.loads(raw), AuditEvent))
        except (orjson.JSONDecodeError, msgspec.ValidationError) as e:
            raise DataError(f"not an audit record: {e}", source=str(path)) from None
    return out


class EquityTracker:
    """An equity curve kept incrementally: exact running peak and drawdown, at most ``max_points`` points.

    Every ``stride``-th bar is kept; when the list is full, every other point is dropped and
    the stride doubles. Regime / active-strategy changes are kept exactly as timeline segments.
    """

    def __init__(self, max_points: int = 1000, max_segments: int = 500):
        self.max_points = max_points
        self.max_segments = max_segments
        self.points: list[EquityPoint] = []
        self.stride = 1
        self.n = 0
        self.peak = -math.inf
        self.max_dd = 0.0
        self.last: EquityPoint | None = None
        self.segments: list[TimelineSegment] = []
        self._seg_key: tuple | None = None

    def add(self, ts: int, equity: float, regime: str | None, active: int | None) -> None:
        if not math.isfinite(equity):
            return
        if equity > self.peak:
            self.peak = equity
        dd = equity / self.peak - 1.0 if self.peak > 0 else 0.0
        if dd < self.max_dd:
            self.max_dd = dd
        pt = EquityPoint(ts, equity, dd, regime)
        if self.n % self.stride == 0:
            self.points.append(pt)
            if len(self.points) >= self.max_points:
                self.points = self.points[::2]
                self.stride *= 2
        self.n += 1
        self.last = pt
        key = (regime, active)
        if key != self._seg_key:
            self._seg_key = key
            self.segments.append(TimelineSegment(start_ts=ts, end_ts=ts, regime=regime,
                                                 active=active_names(active) if active is not None else []))
            if len(self.segments) > self.max_segments:
                del self.segments[0]
        else:
            self.segments[-1].end_ts = ts

    def curve(self) -> EquityCurve:
        pts = list(self.points)
        if self.last is not None and (not pts or pts[-1] is not self.last):
            pts.append(self.last)
        return EquityCurve(points=pts, stride=self.stride, total_bars=self.n,
                           peak=self.peak if self.n else None, max_drawdown=self.max_dd, timeline=list(self.segments))


class _View:
    """What both views share: the update bundle and the ledger/audit answers."""

    mode: str
    read_only: bool
    reader: LedgerReader | None
    _audit: _AuditTail

    def fills(self, limit: int = 50) -> list[FillView]:
        return self.reader.recent_fills(limit) if self.reader is not None else []

    def reconciliation(self) -> list[ReconFinding]:
        return self.reader.reconciliation() if self.reader is not None else []

    def audit(self, limit: int = 100) -> list[AuditEvent]:
        return self._audit.events()[:limit]

    def _audit_alerts(self) -> list[Alert]:
        out = []
        for ev in self._audit.events()[:200]:
            if ev.event in MODEL_REFUSED_EVENTS:
                out.append(Alert(kind="model_refused", severity="critical",
                                 message=f"model {ev.data.get('model', '?')} refused: {ev.data.get('reason', '')}"))
        return out

    def _recon_alerts(self, blocked: set[str]) -> list[Alert]:
        out = []
        for s in sorted(blocked):
            out.append(Alert(kind="unreconciled", severity="critical", symbol=s,
                             message=f"{s}: ledger and venue disagree; new entries blocked until reconciled"))
        return out

    def update(self, seq: int) -> Update:
        return Update(seq=seq, status=self.status(), positions=self.positions(), orders=self.orders(),
                      fills=self.fills(50), equity=self.equity(), pnl=self.pnl(), latency=self.latency(),
                      alerts=self.alerts())

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


class EngineView(_View):
    """The dashboard's view of an :class:`~tradejet.engine.Engine` running in this process.

    Parameters
    ----------
    engine : the running engine (its ``ledger`` and ``audit``, when set, are read too).
    mode : ``"paper"`` or ``"live"``.
    environment : free text for the header (``"synthetic market, seed 7"``, ``"kraken production"``).
    initial_cash : the run's starting cash, for P&L in the header.
    """

    read_only = False

    def __init__(self, engine, *, mode: str = "paper", environment: str = "", initial_cash: float | None = None):
        if mode not in ("paper", "live"):
            raise DataError(f"mode must be 'paper' or 'live', was {mode!r}")
        self.engine = engine
        self.mode = mode
        self.environment = environment
        self.initial_cash = float(initial_cash if initial_cash is not None
                                  else engine.config.backtest.initial_cash)
        self.t0 = time.monotonic()
        self.finished = False
        led = getattr(engine, "ledger", None)
        self.reader = LedgerReader(led.path) if led is not None else None
        aud = getattr(engine, "audit", None)
        self._audit = _AuditTail(aud.path if aud is not None else None)
        self.tracker = EquityTracker()
        self._log_i = 0

    def version(self) -> tuple:
        e = self.engine
        return (e.bars_done, len(e.working), e.seq, e.paused, e.halted, self.finished, e.unknown_fills)

    def _info(self, k: int) -> float:
        return float(self.engine.ctx.info[k])

    def status(self) -> Status:
        from tradejet.engine.step import INFO_ACTIVE, INFO_BREAKER, INFO_EQUITY, INFO_REGIME, INFO_TRADING_STATE

        e = self.engine
        started = e.bars_done > 0
        sched = TRADING_STATE_TEXT[int(self._info(INFO_TRADING_STATE))] if started else None
        state = ("HALTED" if e.halted else "PAUSED" if e.paused else "FINISHED" if self.finished
                 else sched or "STARTING")
        return Status(mode=self.mode, ledger_mode=self.mode, environment=self.environment, trading_state=state,
                      schedule_state=sched, paused=e.paused, halted=e.halted, finished=self.finished,
                      read_only=False, regime=REGIME_TEXT[int(self._info(INFO_REGIME))] if started else None,
                      active_strategies=active_names(int(self._info(INFO_ACTIVE))) if started else [],
                      uptime_s=time.monotonic() - self.t0, run_id=e.run_id, bars_done=e.bars_done,
                      last_bar_ts=e.last_ts, equity=self._info(INFO_EQUITY) if started else self.initial_cash,
                      initial_cash=self.initial_cash, breaker_tripped=self._info(INFO_BREAKER) != 0.0,
                      working_orders=len(e.working), paused_entries=e.paused_entries)

    def positions(self) -> list[PositionView]:
        ctx = self.engine.ctx
        out = []
        S, n = ctx.pos_qty.shape
        for s in range(S):
            for p in range(n):
                q = float(ctx.pos_qty[s, p])
                if q != 0.0:
                    mark = _finite(float(ctx.mark[p]))
                    avg = float(ctx.pos_avg[s, p])
                    out.append(PositionView(strategy=strategy_name(s), symbol=self.engine.symbols[p], qty=q,
                                            avg_price=avg, mark=mark,
                                            unrealized_pnl=q * (mark - avg) if mark is not None else None,
                                            realized_pnl=float(ctx.realized[s, p])))
        return out

    def orders(self) -> list[OpenOrder]:
        e = self.engine
        ts_log = e.log.ts
        out = []
        for w in e.working:
            out.append(OpenOrder(client_order_id=w.cid, symbol=e.symbols[w.pair], side=side_text(w.side),
                                 order_type=ORDER_TYPE_TEXT[w.type], qty=w.qty, filled_qty=w.filled,
                                 price=_finite(w.price), strategy=strategy_name(w.strategy),
                                 status="partially_filled" if w.filled > 0 else "working",
                                 ts_created=ts_log[w.submit_bar] if 0 <= w.submit_bar < len(ts_log) else None))
        return out

    def fills(self, limit: int = 50) -> list[FillView]:
        if self.reader is not None:
            return self.reader.recent_fills(limit)
        e = self.engine  # no ledger (research, benchmarks): the engine's own log
        out = []
        for f in reversed(e.log.fills[-limit:]):
            bar, pair, strat, side, qty, price, fee = f[:7]
            out.append(FillView(trade_id=f"{e.run_id}-{f[8]}@{bar}", client_order_id=f"{e.run_id}-{f[8]}",
                                symbol=e.symbols[pair], side=side_text(side), qty=qty, price=price, fee=fee,
                                strategy=strategy_name(strat),
                                ts_event=e.log.ts[bar] if bar < len(e.log.ts) else (e.last_ts or 0)))
        return out

    def equity(self) -> EquityCurve:
        from tradejet.engine.step import INFO_ACTIVE, INFO_EQUITY, INFO_REGIME

        e = self.engine
        lg = e.log
        tr = self.tracker
        n = min(len(lg.ts), len(lg.equity), len(lg.regime), len(lg.active))
        if n > self._log_i:
            ts, eq, rg, act = lg.ts, lg.equity, lg.regime, lg.active
            for i in range(self._log_i, n):
                tr.add(ts[i], eq[i], REGIME_TEXT[rg[i]], act[i])
            self._log_i = n
        elif not e.record and e.last_ts is not None and (tr.last is None or tr.last.ts != e.last_ts):
            tr.add(e.last_ts, self._info(INFO_EQUITY), REGIME_TEXT[int(self._info(INFO_REGIME))],
                   int(self._info(INFO_ACTIVE)))
        return tr.curve()

    def pnl(self) -> PnlReport:
        ctx = self.engine.ctx
        S, n = ctx.pos_qty.shape
        by_s: dict[str, list[float]] = {}
        by_p: dict[str, list[float]] = {}
        for s in range(S):
            for p in range(n):
                r, f, q = float(ctx.realized[s, p]), float(ctx.fees[s, p]), float(ctx.pos_qty[s, p])
                if r == 0.0 and f == 0.0 and q == 0.0:
                    continue
                u = q * (float(ctx.mark[p]) - float(ctx.pos_avg[s, p])) if q != 0.0 else 0.0
                for acc, key in ((by_s, strategy_name(s)), (by_p, self.engine.symbols[p])):
                    a = acc.setdefault(key, [0.0, 0.0, 0.0])
                    a[0] += r
                    a[1] += u
                    a[2] += f
        return PnlReport(by_strategy=_rows(by_s), by_pair=_rows(by_p))

    def latency(self) -> Latency:
        lat = self.engine.latency_percentiles()
        if not lat:
            return Latency(n=0)
        return Latency(n=int(lat["n"]), p50_us=float(lat["p50_us"]), p99_us=float(lat["p99_us"]),
                       p999_us=float(lat["p99.9_us"]), max_us=float(lat["max_us"]))

    def alerts(self) -> list[Alert]:
        from tradejet.engine.step import INFO_BREAKER

        e = self.engine
        out = []
        if e.halted:
            out.append(Alert(kind="halted", severity="critical",
                             message="kill switch: orders cancelled, the engine stopped"))
        elif e.paused:
            out.append(Alert(kind="paused", severity="warning",
                             message=f"new entries paused by the operator ({e.paused_entries} dropped)"))
        if self._info(INFO_BREAKER) != 0.0:
            out.append(Alert(kind="breaker", severity="critical",
                             message="drawdown breaker tripped: no new entries until reset"))
        blocked = {e.symbols[p] for p in range(len(e.symbols)) if e.ctx.unreconciled[p]}
        out += self._recon_alerts(blocked)
        out += self._audit_alerts()
        bad = [(e.bad_bars, "bad bars refused"), (e.late_bars, "late bars ignored"),
               (e.unknown_fills, "fills of unknown orders"), (e.dropped, "orders dropped (no free slot)")]
        for count, what in bad:
            if count:
                out.append(Alert(kind="data", severity="warning", message=f"{count} {what}"))
        return out


def _rows(acc: dict[str, list[float]]) -> list[PnlRow]:
    rows = [PnlRow(key=k, realized=v[0], unrealized=v[1] if v[1] == v[1] else None, fees=v[2],
                   total=v[0] + (v[1] if v[1] == v[1] else 0.0) - v[2]) for k, v in acc.items()]
    return sorted(rows, key=lambda r: -r.total)


class LedgerView(_View):
    """A read-only view of a ledger file (and its audit log): ``tradejet dashboard --ledger PATH``.

    The audit log defaults to ``<ledger>.audit.jsonl`` beside it (what ``tradejet paper`` writes).
    """

    mode = "watch"
    read_only = True

    def __init__(self, path: str | os.PathLike[str], *, audit_path: str | os.PathLike[str] | None = None):
        self.reader = LedgerReader(path)
        self.path = self.reader.path
        if audit_path is None:
            audit_path = self.path.with_name(self.path.name + ".audit.jsonl")
        self._audit = _AuditTail(audit_path)
        self.t0 = time.monotonic()
        self.tracker = EquityTracker()
        self._last_mark_ts = -(2**62)
        self._run: dict[str, Any] | None = None

    def _run_meta(self) -> tuple[str | None, dict[str, Any]]:
        for key, mode in (("paper_run", "paper"), ("live_run", "live")):
            raw = self.reader.meta(key)
            if raw:
                try:
                    return mode, orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return mode, {}
        return None, {}

    def version(self) -> tuple:
        return (self.reader.meta("last_bar"), self.reader.fill_count(), len(self.reader.open_orders()),
                self._audit.events()[0].seq if self._audit.events() else 0)

    def status(self) -> Status:
        mode, meta = self._run_meta()
        last = self.reader.meta("last_bar")
        bars, last_ts = (int(x) for x in last.split()) if last else (0, None)
        events = self._audit.events()
        finished = any(ev.event.endswith("_finished") for ev in events[:50])
        halted = any(ev.event == "dashboard.kill" for ev in events)
        cfg = meta.get("config")
        cash0 = None
        if isinstance(cfg, str):
            try:
                cash0 = float(orjson.loads(cfg)["backtest"]["initial_cash"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                cash0 = None
        self.equity()
        tr = self.tracker
        return Status(mode="watch", ledger_mode=mode, environment=f"ledger {self.path}",
                      trading_state="HALTED" if halted else "FINISHED" if finished else "UNKNOWN",
                      schedule_state=None, paused=False, halted=halted, finished=finished, read_only=True, regime=None,
                      active_strategies=[], uptime_s=time.monotonic() - self.t0, run_id=meta.get("run_id"),
                      bars_done=bars, last_bar_ts=last_ts, equity=tr.last.equity if tr.last else None,
                      initial_cash=cash0, breaker_tripped=False, working_orders=len(self.reader.open_orders()),
                      paused_entries=0)

    def positions(self) -> list[PositionView]:
        marks = self.reader.last_price()
        out = []
        for sym, strat, q, avg, realized, _fees in self.reader.positions():
            if q == 0.0:
                continue
            mark = marks.get(sym)
            out.append(PositionView(strategy=strategy_name(strat), symbol=sym, qty=q, avg_price=avg, mark=mark,
                                    unrealized_pnl=q * (mark - avg) if mark is not None else None,
                                    realized_pnl=realized))
        return out

    def orders(self) -> list[OpenOrder]:
        return self.reader.open_orders()

    def equity(self) -> EquityCurve:
        for ts, eq in self.reader.equity_marks(self._last_mark_ts):
            self.tracker.add(ts, eq, None, None)
            self._last_mark_ts = ts
        return self.tracker.curve()

    def pnl(self) -> PnlReport:
        marks = self.reader.last_price()
        by_s: dict[str, list[float]] = {}
        by_p: dict[str, list[float]] = {}
        for sym, strat, q, avg, realized, fees in self.reader.positions():
            mark = marks.get(sym)
            u = (q * (mark - avg) if mark is not None else math.nan) if q != 0.0 else 0.0
            for acc, key in ((by_s, strategy_name(strat)), (by_p, sym)):
                a = acc.setdefault(key, [0.0, 0.0, 0.0])
                a[0] += realized
                a[1] += u
                a[2] += fees
        return PnlReport(by_strategy=_rows(by_s), by_pair=_rows(by_p))

    def latency(self) -> Latency:
        return Latency(n=0)

    def alerts(self) -> list[Alert]:
        blocked: set[str] = set()
        for f in reversed(self.reader.reconciliation()):  # oldest first: a later fix clears the block
            if f.kind == "quantity_mismatch" and f.symbol:
                blocked.add(f.symbol)
            elif f.kind in ("reconciled", "resolved") and f.symbol:
                blocked.discard(f.symbol)
        out = self._recon_alerts(blocked)
        out += self._audit_alerts()
        if any(ev.event == "dashboard.kill" for ev in self._audit.events()):
            out.insert(0, Alert(kind="halted", severity="critical", message="the kill switch was used on this run"))
        return out
