"""A real model in seconds, for tests, benchmarks and demos: gradient-boosted trees on the
standard features of some bars, exported to ONNX (needs scikit-learn and skl2onnx)."""

from __future__ import annotations

import numpy as np

__all__ = ["quick_model"]


def quick_model(bars, upto: int | None = None, *, horizon: int = 12, max_iter: int = 15, max_leaf_nodes: int = 7):
    """Train on the first ``upto`` bars of ``bars`` (a :class:`~tradejet.engine.simulate.MarketBars`).

    The label is "the close ``horizon`` bars later is higher"; each symbol's missing bars are
    left out. Returns a loaded :class:`~tradejet.models.inference.OnnxModel`.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from tradejet.models.export import export_onnx
    from tradejet.models.features import compute_features
    from tradejet.models.inference import OnnxModel
    from tradejet.models.schema import DEFAULT_SCHEMA

    end = bars.n_bars if upto is None else int(upto)
    Xs, ys = [], []
    for p in range(len(bars.symbols)):
        idx = np.flatnonzero(bars.have[:end, p])
        c = bars.close[idx, p]
        X = compute_features(bars.open[idx, p], bars.high[idx, p], bars.low[idx, p], c, bars.volume[idx, p])
        fwd = np.concatenate((c[horizon:] / c[:-horizon] - 1.0, np.full(min(horizon, len(c)), np.nan)))[:len(c)]
        ok = ~np.isnan(X).any(axis=1) & np.isfinite(fwd)
        Xs.append(X[ok])
        ys.append((fwd[ok] > 0).astype(np.int64))
    X, y = np.concatenate(Xs), np.concatenate(ys)
    clf = HistGradientBoostingClassifier(max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, random_state=0).fit(X, y)
    blob, _ = export_onnx(clf, X[:1000], schema=DEFAULT_SCHEMA, system="crypto")
    return OnnxModel(blob)
