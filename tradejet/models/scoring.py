"""Model scores for ``ml_signal``: a whole backtest in one batch, or one bar at a time live.

The two must agree (DESIGN: "one step, two drivers"): :func:`batch_scores` computes each
symbol's feature matrix with :func:`~tradejet.models.features.compute_features` (the
training code) and scores it in one ONNX call; :class:`StreamingScorer` advances the
streaming form of every feature kernel (``tradejet.kernels.streaming``, bit-equal to the
batch kernels) by one bar per symbol, in one compiled call, and scores the symbols whose
feature row is complete. The feature rows are equal bit for bit, so the scores are the
ONNX model's output on the same float32 rows (a test checks both, on real bars).

Missing bars: a symbol's features run over its own bars in order, as in training (the
bars of one candle file); a bar-time where the symbol has no bar gets no score (NaN).

The regime feature: ``tradejet models train`` trains with the regime column at its default
(``Regime.NEUTRAL``), so scoring feeds the same constant; a model trained with real regime
columns needs them at scoring time too (``regime=`` of both functions).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tradejet.errors import ModelError
from tradejet.kernels import streaming as s
from tradejet.models.features import REGIME_DEFAULT, compute_features
from tradejet.models.schema import DEFAULT_SCHEMA, FeatureSchema

__all__ = ["batch_scores", "StreamingScorer", "features_update_nb"]

# feature kinds of the compiled streaming row
K_INPUT, K_ROC, K_RSI, K_NATR, K_ADX, K_BB_PCTB, K_MACD_HIST_PCT, K_RVOL_X100, K_ZSCORE_VOL = range(9)


def _kind_and_state(spec) -> tuple[int, np.ndarray]:
    p = spec.params
    rule = (spec.kernel, spec.transform)
    if rule == ("input", "regime_code"):
        return K_INPUT, np.zeros(1)
    if rule == ("roc", "identity"):
        return K_ROC, s.roc_init(int(p["period"]))
    if rule == ("rsi", "identity"):
        return K_RSI, s.rsi_init(int(p["period"]))
    if rule == ("natr", "identity"):
        return K_NATR, s.natr_init(int(p["period"]))
    if rule == ("adx", "identity"):
        return K_ADX, s.adx_init(int(p["period"]))
    if rule == ("bbands", "percent_b"):
        return K_BB_PCTB, s.bbands_init(int(p["period"]), float(p["nbdev"]))
    if rule == ("macd", "hist_pct_of_close"):
        return K_MACD_HIST_PCT, s.macd_init(int(p["fast"]), int(p["slow"]), int(p["signal"]))
    if rule == ("realized_vol", "times_100"):
        return K_RVOL_X100, s.realized_vol_init(int(p["period"]))
    if rule == ("zscore", "of_volume"):
        return K_ZSCORE_VOL, s.zscore_init(int(p["period"]))
    raise ModelError(f"feature {spec.name!r}: no streaming rule for kernel {spec.kernel!r} "
                     f"with transform {spec.transform!r}")


@njit(cache=True)
def features_update_nb(kinds, states, o, h, l, c, v, regime, out):  # noqa: E741 - OHLC names
    """Advance every feature of one symbol by one bar; write the float32 row into ``out``.

    ``states[j]`` is feature ``j``'s streaming state (padded; each update reads its own prefix).
    The transforms are the batch code's, operation for operation.
    """
    for j in range(kinds.shape[0]):
        k = kinds[j]
        st = states[j]
        if k == K_INPUT:
            y = regime
        elif k == K_ROC:
            y = s.roc_update(st, c)
        elif k == K_RSI:
            y = s.rsi_update(st, c)
        elif k == K_NATR:
            y = s.natr_update(st, h, l, c)
        elif k == K_ADX:
            y = s.adx_update(st, h, l, c)
        elif k == K_BB_PCTB:
            upper, _mid, lower = s.bbands_update(st, c)
            width = upper - lower
            if width != width:
                y = np.nan
            elif width > 0.0:
                y = (c - lower) / width
            else:
                y = 0.5
        elif k == K_MACD_HIST_PCT:
            _m, _sg, hist = s.macd_update(st, c)
            y = hist / c * 100.0
        elif k == K_RVOL_X100:
            y = s.realized_vol_update(st, c) * 100.0
        else:  # K_ZSCORE_VOL
            y = s.zscore_update(st, v)
        out[j] = np.float32(y)


@njit(cache=True)
def features_update_all_nb(kinds, states, o, h, l, c, v, have, regime, rows, ready):  # noqa: E741
    """One cross-section: advance every symbol with a bar; mark in ``ready`` the complete rows; return their count."""
    k = 0
    for p in range(states.shape[0]):
        ready[p] = False
        if not have[p]:
            continue
        features_update_nb(kinds, states[p], o[p], h[p], l[p], c[p], v[p], regime[p], rows[p])
        ok = True
        for j in range(rows.shape[1]):
            if rows[p, j] != rows[p, j]:
                ok = False
                break
        if ok:
            ready[p] = True
            k += 1
    return k


class StreamingScorer:
    """One row per symbol per bar: streaming features, then one ONNX call for the complete rows.

    >>> # scorer = StreamingScorer(model, n_symbols=10); scorer.update(o, h, l, c, v, have, out=scores)
    """

    def __init__(self, model, n_symbols: int, schema: FeatureSchema = DEFAULT_SCHEMA):
        if n_symbols < 1:
            raise ValueError(f"n_symbols must be >= 1, was {n_symbols}")
        self.schema = schema
        self.model = None
        self.set_model(model)
        kinds, states = zip(*(_kind_and_state(f) for f in schema.features), strict=True)
        self.kinds = np.array(kinds, np.int64)
        width = max(len(x) for x in states)
        self._fresh = np.zeros((len(states), width))
        for j, x in enumerate(states):
            self._fresh[j, :len(x)] = x
        self.states = np.repeat(self._fresh[None], n_symbols, axis=0)
        self.rows = np.full((n_symbols, schema.width), np.nan, np.float32)
        self.n = n_symbols
        self._ready = np.zeros(n_symbols, np.bool_)
        self._regime = np.full(n_symbols, float(REGIME_DEFAULT))

    def set_model(self, model) -> None:
        """Score with ``model`` from the next bar on (``None``: advance the features, score nothing).

        The feature states carry on: a model retrained on the same schema takes over warm.
        """
        if model is not None:
            names = list(getattr(model, "names", self.schema.names) or self.schema.names)
            if names != list(self.schema.names):
                raise ModelError(f"the model's features {names} are not the schema's {list(self.schema.names)}")
        self.model = model

    def reset(self, symbol: int) -> None:
        """Forget a symbol's history (a new series starts)."""
        self.states[symbol] = self._fresh
        self.rows[symbol] = np.nan

    def update(self, o, h, l, c, v, have, out=None, regime=None) -> np.ndarray:  # noqa: E741
        """Add one bar for every symbol with ``have``; return the scores (NaN: no bar or warm-up)."""
        out = np.full(self.n, np.nan) if out is None else out
        out[:] = np.nan
        reg = self._regime if regime is None else np.ascontiguousarray(regime, np.float64)
        k = features_update_all_nb(self.kinds, self.states, np.asarray(o, np.float64), np.asarray(h, np.float64),
                                   np.asarray(l, np.float64), np.asarray(c, np.float64), np.asarray(v, np.float64),
                                   np.asarray(have, np.bool_), reg, self.rows, self._ready)
        if k and self.model is not None:
            out[self._ready] = self.model.predict(self.rows[self._ready])
        return out


