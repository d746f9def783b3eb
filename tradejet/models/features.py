"""Compute the feature matrix of a :class:`~tradejet.models.schema.FeatureSchema` from OHLCV.

Contract: inputs are 1-D float64 arrays of one symbol's bars, ascending in time, no NaN;
the output is a C-contiguous ``(n_bars, width)`` float32 matrix, NaN over each feature's
warm-up. Every column comes from a :mod:`tradejet.kernels` indicator (TA-Lib's values)
and is causal: row ``t`` uses bars ``0..t`` only (a test changes the bars after ``t``
and checks that row ``t`` is unchanged). float32 is the model's input type end to end:
training, ONNX and inference all see the same rounded numbers.

Transforms (``FeatureSpec.transform``):

- ``identity``: the kernel's output as is (ROC in percent, RSI, NATR, ADX).
- ``percent_b``: Bollinger %b, ``(close - lower) / (upper - lower)``, 0.5 when the band is flat.
- ``hist_pct_of_close``: the MACD histogram in percent of the close (scale-free across symbols).
- ``times_100``: realized volatility of log returns, in percent per bar.
- ``of_volume``: the kernel applied to volume instead of close (volume z-score).
- ``regime_code``: the caller's regime column (codes of :data:`tradejet.kernels.codes.Regime`);
  it comes from the decision core and defaults to ``Regime.NEUTRAL`` when not given.

>>> import numpy as np
>>> c = 100 + np.cumsum(np.random.default_rng(0).normal(size=300))
>>> X = compute_features(c, c + 1, c - 1, c, np.full(300, 1e3))
>>> X.shape, X.dtype
((300, 11), dtype('float32'))
"""

from __future__ import annotations

import numpy as np

from tradejet.errors import DataError
from tradejet.kernels.codes import Regime
from tradejet.models.schema import DEFAULT_SCHEMA, FeatureSchema, FeatureSpec

__all__ = ["compute_features", "warmup_rows", "REGIME_DEFAULT"]

REGIME_DEFAULT = Regime.NEUTRAL


def kernels():
    """Return the module holding the checked indicator functions (``tradejet.kernels``' public API)."""
    import tradejet.kernels as pkg

    if hasattr(pkg, "rsi"):
        return pkg
    from tradejet.kernels import api

    return api


def _column(spec: FeatureSpec, o, h, l, c, v, regime) -> np.ndarray:  # noqa: E741 - OHLC names
    k = kernels()
    p = spec.params
    kern, tr = spec.kernel, spec.transform
    if kern == "input":
        if tr != "regime_code":
            raise ValueError(f"unknown input transform {tr!r} for feature {spec.name!r}")
        return regime
    if kern == "roc" and tr == "identity":
        return k.roc(c, int(p["period"]))
    if kern == "rsi" and tr == "identity":
        return k.rsi(c, int(p["period"]))
    if kern == "natr" and tr == "identity":
        return k.natr(h, l, c, int(p["period"]))
    if kern == "adx" and tr == "identity":
        return k.adx(h, l, c, int(p["period"]))
    if kern == "bbands" and tr == "percent_b":
        upper, _mid, lower = k.bbands(c, int(p["period"]), float(p["nbdev"]))
        width = upper - lower
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(width > 0.0, (c - lower) / width, 0.5)
        out[np.isnan(width)] = np.nan
        return out
    if kern == "macd" and tr == "hist_pct_of_close":
        _m, _s, hist = k.macd(c, int(p["fast"]), int(p["slow"]), int(p["signal"]))
        return hist / c * 100.0
    if kern == "realized_vol" and tr == "times_100":
        return k.realized_vol(c, int(p["period"])) * 100.0
    if kern == "zscore" and tr == "of_volume":
        return k.zscore(v, int(p["period"]))
    raise ValueError(f"feature {spec.name!r}: no rule for kernel {kern!r} with transform {tr!r}")


def compute_features(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                     volume: np.ndarray, regime: np.ndarray | None = None,
                     schema: FeatureSchema = DEFAULT_SCHEMA) -> np.ndarray:
    """Return the ``(n, schema.width)`` float32 feature matrix of one symbol's bars.

    ``regime`` is an optional per-bar column of regime codes (default ``Regime.NEUTRAL``).
    Raises :class:`~tradejet.errors.DataError` for arrays of different lengths or
    non-finite / non-positive prices (the kernels would reject them too, less clearly).
    """
    cols = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    arrs = {}
    n = len(close)
    for name, a in cols.items():
        a = np.ascontiguousarray(a, dtype=np.float64)
        if a.ndim != 1 or len(a) != n:
            raise DataError(f"{name} must be 1-D with {n} values like close, had shape {a.shape}")
        bad = np.flatnonzero(~np.isfinite(a))
        if len(bad):
            raise DataError(f"{name} is not finite at index {bad[0]} (value {a[bad[0]]})", row=int(bad[0]))
        arrs[name] = a
    if n and (arrs["close"] <= 0).any():
        i = int(np.flatnonzero(arrs["close"] <= 0)[0])
        raise DataError(f"close must be > 0, was {arrs['close'][i]} at index {i}", row=i)
    if regime is None:
        reg = np.full(n, float(REGIME_DEFAULT))
    else:
        reg = np.asarray(regime, dtype=np.float64)
        if reg.shape != (n,):
            raise DataError(f"regime must have {n} values like close, had shape {reg.shape}")
        if not np.isin(reg, np.arange(len(Regime), dtype=np.float64)).all():
            i = int(np.flatnonzero(~np.isin(reg, np.arange(len(Regime), dtype=np.float64)))[0])
            raise DataError(f"regime codes must be in 0..{len(Regime) - 1}, was {reg[i]} at index {i}", row=i)
    out = np.empty((n, schema.width), dtype=np.float32)
    if n == 0:
        return out
    for j, spec in enumerate(schema.features):
        out[:, j] = _column(spec, arrs["open"], arrs["high"], arrs["low"], arrs["close"], arrs["volume"], reg)
    return out


def warmup_rows(X: np.ndarray) -> int:
    """Return the number of leading rows with any NaN (the longest feature warm-up)."""
    ok = ~np.isnan(X).any(axis=1)
    idx = np.flatnonzero(ok)
    return int(idx[0]) if len(idx) else len(X)
