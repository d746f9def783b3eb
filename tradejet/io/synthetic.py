"""A seeded synthetic market: N correlated symbols, regime switching, and the true regime.

It is the built-in data set for demos on a fresh machine and the known truth against which
the regime detector is tested. The same arguments and seed give the same bytes.

Phases (the fine, 5-state truth) and the :class:`~tradejet.kernels.codes.Regime` each maps to:

=================  ===========  =====================================================
phase              regime       character
=================  ===========  =====================================================
``calm uptrend``   RISK_ON      steady drift up, low volatility
``chop``           NEUTRAL      no drift, moderate volatility
``selloff``        RISK_OFF     drift down, volatility up, more volume
``crash``          PANIC        steep fall, volatility spike, downward jumps, heavy volume
``recovery``       NEUTRAL      drift back up, volatility fading
=================  ===========  =====================================================

>>> m = synthetic_market(days=2, timeframe="1h", seed=7)
>>> m.close.shape, m.symbols[0], m.regime.dtype
((10, 48), 'BTC/USD', dtype('int8'))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tradejet.errors import DataError
from tradejet.io.symbols import canonical_symbol
from tradejet.io.timeframes import parse_timeframe, timeframe_name
from tradejet.kernels.codes import Regime

__all__ = ["SyntheticMarket", "synthetic_market", "DEFAULT_SYMBOLS", "PHASES", "PHASE_REGIME"]

# symbol: (start price, beta to the market, idiosyncratic annual vol, daily quote volume USD, avg trade USD)
DEFAULT_SYMBOLS: dict[str, tuple[float, float, float, float, float]] = {
    "BTC/USD": (42_000.0, 1.00, 0.15, 900e6, 2_500.0),
    "ETH/USD": (2_300.0, 1.10, 0.25, 450e6, 1_500.0),
    "SOL/USD": (100.0, 1.40, 0.45, 150e6, 800.0),
    "XRP/USD": (0.60, 1.00, 0.45, 120e6, 600.0),
    "ADA/USD": (0.50, 1.20, 0.40, 50e6, 400.0),
    "DOT/USD": (7.0, 1.20, 0.40, 30e6, 400.0),
    "LINK/USD": (15.0, 1.20, 0.45, 40e6, 500.0),
    "LTC/USD": (70.0, 1.00, 0.35, 40e6, 500.0),
    "DOGE/USD": (0.08, 1.30, 0.60, 60e6, 300.0),
    "AVAX/USD": (35.0, 1.40, 0.50, 40e6, 500.0),
}

PHASES = ("calm uptrend", "chop", "selloff", "crash", "recovery")
UPTREND, CHOP, SELLOFF, CRASH, RECOVERY = range(5)
PHASE_REGIME = np.array([Regime.RISK_ON, Regime.NEUTRAL, Regime.RISK_OFF, Regime.PANIC, Regime.NEUTRAL], np.int8)

#                    uptrend  chop   selloff  crash   recovery
_MU = np.array([2.0, 0.0, -20.0, -250.0, 15.0])           # annual drift of the market factor
_VOL = np.array([0.35, 0.50, 0.90, 2.20, 0.70])          # annual vol the GARCH variance reverts to
_VOL_MULT = np.array([0.8, 1.0, 1.5, 2.5, 1.2])          # idiosyncratic vol multiplier
_ACTIVITY = np.array([0.8, 0.9, 1.6, 4.0, 1.3])          # volume multiplier
_DURATION_H = np.array([240.0, 120.0, 48.0, 8.0, 72.0])  # expected stay, hours
_JUMP_RATE = np.array([1.0, 2.0, 12.0, 400.0, 3.0])      # market jumps per year while in the phase
_JUMP_MEAN = np.array([0.0, 0.0, -0.01, -0.04, 0.005])
_JUMP_SD = np.array([0.01, 0.01, 0.02, 0.03, 0.01])
# where each phase goes when it ends (rows: from; cols: to; the diagonal is unused)
_NEXT = np.array([
    [0.0, 0.6, 0.4, 0.0, 0.0],   # uptrend -> chop / selloff
    [0.5, 0.0, 0.5, 0.0, 0.0],   # chop -> uptrend / selloff
    [0.0, 0.4, 0.0, 0.3, 0.3],   # selloff -> chop / crash / recovery
    [0.0, 0.0, 0.0, 0.0, 1.0],   # crash -> recovery
    [0.6, 0.4, 0.0, 0.0, 0.0],   # recovery -> uptrend / chop
])


@dataclass(frozen=True)
class SyntheticMarket:
    """Bars of every symbol on one time grid, plus the true phase/regime per bar.

    Price arrays have shape ``(n_symbols, n_bars)``; ``ts`` is int64 ns UTC (bar open time).
    """

    symbols: tuple[str, ...]
    timeframe: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    trades: np.ndarray
    phase: np.ndarray   # int8, index into PHASES
    regime: np.ndarray  # int8, Regime codes

    def bars(self, symbol: str) -> dict[str, np.ndarray]:
        """Return one symbol's columns (views, contiguous) in the store layout."""
        try:
            i = self.symbols.index(canonical_symbol(symbol))
        except ValueError:
            raise DataError(f"symbol {symbol!r} is not in the synthetic market {list(self.symbols)}") from None
        return {"ts": self.ts, "open": self.open[i], "high": self.high[i], "low": self.low[i],
                "close": self.close[i], "volume": self.volume[i], "trades": self.trades[i]}

    def to_store(self, store, venue: str = "synthetic") -> int:
        """Write every symbol to a :class:`~tradejet.io.store.BarStore`; return bars added."""
        return sum(store.write(venue, s, self.timeframe, self.bars(s)).added for s in self.symbols)


