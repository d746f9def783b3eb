"""Bar validation, vectorised: every bar that enters the store or a ring passes here.

Checks, per row (a row can fail several; each failure is a bit in ``reasons``):

=================  ==========================================================
``non-finite``     NaN, inf or a missing value in open/high/low/close/volume
``price <= 0``     a non-positive open/high/low/close
``high < low``
``open outside``   open not in [low, high]
``close outside``  close not in [low, high]
``volume < 0``     also a negative ``trades`` count
``ts backwards``   ts earlier than an earlier (valid) row's
``duplicate ts``   ts equal to an earlier (valid) row's (the first one is kept)
``off grid``       ts not a multiple of the timeframe (UTC-aligned bars)
``unparseable``    set by importers for rows they could not read at all
=================  ==========================================================

Order checks run over the rows whose values passed, so one NaN row does not also make
its successor a "duplicate". Gaps (missing bars) are counted and reported, never an
error. Two modes: ``strict`` raises :class:`~tradejet.errors.DataError` at the first bad
row, naming the file, line, column and value; ``quarantine`` returns the report and
:func:`write_rejected` writes the bad rows with their reasons.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tradejet.errors import DataError
from tradejet.io.timeframes import FLOAT_COLUMNS, fmt_ts

__all__ = ["validate_bars", "ValidationReport", "write_rejected", "REASONS", "reason_text",
           "NON_FINITE", "NON_POSITIVE", "HIGH_LT_LOW", "OPEN_OUTSIDE", "CLOSE_OUTSIDE",
           "NEG_VOLUME", "TS_BACKWARDS", "DUPLICATE", "OFF_GRID", "UNPARSEABLE"]

NON_FINITE = 1
NON_POSITIVE = 2
HIGH_LT_LOW = 4
OPEN_OUTSIDE = 8
CLOSE_OUTSIDE = 16
NEG_VOLUME = 32
TS_BACKWARDS = 64
DUPLICATE = 128
OFF_GRID = 256
UNPARSEABLE = 512

REASONS = {
    NON_FINITE: "non-finite",
    NON_POSITIVE: "price <= 0",
    HIGH_LT_LOW: "high < low",
    OPEN_OUTSIDE: "open outside [low, high]",
    CLOSE_OUTSIDE: "close outside [low, high]",
    NEG_VOLUME: "volume < 0",
    TS_BACKWARDS: "ts backwards",
    DUPLICATE: "duplicate ts",
    OFF_GRID: "ts off the timeframe grid",
    UNPARSEABLE: "unparseable",
}
PRICES = ("open", "high", "low", "close")
_VALUE_BITS = np.uint16(NON_FINITE | NON_POSITIVE | HIGH_LT_LOW | OPEN_OUTSIDE | CLOSE_OUTSIDE | NEG_VOLUME
                        | UNPARSEABLE)


def reason_text(bits: int) -> str:
    """Return the reasons set in ``bits``, joined by ``; ``.

    >>> reason_text(HIGH_LT_LOW | DUPLICATE)
    'high < low; duplicate ts'
    """
    return "; ".join(t for b, t in REASONS.items() if bits & b)


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_bars`."""

    reasons: np.ndarray  # uint16 per row, 0 = good
    gaps: int
    counts: dict[str, int] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)  # row -> detail for unparseable rows

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the good rows."""
        return self.reasons == 0

    @property
    def rejected(self) -> int:
        return int(np.count_nonzero(self.reasons))

    def summary(self) -> str:
        """``"high < low: 2, duplicate ts: 1"`` (empty when nothing was rejected)."""
        return ", ".join(f"{k}: {v}" for k, v in self.counts.items() if v)


def _flags(cols: dict[str, np.ndarray], timeframe_ns: int | None, pre: np.ndarray | None) -> np.ndarray:
    ts = cols["ts"]
    n = ts.size
    r = np.zeros(n, np.uint16) if pre is None else pre.astype(np.uint16, copy=True)
    o, h, lo, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))
    finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v)
    r[~finite] |= NON_FINITE
    with np.errstate(invalid="ignore"):
        r[(o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)] |= NON_POSITIVE
        r[h < lo] |= HIGH_LT_LOW
        r[(o < lo) | (o > h)] |= OPEN_OUTSIDE
        r[(c < lo) | (c > h)] |= CLOSE_OUTSIDE
        neg = v < 0
        t = cols.get("trades")
        if t is not None:
            neg |= t < 0
        r[neg] |= NEG_VOLUME
    if timeframe_ns:
        r[ts % timeframe_ns != 0] |= OFF_GRID
    if pre is not None:
        r[(pre & UNPARSEABLE) != 0] = UNPARSEABLE  # its values are placeholders: no other reason applies
    # order checks over rows whose values are good
    idx = np.flatnonzero((r & _VALUE_BITS) == 0)
    if idx.size > 1:
        tv = ts[idx]
        prev_max = np.maximum.accumulate(tv)[:-1]
        later = tv[1:]
        r[idx[1:][later < prev_max]] |= TS_BACKWARDS
        r[idx[1:][later == prev_max]] |= DUPLICATE
    return r


def validate_bars(cols: dict[str, np.ndarray], timeframe_ns: int | None, *, source: str = "<bars>",
                  lines: np.ndarray | None = None, strict: bool = False,
                  pre: np.ndarray | None = None, notes: dict[int, str] | None = None) -> ValidationReport:
    """Check every bar; return a :class:`ValidationReport` or, in ``strict`` mode, raise.

    Parameters
    ----------
    cols : dict
        ``ts`` (int64 ns) and float64 ``open high low close volume`` (``trades`` optional).
    timeframe_ns : int or None
        Bar length for the grid and gap checks (None skips them).
    source, lines :
        File name and the source line of each row, for error messages.
    strict : bool
        Raise :class:`~tradejet.errors.DataError` at the first bad row.
    pre, notes :
        Reason bits and details the importer already found (unparseable rows).

    >>> ts = np.array([0, 60, 60, 180]) * 10**9
    >>> one = np.ones(4)
    >>> rep = validate_bars({"ts": ts, "open": one, "high": one, "low": one, "close": one, "volume": one}, 60 * 10**9)
    >>> rep.rejected, rep.summary(), rep.gaps
    (1, 'duplicate ts: 1', 1)
    """
    ts = np.asarray(cols["ts"])
    if ts.dtype != np.int64:
        raise DataError(f"ts must be int64 ns, was {ts.dtype}", source=source)
    for k in FLOAT_COLUMNS:
        a = cols.get(k)
        if a is None and k == "trades":
            continue
        if a is None:
            raise DataError(f"column {k} is missing", source=source)
        if np.asarray(a).shape != ts.shape:
            raise DataError(f"column {k} has {np.asarray(a).size} rows, ts has {ts.size}", source=source)
    r = _flags(cols, timeframe_ns, pre)
    notes = dict(notes or {})
    bad = np.flatnonzero(r)
    if strict and bad.size:
        i = int(bad[0])
        line = int(lines[i]) if lines is not None else i + 1
        msg, column, value = _describe(cols, r, i, notes)
        raise DataError(msg, source=source, row=line, column=column, value=value)
    counts = {text: int(np.count_nonzero(r & bit)) for bit, text in REASONS.items()}
    good_ts = ts[r == 0]
    gaps = 0
    if timeframe_ns and good_ts.size > 1:
        d = np.diff(good_ts)
        gaps = int(np.sum(d // timeframe_ns - 1, where=d > timeframe_ns, initial=0))
    return ValidationReport(r, gaps, counts, notes)


def _describe(cols, r, i, notes) -> tuple[str, str, object]:
    """Return (message, column, value) for the first reason of row ``i``."""
    bits = int(r[i])
    row = {k: cols[k][i] for k in cols}
    if bits & UNPARSEABLE:
        detail = notes.get(i, "row could not be parsed")
        col = detail.split(" ")[1] if detail.startswith("column ") else "-"
        return f"unparseable: {detail}", col, detail
    if bits & NON_FINITE:
        col = next(k for k in ("open", "high", "low", "close", "volume") if not np.isfinite(row[k]))
        return f"non-finite value: {col} = {row[col]}", col, float(row[col])
    if bits & NON_POSITIVE:
        col = next(k for k in PRICES if row[k] <= 0)
        return f"price must be > 0: {col} = {row[col]}", col, float(row[col])
    if bits & HIGH_LT_LOW:
        return f"high < low: high = {row['high']}, low = {row['low']}", "high", float(row["high"])
    if bits & OPEN_OUTSIDE:
        return (f"open outside [low, high]: open = {row['open']}, low = {row['low']}, high = {row['high']}",
                "open", float(row["open"]))
    if bits & CLOSE_OUTSIDE:
        return (f"close outside [low, high]: close = {row['close']}, low = {row['low']}, high = {row['high']}",
                "close", float(row["close"]))
    if bits & NEG_VOLUME:
        col = "volume" if row["volume"] < 0 else "trades"
        return f"{col} must be >= 0: {col} = {row[col]}", col, float(row[col])
    ts = int(row["ts"])
    if bits & TS_BACKWARDS:
        return f"ts backwards: ts = {fmt_ts(ts)} after a later bar", "ts", ts
    if bits & DUPLICATE:
        return f"duplicate ts: ts = {fmt_ts(ts)} appears earlier", "ts", ts
    return f"ts off the timeframe grid: ts = {fmt_ts(ts)}", "ts", ts


def write_rejected(path: str | os.PathLike[str], cols: dict[str, np.ndarray], report: ValidationReport,
                   lines: np.ndarray | None, source: str) -> int:
    """Write the rejected rows (source, line, reason, values) to ``path``; return how many.

    The file is replaced on each import of the same source, so it always describes the
    last import. Nothing is written when no row was rejected (an old file is removed).
    """
    path = Path(path)
    bad = np.flatnonzero(report.reasons)
    if not bad.size:
        path.unlink(missing_ok=True)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "line", "reason", "ts", *FLOAT_COLUMNS])
        for i in bad:
            i = int(i)
            reason = reason_text(int(report.reasons[i]))
            if i in report.notes:
                reason = f"{reason}: {report.notes[i]}"
            vals = [repr(float(cols[k][i])) if k in cols else "" for k in FLOAT_COLUMNS]
            ts = int(cols["ts"][i])
            w.writerow([source, int(lines[i]) if lines is not None else i + 1, reason,
                        fmt_ts(ts) if not report.reasons[i] & UNPARSEABLE else "", *vals])
    os.replace(tmp, path)
    return int(bad.size)
