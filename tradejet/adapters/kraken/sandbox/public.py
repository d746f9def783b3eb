"""The sandbox's public market-data endpoints (Time, SystemStatus, Assets, AssetPairs, OHLC,
Ticker, Depth, Trades), as a mixin of :class:`~tradejet.adapters.kraken.sandbox.exchange.Exchange`."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any

from tradejet.adapters.kraken.sandbox.market import MarketSource
from tradejet.adapters.kraken.sandbox.pairs import ALIASES, ASSETS, PAIRS
from tradejet.adapters.kraken.sandbox.tape import MAX_TRADES, tape_count, trades_page

__all__ = ["MarketData", "Refusal"]


class Refusal(Exception):
    """A Kraken error string to send back in the ``error`` array."""


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt(x: Any, decimals: int) -> str:
    return f"{float(x):.{decimals}f}"


class MarketData:
    """Public endpoints; they show the market at :attr:`view_index` (frozen while the feed is stale)."""

    market: MarketSource
    clock: Callable[[], float]
    status: str
    frozen_index: int | None = None  # set while the "stale data" fault is on

    @property
    def view_index(self) -> int:
        return self.market.index if self.frozen_index is None else self.frozen_index

    def _pair(self, name: str | None) -> str:
        key = ALIASES.get(name or "")
        if key is None or key not in self.market.pairs:
            raise Refusal("EQuery:Unknown asset pair")
        return key

    # -- public endpoints -------------------------------------------------------------------------

    def public(self, endpoint: str, params: dict[str, str]) -> Any:
        fn = getattr(self, f"pub_{endpoint}", None)
        if fn is None:
            raise Refusal("EGeneral:Unknown method")
        return fn(params)

    def pub_Time(self, p: dict[str, str]) -> Any:  # noqa: N802 - Kraken's endpoint names
        now = self.clock()
        return {"unixtime": int(now), "rfc1123": formatdate(now, usegmt=True).replace("GMT", "+0000")}

    def pub_SystemStatus(self, p: dict[str, str]) -> Any:  # noqa: N802
        return {"status": self.status, "timestamp": _rfc3339(self.clock())}

    def pub_Assets(self, p: dict[str, str]) -> Any:  # noqa: N802
        want = [a for a in p.get("asset", "").split(",") if a]
        if not want:
            return ASSETS
        out = {}
        for a in want:
            key = next((k for k, v in ASSETS.items() if a in (k, v["altname"])), None)
            if key is None:
                raise Refusal("EQuery:Unknown asset")
            out[key] = ASSETS[key]
        return out

    def pub_AssetPairs(self, p: dict[str, str]) -> Any:  # noqa: N802
        names = [n for n in p.get("pair", "").split(",") if n]
        keys = [self._pair(n) for n in names] if names else self.market.pairs
        return {k: PAIRS[k] for k in keys}

    def _row(self, key: str, i: int, forming: bool) -> list[Any]:
        pd = PAIRS[key]["pair_decimals"]
        t, o, h, lo, c, v, n = self.market.candle(key, i)
        n = tape_count(n, v)  # the number of trades the Trades endpoint serves for it
        if forming:  # only the open is known so far
            h = lo = c = o
            v, n = 0.0, 0
        vwap = (o + h + lo + c) / 4 if n else 0.0
        return [t, _fmt(o, pd), _fmt(h, pd), _fmt(lo, pd), _fmt(c, pd), _fmt(vwap, pd), _fmt(v, 8), n]

    def pub_OHLC(self, p: dict[str, str]) -> Any:  # noqa: N802
        key = self._pair(p.get("pair"))
        interval = int(p.get("interval", "1") or 1)
        if interval * 60 != self.market.interval_s:
            raise Refusal("EGeneral:Invalid arguments:interval")
        m = self.market
        now = self.view_index
        first = max(0, now - 720 + 1)
        since = p.get("since")
        if since:
            first = max(first, (int(since) - m.t0) // m.interval_s)
        rows = [self._row(key, i, i == now) for i in range(first, now + 1)]
        return {p.get("pair") or key: rows, "last": m.t0 + (now - 1) * m.interval_s}

    def pub_Ticker(self, p: dict[str, str]) -> Any:  # noqa: N802
        out = {}
        for name in [n for n in p.get("pair", "").split(",") if n] or self.market.pairs:
            key = self._pair(name)
            pd = PAIRS[key]["pair_decimals"]
            now = self.view_index
            last = self.market.candle(key, now)[1]
            day = [self.market.candle(key, i) for i in range(max(0, now - 1440), now)]
            vol = sum(c[5] for c in day)
            vwap = sum(c[4] * c[5] for c in day) / vol if vol else last
            tick = float(PAIRS[key]["tick_size"])
            out[name] = {"a": [_fmt(last + tick, pd), "1", "1.000"], "b": [_fmt(last, pd), "1", "1.000"],
                         "c": [_fmt(last, pd), "0.00100000"], "v": [_fmt(vol, 8)] * 2, "p": [_fmt(vwap, pd)] * 2,
                         "t": [sum(c[6] for c in day)] * 2, "l": [_fmt(min(c[3] for c in day), pd)] * 2,
                         "h": [_fmt(max(c[2] for c in day), pd)] * 2, "o": _fmt(day[0][1], pd)}
        return out

    def book(self, key: str, depth: int = 10, index: int | None = None
             ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """A synthetic book around the open of candle ``index`` (default: the forming one):
        (asks low->high, bids high->low), deterministic per (pair, index)."""
        i = self.view_index if index is None else index
        last = self.market.candle(key, i)[1]
        tick = float(PAIRS[key]["tick_size"])
        pd = PAIRS[key]["pair_decimals"]
        r = random.Random(zlib.crc32(f"{key}:{i}".encode()))
        asks = [(round(last + tick * (1 + i * 3), pd), round(r.uniform(0.01, 5.0), 8)) for i in range(depth)]
        bids = [(round(last - tick * (i * 3), pd), round(r.uniform(0.01, 5.0), 8)) for i in range(depth)]
        return asks, bids

    def pub_Depth(self, p: dict[str, str]) -> Any:  # noqa: N802
        key = self._pair(p.get("pair"))
        count = min(int(p.get("count", "100") or 100), 500)
        asks, bids = self.book(key, count)
        pd = PAIRS[key]["pair_decimals"]
        ts = int(self.clock())
        return {p.get("pair") or key: {"asks": [[_fmt(px, pd), _fmt(q, 8), ts] for px, q in asks],
                                       "bids": [[_fmt(px, pd), _fmt(q, 8), ts] for px, q in bids]}}

    def pub_Trades(self, p: dict[str, str]) -> Any:  # noqa: N802
        key = self._pair(p.get("pair"))
        try:
            count = int(p.get("count") or MAX_TRADES)
            since = p.get("since") or None
            if since is not None and (not since.isdigit()):
                raise ValueError
        except ValueError:
            raise Refusal("EGeneral:Invalid arguments") from None
        if not 1 <= count <= MAX_TRADES:
            raise Refusal("EGeneral:Invalid arguments:count")
        rows, last = trades_page(self.market, key, self.view_index, since, count)
        return {p.get("pair") or key: rows, "last": last}