def synthetic_market(n_bars: int | None = None, *, days: float | None = None, timeframe: str = "1m",
                     symbols: Sequence[str] | None = None, seed: int = 0,
                     start: str | int = "2024-01-01", start_phase: int = UPTREND) -> SyntheticMarket:
    """Generate a synthetic market.

    Parameters
    ----------
    n_bars, days : int, float
        Length, in bars or in days (one of them; default 30 days).
    timeframe : str
        Bar length (``1m``, ``5m``, ``1h``, ``1d`` ...).
    symbols : sequence of str
        Names from :data:`DEFAULT_SYMBOLS` (default: all ten); unknown names get BTC-like
        parameters scaled to a price of 100.
    seed : int
        Same seed, same bytes.
    start : str or int
        First bar's open time: ISO date/time (UTC) or Unix ns; floored to the timeframe.
    """
    from tradejet.kernels.synth import synth_market_nb

    tf_ns = parse_timeframe(timeframe)
    if n_bars is None:
        n_bars = int(round((30.0 if days is None else float(days)) * 86_400e9 / tf_ns))
    elif days is not None:
        raise ValueError("give n_bars or days, not both")
    if n_bars < 0:
        raise ValueError(f"n_bars must be >= 0, was {n_bars}")
    if not 0 <= start_phase < 5:
        raise ValueError(f"start_phase must be in 0..4, was {start_phase}")
    names = tuple(canonical_symbol(s) for s in (symbols if symbols is not None else DEFAULT_SYMBOLS))
    if not names:
        raise ValueError("symbols must not be empty")
    if len(set(names)) != len(names):
        raise ValueError(f"symbols must be unique, were {names}")
    params = np.array([DEFAULT_SYMBOLS.get(s, (100.0, 1.0, 0.4, 20e6, 300.0)) for s in names], np.float64)
    if isinstance(start, str):
        d = dt.datetime.fromisoformat(start)
        d = d if d.tzinfo else d.replace(tzinfo=dt.UTC)
        start_ns = int(d.timestamp()) * 1_000_000_000
    else:
        start_ns = int(start)
    start_ns -= start_ns % tf_ns
    rng = np.random.default_rng(seed)
    o, h, lo, c, v, t, phase = synth_market_nb(
        rng, np.int64(n_bars), float(tf_ns) / 1e9, np.int64(start_ns),
        np.ascontiguousarray(params[:, 0]), np.ascontiguousarray(params[:, 1]), np.ascontiguousarray(params[:, 2]),
        np.ascontiguousarray(params[:, 3]), np.ascontiguousarray(params[:, 4]),
        _MU, _VOL, _VOL_MULT, _ACTIVITY, _DURATION_H, np.cumsum(_NEXT, axis=1), _JUMP_RATE, _JUMP_MEAN, _JUMP_SD,
        0.08, 0.90, np.int64(start_phase))
    ts = start_ns + np.arange(n_bars, dtype=np.int64) * tf_ns
    return SyntheticMarket(names, timeframe_name(timeframe), ts, o, h, lo, c, v, t, phase, PHASE_REGIME[phase])
