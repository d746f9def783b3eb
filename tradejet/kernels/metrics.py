"""Performance metrics over equity curves, per-bar returns and trades.

Contract
--------
- ``value``: float64 1-D equity curve (quote currency), finite and > 0, one point per
  bar; put the starting equity first when the first bar's return should count.
- ``returns``: float64 1-D simple per-bar returns, finite (``returns_nb`` makes them).
- ``pnl``, ``fees``, ``notional``: float64 1-D, one entry per trade (or order).
- ``labels``: int64 1-D group codes in ``[0, n_groups)`` (strategy, pair or regime);
  negative labels are left out of every group.
- ``periods_per_year``: bars per year from :func:`periods_per_year` (crypto trades
  365 days a year, US equities 252 sessions of 6.5 h).
- NaN policy: inputs must be finite (the Python callers check); a metric that is
  undefined (fewer than 2 returns, zero variance, no trades, no losses) is NaN, except
  a profit factor or Sortino ratio with gains and nothing on the loss side, which is
  ``inf``.

Definitions (as empyrical-reloaded 0.7 computes them, with risk-free rate 0):
volatility and Sharpe use the sample standard deviation (ddof=1); Sortino uses the
downside deviation ``sqrt(mean(min(r, 0)**2))``; CAGR compounds over
``len(returns) / periods_per_year`` years; max drawdown is the largest fall from a
running peak of ``value`` as a negative fraction; its duration runs from that peak to
the bar that regains it (or to the last bar if never regained); Calmar is
``CAGR / |max drawdown|``; turnover is traded notional over mean equity.

Oracles: plain NumPy and empyrical-reloaded (tests/kernels/test_metrics.py).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "Metric", "METRIC_NAMES", "GroupReturnMetric", "GROUP_RETURN_NAMES", "GroupTradeMetric",
    "GROUP_TRADE_NAMES", "CRYPTO_DAYS_PER_YEAR", "EQUITY_DAYS_PER_YEAR", "EQUITY_SESSION_NS",
    "periods_per_year", "returns_nb", "total_return_nb", "cagr_nb", "ann_volatility_nb", "sharpe_nb",
    "sortino_nb", "max_drawdown_nb", "trade_stats_nb", "exposure_nb", "summary_nb",
    "return_metrics_by_group_nb", "trade_metrics_by_group_nb",
]

CRYPTO_DAYS_PER_YEAR = 365
EQUITY_DAYS_PER_YEAR = 252
DAY_NS = 86_400_000_000_000
EQUITY_SESSION_NS = 23_400_000_000_000  # 09:30-16:00 New York, 6.5 h


class _Metric(NamedTuple):
    TOTAL_RETURN: int = 0
    CAGR: int = 1
    ANN_VOLATILITY: int = 2
    SHARPE: int = 3
    SORTINO: int = 4
    MAX_DRAWDOWN: int = 5
    MAX_DRAWDOWN_BARS: int = 6
    CALMAR: int = 7
    N_TRADES: int = 8
    WIN_RATE: int = 9
    PROFIT_FACTOR: int = 10
    AVG_TRADE: int = 11
    EXPOSURE: int = 12
    TURNOVER: int = 13
    FEES: int = 14


Metric = _Metric()
METRIC_NAMES = tuple(f.lower() for f in _Metric._fields)
N_METRICS = len(METRIC_NAMES)


class _GroupReturnMetric(NamedTuple):
    N_BARS: int = 0
    TOTAL_RETURN: int = 1
    ANN_VOLATILITY: int = 2
    SHARPE: int = 3
    SORTINO: int = 4


GroupReturnMetric = _GroupReturnMetric()
GROUP_RETURN_NAMES = tuple(f.lower() for f in _GroupReturnMetric._fields)


class _GroupTradeMetric(NamedTuple):
    N_TRADES: int = 0
    WIN_RATE: int = 1
    PROFIT_FACTOR: int = 2
    AVG_TRADE: int = 3
    TOTAL_PNL: int = 4
    FEES: int = 5
    NOTIONAL: int = 6


GroupTradeMetric = _GroupTradeMetric()
GROUP_TRADE_NAMES = tuple(f.lower() for f in _GroupTradeMetric._fields)


def periods_per_year(bar_ns: int, calendar: str = "crypto") -> float:
    """Return how many bars of ``bar_ns`` nanoseconds make a year.

    ``calendar="crypto"``: 365 days of 24 h. ``calendar="equities"``: 252 sessions;
    an intraday bar counts within the 6.5 h session, a daily bar is one session, a
    weekly bar five.

    >>> periods_per_year(86_400_000_000_000), periods_per_year(86_400_000_000_000, "equities")
    (365.0, 252.0)
    >>> periods_per_year(60_000_000_000)
    525600.0
    """
    bar_ns = int(bar_ns)
    if bar_ns <= 0:
        raise ValueError(f"bar_ns must be > 0, was {bar_ns}")
    if calendar == "crypto":
        return CRYPTO_DAYS_PER_YEAR * DAY_NS / bar_ns
    if calendar == "equities":
        if bar_ns < DAY_NS:
            return EQUITY_DAYS_PER_YEAR * EQUITY_SESSION_NS / bar_ns
        days = bar_ns / DAY_NS
        sessions = 5.0 * days / 7.0 if days >= 7 else days  # a week holds 5 sessions
        return EQUITY_DAYS_PER_YEAR / sessions
    raise ValueError(f"calendar must be 'crypto' or 'equities', was {calendar!r}")


@njit(cache=True)
def returns_nb(value, start_value):
    """Return simple per-bar returns of ``value``; the first is against ``start_value``."""
    n = value.shape[0]
    out = np.empty(n)
    prev = start_value
    for i in range(n):
        out[i] = value[i] / prev - 1.0
        prev = value[i]
    return out


@njit(cache=True)
def total_return_nb(returns):
    """Return the compounded return ``prod(1 + r) - 1``."""
    acc = 1.0
    for i in range(returns.shape[0]):
        acc *= 1.0 + returns[i]
    return acc - 1.0


@njit(cache=True)
def cagr_nb(returns, periods_per_year):
    """Return the compound annual growth rate over ``len(returns)`` bars."""
    n = returns.shape[0]
    if n == 0:
        return np.nan
    growth = total_return_nb(returns) + 1.0
    if growth <= 0.0:
        return -1.0
    return growth ** (periods_per_year / n) - 1.0


@njit(cache=True)
def _mean_std(returns):
    n = returns.shape[0]
    if n == 0:
        return np.nan, np.nan
    s = 0.0
    for i in range(n):
        s += returns[i]
    mean = s / n
    if n < 2:
        return mean, np.nan
    ss = 0.0
    for i in range(n):
        d = returns[i] - mean
        ss += d * d
    return mean, math.sqrt(ss / (n - 1))


@njit(cache=True)
def ann_volatility_nb(returns, periods_per_year):
    """Return the annualised sample standard deviation of ``returns``."""
    return _mean_std(returns)[1] * math.sqrt(periods_per_year)


@njit(cache=True)
def _ratio(num, den):
    if den > 0.0:
        return num / den
    if num > 0.0 and den == 0.0:
        return np.inf
    return np.nan


@njit(cache=True)
def sharpe_nb(returns, periods_per_year):
    """Return the annualised Sharpe ratio (risk-free 0): ``mean / std * sqrt(ppy)``."""
    mean, std = _mean_std(returns)
    if not (std > 0.0):
        return np.nan
    return mean / std * math.sqrt(periods_per_year)


@njit(cache=True)
def sortino_nb(returns, periods_per_year):
    """Return the annualised Sortino ratio against a 0 target."""
    n = returns.shape[0]
    if n == 0:
        return np.nan
    s = 0.0
    dd = 0.0
    for i in range(n):
        r = returns[i]
        s += r
        if r < 0.0:
            dd += r * r
    downside = math.sqrt(dd / n) * math.sqrt(periods_per_year)
    return _ratio(s / n * periods_per_year, downside)


@njit(cache=True)
def max_drawdown_nb(value):
    """Return ``(max_drawdown, peak_idx, trough_idx, recovery_idx, duration_bars)``.

    ``max_drawdown`` is ``<= 0``; ``recovery_idx`` is the first bar after the trough at
    or above the peak, -1 if never; ``duration_bars`` runs peak -> recovery, or peak ->
    last bar when not recovered. A curve that never falls gives ``(0, 0, 0, 0, 0)``.
    """
    n = value.shape[0]
    mdd = 0.0
    peak_i = 0
    best_peak = 0
    best_trough = 0
    for i in range(n):
        if value[i] > value[peak_i]:
            peak_i = i
        dd = value[i] / value[peak_i] - 1.0
        if dd < mdd:
            mdd = dd
            best_peak = peak_i
            best_trough = i
    if mdd == 0.0:
        return 0.0, 0, 0, 0, 0
    recovery = -1
    for i in range(best_trough + 1, n):
        if value[i] >= value[best_peak]:
            recovery = i
            break
    end = recovery if recovery >= 0 else n - 1
    return mdd, best_peak, best_trough, recovery, end - best_peak


@njit(cache=True)
def trade_stats_nb(pnl):
    """Return ``(n_trades, win_rate, profit_factor, avg_pnl)``; a win has ``pnl > 0``."""
    n = pnl.shape[0]
    if n == 0:
        return 0, np.nan, np.nan, np.nan
    wins = 0
    gross_win = 0.0
    gross_loss = 0.0
    for i in range(n):
        p = pnl[i]
        if p > 0.0:
            wins += 1
            gross_win += p
        elif p < 0.0:
            gross_loss -= p
    return n, wins / n, _ratio(gross_win, gross_loss), (gross_win - gross_loss) / n


@njit(cache=True)
def exposure_nb(position):
    """Return the fraction of bars with a non-zero position."""
    n = position.shape[0]
    if n == 0:
        return np.nan
    k = 0
    for i in range(n):
        if position[i] != 0.0:
            k += 1
    return k / n


@njit(cache=True)
def summary_nb(value, start_value, position, trade_pnl, order_notional, order_fees, periods_per_year):
    """Return every metric of :data:`Metric` in one float64 array.

    ``value`` and ``position`` are per bar (after the bar), ``start_value`` the equity
    before the first bar; ``trade_pnl`` per round trip, ``order_notional`` and
    ``order_fees`` per order.
    """
    out = np.full(N_METRICS, np.nan)
    r = returns_nb(value, start_value)
    out[Metric.TOTAL_RETURN] = value[-1] / start_value - 1.0 if value.shape[0] > 0 else np.nan
    out[Metric.CAGR] = cagr_nb(r, periods_per_year)
    out[Metric.ANN_VOLATILITY] = ann_volatility_nb(r, periods_per_year)
    out[Metric.SHARPE] = sharpe_nb(r, periods_per_year)
    out[Metric.SORTINO] = sortino_nb(r, periods_per_year)
    curve = np.empty(value.shape[0] + 1)
    curve[0] = start_value
    curve[1:] = value
    mdd, _, _, _, dur = max_drawdown_nb(curve)
    out[Metric.MAX_DRAWDOWN] = mdd
    out[Metric.MAX_DRAWDOWN_BARS] = dur
    out[Metric.CALMAR] = _ratio(out[Metric.CAGR], -mdd) if mdd < 0.0 else np.nan
    n_tr, win, pf, avg = trade_stats_nb(trade_pnl)
    out[Metric.N_TRADES] = n_tr
    out[Metric.WIN_RATE] = win
    out[Metric.PROFIT_FACTOR] = pf
    out[Metric.AVG_TRADE] = avg
    out[Metric.EXPOSURE] = exposure_nb(position)
    notional = 0.0
    for i in range(order_notional.shape[0]):
        notional += abs(order_notional[i])
    mean_value = 0.0
    for i in range(value.shape[0]):
        mean_value += value[i]
    mean_value = mean_value / value.shape[0] if value.shape[0] > 0 else np.nan
    out[Metric.TURNOVER] = notional / mean_value
    fees = 0.0
    for i in range(order_fees.shape[0]):
        fees += order_fees[i]
    out[Metric.FEES] = fees
    return out


@njit(cache=True)
def return_metrics_by_group_nb(returns, labels, n_groups, periods_per_year):
    """Return a ``(n_groups, 5)`` array of :data:`GroupReturnMetric` per label.

    Each group's metrics use only the bars carrying its label (e.g. the bars spent in
    one regime), as if those bars were one series.
    """
    out = np.full((n_groups, 5), np.nan)
    cnt = np.zeros(n_groups)
    s = np.zeros(n_groups)
    growth = np.ones(n_groups)
    down = np.zeros(n_groups)
    for i in range(returns.shape[0]):
        g = labels[i]
        if g < 0 or g >= n_groups:
            continue
        r = returns[i]
        cnt[g] += 1.0
        s[g] += r
        growth[g] *= 1.0 + r
        if r < 0.0:
            down[g] += r * r
    ss = np.zeros(n_groups)
    for i in range(returns.shape[0]):
        g = labels[i]
        if g < 0 or g >= n_groups:
            continue
        d = returns[i] - s[g] / cnt[g]
        ss[g] += d * d
    sq = math.sqrt(periods_per_year)
    for g in range(n_groups):
        out[g, 0] = cnt[g]
        if cnt[g] == 0.0:
            continue
        mean = s[g] / cnt[g]
        out[g, 1] = growth[g] - 1.0
        if cnt[g] >= 2.0:
            std = math.sqrt(ss[g] / (cnt[g] - 1.0))
            out[g, 2] = std * sq
            out[g, 3] = mean / std * sq if std > 0.0 else np.nan
        out[g, 4] = _ratio(mean * periods_per_year, math.sqrt(down[g] / cnt[g]) * sq)
    return out


@njit(cache=True)
def trade_metrics_by_group_nb(pnl, fees, notional, labels, n_groups):
    """Return a ``(n_groups, 7)`` array of :data:`GroupTradeMetric` per label."""
    out = np.full((n_groups, 7), np.nan)
    cnt = np.zeros(n_groups)
    wins = np.zeros(n_groups)
    gw = np.zeros(n_groups)
    gl = np.zeros(n_groups)
    fe = np.zeros(n_groups)
    no = np.zeros(n_groups)
    for i in range(pnl.shape[0]):
        g = labels[i]
        if g < 0 or g >= n_groups:
            continue
        p = pnl[i]
        cnt[g] += 1.0
        if p > 0.0:
            wins[g] += 1.0
            gw[g] += p
        elif p < 0.0:
            gl[g] -= p
        fe[g] += fees[i]
        no[g] += abs(notional[i])
    for g in range(n_groups):
        out[g, 0] = cnt[g]
        out[g, 4] = gw[g] - gl[g]
        out[g, 5] = fe[g]
        out[g, 6] = no[g]
        if cnt[g] > 0.0:
            out[g, 1] = wins[g] / cnt[g]
            out[g, 2] = _ratio(gw[g], gl[g])
            out[g, 3] = (gw[g] - gl[g]) / cnt[g]
    return out


def _f64(name: str, a, allow_empty: bool = True) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, was shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name} must be finite, was {arr[bad[0]]} at index {bad[0]}")
    return arr


def summarize(value, start_value: float, position, trade_pnl, order_notional, order_fees,
              periods_per_year: float) -> dict[str, float]:
    """Check the inputs and return every metric by name (see :data:`METRIC_NAMES`).

    >>> m = summarize([1.1, 1.21], 1.0, [1.0, 1.0], [0.21], [1.0], [0.0], 365.0)
    >>> round(m["total_return"], 10), m["max_drawdown"], m["exposure"]
    (0.21, 0.0, 1.0)
    """
    v = _f64("value", value, allow_empty=False)
    if (v <= 0).any():
        raise ValueError(f"value must be > 0, was {v[np.argmax(v <= 0)]} at index {int(np.argmax(v <= 0))}")
    start_value = float(start_value)
    if not (start_value > 0 and math.isfinite(start_value)):
        raise ValueError(f"start_value must be finite and > 0, was {start_value}")
    pos = _f64("position", position)
    if pos.shape != v.shape:
        raise ValueError(f"position must have the length of value ({v.size}), was {pos.size}")
    ppy = float(periods_per_year)
    if not (ppy > 0 and math.isfinite(ppy)):
        raise ValueError(f"periods_per_year must be finite and > 0, was {ppy}")
    arr = summary_nb(v, start_value, pos, _f64("trade_pnl", trade_pnl), _f64("order_notional", order_notional),
                     _f64("order_fees", order_fees), ppy)
    return dict(zip(METRIC_NAMES, (float(x) for x in arr)))
