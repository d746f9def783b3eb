"""Daily bars and the trading calendar the local Alpaca server replays.

A :class:`DailyMarket` is a list of trading days (each with its regular session in New
York time) and, per symbol, one OHLCV bar per day. It comes from a seeded synthetic
walk over the NYSE calendar (:func:`synthetic_market`: weekends, the listed holidays and
early closes respected) or from ``{SYMBOL}_1d.csv`` files (:func:`market_from_dir`, e.g.
``shared/data/equities``), whose dates are the calendar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np

from tradejet.errors import DataError

__all__ = ["DailyMarket", "Session", "synthetic_market", "market_from_dir", "HOLIDAYS", "EARLY_CLOSES"]

# NYSE full-day closures and 13:00 early closes, 2023-2026 (the synthetic calendar's range)
HOLIDAYS = frozenset(date.fromisoformat(d) for d in (
    "2023-01-02", "2023-01-16", "2023-02-20", "2023-04-07", "2023-05-29", "2023-06-19", "2023-07-04",
    "2023-09-04", "2023-11-23", "2023-12-25",
    "2024-01-01", "2024-01-15", "2024-02-19", "2024-03-29", "2024-05-27", "2024-06-19", "2024-07-04",
    "2024-09-02", "2024-11-28", "2024-12-25",
    "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26", "2025-06-19",
    "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25",
    "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19", "2026-07-03",
    "2026-09-07", "2026-11-26", "2026-12-25"))
EARLY_CLOSES = frozenset(date.fromisoformat(d) for d in (
    "2023-07-03", "2023-11-24", "2024-07-03", "2024-11-29", "2024-12-24", "2025-07-03", "2025-11-28",
    "2025-12-24", "2026-11-27", "2026-12-24"))


@dataclass(frozen=True)
class Session:
    day: date
    open: str    # "09:30" New York time
    close: str   # "16:00", or "13:00" on an early close
    open_ns: int
    close_ns: int


def _session(d: date) -> Session:
    from tradejet.adapters.alpaca.schemas import NEW_YORK

    close = "13:00" if d in EARLY_CLOSES else "16:00"
    o = datetime.combine(d, time(9, 30), NEW_YORK)
    c = datetime.combine(d, time.fromisoformat(close), NEW_YORK)
    return Session(d, "09:30", close, int(o.timestamp()) * 10**9, int(c.timestamp()) * 10**9)


@dataclass
class DailyMarket:
    sessions: list[Session]
    bars: dict[str, dict[date, tuple[float, float, float, float, float]]] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return list(self.bars)

    def day_ts(self, d: date) -> int:
        """The bar stamp tradejet uses for a daily bar: its date at 00:00 UTC (ns)."""
        return int(datetime.combine(d, time(0), timezone.utc).timestamp()) * 10**9


def nyse_days(start: date, n: int) -> list[date]:
    """The first ``n`` NYSE trading days from ``start`` (weekends and :data:`HOLIDAYS` skipped)."""
    out = []
    d = start
    while len(out) < n:
        if d.weekday() < 5 and d not in HOLIDAYS:
            out.append(d)
        d += timedelta(days=1)
    return out


def synthetic_market(symbols: list[str] | None = None, *, start: date = date(2024, 1, 2), days: int = 300,
                     seed: int = 0, prices: dict[str, float] | None = None) -> DailyMarket:
    """A seeded daily random walk (drift, volatility per symbol) over the NYSE calendar.

    >>> m = synthetic_market(["SPY"], days=5, seed=1)
    >>> [s.day.isoformat() for s in m.sessions][:3]
    ['2024-01-02', '2024-01-03', '2024-01-04']
    """
    symbols = list(symbols or ["SPY", "AAPL", "MSFT"])
    base = {"SPY": 470.0, "AAPL": 185.0, "MSFT": 370.0, "QQQ": 400.0, "NVDA": 480.0}
    base.update(prices or {})
    days_ = nyse_days(start, days)
    rng = np.random.default_rng(seed)
    bars: dict[str, dict[date, tuple[float, float, float, float, float]]] = {}
    for j, s in enumerate(symbols):
        p = base.get(s, 50.0 + 25.0 * j)
        vol = 0.012 + 0.004 * (j % 3)
        drift = 0.0004 * (1 if j % 2 == 0 else -0.5)
        rows = {}
        for d in days_:
            o = p * math.exp(rng.normal(0.0, vol * 0.3))
            c = o * math.exp(drift + rng.normal(0.0, vol))
            hi = max(o, c) * math.exp(abs(rng.normal(0.0, vol * 0.5)))
            lo = min(o, c) * math.exp(-abs(rng.normal(0.0, vol * 0.5)))
            v = float(int(1e6 * math.exp(rng.normal(0.0, 0.3))))
            rows[d] = (round(o, 2), round(hi, 2), round(lo, 2), round(c, 2), v)
            p = c
        # rounding can cross: keep the OHLC invariant exact
        for d, (o, hi, lo, c, v) in rows.items():
            rows[d] = (o, max(hi, o, c), min(lo, o, c), c, v)
        bars[s] = rows
    return DailyMarket([_session(d) for d in days_], bars)


def market_from_dir(folder: str | Path, symbols: list[str] | None = None, *, start: date | None = None,
                    end: date | None = None) -> DailyMarket:
    """Daily bars from ``{SYMBOL}_1d.csv`` files (``timestamp,open,high,low,close[,adj_close],volume``)."""
    from tradejet.io.importers import read_csv

    folder = Path(folder)
    files = sorted(folder.glob("*_1d.csv")) + sorted(folder.glob("*_1d.csv.gz"))
    if symbols:
        want = set(symbols)
        files = [f for f in files if f.name.split("_1d")[0] in want]
        found = {f.name.split("_1d")[0] for f in files}
        if want - found:
            raise DataError(f"no {{SYMBOL}}_1d.csv for {sorted(want - found)}", source=str(folder))
    if not files:
        raise DataError("no *_1d.csv files", source=str(folder))
    bars: dict[str, dict[date, tuple[float, float, float, float, float]]] = {}
    days: set[date] = set()
    for f in files:
        p = read_csv(f)
        ts = p.cols["ts"]
        rows = {}
        for i in range(ts.shape[0]):
            d = datetime.fromtimestamp(int(ts[i]) // 10**9, timezone.utc).date()
            if (start and d < start) or (end and d > end):
                continue
            rows[d] = (float(p.cols["open"][i]), float(p.cols["high"][i]), float(p.cols["low"][i]),
                       float(p.cols["close"][i]), float(p.cols["volume"][i]))
        bars[f.name.split("_1d")[0]] = rows
        days |= set(rows)
    if not days:
        raise DataError("no bars in the date range", source=str(folder))
    return DailyMarket([_session(d) for d in sorted(days)], bars)
