"""Portfolio: cash, positions by strategy and pair, average prices, P&L and fees.

A thin facade over :mod:`tradejet.kernels.portfolio`; the arrays it holds are the
ones the compiled driver passes to the kernels, so both drivers book fills alike.

>>> from tradejet.engine.universe import Universe
>>> pf = Portfolio(Universe.default(), cash=10_000.0)
>>> pf.apply_fill("trend_following", "BTC/USD", 1, 0.1, 50_000.0, fee=20.0)
0.0
>>> pf.apply_fill("trend_following", "XBTUSD", -1, 0.05, 52_000.0, fee=10.4)
100.0
>>> round(pf.cash, 6), pf.position("BTC/USD")
(7569.6, 0.05)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from tradejet.errors import DataError
from tradejet.kernels import portfolio as kpf
from tradejet.kernels.codes import N_STRATEGIES, STRATEGY_TEXT
from tradejet.messages import OrderFilled, Position

from tradejet.engine.universe import Universe

__all__ = ["Portfolio"]


def _strategy_index(strategy: int | str) -> int:
    if isinstance(strategy, str):
        try:
            return STRATEGY_TEXT.index(strategy)
        except ValueError:
            raise DataError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGY_TEXT)}") from None
    if isinstance(strategy, bool) or not isinstance(strategy, (int, np.integer)) or not 0 <= strategy < N_STRATEGIES:
        raise DataError(f"strategy must be a code 0..{N_STRATEGIES - 1} or a name, was {strategy!r}")
    return int(strategy)


class Portfolio:
    """Cash and positions of one account, kept per (strategy, pair) in float64 arrays.

    Parameters
    ----------
    universe : Universe
        Gives the pair order of the arrays.
    cash : float
        Starting cash in the quote currency.
    """

    def __init__(self, universe: Universe, cash: float, n_strategies: int = N_STRATEGIES):
        if not (math.isfinite(cash) and cash >= 0.0):
            raise DataError(f"cash must be finite and >= 0, was {cash}")
        self.universe = universe
        shape = (n_strategies, len(universe))
        self.account = np.zeros(kpf.N_ACC, dtype=np.float64)
        self.account[kpf.ACC_CASH] = cash
        self.pos_qty = np.zeros(shape)
        self.pos_avg = np.zeros(shape)
        self.realized = np.zeros(shape)
        self.fees = np.zeros(shape)
        self.mark = np.full(len(universe), np.nan)

    # ------------------------------------------------------------------ booking
    def apply_fill(self, strategy: int | str, symbol: str, side: int, qty: float, price: float, fee: float = 0.0) -> float:
        """Book one fill; return the P&L it realized (quote currency, before fees)."""
        s = _strategy_index(strategy)
        p = self.universe.index(symbol)
        if side not in (1, -1):
            raise DataError(f"side must be 1 (buy) or -1 (sell), was {side}")
        for v, what in ((qty, "qty"), (price, "price")):
            if not (math.isfinite(v) and v > 0.0):
                raise DataError(f"{what} must be finite and > 0, was {v}")
        if not (math.isfinite(fee) and fee >= 0.0):
            raise DataError(f"fee must be finite and >= 0, was {fee}")
        return float(kpf.apply_fill_nb(self.account, self.pos_qty, self.pos_avg, self.realized, self.fees,
                                       s, p, int(side), float(qty), float(price), float(fee)))

    def apply(self, fill: OrderFilled, strategy: int | str | None = None) -> float:
        """Book an :class:`~tradejet.messages.OrderFilled` (strategy from the argument)."""
        if strategy is None:
            raise DataError(f"fill {fill.trade_id}: strategy must be given")
        return self.apply_fill(strategy, fill.symbol, fill.side, fill.qty, fill.price, fill.fee)

    def set_marks(self, prices: Mapping[str, float] | np.ndarray) -> None:
        """Set last prices: a mapping symbol -> price, or an array in universe order."""
        if isinstance(prices, Mapping):
            for sym, px in prices.items():
                self.mark[self.universe.index(sym)] = float(px)
        else:
            arr = np.asarray(prices, dtype=np.float64)
            if arr.shape != self.mark.shape:
                raise DataError(f"marks must have shape {self.mark.shape}, was {arr.shape}")
            self.mark[:] = arr

    # ------------------------------------------------------------------ figures
    @property
    def cash(self) -> float:
        return float(self.account[kpf.ACC_CASH])

    @property
    def total_fees(self) -> float:
        return float(self.account[kpf.ACC_FEES])

    @property
    def realized_pnl(self) -> float:
        return float(self.account[kpf.ACC_REALIZED])

    def equity(self) -> float:
        """Return cash plus positions at the marks (average price where no mark)."""
        return float(kpf.equity_nb(self.account, self.pos_qty, self.pos_avg, self.mark))

    def unrealized(self) -> np.ndarray:
        """Return unrealized P&L per (strategy, pair) at the marks."""
        out = np.empty_like(self.pos_qty)
        kpf.unrealized_nb(self.pos_qty, self.pos_avg, self.mark, out)
        return out

    def position(self, symbol: str, strategy: int | str | None = None) -> float:
        """Return the net quantity in ``symbol`` (one strategy's, or all strategies')."""
        p = self.universe.index(symbol)
        if strategy is None:
            return float(self.pos_qty[:, p].sum())
        return float(self.pos_qty[_strategy_index(strategy), p])

    def by_pair(self) -> dict[str, dict[str, float]]:
        """Return per-symbol qty, realized, unrealized and fees (summed over strategies)."""
        u = self.unrealized()
        return {sym: {"qty": float(self.pos_qty[:, i].sum()), "realized": float(self.realized[:, i].sum()),
                      "unrealized": float(u[:, i].sum()), "fees": float(self.fees[:, i].sum())}
                for i, sym in enumerate(self.universe.symbols)}

    def by_strategy(self) -> dict[str, dict[str, float]]:
        """Return per-strategy realized, unrealized, fees and gross exposure at the marks."""
        u = self.unrealized()
        px = np.where(np.isfinite(self.mark), self.mark, 0.0)
        return {STRATEGY_TEXT[s]: {"realized": float(self.realized[s].sum()), "unrealized": float(u[s].sum()),
                                   "fees": float(self.fees[s].sum()),
                                   "exposure": float(np.abs(self.pos_qty[s] * np.where(np.isfinite(self.mark), px, self.pos_avg[s])).sum())}
                for s in range(self.pos_qty.shape[0])}

    def positions(self) -> list[Position]:
        """Return the open positions as :class:`~tradejet.messages.Position` messages, one per (strategy, pair)."""
        out = []
        for s, p in zip(*np.nonzero(self.pos_qty)):
            out.append(Position(symbol=self.universe.symbols[p], qty=float(self.pos_qty[s, p]),
                                avg_price=float(self.pos_avg[s, p]), realized_pnl=float(self.realized[s, p]),
                                strategy=int(s)))
        return out
