"""Public batch indicator functions: checked inputs, TA-Lib's values.

Each function takes 1-D arrays (float64, or anything that converts to it safely: ints,
bools, float32), checks them, allocates its outputs (or writes into ``out=``) and runs
the matching ``*_1d_nb`` kernel of :mod:`tradejet.kernels.indicators`. Outputs have the
input's length with NaN over the warm-up, exactly where TA-Lib puts them; a series
shorter than the warm-up gives all NaN. Bad input raises ``ValueError`` naming the
argument, the problem and the first bad index.

Indicators TA-Lib lacks (formulas):

- ``log_returns(x)``: ``r[t] = ln(x[t] / x[t-1])``, ``r[0] = NaN``; x must be > 0.
- ``realized_vol(close, period, bars_per_year=1.0)``: population standard deviation of
  the last ``period`` log returns times ``sqrt(bars_per_year)`` (pass e.g. 365*24 for
  hourly crypto bars, 252 for daily equities to annualise); first value at ``period``.
- ``zscore(x, period)``: ``(x[t] - mean) / sd`` over the last ``period`` values
  (population sd, the window includes ``x[t]``), 0 when the window is flat; first value
  at ``period - 1``.
- ``rolling_vwap(high, low, close, volume, period)``: ``sum(tp * v) / sum(v)`` over the
  last ``period`` bars with ``tp = (high + low + close) / 3``; when every volume in the
  window is 0 it is the bar's ``tp``; first value at ``period - 1``; volume must be >= 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tradejet.kernels import _threads
from tradejet.kernels import indicators as _k
from tradejet.kernels._core import jit, njit

_F64 = np.dtype(np.float64)

__all__ = [
    "sma", "ema", "wma", "stddev", "rsi", "trange", "atr", "natr", "bbands", "macd", "adx",
    "plus_di", "minus_di", "stoch", "roc", "obv", "rolling_max", "rolling_min",
    "log_returns", "realized_vol", "zscore", "rolling_vwap",
]


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _nonfinite_sum_nb(x):
    # x * 0.0 is 0 for finite x and NaN for NaN/inf; "reassoc" only lets LLVM vectorise the sum.
    acc = 0.0
    for i in range(x.shape[0]):
        acc += x[i] * 0.0
    return acc


@jit
def first_nonfinite_nb(x):
    """Return the index of the first NaN or inf in ``x``, or -1."""
    if _nonfinite_sum_nb(x) == 0.0:
        return -1
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return i
    return -1


def as_series(name: str, x, scan: bool = True) -> np.ndarray:
    """Return ``x`` as a C-contiguous float64 1-D array or raise ValueError naming the problem.

    With ``scan`` it is also checked to be finite (a pass over memory); the indicator
    wrappers skip it: their kernels count bad values in their own loop, see :func:`raise_bad`."""
    if type(x) is np.ndarray and x.dtype is _F64 and x.ndim == 1 and x.flags.c_contiguous:
        # the common case, without the conversions below (a call costs ~1 us at 10k bars)
        if scan:
            raise_bad(1, (name, x), unreachable=False)
        return x
    a = np.asarray(x)
    if a.dtype != np.float64:
        if a.dtype.kind in "biuf" and np.can_cast(a.dtype, np.float64, "safe"):
            a = a.astype(np.float64)
        else:
            raise ValueError(f"{name} must be float64 (or safely convertible: int, bool, float32), "
                             f"got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    a = np.ascontiguousarray(a)
    if scan:
        raise_bad(1, (name, a), unreachable=False)
    return a


def raise_bad(bad: int, *named: tuple[str, np.ndarray], positive: str | None = None,
              nonnegative: str | None = None, unreachable: bool = True) -> None:
    """Raise ValueError for the first bad input when a kernel counted ``bad`` > 0.

    Checks each named array for NaN/inf (first bad index), then the array named
    ``positive`` for values <= 0 and ``nonnegative`` for values < 0. The wrappers call it
    only when ``bad`` is nonzero (``if bad := kernel(...)``): the call and its argument
    tuples cost ~0.15 us, 1% of a 10k-bar ATR."""
    if not bad:
        return
    arrays = dict(named)
    for name, a in named:
        i = first_nonfinite_nb(a)
        if i >= 0:
            what = "NaN" if math.isnan(a[i]) else "inf"
            raise ValueError(f"{name} has {what} at index {i}")
    if positive is not None:
        _positive(positive, arrays[positive])
    if nonnegative is not None:
        a = arrays[nonnegative]
        neg = np.flatnonzero(a < 0.0)
        if neg.size:
            raise ValueError(f"{nonnegative} must be >= 0, was {a[neg[0]]} at index {neg[0]}")
    if unreachable:
        raise AssertionError(f"a kernel counted {bad} bad inputs that no check found")


def same_length(**arrays: np.ndarray) -> int:
    """Return the common length or raise ValueError naming the arrays that differ."""
    names = list(arrays)
    n = len(arrays[names[0]])
    for name in names[1:]:
        m = len(arrays[name])
        if m != n:
            short, long_ = (name, names[0]) if m < n else (names[0], name)
            raise ValueError(f"{', '.join(names)} must have the same length: {names[0]} has {n}, "
                             f"{name} has {m} (first index without a value in {short}: {min(m, n)}, "
                             f"present in {long_})")
    return n


def check_period(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as int or raise ValueError if it is not an integer >= ``minimum``."""
    if type(value) is int and value >= minimum:  # the common case, cheaply (bool is not int's type)
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, was {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, was {value}")
    return int(value)


def check_number(name: str, value) -> float:
    """Return ``value`` as float or raise ValueError if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a finite number, was {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, was {v}")
    return v


def _positive(name: str, a: np.ndarray) -> None:
    bad = np.flatnonzero(a <= 0.0)
    if bad.size:
        raise ValueError(f"{name} must be > 0 for log returns, was {a[bad[0]]} at index {bad[0]}")


def _out(out, n: int, name: str = "out") -> np.ndarray:
    if out is None:
        return np.empty(n)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != (n,) or not out.flags.c_contiguous:
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"{name} must be a C-contiguous float64 array of shape ({n},), got {got}")
    return out


def _outs(out, n: int, k: int) -> Sequence[np.ndarray]:
    if out is None:
        return [np.empty(n) for _ in range(k)]
    if len(out) != k:
        raise ValueError(f"out must hold {k} arrays, got {len(out)}")
    return [_out(o, n, f"out[{i}]") for i, o in enumerate(out)]


# trange, wma, rolling_max and rolling_min (and atr, natr: see _atr_any) split their bars in
# two pieces computed at once on two threads from this many bars (the pieces need nothing from
# each other: see the kernels' ``*_part_nb``), the same bits; ``threads=1`` keeps them on the
# calling thread. Their loops are bound by memory traffic, which two CPUs share better than
# compute: at 1M bars 0.7-0.9 ns/bar against 1.0-1.3 on one thread; the pool's round trip
# (~60 us) breaks even near 220k.
SPLIT_MIN = 300_000


def threads_split(n: int, threads: int | None = None) -> int:
    """The threads trange, wma, rolling_max, rolling_min, atr and natr use for ``n`` bars: two from
    SPLIT_MIN bars when ``threads`` (default: TRADEJET_THREADS if set, else the CPUs) allows,
    else one."""
    return 2 if _threads.cap_when(n >= SPLIT_MIN, threads) > 1 else 1


def _halves(kernel, args: tuple) -> int:
    """``kernel(*args, k, 2)`` for both pieces at once, the second on a pool thread; the sum of
    their codes (the callers take this path when :func:`threads_split` says two)."""
    return _threads.two(kernel, (*args, 0, 2), kernel, (*args, 1, 2), place=False)


def sma(x, period: int, *, out=None) -> np.ndarray:
    """Return the simple moving average (TA-Lib ``SMA``); NaN for the first ``period - 1`` bars.

    >>> sma([1.0, 2.0, 3.0, 4.0], 2).tolist()
    [nan, 1.5, 2.5, 3.5]
    """
    x = as_series("x", x, False)
    period = check_period("period", period)
    o = _out(out, len(x))
    if bad := _k.sma_1d_nb(x, period, o):
        raise_bad(bad, ("x", x))
    return o


def ema(x, period: int, *, out=None) -> np.ndarray:
    """Return the exponential moving average, k = 2/(period+1), seeded with the SMA of the
    first ``period`` values (TA-Lib ``EMA``).

    >>> ema([1.0, 2.0, 3.0, 4.0], 3).tolist()
    [nan, nan, 2.0, 3.0]
    """
    x = as_series("x", x, False)
    period = check_period("period", period)
    o = _out(out, len(x))
    if bad := _k.ema_1d_nb(x, period, o):
        raise_bad(bad, ("x", x))
    return o


def wma(x, period: int, *, out=None, threads: int | None = None) -> np.ndarray:
    """Return the linearly weighted moving average (TA-Lib ``WMA``): weights 1..period, newest heaviest.

    From SPLIT_MIN bars on two threads (``threads``; see :func:`threads_split`), the same values."""
    x = as_series("x", x, False)
    period = check_period("period", period)
    o = _out(out, len(x))
    if bad := (_k.wma_1d_nb(x, period, o) if threads_split(len(x), threads) == 1 else
               _halves(_k.wma_part_nb, (x, period, o))):
        raise_bad(bad, ("x", x))
    return o


def stddev(x, period: int, nbdev: float = 1.0, *, out=None) -> np.ndarray:
    """Return ``nbdev`` times the population standard deviation of the last ``period`` values
    (TA-Lib ``STDDEV``); it does not drift on long series (exact re-sum every ``period`` bars).

    >>> stddev([1.0, 3.0, 1.0, 3.0], 2).tolist()
    [nan, 1.0, 1.0, 1.0]
    """
    x = as_series("x", x, False)
    period = check_period("period", period)
    nbdev = check_number("nbdev", nbdev)
    o = _out(out, len(x))
    if bad := _k.stddev_1d_nb(x, period, nbdev, o):
        raise_bad(bad, ("x", x))
    return o


def rsi(close, period: int = 14, *, out=None) -> np.ndarray:
    """Return Wilder's relative strength index (TA-Lib ``RSI``); NaN for the first ``period`` bars."""
    close = as_series("close", close, False)
    period = check_period("period", period, 2)
    o = _out(out, len(close))
    if bad := _k.rsi_1d_nb(close, period, o):
        raise_bad(bad, ("close", close))
    return o


def _hlc(high, low, close):
    high = as_series("high", high, False)
    low = as_series("low", low, False)
    close = as_series("close", close, False)
    n = len(high)
    if len(low) != n or len(close) != n:
        same_length(high=high, low=low, close=close)  # raises, naming the arrays
    return high, low, close, n


def trange(high, low, close, *, out=None, threads: int | None = None) -> np.ndarray:
    """Return the true range max(h - l, |c[t-1] - h|, |c[t-1] - l|) (TA-Lib ``TRANGE``); NaN at bar 0.

    From SPLIT_MIN bars on two threads (``threads``; see :func:`threads_split`), the same values."""
    high, low, close, n = _hlc(high, low, close)
    o = _out(out, n)
    if bad := (_k.trange_1d_nb(high, low, close, o) if threads_split(n, threads) == 1 else
               _halves(_k.trange_part_nb, (high, low, close, o))):
        raise_bad(bad, ("high", high), ("low", low), ("close", close))
    return o


def atr(high, low, close, period: int = 14, *, out=None, threads: int | None = None) -> np.ndarray:
    """Return Wilder's average true range (TA-Lib ``ATR``); NaN for the first ``period`` bars.

    From SPLIT_MIN bars on two threads (``threads``; see :func:`threads_split` and
    ``indicators.ATR_LEAD_PER_PERIOD``), the same values."""
    high, low, close, n = _hlc(high, low, close)
    period = check_period("period", period)
    o = _out(out, n)
    if bad := _atr_any(high, low, close, period, o, False, threads):
        raise_bad(bad, ("high", high), ("low", low), ("close", close))
    return o


def natr(high, low, close, period: int = 14, *, out=None, threads: int | None = None) -> np.ndarray:
    """Return the ATR as a percentage of the close (TA-Lib ``NATR``); two threads as :func:`atr`."""
    high, low, close, n = _hlc(high, low, close)
    period = check_period("period", period)
    o = _out(out, n)
    if bad := _atr_any(high, low, close, period, o, True, threads):
        raise_bad(bad, ("high", high), ("low", low), ("close", close))
    return o


# how often the two-thread ATR/NATR computed its second piece again (its chain had not met the
# caller's; see indicators.ATR_LEAD_PER_PERIOD): a count for tests and the curious
ATR_REDOS = 0


def _atr_any(high, low, close, period: int, o: np.ndarray, norm: bool, threads) -> int:
    """The ATR (``norm`` False) or NATR into ``o``: on one thread, or from SPLIT_MIN bars in two
    pieces at once (:func:`_atr_two`)."""
    if threads_split(len(high), threads) == 1:
        return int((_k.natr_1d_nb if norm else _k.atr_1d_nb)(high, low, close, period, o))
    return _atr_two(high, low, close, period, o, norm, _k.ATR_LEAD_PER_PERIOD * period)


def _atr_two(high, low, close, period: int, o: np.ndarray, norm: bool, lead: int) -> int:
    """Two pieces at once, the second's chain started ``lead`` bars early and checked against the
    first's (indicators.atr_back_nb); one thread where the series is too short for that lead."""
    global ATR_REDOS
    m = len(high) // 2
    if m - lead <= period + 1:
        return int((_k.natr_1d_nb if norm else _k.atr_1d_nb)(high, low, close, period, o))
    f = _threads.pool().submit(_k.atr_back_nb, high, low, close, period, o, m, lead, norm)
    try:
        bad, acc = _k.atr_front_nb(high, low, close, period, o, m, norm)
    finally:
        bad2, acc2 = f.result()
    if acc != acc2:  # also when NaN: a bad input, counted above
        ATR_REDOS += 1
        _k.atr_redo_nb(high, low, close, period, o, m, acc, norm)
    return int(bad) + int(bad2)


def bbands(close, period: int = 20, nbdev: float = 2.0, *, out=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return Bollinger bands (upper, middle, lower) = SMA +- nbdev * population sd (TA-Lib
    ``BBANDS`` with SMA and nbdevup == nbdevdn)."""
    close = as_series("close", close, False)
    period = check_period("period", period)
    nbdev = check_number("nbdev", nbdev)
    u, m, lo = _outs(out, len(close), 3)
    if bad := _k.bbands_1d_nb(close, period, nbdev, u, m, lo):
        raise_bad(bad, ("close", close))
    return u, m, lo


def macd(close, fast: int = 12, slow: int = 26, signal: int = 9, *, out=None
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (macd, signal, hist) as TA-Lib ``MACD``: EMA(fast) - EMA(slow), both seeded at
    bar ``slow - 1``, signal = EMA(signal) of it; NaN for the first ``slow + signal - 2``
    bars. If ``slow < fast`` the two are swapped, as TA-Lib does."""
    close = as_series("close", close, False)
    fast = check_period("fast", fast, 2)
    slow = check_period("slow", slow, 2)
    signal = check_period("signal", signal)
    if slow < fast:
        fast, slow = slow, fast
    m, s, h = _outs(out, len(close), 3)
    if bad := _k.macd_1d_nb(close, fast, slow, signal, m, s, h):
        raise_bad(bad, ("close", close))
    return m, s, h


_EMPTY = np.empty(0)


def adx(high, low, close, period: int = 14, *, out=None) -> np.ndarray:
    """Return Wilder's average directional index (TA-Lib ``ADX``); NaN for the first ``2*period - 1`` bars."""
    high, low, close, n = _hlc(high, low, close)
    period = check_period("period", period, 2)
    o = _out(out, n)
    if bad := _k.dmi_1d_nb(high, low, close, period, _EMPTY, _EMPTY, o):
        raise_bad(bad, ("high", high), ("low", low), ("close", close))
    return o


def plus_di(high, low, close, period: int = 14, *, out=None) -> np.ndarray:
    """Return the plus directional indicator (TA-Lib ``PLUS_DI``); NaN for the first ``period`` bars.

    ``period`` must be >= 2: TA-Lib's PLUS_DI(1) is a ratio, not a percentage."""
    high, low, close, n = _hlc(high, low, close)
    period = check_period("period", period, 2)
    o = _out(out, n)
    if bad := _k.dmi_1d_nb(high, low, close, period, o, _EMPTY, _EMPTY):
        raise_bad(bad, ("high", high), ("low", low), ("close", close))
    return o


def minus_di(high, low, close, period: int = 14, *, out=None) -> np.ndarray:
    """Return the minus directional indicator (TA-Lib ``MINUS_DI``); NaN for the first ``period`` bars (period >= 2)."""
    high, low, close, n = _hlc(high, low, close)
    period = check_period("period", period, 2)
    o = _out(out, n)
    if bad := _k.dmi_1d_nb(high, low, close, period, _EMPTY, o, _EMPTY):
        raise_bad(bad, ("high", high), ("low", low), ("close", close))
    return o


def stoch(high, low, close, fastk: int = 5, slowk: int = 3, slowd: int = 3, *, out=None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Return (slowk, slowd) of the stochastic oscillator (TA-Lib ``STOCH``, SMA smoothing):
    fast %K = 100 (c - lowest low) / (highest high - lowest low) over ``fastk`` bars,
    slow %K = SMA(slowk) of it, slow %D = SMA(slowd) of slow %K."""
    high, low, close, n = _hlc(high, low, close)
    fastk = check_period("fastk", fastk)
    slowk = check_period("slowk", slowk)
    slowd = check_period("slowd", slowd)
    k, d = _outs(out, n, 2)
    if bad := _k.stoch_1d_nb(high, low, close, fastk, slowk, slowd, k, d, np.empty(slowk), np.empty(slowd)):
        raise_bad(bad, ("high", high), ("low", low), ("close", close))
    return k, d


def roc(x, period: int = 10, *, out=None) -> np.ndarray:
    """Return the rate of change ((x / x[t-period]) - 1) * 100 (TA-Lib ``ROC``; 0 where x[t-period] is 0)."""
    x = as_series("x", x, False)
    period = check_period("period", period)
    o = _out(out, len(x))
    if bad := _k.roc_1d_nb(x, period, o):
        raise_bad(bad, ("x", x))
    return o


def obv(close, volume, *, out=None) -> np.ndarray:
    """Return on-balance volume (TA-Lib ``OBV``): starts at volume[0], adds volume on an up
    close, subtracts it on a down close."""
    close = as_series("close", close, False)
    volume = as_series("volume", volume, False)
    n = same_length(close=close, volume=volume)
    o = _out(out, n)
    if bad := _k.obv_1d_nb(close, volume, o):
        raise_bad(bad, ("close", close), ("volume", volume))
    return o


def rolling_max(x, period: int, *, out=None, threads: int | None = None) -> np.ndarray:
    """Return the highest value of the last ``period`` (TA-Lib ``MAX``; the Donchian upper band).

    From SPLIT_MIN bars on two threads (``threads``; see :func:`threads_split`), the same values."""
    x = as_series("x", x, False)
    period = check_period("period", period)
    o = _out(out, len(x))
    if bad := (_k.max_1d_nb(x, period, o) if threads_split(len(x), threads) == 1 else
               _halves(_k.max_part_nb, (x, period, o))):
        raise_bad(bad, ("x", x))
    return o


def rolling_min(x, period: int, *, out=None, threads: int | None = None) -> np.ndarray:
    """Return the lowest value of the last ``period`` (TA-Lib ``MIN``; the Donchian lower band).

    From SPLIT_MIN bars on two threads (``threads``; see :func:`threads_split`), the same values."""
    x = as_series("x", x, False)
    period = check_period("period", period)
    o = _out(out, len(x))
    if bad := (_k.min_1d_nb(x, period, o) if threads_split(len(x), threads) == 1 else
               _halves(_k.min_part_nb, (x, period, o))):
        raise_bad(bad, ("x", x))
    return o


def log_returns(x, *, out=None) -> np.ndarray:
    """Return ``ln(x[t] / x[t-1])`` with NaN at bar 0; ``x`` must be > 0.

    >>> log_returns([1.0, 1.0, 2.0]).round(6).tolist()
    [nan, 0.0, 0.693147]
    """
    x = as_series("x", x, False)
    o = _out(out, len(x))
    if bad := _k.log_returns_1d_nb(x, o):
        raise_bad(bad, ("x", x), positive="x")
    return o


def realized_vol(close, period: int, bars_per_year: float = 1.0, *, out=None) -> np.ndarray:
    """Return the population sd of the last ``period`` log returns times ``sqrt(bars_per_year)``.

    ``bars_per_year=1`` gives per-bar volatility; pass 365*24 for hourly crypto or 252 for
    daily equities to annualise. NaN for the first ``period`` bars (a return needs two closes).
    """
    close = as_series("close", close, False)
    period = check_period("period", period, 2)
    bpy = check_number("bars_per_year", bars_per_year)
    if bpy <= 0.0:
        raise ValueError(f"bars_per_year must be > 0, was {bpy}")
    n = len(close)
    r = np.empty(n)
    if bad := _k.log_returns_1d_nb(close, r):
        raise_bad(bad, ("close", close), positive="close")
    o = _out(out, n)
    _k.realized_vol_1d_nb(r, period, math.sqrt(bpy), o)
    return o


def zscore(x, period: int, *, out=None) -> np.ndarray:
    """Return (x - mean) / sd over the last ``period`` values (population sd; 0 for a flat window)."""
    x = as_series("x", x, False)
    period = check_period("period", period, 2)
    o = _out(out, len(x))
    if bad := _k.zscore_1d_nb(x, period, o):
        raise_bad(bad, ("x", x))
    return o


def rolling_vwap(high, low, close, volume, period: int, *, out=None) -> np.ndarray:
    """Return the volume-weighted mean of the typical price (h + l + c) / 3 over ``period`` bars."""
    high, low, close, n = _hlc(high, low, close)
    volume = as_series("volume", volume, False)
    same_length(high=high, volume=volume)
    period = check_period("period", period)
    o = _out(out, n)
    if bad := _k.vwap_1d_nb(high, low, close, volume, period, o, np.empty(n)):
        raise_bad(bad, ("high", high), ("low", low), ("close", close), ("volume", volume), nonnegative="volume")
    return o
