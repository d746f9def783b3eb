"""A seeded synthetic market: one random-walk candle stream per pair, replayed candle by candle.

The data layer's synthetic market and bar store will replace this; the sandbox only needs
``candle(pair, i)`` for any index ``i`` and the index of the forming candle (``index``).
Candle ``i`` opens at ``t0 + i * interval_s``. Candles ``< index`` are closed;
``index`` is forming: until it closes only its open is known to the outside.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["MarketSource", "SyntheticMarket", "Candle"]

Candle = tuple[int, float, float, float, float, float, int]  # time_s, open, high, low, close, volume, count


class MarketSource(Protocol):
    """What the sandbox needs from a market (a bar-store replay can replace the synthetic one).

    Pair names are Kraken pair keys (``XXBTZUSD``); candle ``i`` opens at ``t0 + i * interval_s``.
    """

    interval_s: int
    t0: int
    index: int  # the forming candle; at least 720 closed candles before it

    @property
    def pairs(self) -> list[str]: ...

    def candle(self, pair: str, i: int) -> Candle: ...

    def last_price(self, pair: str) -> float: ...

    def advance(self, n: int = 1) -> None: ...


class SyntheticMarket:
    """Geometric random walk per pair, seeded; ``history`` closed candles exist at the start."""

    def __init__(self, start_prices: dict[str, float], *, seed: int = 0, interval_s: int = 60,
                 t0: int | None = None, history: int = 720, vol_per_candle: float = 0.002, block: int = 4096):
        import time

        self.interval_s = interval_s
        now = int(time.time())
        self.t0 = t0 if t0 is not None else (now // interval_s) * interval_s - history * interval_s
        self.index = history
        self._rng = np.random.default_rng(seed)
        self._vol = vol_per_candle
        self._block = block
        self._start = dict(start_prices)
        self._arr: dict[str, np.ndarray] = {k: np.empty((0, 6)) for k in start_prices}
        self._extend(history + block)

    @property
    def pairs(self) -> list[str]:
        return list(self._arr)

    def _extend(self, n: int) -> None:
        for k in sorted(self._arr):
            old = self._arr[k]
            last = old[-1, 3] if len(old) else self._start[k]
            r = self._rng.normal(0.0, self._vol, size=(n, 4))
            closes = last * np.exp(np.cumsum(r[:, 0]))
            opens = np.concatenate([[last], closes[:-1]])
            wick_hi = np.abs(r[:, 1]) * 0.5 + 1.0
            wick_lo = 1.0 - np.abs(r[:, 2]) * 0.5
            highs = np.maximum(opens, closes) * wick_hi
            lows = np.minimum(opens, closes) * wick_lo
            vols = np.abs(r[:, 3]) * 50 / max(last, 1e-9) ** 0.5 + 0.01
            self._arr[k] = np.concatenate([old, np.column_stack([opens, highs, lows, closes, vols,
                                                                  np.ones(n)])])

    def candle(self, pair: str, i: int) -> Candle:
        """Return candle ``i`` of ``pair`` (the full candle, also for the forming one)."""
        arr = self._arr[pair]
        while i >= len(arr):
            self._extend(self._block)
            arr = self._arr[pair]
        o, h, lo, c, v, _ = arr[i]
        count = 4 + int(v * 37) % 47  # >= 4: the trade tape needs open, low, high, close prints
        return (self.t0 + i * self.interval_s, float(o), float(h), float(lo), float(c), float(v), count)

    def last_price(self, pair: str) -> float:
        """The latest traded price known to the outside: the forming candle's open."""
        return self.candle(pair, self.index)[1]

    def advance(self, n: int = 1) -> None:
        self.index += n


class ArrayMarket:
    """Replay of recorded candles (a bar store, candle files, or the data layer's synthetic market).

    ``candles`` maps a Kraken pair key (``XXBTZUSD``) to an ``(n, 5)`` array of open, high,
    low, close, volume; ``ts_s`` holds the candles' open times in seconds (one row per
    ``interval_s``; a row with NaN, a pair without a trade that interval, repeats the last
    close with zero volume). The replay starts at ``start`` (the first forming candle;
    the rows before it are history the OHLC endpoint serves) and stops at the last row:
    when the data ends the market stands still (the last candle keeps forming).
    Candle times are the recorded ones, not the wall clock.
    """

    wall_aligned = False

    def __init__(self, candles: dict[str, np.ndarray], ts_s: np.ndarray, *, interval_s: int,
                 start: int | None = None):
        from tradejet.errors import DataError

        ts = np.asarray(ts_s, np.int64)
        n = ts.shape[0]
        if n < 2:
            raise DataError(f"the sandbox replay needs at least 2 candles, got {n}")
        if np.any(np.diff(ts) != interval_s):
            raise DataError(f"candle times must step by {interval_s}s with no holes (align the bars first)")
        if not candles:
            raise DataError("the sandbox replay needs at least one pair")
        self.interval_s = int(interval_s)
        self.t0 = int(ts[0])
        self.n = n
        self.index = int(min(720, n - 1) if start is None else start)
        if not 1 <= self.index < n:
            raise DataError(f"start must be in 1..{n - 1}, was {self.index}")
        self._arr: dict[str, np.ndarray] = {}
        for k, a in candles.items():
            a = np.array(a, np.float64)
            if a.shape != (n, 5):
                raise DataError(f"{k}: candles have shape {a.shape}, expected {(n, 5)}")
            last = np.nan
            for i in range(n):  # forward-fill holes with a flat, empty candle at the last close
                if not np.isfinite(a[i, 3]):
                    a[i] = (last, last, last, last, 0.0)
                else:
                    last = a[i, 3]
            first = np.flatnonzero(np.isfinite(a[:, 3]))
            if first.size == 0:
                raise DataError(f"{k}: no valid candle")
            a[: first[0]] = (a[first[0], 0],) * 4 + (0.0,)
            self._arr[k] = a

    @property
    def pairs(self) -> list[str]:
        return list(self._arr)

    def candle(self, pair: str, i: int) -> Candle:
        i = min(i, self.n - 1)
        o, h, lo, c, v = self._arr[pair][i]
        return (self.t0 + i * self.interval_s, float(o), float(h), float(lo), float(c), float(v),
                int(v > 0) + int(v * 7) % 40)

    def last_price(self, pair: str) -> float:
        return self.candle(pair, self.index)[1]

    def advance(self, n: int = 1) -> None:
        self.index = min(self.index + n, self.n - 1)

    @property
    def finished(self) -> bool:
        """True when the replay reached its last candle."""
        return self.index >= self.n - 1


__all__ += ["ArrayMarket"]
