"""The paper venue: an :class:`~tradejet.engine.ports.ExecutionVenue` that fills with the shared fill model.

Per bar cross-section (one timestamp of the feed) it does what the compiled driver
does before it steps: every working order, in submission order, is worked against its
symbol's bar by :func:`tradejet.kernels.fills.fill_bar_nb`, with the same bar row the
backtest uses (OHLCV plus the causal spread / sigma / average-volume estimates of
:func:`~tradejet.kernels.fills.market_context_nb`, computed here from the same
history window, so the figures are bit-identical). It then emits the executions, the
bars and a :class:`~tradejet.messages.BarsComplete` marker. An order submitted after
bar ``t`` works from bar ``t + 1 + latency`` (by default the next bar's open).

Orders are taken as sent: the engine's risk layer has already rounded them to the
pair's decimals and checked its minimums (the compiled driver does not round again,
and neither does this venue). Cash-only: a buy whose cost at the last close plus the
taker fee exceeds the free cash is rejected. Deterministic ids: venue order
``P<n>``, trade ``<client id>.<n>``, so a replay produces the same ids.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator

import numpy as np

from tradejet.errors import DataError
from tradejet.kernels.codes import Fill, OrderType
from tradejet.kernels.fills import CFG, N_ORD, ORD, PAIR, fill_bar_nb, market_context_nb
from tradejet.messages import (
    Balance,
    Bar,
    BarsComplete,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderStatusReport,
    Position,
    SubmitOrder,
)

__all__ = ["PaperVenue", "ReplayFeed", "parse_speed"]


def parse_speed(text: str) -> float:
    """Return the replay speed factor: ``"1x"`` -> 1.0, ``"60x"`` -> 60.0, ``"max"`` -> inf.

    >>> parse_speed("60x"), parse_speed("max")
    (60.0, inf)
    """
    t = str(text).strip().lower()
    if t == "max":
        return math.inf
    try:
        f = float(t[:-1] if t.endswith("x") else t)
    except ValueError:
        raise DataError(f"speed must be like 1x, 60x or max, was {text!r}") from None
    if not f > 0 or not math.isfinite(f):
        raise DataError(f"speed must be > 0, was {text!r}")
    return f


class ReplayFeed:
    """Bars replayed from aligned arrays (``(n_bars, n_symbols)``, NaN where a symbol has no bar).

    Takes any object with ``symbols, ts, open, high, low, close, volume, timeframe_ns``
    (e.g. :class:`tradejet.engine.simulate.MarketBars`). ``speed`` is bars per
    ``timeframe`` of wall time (1.0: real time, ``inf``: as fast as possible);
    ``fast_until`` rows are replayed at full speed first (a resumed run catching up).
    ``stop`` (exclusive) ends the feed early.
    """

    def __init__(self, bars, *, speed: float = math.inf, fast_until: int = 0, stop: int | None = None):
        self.symbols = list(bars.symbols)
        self.ts = np.asarray(bars.ts, np.int64)
        self.open = np.asarray(bars.open, np.float64)
        self.high = np.asarray(bars.high, np.float64)
        self.low = np.asarray(bars.low, np.float64)
        self.close = np.asarray(bars.close, np.float64)
        self.volume = np.asarray(bars.volume, np.float64)
        self.timeframe_ns = int(bars.timeframe_ns)
        self.have = np.isfinite(self.close)
        if not speed > 0:
            raise DataError(f"speed must be > 0, was {speed}")
        self.speed = float(speed)
        self.fast_until = int(fast_until)
        self.stop = self.ts.shape[0] if stop is None else min(int(stop), self.ts.shape[0])
        self.position = 0

    def __len__(self) -> int:
        return self.stop


class _Order:
    __slots__ = ("cid", "vid", "pair", "row", "reserve", "n_fills", "strategy", "ts_init")

    def __init__(self, cid, vid, pair, row, reserve, strategy, ts_init):
        self.cid = cid
        self.vid = vid
        self.pair = pair
        self.row = row
        self.reserve = reserve
        self.n_fills = 0
        self.strategy = strategy
        self.ts_init = ts_init


class PaperVenue:
    """A simulated venue over a :class:`ReplayFeed` (or bars pushed in with :meth:`process_bars`).

    Parameters
    ----------
    symbols : the universe, in the engine's pair order.
    pair_rows : ``(n, N_PAIR)`` fill-model pair rows (``build_context`` returns them).
    fill_cfg : the ``CFG`` array (:func:`tradejet.kernels.fills.config_array`).
    cash : starting cash in ``quote``.
    feed : a :class:`ReplayFeed`, or None when bars are pushed.
    """

    name = "paper"

    def __init__(self, symbols: list[str], pair_rows: np.ndarray, fill_cfg: np.ndarray, *, cash: float,
                 timeframe_ns: int, feed: ReplayFeed | None = None, quote: str | None = None):
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.pair_rows = np.ascontiguousarray(pair_rows, np.float64)
        self.cfg = np.ascontiguousarray(fill_cfg, np.float64)
        if self.pair_rows.shape[0] != len(self.symbols):
            raise DataError(f"pair_rows has {self.pair_rows.shape[0]} rows for {len(self.symbols)} symbols")
        if feed is not None and feed.symbols != self.symbols:
            raise DataError(f"feed symbols {feed.symbols} differ from the venue's {self.symbols}")
        self.feed = feed
        self.timeframe_ns = int(timeframe_ns)
        self.latency_bars = int(self.cfg[CFG.LATENCY_NS] // self.timeframe_ns)
        self.quote = quote or (self.symbols[0].split("/", 1)[1] if "/" in self.symbols[0] else "USD")
        self.cash = float(cash)
        self.position = np.zeros(len(self.symbols))
        self.cost = np.zeros(len(self.symbols))   # signed cost basis of the net position
        self.last_close = np.full(len(self.symbols), np.nan)
        self.bar_index = -1
        self.bar_ts = 0
        self._work: list[_Order] = []
        self._orders: dict[str, _Order] = {}
        self._outbox: list = []
        self._fills: list[OrderFilled] = []
        self._n_orders = 0
        k = int(max(self.cfg[CFG.SPREAD_WINDOW], self.cfg[CFG.VOL_WINDOW])) + 2
        self._hist = [deque(maxlen=k) for _ in self.symbols]
        self._bar = np.empty(8)

    # ------------------------------------------------------------------ orders
    async def submit(self, order: SubmitOrder) -> None:
        """Accept an order (idempotent by client id); it works from the next bar after the latency."""
        self.submit_now(order)

    def submit_now(self, order: SubmitOrder) -> None:
        if order.client_order_id in self._orders:
            return
        p = self.index.get(order.symbol)
        ts = self.bar_ts
        if p is None:
            self._outbox.append(OrderRejected(client_order_id=order.client_order_id,
                                              reason=f"unknown symbol {order.symbol!r}", ts_event=ts))
            return
        typ = int(order.order_type)
        row = np.zeros(N_ORD)
        row[ORD.SIDE] = order.side
        row[ORD.TYPE] = typ
        row[ORD.QTY] = order.qty
        row[ORD.PRICE] = (order.limit_price if typ == OrderType.LIMIT else
                          order.stop_price if typ in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT) else np.nan)
        row[ORD.PRICE2] = np.nan
        row[ORD.POST_ONLY] = 1.0 if order.post_only else 0.0
        row[ORD.READY_BAR] = self.bar_index + 1 + self.latency_bars
        row[ORD.AVG_PRICE] = np.nan
        row[ORD.STATUS] = Fill.NONE
        reserve = 0.0
        if order.side > 0:
            ref = row[ORD.PRICE] if typ == OrderType.LIMIT else self.last_close[p]
            reserve = order.qty * ref * (1.0 + self.pair_rows[p, PAIR.TAKER_FEE]) if ref == ref else 0.0
            if reserve > (self.cash - self._reserved()) * (1.0 + 1e-9) + 1e-12:
                self._outbox.append(OrderRejected(client_order_id=order.client_order_id,
                                                  reason="insufficient funds (cash-only)", ts_event=ts))
                self._orders[order.client_order_id] = _Order(order.client_order_id, "", p, row, 0.0,
                                                             order.strategy, order.ts_init)
                return
        self._n_orders += 1
        o = _Order(order.client_order_id, f"P{self._n_orders}", p, row, reserve, order.strategy, order.ts_init)
        self._orders[o.cid] = o
        self._work.append(o)
        self._outbox.append(OrderAccepted(client_order_id=o.cid, venue_order_id=o.vid, ts_event=ts))

    def _reserved(self) -> float:
        r = 0.0
        for o in self._work:
            if o.reserve:
                left = o.row[ORD.QTY] - o.row[ORD.FILLED]
                r += o.reserve * (left / o.row[ORD.QTY])
        return r

    async def cancel(self, client_order_id: str) -> None:
        """Cancel a working order (no-op when unknown or finished)."""
        self.cancel_now(client_order_id)

    def cancel_now(self, client_order_id: str) -> None:
        o = self._orders.get(client_order_id)
        if o is None or o not in self._work:
            return
        self._work.remove(o)
        o.row[ORD.STATUS] = Fill.CANCELLED
        self._outbox.append(OrderCanceled(client_order_id=client_order_id, ts_event=self.bar_ts))

    # ------------------------------------------------------------------ the account
    async def open_orders(self) -> list[OrderStatusReport]:
        out = []
        for o in self._work:
            r = o.row
            out.append(OrderStatusReport(client_order_id=o.cid, venue_order_id=o.vid, symbol=self.symbols[o.pair],
                                         side=int(r[ORD.SIDE]), order_type=int(r[ORD.TYPE]), qty=float(r[ORD.QTY]),
                                         filled_qty=float(r[ORD.FILLED]),
                                         status="partially_filled" if r[ORD.FILLED] > 0 else "new",
                                         ts_event=self.bar_ts, avg_price=float(r[ORD.AVG_PRICE]),
                                         limit_price=float(r[ORD.PRICE])))
        return out

    async def balances(self) -> list[Balance]:
        out = [Balance(asset=self.quote, total=self.cash, available=self.cash - self._reserved())]
        for p, s in enumerate(self.symbols):
            if self.position[p] != 0.0:
                base = s.split("/", 1)[0]
                out.append(Balance(asset=base, total=float(self.position[p]), available=float(self.position[p])))
        return out

    async def positions(self) -> list[Position]:
        return [Position(symbol=s, qty=float(self.position[p]), avg_price=float(self.cost[p] / self.position[p]))
                for p, s in enumerate(self.symbols) if self.position[p] != 0.0]

    async def fills_since(self, ts: int | None) -> list[OrderFilled]:
        return [f for f in self._fills if ts is None or f.ts_event >= ts]

    # ------------------------------------------------------------------ market data and fills
    def _context(self, p: int) -> np.ndarray:
        """The fill model's bar row for symbol ``p``'s newest bar (history ends with it)."""
        h = self._hist[p]
        a = np.array(h, dtype=np.float64)
        ctx = market_context_nb(a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy(), a[:, 4].copy(),
                                self.cfg[CFG.SPREAD_WINDOW], self.cfg[CFG.VOL_WINDOW])
        return ctx[-1]

    def process_bars(self, ts: int, bars: dict[int, tuple[float, float, float, float, float]]) -> list:
        """Take one cross-section (pair index -> OHLCV); work the orders; return the executions it made."""
        self.bar_index += 1
        self.bar_ts = ts
        t = self.bar_index
        for p, ohlcv in bars.items():
            self._hist[p].append(ohlcv)
        events = self._outbox
        self._outbox = []
        keep = []
        ctx_cache: dict[int, np.ndarray] = {}
        for o in self._work:
            p = o.pair
            if p not in bars:
                keep.append(o)
                continue
            bar = ctx_cache.get(p)
            if bar is None:
                bar = ctx_cache[p] = self._context(p)
            q, price, fee, code = fill_bar_nb(o.row, t, bar, self.pair_rows[p], self.cfg)
            if q > 0.0:
                side = int(o.row[ORD.SIDE])
                o.n_fills += 1
                f = OrderFilled(client_order_id=o.cid, venue_order_id=o.vid, trade_id=f"{o.cid}.{o.n_fills}",
                                symbol=self.symbols[p], side=side, qty=float(q), price=float(price), fee=float(fee),
                                ts_event=ts, ts_init=o.ts_init,
                                liquidity="maker" if o.row[ORD.TYPE] == OrderType.LIMIT and fee == q * price *
                                self.pair_rows[p, PAIR.MAKER_FEE] and o.row[ORD.TRIGGERED] == 0 else "taker")
                self.cash -= side * q * price + fee
                if self.position[p] == 0.0 or (self.position[p] > 0) == (side > 0):
                    self.cost[p] += side * q * price
                else:
                    self.cost[p] *= (self.position[p] + side * q) / self.position[p]
                self.position[p] += side * q
                if abs(self.position[p]) < 1e-12:
                    self.position[p] = 0.0
                    self.cost[p] = 0.0
                self._fills.append(f)
                events.append(f)
            if code == Fill.FILLED:
                continue
            if code >= Fill.REJECT_QTY:
                events.append(OrderRejected(client_order_id=o.cid, reason=f"fill model code {code}", ts_event=ts))
                continue
            keep.append(o)
        self._work = keep
        for p, ohlcv in bars.items():
            self.last_close[p] = ohlcv[3]
        return events

    async def events(self) -> AsyncIterator:
        """Replay the feed: per timestamp, executions first, then the bars, then ``BarsComplete``."""
        feed = self.feed
        if feed is None:
            raise DataError("this paper venue has no feed: push bars with process_bars")
        wall0 = None
        row0 = feed.position
        syms = self.symbols
        while feed.position < feed.stop:
            t = feed.position
            if t >= feed.fast_until and math.isfinite(feed.speed):
                now = time.monotonic()
                if wall0 is None:
                    wall0, row0 = now, t
                due = wall0 + (t - row0) * feed.timeframe_ns / 1e9 / feed.speed
                if due > now:
                    await asyncio.sleep(due - now)
            ts = int(feed.ts[t])
            have = feed.have[t]
            bars = {p: (float(feed.open[t, p]), float(feed.high[t, p]), float(feed.low[t, p]),
                        float(feed.close[t, p]), float(feed.volume[t, p])) for p in range(len(syms)) if have[p]}
            feed.position = t + 1
            for ev in self.process_bars(ts, bars):
                yield ev
            for p, (o, h, lo, c, v) in bars.items():
                yield Bar(symbol=syms[p], ts=ts, open=o, high=h, low=lo, close=c, volume=v,
                          timeframe_ns=feed.timeframe_ns)
            yield BarsComplete(ts=ts)
            # answers to what the engine sent after this bar (accepts, cancels) before the next bar
            if self._outbox and (feed.position >= feed.stop):
                out, self._outbox = self._outbox, []
                for ev in out:
                    yield ev
