"""swing: the US equity swing system's scale-in pullback strategy (daily bars, long only).

Setup (on the bar's close): an established uptrend, ``close > SMA(trend)`` and
``SMA(mid) > SMA(trend)`` (defaults 200 and 50), with a short-term pullback,
``RSI(2) < rsi_entry`` or (``use_bbands``) ``close < lower Bollinger band``.

Scale-in: the position is built in tranches (default 3 of 40/30/30 % of the symbol
allocation, ``max_position_fraction * share * equity`` fixed when the first tranche is
sent). A further tranche only when the close is at least ``scale_atr`` ATRs (the ATR at
the first entry) below the last tranche's fill, the trend still holds, and nothing
else is working on the symbol; never more than the tranche count. Each tranche is its
own intent (its own order and client id). A tranche is counted when its order's first
fill arrives (:func:`tradejet.engine.step.on_fill_nb`), so a refused or cancelled
tranche is not counted.

Exits (market, reduce-only, checked first every bar): the ATR stop from the average
price (``avg - stop_atr * ATR at entry``, re-set on every tranche fill, never trailed),
the time stop (``max_hold_bars``), the pullback resolved (``close > SMA(exit)`` or
``RSI(2) > rsi_exit``).

Portfolio limits in the kernel: at most ``max_open_symbols`` symbols held or being
bought. Cash-only and the per-symbol caps are the risk layer's
(:mod:`tradejet.kernels.risk`).

ML guard: with ``ml_threshold`` set, an entry and a scale-in also need
``scores[p] >= ml_threshold``. ``scores`` is what :mod:`tradejet.engine.swing`'s guard
hands in: the promoted model's probability, NaN when the guard blocks entries, +inf
when it falls back to rules only.

Backfilled positions (adopted from the broker on start, ``PS_BACKFILLED``) are managed
by the exits; they get no further tranche unless ``scale_backfilled``.

Defaults and why: see :class:`tradejet.config.SwingConfig` (the ``[swing]`` section);
this struct holds the same defaults (a test keeps them equal).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numba import njit

from tradejet.errors import StrategyError
from tradejet.kernels.codes import Side, StrategyStatus
from tradejet.strategies import base as b
from tradejet.strategies._params import RiskProfile

MAX_TRANCHES = 5
P_RSI_ENTRY = b.SP_P0 + 0
P_RSI_EXIT = b.SP_P0 + 1
P_TRANCHES = b.SP_P0 + 2
P_SCALE_ATR = b.SP_P0 + 3
P_MAX_OPEN = b.SP_P0 + 4
P_USE_BB = b.SP_P0 + 5
P_SCALE_BACKFILLED = b.SP_P0 + 6
P_ML_THRESHOLD = b.SP_P0 + 7   # NaN: no ML gate
P_FRAC0 = b.SP_P0 + 8          # tranche fractions of the allocation, MAX_TRANCHES slots
assert P_FRAC0 + MAX_TRANCHES <= b.N_SP

DEFAULT_SIZES = (0.4, 0.3, 0.3)


def default_sizes(tranches: int) -> list[float]:
    """40/30/30 for three tranches, equal parts otherwise."""
    return list(DEFAULT_SIZES) if tranches == 3 else [1.0 / tranches] * tranches


class Params(RiskProfile, forbid_unknown_fields=True, kw_only=True):
    EXTRA: ClassVar[tuple] = (("rsi_entry", 1.0, 50.0), ("rsi_exit", 50.0, 99.0), ("tranches", 1, MAX_TRANCHES),
                              ("scale_atr", 0.05, 20.0), ("max_open_symbols", 1, 1000))
    max_position_fraction: float = 0.2
    stop_atr: float | None = 3.0
    take_profit_atr: float | None = None
    max_hold_bars: int | None = 10
    rsi_entry: float = 10.0
    rsi_exit: float = 70.0
    tranches: int = 3
    tranche_sizes: list[float] | None = None
    scale_atr: float = 1.0
    max_open_symbols: int = 5
    use_bbands: bool = True
    scale_backfilled: bool = False
    ml_threshold: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        sizes = self.sizes()
        if len(sizes) != self.tranches:
            raise StrategyError(f"tranche_sizes has {len(sizes)} values but tranches is {self.tranches}")
        if any(not (math.isfinite(x) and x > 0.0) for x in sizes):
            raise StrategyError(f"tranche_sizes must all be > 0, were {sizes}")
        if sum(sizes) > 1.0 + 1e-9:
            raise StrategyError(f"tranche_sizes must sum to <= 1 (of the symbol allocation), was {sum(sizes):.6g}")
        if self.ml_threshold is not None and not 0.0 <= self.ml_threshold <= 1.0:
            raise StrategyError(f"ml_threshold must be in [0, 1] or unset, was {self.ml_threshold}")

    def sizes(self) -> list[float]:
        return list(self.tranche_sizes) if self.tranche_sizes is not None else default_sizes(self.tranches)

    def to_array(self) -> np.ndarray:
        row = super().to_array()
        row[P_USE_BB] = 1.0 if self.use_bbands else 0.0
        row[P_SCALE_BACKFILLED] = 1.0 if self.scale_backfilled else 0.0
        row[P_ML_THRESHOLD] = np.nan if self.ml_threshold is None else self.ml_threshold
        row[P_FRAC0:P_FRAC0 + MAX_TRANCHES] = 0.0
        for k, x in enumerate(self.sizes()):
            row[P_FRAC0 + k] = x
        return row


@njit(cache=True)
def trend_nb(iv, p):
    """The uptrend: close above the long SMA and the mid SMA above it (False in warm-up)."""
    c = iv[p, b.IV_CLOSE]
    lt = iv[p, b.IV_SMA_TREND]
    return c > lt and iv[p, b.IV_SMA_MID] > lt


@njit(cache=True)
def setup_nb(iv, p, params):
    """Uptrend and pullback on this bar's close."""
    if not trend_nb(iv, p):
        return False
    if iv[p, b.IV_RSI] < params[P_RSI_ENTRY]:
        return True
    return params[P_USE_BB] != 0.0 and iv[p, b.IV_CLOSE] < iv[p, b.IV_BB_LOW]


