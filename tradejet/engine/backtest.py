"""Backtest drivers.

:func:`from_signals` is the plain long-only, all-in signals backtest that other bots
use and that the benchmarks compare against vectorbt and backtrader. The compiled
multi-strategy driver ``run(bars, config)`` joins this module later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tradejet.errors import DataError
from tradejet.kernels.metrics import summarize
from tradejet.kernels.signals import from_signals_nb, trades_from_orders_nb

__all__ = ["from_signals", "SignalsResult", "Orders", "Trades", "run", "MarketBars", "BacktestResult"]


class Orders(NamedTuple):
    """Executed orders, one entry per order, in time order."""

    idx: np.ndarray  # int64 bar index
    side: np.ndarray  # int8: +1 buy, -1 sell
    size: np.ndarray  # float64, base units
    price: np.ndarray  # float64
    fee: np.ndarray  # float64, quote currency


class Trades(NamedTuple):
    """Round trips; the last one is open (marked to the last close) when ``is_open``."""

    entry_idx: np.ndarray
    exit_idx: np.ndarray
    size: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    fees: np.ndarray
    pnl: np.ndarray
    is_open: np.ndarray


@dataclass(frozen=True, slots=True)
class SignalsResult:
    """What :func:`from_signals` returns."""

    value: np.ndarray
    """Equity after each bar: cash + position * close."""
    orders: Orders
    trades: Trades
    cash: float
    """Cash after the last bar."""
    position: float
    """Position (base units) after the last bar."""
    init_cash: float
    fee: float

    @property
    def final_value(self) -> float:
        """Equity after the last bar."""
        return float(self.value[-1])

    @property
    def total_return(self) -> float:
        """``final_value / init_cash - 1``."""
        return self.final_value / self.init_cash - 1.0

    def positions(self) -> np.ndarray:
        """Return the position (base units) held after each bar."""
        pos = np.zeros(self.value.shape[0])
        t = self.trades
        for a, b, size, is_open in zip(t.entry_idx, t.exit_idx, t.size, t.is_open):
            pos[a: pos.shape[0] if is_open else b] = size
        return pos

    def metrics(self, periods_per_year: float) -> dict[str, float]:
        """Return every metric of :mod:`tradejet.kernels.metrics` for this run.

        >>> r = from_signals([1.0, 2.0, 4.0], [True, False, False], [False, False, True])
        >>> m = r.metrics(365.0)
        >>> m["total_return"], m["n_trades"], m["exposure"]
        (3.0, 1.0, 0.6666666666666666)
        """
        notional = self.orders.size * self.orders.price
        return summarize(self.value, self.init_cash, self.positions(), self.trades.pnl, notional, self.orders.fee,
                         periods_per_year)


def _as_bool(name: str, a: object, n: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with the length of close ({n}), was shape {arr.shape}")
    if arr.dtype != np.bool_:
        if arr.dtype.kind not in "biu":
            raise ValueError(f"{name} must be boolean, was dtype {arr.dtype}")
        arr = arr != 0
    return np.ascontiguousarray(arr)


def from_signals(close, entries, exits, fee: float = 0.0, init_cash: float = 1.0,
                 min_size: float = 1e-8) -> SignalsResult:
    """Backtest long-only, all-in entry/exit signals, filling at the signal bar's close.

    Same meaning as vectorbt's ``Portfolio.from_signals(close, entries, exits,
    fees=fee, init_cash=init_cash)``: an entry while flat buys with all cash (the fee
    comes out of it), an exit while long sells everything, an entry and an exit on the
    same bar cancel out. Contract and formulas: :mod:`tradejet.kernels.signals`.

    Parameters
    ----------
    close : array_like of float, 1-D, every value finite and > 0
    entries, exits : array_like of bool, same length
    fee : fraction of notional per order, ``0 <= fee < 1``
    init_cash : starting cash, > 0
    min_size : smallest order in base units, ``>= 0``; smaller orders are skipped
        (vectorbt's default, 1e-8, so results stay equal when equity gets tiny)

    Raises
    ------
    ValueError
        Bad shapes, dtypes, ``fee`` or ``init_cash``.
    DataError
        A close that is NaN, infinite or <= 0 (names the bar).

    >>> r = from_signals([1.0, 2.0, 4.0], [True, False, False], [False, False, True])
    >>> r.final_value, len(r.trades.pnl)
    (4.0, 1)
    """
    c = np.ascontiguousarray(close, dtype=np.float64)
    if c.ndim != 1 or c.shape[0] == 0:
        raise ValueError(f"close must be a non-empty 1-D array, was shape {c.shape}")
    n = c.shape[0]
    e = _as_bool("entries", entries, n)
    x = _as_bool("exits", exits, n)
    fee = float(fee)
    init_cash = float(init_cash)
    if not (0.0 <= fee < 1.0):
        raise ValueError(f"fee must be in [0, 1), was {fee}")
    if not (init_cash > 0.0 and math.isfinite(init_cash)):
        raise ValueError(f"init_cash must be finite and > 0, was {init_cash}")
    min_size = float(min_size)
    if not (min_size >= 0.0 and math.isfinite(min_size)):
        raise ValueError(f"min_size must be finite and >= 0, was {min_size}")
    value, k, oi, os_, osz, op, of, cash, pos, bad = from_signals_nb(c, e, x, fee, init_cash, min_size)
    if bad >= 0:
        raise DataError(f"close[{bad}] must be finite and > 0, was {c[bad]}")
    orders = Orders(oi[:k].copy(), os_[:k].copy(), osz[:k].copy(), op[:k].copy(), of[:k].copy())
    trades = Trades(*trades_from_orders_nb(orders.idx, orders.side, orders.size, orders.price, orders.fee,
                                           c[-1], n - 1))
    return SignalsResult(value, orders, trades, float(cash), float(pos), init_cash, fee)


def __getattr__(name: str):
    # The compiled multi-strategy driver lives in tradejet.engine.simulate; it is re-exported
    # here lazily (it imports the whole decision core) as tradejet.engine.backtest.run.
    if name in ("run", "MarketBars", "BacktestResult"):
        from tradejet.engine import simulate

        return getattr(simulate, name)
    raise AttributeError(name)
