"""Timeframe names (``1m``, ``5m``, ``1h``, ``1d`` ...) and their length in nanoseconds."""

from __future__ import annotations

import re

from tradejet.errors import DataError

__all__ = ["parse_timeframe", "timeframe_name", "NS_PER", "BAR_COLUMNS", "FLOAT_COLUMNS", "fmt_ts"]

NS_PER = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000,
          "w": 7 * 86_400_000_000_000}
_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")

BAR_COLUMNS = ("ts", "open", "high", "low", "close", "volume", "trades")
FLOAT_COLUMNS = BAR_COLUMNS[1:]


def parse_timeframe(tf: str | int) -> int:
    """Return the length of timeframe ``tf`` in ns; a bare integer means minutes (Kraken's style).

    >>> parse_timeframe("1h") == 3_600 * 10**9, parse_timeframe(1440) == parse_timeframe("1d")
    (True, True)
    """
    if isinstance(tf, int) or (isinstance(tf, str) and tf.strip().isdigit()):
        n = int(tf)
        if n <= 0:
            raise DataError(f"timeframe must be > 0 minutes, was {tf!r}")
        return n * NS_PER["m"]
    m = _RE.match(str(tf).lower())
    if not m or int(m.group(1)) == 0:
        raise DataError(f"timeframe must look like 1m, 5m, 15m, 1h, 4h or 1d, was {tf!r}")
    return int(m.group(1)) * NS_PER[m.group(2)]


def timeframe_name(tf: str | int) -> str:
    """Return the canonical name of a timeframe (largest whole unit).

    >>> timeframe_name("60m"), timeframe_name(1440), timeframe_name("90s")
    ('1h', '1d', '90s')
    """
    ns = parse_timeframe(tf)
    for unit in ("w", "d", "h", "m", "s"):
        if ns % NS_PER[unit] == 0:
            return f"{ns // NS_PER[unit]}{unit}"
    raise DataError(f"timeframe must be a whole number of seconds, was {tf!r}")  # pragma: no cover


def fmt_ts(ts: int) -> str:
    """Format Unix ns as ISO 8601 UTC (``2023-11-17T00:00:00Z``)."""
    import datetime as dt

    secs, ns = divmod(int(ts), 1_000_000_000)
    d = dt.datetime.fromtimestamp(secs, dt.UTC)
    base = d.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ns:09d}Z".replace(".000000000Z", "Z")
