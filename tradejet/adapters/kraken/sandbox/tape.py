"""The sandbox's public trade tape: the trades behind each closed candle.

Kraken builds its OHLC candles from its trades, so the sandbox does the reverse: every
closed candle ``i`` is split into ``max(count, 4)`` trades (none for an empty candle; OHLC
reports that number as the candle's ``count``) whose prices run open ->
low/high -> high/low -> close (formatted as OHLC formats them) and whose volumes (integer
units of 1e-8) add up to the candle's volume string. Aggregating the tape therefore gives
back exactly the candles ``/0/public/OHLC`` serves, which is what ``tradejet data
download`` relies on when it stitches Trades history to the OHLC window.

Trades never sit on a candle boundary; times are whole multiples of 100 us. The ``since``
cursor and ``last`` are nanoseconds (``last`` = the time of the last trade returned), as
Kraken sends them; ``since`` is exclusive. The forming candle has no trades yet.
"""

from __future__ import annotations

from typing import Any

from tradejet.adapters.kraken.sandbox.market import MarketSource
from tradejet.adapters.kraken.sandbox.pairs import PAIRS

__all__ = ["candle_trades", "trades_page", "tape_count", "MAX_TRADES"]

MAX_TRADES = 1000  # Kraken's cap per Trades call (and its default)
_NS = 1_000_000_000
_TICK_NS = 100_000  # trade times are multiples of 100 us


def _fmt(x: float, decimals: int) -> str:
    return f"{float(x):.{decimals}f}"


def tape_count(count: int, volume: float) -> int:
    """Trades behind a candle: none for an empty one (no volume or no count), else at least 4.

    >>> tape_count(0, 1.5), tape_count(2, 1.5), tape_count(9, 0.0), tape_count(9, 1.5)
    (0, 4, 0, 9)
    """
    return 0 if count <= 0 or not volume > 0 else max(int(count), 4)


def candle_trades(market: MarketSource, key: str, i: int) -> list[tuple[int, list[Any]]]:
    """Return ``[(time_ns, row), ...]`` for closed candle ``i``; ``row`` in Kraken's Trades layout."""
    t, o, h, lo, c, v, n = market.candle(key, i)
    k = tape_count(n, v)
    if k == 0:
        return []
    pd = PAIRS[key]["pair_decimals"]
    po, ph, pl, pc = (_fmt(x, pd) for x in (o, h, lo, c))
    path = [po, pl, ph] if float(pc) >= float(po) else [po, ph, pl]
    prices = path + [pc] * (k - 3)
    units = int(_fmt(v, 8).replace(".", ""))  # the volume string OHLC shows, in 1e-8 units
    base, extra = divmod(units, k)
    interval_ns = market.interval_s * _NS
    out = []
    prev = float(po)
    for j in range(k):
        q = base + (1 if j < extra else 0)
        ts = t * _NS + ((j + 1) * interval_ns // (k + 1)) // _TICK_NS * _TICK_NS
        p = float(prices[j])
        side = "b" if p >= prev else "s"
        prev = p
        row = [prices[j], f"{q // 10**8}.{q % 10**8:08d}", round(ts / _NS, 4), side, "m" if j % 3 else "l", "",
               i * 1000 + j + 1]
        out.append((ts, row))
    return out


def trades_page(market: MarketSource, key: str, view_index: int, since: str | None, count: int
                ) -> tuple[list[list[Any]], str]:
    """Return (rows, last) of one Trades call: ``count`` trades after ``since`` (ns), or the
    most recent ``count`` without it; only closed candles (``< view_index``) have trades."""
    m = market
    rows: list[tuple[int, list[Any]]] = []
    if since is None:
        i = view_index - 1
        while i >= 0 and len(rows) < count:
            rows[:0] = candle_trades(m, key, i)
            i -= 1
        rows = rows[-count:]
        last = str(rows[-1][0]) if rows else str(m.t0 * _NS)
        return [r for _, r in rows], last
    cut = int(since) if len(since) > 12 else int(since) * _NS  # seconds are accepted too
    i = max(0, (cut // _NS - m.t0) // m.interval_s)
    while i < view_index and len(rows) < count:
        rows.extend(x for x in candle_trades(m, key, i) if x[0] > cut)
        i += 1
    rows = rows[:count]
    last = str(rows[-1][0]) if rows else str(cut)
    return [r for _, r in rows], last