def batch_scores(model, open_, high, low, close, volume, have=None, schema: FeatureSchema = DEFAULT_SCHEMA,
                 regime=None) -> np.ndarray:
    """Scores of a whole ``(bars, symbols)`` market in one batch (NaN: no bar or warm-up)."""
    close = np.asarray(close, np.float64)
    if close.ndim != 2:
        raise ValueError(f"expected (bars, symbols) arrays, close has shape {close.shape}")
    T, n = close.shape
    have = np.isfinite(close) if have is None else np.asarray(have, bool)
    out = np.full((T, n), np.nan)
    rows, where = [], []
    for p in range(n):
        idx = np.flatnonzero(have[:, p])
        if idx.size == 0:
            continue
        reg = None if regime is None else np.asarray(regime, np.float64)[idx, p]
        X = compute_features(open_[idx, p], high[idx, p], low[idx, p], close[idx, p], volume[idx, p], reg, schema)
        ok = ~np.isnan(X).any(axis=1)
        rows.append(X[ok])
        where.append((idx[ok], p))
    if rows and sum(len(r) for r in rows):
        proba = model.predict(np.ascontiguousarray(np.concatenate(rows)))
        a = 0
        for (ti, p), r in zip(where, rows, strict=True):
            out[ti, p] = proba[a:a + len(r)]
            a += len(r)
    return out
