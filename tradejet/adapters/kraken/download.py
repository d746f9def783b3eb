"""Fill the bar store from Kraken's REST API: Trades for older history, OHLC for the recent window.

Kraken's ``/0/public/OHLC`` serves only the 720 most recent candles of an interval (the last
one still forming). Older history is rebuilt from ``/0/public/Trades``, paged with ``since``
and Kraken's nanosecond ``last`` cursor (1000 trades a call), and aggregated into candles
with the same kernel the trade importer uses. The two paths meet at the first candle of
the OHLC window: Trades fill ``[since, window start)``, OHLC the rest; if the window moves
on while trades are being fetched, the loop fetches trades up to the new window start.

Rules:

* only complete candles are stored: a trades candle once a later trade has been seen (or
  the trades reached the OHLC window), an OHLC candle unless it is the last (forming) row;
* no trades, no candle: OHLC rows with ``count == 0`` are skipped, as the trade aggregation
  (and Kraken's OHLCVT archive) leave such intervals out;
* resumable: the range stored so far is kept in ``download.json`` beside the series
  (``covered = [start, end)`` in ns, written after each store write); a new run starts
  where that range ends, and fills ``[since, covered start)`` first if asked for older data.
  Complete candles are written when the run stops for any reason, so an interrupted run
  loses at most the candle being built;
* rate limits: every call goes through the client's public-call limiter (Kraken allows
  about one public call per second per IP); a refused call (``EGeneral:Too many
  requests``) is retried after a wait by the client;
* a malformed page raises :class:`~tradejet.errors.ResponseError` naming the endpoint, the
  row and the field.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tradejet.errors import DataError, ResponseError
from tradejet.io.timeframes import fmt_ts, parse_timeframe, timeframe_name
from tradejet.io.validate import validate_bars

if TYPE_CHECKING:
    from tradejet.adapters.kraken.http import KrakenHttp
    from tradejet.adapters.kraken.schemas import OHLCRow, TradeRow
    from tradejet.io.store import BarStore

__all__ = ["download_bars", "DownloadReport", "MARKER"]

NS = 1_000_000_000
MARKER = "download.json"
_COLS = ("ts", "open", "high", "low", "close", "volume", "trades")
Progress = Callable[[int, int, str], None]  # (stored through ns, end ns, phase)


@dataclass
class DownloadReport:
    """What one download did; times are ns (``end`` = open time of the forming candle)."""

    symbol: str
    timeframe: str
    start: int  # first candle this run fetches (after what an earlier run stored)
    end: int
    from_trades: int = 0  # candles built from trades and handed to the store
    from_ohlc: int = 0
    trades: int = 0  # trades read
    calls: int = 0  # REST calls made
    added: int = 0
    replaced: int = 0
    total: int = 0
    resumed: bool = False

    def summary(self) -> str:
        if self.start >= self.end and not (self.from_trades or self.from_ohlc):
            return f"{self.symbol} {self.timeframe}: up to date ({self.total} bars stored, through {fmt_ts(self.end)})"
        how = " (resumed)" if self.resumed else ""
        return (f"{self.symbol} {self.timeframe}{how}: {fmt_ts(self.start)} .. {fmt_ts(self.end)}: "
                f"{self.from_trades} bars from {self.trades} trades + {self.from_ohlc} bars from OHLC in "
                f"{self.calls} calls; {self.added} added, {self.replaced} replaced, {self.total} stored")


class _Sink:
    """Complete candles waiting to be written, and the covered range they extend."""

    def __init__(self, store: BarStore, venue: str, symbol: str, timeframe: str, report: DownloadReport,
                 covered: tuple[int, int] | None):
        self.store, self.venue, self.symbol, self.timeframe = store, venue, symbol, timeframe
        self.report = report
        self.covered = covered
        self.parts: list[dict[str, np.ndarray]] = []
        self.through: int | None = None  # every candle < through is complete and in parts/store
        self.seg_start: int | None = None

    def add(self, cols: dict[str, np.ndarray], through: int) -> None:
        if cols["ts"].size:
            self.parts.append(cols)
        self.through = through

    def flush(self) -> None:
        if self.through is None:
            return
        if self.parts:
            cols = {c: np.concatenate([p[c] for p in self.parts]) for c in _COLS}
            try:
                validate_bars(cols, parse_timeframe(self.timeframe), source=f"Kraken {self.symbol} download",
                              strict=True)
                r = self.store.write(self.venue, self.symbol, self.timeframe, cols)
            except BaseException:
                self.parts, self.through = [], None  # nothing written: the covered range stays as it was
                raise
            self.report.added += r.added
            self.report.replaced += r.replaced
            self.report.total = r.total
            self.parts = []
        assert self.seg_start is not None
        a, b = self.seg_start, self.through
        if self.covered is not None and a <= self.covered[1] and b >= self.covered[0]:
            a, b = min(a, self.covered[0]), max(b, self.covered[1])
        self.covered = (a, b)
        _write_marker(self.store.series_dir(self.venue, self.symbol, self.timeframe), self.covered)


def _read_marker(d: Path) -> tuple[int, int] | None:
    try:
        obj = json.loads((d / MARKER).read_text())
        a, b = int(obj["covered"][0]), int(obj["covered"][1])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise DataError(f"download progress file is damaged ({type(e).__name__}: {e}); delete it to start over",
                        source=str(d / MARKER)) from None
    return (a, b) if a <= b else None


def _write_marker(d: Path, covered: tuple[int, int]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"covered": list(covered), "covered_utc": [fmt_ts(covered[0]), fmt_ts(covered[1])]}))
    os.replace(tmp, d / MARKER)


def _f(endpoint: str, where: str, field: str, text: str) -> float:
    try:
        x = float(text)
    except (TypeError, ValueError):
        raise ResponseError(f"Kraken {endpoint}: unexpected response: {where}: {field} {text!r} is not a number")\
            from None
    if not math.isfinite(x):
        raise ResponseError(f"Kraken {endpoint}: unexpected response: {where}: {field} is {text!r}")
    return x


def _trade_arrays(rows: list[TradeRow], cursor: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(rows)
    t = np.empty(n)
    price = np.empty(n)
    qty = np.empty(n)
    for j, r in enumerate(rows):
        where = f"trade {j} of the page after since={cursor}"
        price[j] = _f("Trades", where, "price", r.price)
        qty[j] = _f("Trades", where, "volume", r.volume)
        t[j] = r.time
        if not price[j] > 0:
            raise ResponseError(f"Kraken Trades: unexpected response: {where}: price must be > 0, was {r.price!r}")
        if qty[j] < 0:
            raise ResponseError(f"Kraken Trades: unexpected response: {where}: volume must be >= 0, was {r.volume!r}")
        if not (math.isfinite(r.time) and r.time > 0):
            raise ResponseError(f"Kraken Trades: unexpected response: {where}: time is {r.time!r}")
    secs = np.floor(t)
    ts = secs.astype(np.int64) * NS + np.round((t - secs) * NS).astype(np.int64)
    if n > 1 and np.any(np.diff(ts) < 0):
        j = int(np.flatnonzero(np.diff(ts) < 0)[0]) + 1
        raise ResponseError(f"Kraken Trades: unexpected response: trade {j} of the page after since={cursor} is"
                            f" older than the one before it ({fmt_ts(int(ts[j]))} < {fmt_ts(int(ts[j - 1]))})")
    return ts, price, qty


def _ohlc_cols(rows: list[OHLCRow], tf_ns: int) -> dict[str, np.ndarray]:
    keep = [r for r in rows if r.count > 0]
    cols = {"ts": np.array([r.time * NS for r in keep], dtype=np.int64)}
    for name in ("open", "high", "low", "close", "volume"):
        cols[name] = np.array([_f("OHLC", f"candle {fmt_ts(r.time * NS)}", name, getattr(r, name)) for r in keep],
                              dtype=np.float64)
    cols["trades"] = np.array([float(r.count) for r in keep])
    off = cols["ts"] % tf_ns
    if off.any():
        bad = int(cols["ts"][np.flatnonzero(off)[0]])
        raise ResponseError(f"Kraken OHLC: unexpected response: candle time {fmt_ts(bad)} is not on the"
                            f" {timeframe_name(f'{tf_ns // NS}s')} grid")
    return cols


async def _trades_range(client: KrakenHttp, pair: str, lo: int, hi: int, tf_ns: int, sink: _Sink,
                        progress: Progress, end: int, count: int, flush_every: int) -> None:
    """Aggregate the trades of ``[lo, hi)`` into complete candles and hand them to ``sink``."""
    from tradejet.kernels.resample import trades_to_bars_nb

    cursor = str(lo - 1)  # Kraken's since is exclusive: lo - 1 keeps a trade at exactly lo
    pend_ts, pend_p, pend_q = np.empty(0, np.int64), np.empty(0), np.empty(0)
    pages = 0
    last_id: int | None = None
    while True:
        page = await client.trades(pair, since=cursor, count=count)
        sink.report.calls += 1
        pages += 1
        rows = page.rows
        if last_id is not None:  # a trade seen on the previous page (same ns as the cursor) is not counted twice
            rows = [r for r in rows if r.trade_id is None or r.trade_id > last_id]
        ids = [r.trade_id for r in rows if r.trade_id is not None]
        last_id = max(ids) if ids else last_id
        ts, price, qty = _trade_arrays(rows, cursor)
        sink.report.trades += int(((ts >= lo) & (ts < hi)).sum())
        done = not rows or bool(ts.size and ts[-1] >= hi)  # no newer trades, or past the range
        sel = (ts >= lo) & (ts < hi)
        pend_ts = np.concatenate([pend_ts, ts[sel]])
        pend_p = np.concatenate([pend_p, price[sel]])
        pend_q = np.concatenate([pend_q, qty[sel]])
        # complete: every candle before the one holding the newest trade (all of them when done)
        edge = hi if done else (int(ts[-1]) - int(ts[-1]) % tf_ns if ts.size else lo)
        cut = int(np.searchsorted(pend_ts, edge, "left"))
        if cut:
            out = trades_to_bars_nb(pend_ts[:cut], pend_p[:cut], pend_q[:cut], np.int64(tf_ns))
            cols = dict(zip(_COLS, out[:7]))
            sink.report.from_trades += int(cols["ts"].size)
            pend_ts, pend_p, pend_q = pend_ts[cut:], pend_p[cut:], pend_q[cut:]
        else:
            cols = {c: np.empty(0, np.int64 if c == "ts" else np.float64) for c in _COLS}
        sink.add(cols, max(edge, sink.through or lo))
        progress(sink.through or lo, end, "trades")
        if done:
            return
        if pages % flush_every == 0:
            sink.flush()
        if not page.last.isdigit() or int(page.last) <= int(cursor):
            raise ResponseError(f"Kraken Trades: unexpected response: the `last` cursor {page.last!r} does not move"
                                f" past since={cursor}")
        cursor = page.last


async def download_bars(client: KrakenHttp, store: BarStore, *, pair: str, symbol: str, timeframe: str,
                        since_ns: int, venue: str = "kraken", progress: Progress | None = None,
                        trades_per_call: int = 1000, flush_every: int = 50) -> DownloadReport:
    """Download ``symbol`` candles from ``since_ns`` to the last closed candle into ``store``.

    ``pair`` is Kraken's name for the pair (``XXBTZUSD``), ``symbol`` the store's
    (``BTC/USD``). See the module docstring for the rules; returns what was done.
    """
    from tradejet.adapters.kraken.http import OHLC_INTERVALS

    tf = timeframe_name(timeframe)
    tf_ns = parse_timeframe(tf)
    if tf_ns % (60 * NS) or tf_ns // (60 * NS) not in OHLC_INTERVALS:
        names = ", ".join(timeframe_name(m) for m in OHLC_INTERVALS)
        raise DataError(f"Kraken serves candles of {names}; --timeframe was {tf}")
    if not 1 <= trades_per_call <= 1000:
        raise DataError(f"trades_per_call must be in 1..1000, was {trades_per_call}")
    interval = tf_ns // (60 * NS)
    start = since_ns - since_ns % tf_ns
    d = store.series_dir(venue, symbol, tf)
    covered = _read_marker(d)
    report = DownloadReport(symbol, tf, start, start)
    show = progress or (lambda done, end, phase: None)
    sink = _Sink(store, venue, symbol, tf, report, covered)

    # segments still missing: [start, covered start) and [covered end, now)
    segments: list[tuple[int, int | None]] = []
    if covered is None or start < covered[0] or start > covered[1]:
        if covered is not None and start < covered[0]:
            segments.append((start, covered[0]))
            segments.append((covered[1], None))
        else:
            segments.append((start, None))
    else:
        report.resumed = start < covered[1]
        segments.append((covered[1], None))
    if covered is not None and segments[0][0] != start:
        report.resumed = True
    report.start = report.end = segments[0][0]  # where this run begins
    try:
        for lo, hi in segments:
            sink.seg_start = lo
            sink.through = None
            pos = lo
            while True:
                res = await client.ohlc(pair, interval)
                report.calls += 1
                if not res.rows:
                    raise ResponseError(f"Kraken OHLC: unexpected response: no candles for {pair}")
                forming = res.rows[-1].time * NS
                window = res.rows[0].time * NS
                stop = forming if hi is None else min(hi, forming)
                report.end = max(report.end, stop)
                if pos >= stop:
                    break
                if pos < window:
                    top = min(window, stop)
                    await _trades_range(client, pair, pos, top, tf_ns, sink, show, stop, trades_per_call,
                                        flush_every)
                    pos = top
                    continue  # the window may have moved while the trades came in
                closed = [r for r in res.rows[:-1] if pos <= r.time * NS < stop]
                cols = _ohlc_cols(closed, tf_ns)
                report.from_ohlc += int(cols["ts"].size)
                sink.add(cols, stop)
                show(stop, stop, "ohlc")
                pos = stop
                break
            sink.flush()
    finally:
        sink.flush()  # keep every complete candle, whatever stopped the run
    if report.total == 0:
        try:
            report.total = store.info(venue, symbol, tf).rows
        except DataError:
            report.total = 0
    return report