@njit(cache=True)
def _ml_ok(params, score):
    thr = params[P_ML_THRESHOLD]
    return thr != thr or score >= thr


@njit(cache=True)
def exit_reason_nb(iv, p, params, ps):
    """Why a held position exits on this close (stop, time stop, pullback resolved), or -1."""
    c = iv[p, b.IV_CLOSE]
    if ps[b.PS_STOP] == ps[b.PS_STOP] and c <= ps[b.PS_STOP]:
        return b.REASON_STOP
    mh = params[b.SP_MAX_HOLD]
    if mh == mh and ps[b.PS_BARS] >= mh:
        return b.REASON_TIME
    if c > iv[p, b.IV_SMA_EXIT] or iv[p, b.IV_RSI] > params[P_RSI_EXIT]:
        return b.REASON_SIGNAL_EXIT
    return -1


@njit(cache=True, _nrt=False)
def step_nb(code, params, status, share, equity, iv, have_bar, pos_qty, pending, pos_state, scores, t, intents, n):
    n_pairs = iv.shape[0]
    n_open = 0
    for p in range(n_pairs):
        if pos_qty[p] != 0.0 or pending[p] > 0.0:
            n_open += 1
    max_open = params[P_MAX_OPEN]
    tranches = int(params[P_TRANCHES])
    for p in range(n_pairs):
        if not have_bar[p] or pending[p] != 0.0:
            continue
        c = iv[p, b.IV_CLOSE]
        q = pos_qty[p]
        ps = pos_state[p]
        ps[b.PS_OPEN_TRANCHE] = 0.0  # nothing is working here: a tranche sent earlier has ended
        if q > 0.0:
            ps[b.PS_BARS] += 1.0
            if ps[b.PS_ATR] != ps[b.PS_ATR]:  # adopted before any bar: take the first ATR, set the stop
                a = iv[p, b.IV_ATR]
                sm = params[b.SP_STOP_ATR]
                if a == a:
                    ps[b.PS_ATR] = a
                    if sm == sm:
                        ps[b.PS_STOP] = ps[b.PS_ENTRY_PRICE] - sm * a
            if status == StrategyStatus.FLATTEN:
                n = b.exit_all_nb(intents, n, p, code, q, c, np.int64(b.REASON_FLATTEN), np.bool_(True))
                continue
            r = exit_reason_nb(iv, p, params, ps)
            if r >= 0:
                n = b.exit_all_nb(intents, n, p, code, q, c, r, np.bool_(False))
                continue
            k = int(ps[b.PS_TRANCHES])
            if (status == StrategyStatus.ACTIVE and 1 <= k < tranches and trend_nb(iv, p)
                    and (ps[b.PS_BACKFILLED] == 0.0 or params[P_SCALE_BACKFILLED] != 0.0)
                    and c <= ps[b.PS_LAST_FILL] - params[P_SCALE_ATR] * ps[b.PS_ATR] and _ml_ok(params, scores[p])):
                qty = params[P_FRAC0 + k] * ps[b.PS_ALLOC] / c if c > 0.0 else 0.0
                m = b.emit_nb(intents, n, p, code, Side.BUY, qty, c, np.int64(0), np.int64(b.REASON_SCALE_IN))
                if m > n:
                    ps[b.PS_OPEN_TRANCHE] = 1.0
                n = m
        elif q < 0.0:  # never opened by this long-only strategy: buy it back
            n = b.exit_all_nb(intents, n, p, code, q, c, np.int64(b.REASON_FLATTEN), np.bool_(True))
        elif status == StrategyStatus.ACTIVE and n_open < max_open and c > 0.0:
            if setup_nb(iv, p, params) and _ml_ok(params, scores[p]):
                alloc = params[b.SP_MAX_POS_FRAC] * share * equity
                m = b.emit_nb(intents, n, p, code, Side.BUY, params[P_FRAC0] * alloc / c, c, np.int64(0),
                              np.int64(b.REASON_ENTRY))
                if m > n:
                    ps[b.PS_OPEN_TRANCHE] = 1.0
                    ps[b.PS_TRANCHES] = 0.0
                    ps[b.PS_ALLOC] = alloc
                    ps[b.PS_BACKFILLED] = 0.0
                    n_open += 1
                n = m
    return n


@njit(cache=True)
def on_tranche_fill_nb(ps, price):
    """Count a tranche at its order's first fill (called by the step's fill booking for buys)."""
    if ps[b.PS_OPEN_TRANCHE] != 0.0:
        ps[b.PS_TRANCHES] += 1.0
        ps[b.PS_LAST_FILL] = price
        ps[b.PS_OPEN_TRANCHE] = 0.0


def adopt_state(ps: np.ndarray, params: np.ndarray, qty: float, avg: float) -> None:
    """Mark an adopted (backfilled) long: a full position unless ``scale_backfilled``, then one tranche."""
    ps[b.PS_BACKFILLED] = 1.0
    ps[b.PS_LAST_FILL] = avg
    ps[b.PS_OPEN_TRANCHE] = 0.0
    frac0 = params[P_FRAC0]
    if params[P_SCALE_BACKFILLED] != 0.0 and frac0 > 0:
        ps[b.PS_TRANCHES] = 1.0
        ps[b.PS_ALLOC] = qty * avg / frac0
    else:
        ps[b.PS_TRANCHES] = params[P_TRANCHES]
        ps[b.PS_ALLOC] = qty * avg
