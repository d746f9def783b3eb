"""Where a backtest's bars come from: the built-in synthetic market, a bar store, or a folder of files.

A folder of candle files: every ``*.csv``, ``*.csv.gz`` and ``*.parquet`` in it (not
below it) whose name reads ``<PAIR>_<timeframe>[_...]`` (``ADABTC_5m.csv``,
``BTCUSDT_1h_2024-09_2026-02.csv``, Kraken's ``XBTUSD_60.csv``) is one symbol. With
several timeframes in one folder, ``timeframe`` picks one (default: the most common).
Each file is validated; bad rows are left out and counted in the warnings, never fed
to an indicator.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from tradejet.errors import DataError
from tradejet.io.timeframes import parse_timeframe, timeframe_name

__all__ = ["load_bars", "symbol_from_filename", "equity_from_filename"]

_QUOTES = ("USDT", "USDC", "USD", "EUR", "GBP", "XBT", "BTC", "ETH")
_KRAKEN_MINUTES = {"1", "5", "15", "30", "60", "240", "720", "1440", "10080", "21600"}
_FILE_RE = re.compile(r"^(?P<pair>[A-Za-z0-9]+)_(?P<tf>[0-9]+[a-zA-Z]*)(?:_.*)?$")


def _name_match(name: str):
    """Match ``<NAME>_<timeframe>[_...]`` on a candle file's name without its extension (None if not one)."""
    for ext in (".csv.gz", ".csv", ".parquet"):
        if name.lower().endswith(ext):
            return _FILE_RE.match(name[: -len(ext)])
    return None


def symbol_from_filename(name: str) -> tuple[str, str] | None:
    """Return ``(symbol, timeframe)`` read from a candle file's name, or None.

    >>> symbol_from_filename("ADABTC_5m.csv"), symbol_from_filename("XBTUSD_60.csv")
    (('ADA/BTC', '5m'), ('XBT/USD', '1h'))
    """
    m = _name_match(name)
    if not m:
        return None
    pair, tf = m.group("pair").upper(), m.group("tf")
    if tf.isdigit():
        if tf not in _KRAKEN_MINUTES:
            return None
        tf = f"{tf}m"
    try:
        tf = timeframe_name(tf)
    except DataError:
        return None
    for q in _QUOTES:
        if pair.endswith(q) and len(pair) > len(q):
            return f"{pair[: -len(q)]}/{q}", tf
    return None


def _from_store(root: Path, timeframe: str | None):
    from tradejet.io.store import BarStore

    store = BarStore(root)
    series = store.series()
    if not series:
        raise DataError("the bar store is empty", source=str(root))
    tfs = Counter(t for _, _, t in series)
    tf = timeframe_name(timeframe) if timeframe else tfs.most_common(1)[0][0]
    chosen = {s: v for v, s, t in series if t == tf}
    if not chosen:
        raise DataError(f"no {tf} bars in the store (it holds {', '.join(sorted(tfs))})", source=str(root))
    return {sym: store.read(venue, sym, tf) for sym, venue in sorted(chosen.items())}, parse_timeframe(tf), []


def equity_from_filename(name: str) -> tuple[str, str] | None:
    """Return ``(ticker, timeframe)`` read from an equity candle file's name (``SPY_1d.csv``), or None.

    >>> equity_from_filename("SPY_1d.csv"), equity_from_filename("notes.txt")
    (('SPY', '1d'), None)
    """
    m = _name_match(name)
    if not m:
        return None
    try:
        return m.group("pair").upper(), timeframe_name(m.group("tf"))
    except DataError:
        return None


def _adjust(cols: dict[str, np.ndarray], ok: np.ndarray, source: str) -> tuple[np.ndarray, int]:
    """Scale OHLC by ``adj_close / close`` (splits and dividends) where the file has ``adj_close``."""
    adj = cols.get("adj_close")
    if adj is None:
        return ok, 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.asarray(adj, np.float64) / np.asarray(cols["close"], np.float64)
    good = np.isfinite(f) & (f > 0)
    bad = int((ok & ~good).sum())
    for k in ("open", "high", "low", "close"):
        cols[k] = np.where(good, np.asarray(cols[k], np.float64) * f, np.nan)
    cols["volume"] = np.where(good, np.asarray(cols["volume"], np.float64) / f, np.nan)
    _ = source
    return ok & good, bad


def _from_files(root: Path, timeframe: str | None, equities: bool = False):
    from tradejet.io.importers import read_file
    from tradejet.io.validate import validate_bars

    found = {}
    name_of = equity_from_filename if equities else symbol_from_filename
    for f in sorted(root.iterdir()):
        if f.is_file() and (parsed := name_of(f.name)):
            found.setdefault(parsed[1], {})[parsed[0]] = f
    if not found:
        what = "<TICKER>_<timeframe>" if equities else "<PAIR>_<timeframe>"
        raise DataError(f"no candle files named {what}.csv[.gz] or .parquet here", source=str(root))
    tf = timeframe_name(timeframe) if timeframe else max(found, key=lambda k: len(found[k]))
    if tf not in found:
        raise DataError(f"no {tf} files here (timeframes found: {', '.join(sorted(found))})", source=str(root))
    tf_ns = parse_timeframe(tf)
    out, warnings = {}, []
    for sym, path in sorted(found[tf].items()):
        p = read_file(path, symbol=sym, timeframe=tf)
        if p.kind != "bars":
            raise DataError("expected candles, found trades", source=str(path))
        rep = validate_bars(p.cols, tf_ns, source=str(path), lines=p.lines, pre=p.pre, notes=p.notes)
        ok = rep.ok
        if rep.rejected:
            warnings.append(f"{path.name}: {rep.rejected} bad rows left out ({rep.summary()})")
        if equities:
            ok, bad_adj = _adjust(p.cols, ok, str(path))
            if bad_adj:
                warnings.append(f"{path.name}: {bad_adj} rows without a usable adj_close left out")
        if ok.sum() < 2:
            raise DataError(f"fewer than 2 valid bars ({int(ok.sum())})", source=str(path))
        out[sym] = {k: np.asarray(p.cols[k])[ok] for k in ("ts", "open", "high", "low", "close", "volume")}
    return out, tf_ns, warnings


def load_bars(path: str | Path, timeframe: str | None = None, *, equities: bool = False):
    """Return ``(MarketBars, warnings)`` from a bar store or a folder of candle files.

    ``equities``: file names are ``<TICKER>_<timeframe>`` (no quote currency) and prices
    are adjusted for splits and dividends with the files' ``adj_close`` where present.
    """
    from tradejet.engine.simulate import MarketBars

    root = Path(path)
    if not root.exists():
        raise DataError("no such folder", source=str(root))
    if not root.is_dir():
        raise DataError("--data takes a folder (a bar store or a folder of candle files)", source=str(root))
    is_store = any(d.is_dir() and any(x.is_dir() for x in d.iterdir()) for d in root.iterdir() if d.is_dir())
    series, tf_ns, warnings = (_from_store(root, timeframe) if is_store
                               else _from_files(root, timeframe, equities))
    return MarketBars.align(series, tf_ns, source=str(root)), warnings
