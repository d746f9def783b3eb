"""Training: the data set, the walk-forward split with purge and embargo, the two models.

- :func:`build_dataset` turns candles into float32 features (:mod:`.features`) and
  triple-barrier labels (:mod:`.labels`), keeping rows with a full warm-up and a label.
- :func:`walk_forward` splits by time, across all symbols at once. The last
  ``oos_fraction`` of the timeline is the out-of-sample window the gates judge; the time
  before it is cut into ``n_folds + 1`` blocks for an expanding-window cross-validation.
  For every test window starting at ``t0``: **purge** drops each training row whose
  label looks at a bar at or after ``t0`` (``label_end_ts >= t0``), and **embargo**
  drops the training rows of the last ``embargo_bars`` bars before ``t0`` as well.
- :func:`fit_model`: ``hgb`` = scikit-learn's ``HistGradientBoostingClassifier``
  (trained in chunks of iterations with ``warm_start`` so a time budget can stop it
  between chunks), ``logreg`` = standardise + ``LogisticRegression``, the baseline.
  Seeded, no early stopping: one data set gives one model.

scikit-learn is imported inside the functions: it is needed to train, never to trade.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tradejet.errors import DataError, ModelError
from tradejet.models.data import Candles
from tradejet.models.features import compute_features, kernels
from tradejet.models.labels import triple_barrier
from tradejet.models.schema import DEFAULT_SCHEMA, FeatureSchema

if TYPE_CHECKING:
    # ``cfg`` is a tradejet.config.MLConfig; models may not import config (layering), the
    # caller (CLI, scheduler) passes it in.
    MLConfig = Any

__all__ = ["Dataset", "Split", "build_dataset", "walk_forward", "fit_model", "classification_metrics",
           "train", "TrainResult", "BudgetExceeded", "model_params"]


class BudgetExceeded(ModelError):
    """The time budget ran out; nothing was promoted, the old model stays."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Rows of all symbols: features, labels and what the gates need (time, symbol, close)."""

    X: np.ndarray          # (n, k) float32
    y: np.ndarray          # (n,) int8, 0/1
    ts: np.ndarray         # (n,) int64 ns, bar open time
    label_end_ts: np.ndarray  # (n,) int64 ns, the last bar the label looks at
    sym: np.ndarray        # (n,) int32 index into symbols
    close: np.ndarray      # (n,) float64
    symbols: tuple[str, ...]
    interval_ns: int
    # (n, 4) float64: open, high, low, volume of each row's bar (gate 4 backtests the OOS window's bars)
    ohlv: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> Dataset:
        return Dataset(self.X[idx], self.y[idx], self.ts[idx], self.label_end_ts[idx], self.sym[idx],
                       self.close[idx], self.symbols, self.interval_ns,
                       None if self.ohlv is None else self.ohlv[idx])


@dataclass(frozen=True, eq=False)
class Split:
    """Row indices of one walk-forward step."""

    train: np.ndarray
    test: np.ndarray
    test_start_ts: int


def build_dataset(candles: list[Candles], cfg: MLConfig, schema: FeatureSchema = DEFAULT_SCHEMA,
                  regimes: dict[str, np.ndarray] | None = None) -> Dataset:
    """Compute features and labels for every symbol and stack the usable rows.

    ``regimes`` maps a symbol to its per-bar regime codes (optional; NEUTRAL otherwise).
    """
    k = kernels()
    if not candles:
        raise DataError("no candles to train on")
    parts = []
    intervals = []
    for si, c in enumerate(candles):
        reg = (regimes or {}).get(c.symbol)
        X = compute_features(c.open, c.high, c.low, c.close, c.volume, reg, schema)
        atr = k.atr(c.high, c.low, c.close, cfg.atr_period)
        y, end = triple_barrier(c.high, c.low, c.close, atr, horizon=cfg.horizon, take_profit=cfg.take_profit_atr,
                                stop_loss=cfg.stop_loss_atr)
        keep = (y >= 0) & ~np.isnan(X).any(axis=1)
        idx = np.flatnonzero(keep)
        parts.append((X[idx], y[idx], c.ts[idx], c.ts[end[idx]], np.full(len(idx), si, np.int32), c.close[idx],
                      np.column_stack((c.open[idx], c.high[idx], c.low[idx], c.volume[idx])).astype(np.float64)))
        if len(c) > 1:
            intervals.append(c.interval_s)
    cols = [np.concatenate([p[i] for p in parts]) for i in range(7)]
    if len(cols[0]) == 0:
        raise DataError(f"no labelled rows: {sum(len(c) for c in candles)} bars are too few for the warm-up "
                        f"and a {cfg.horizon}-bar label horizon")
    interval_ns = int(np.median(intervals)) * 1_000_000_000 if intervals else 0
    return Dataset(np.ascontiguousarray(cols[0], np.float32), cols[1].astype(np.int8), cols[2], cols[3], cols[4],
                   cols[5], tuple(c.symbol for c in candles), interval_ns, cols[6])


def _purged(ds: Dataset, before: np.ndarray, t0: int, embargo_ns: int) -> np.ndarray:
    keep = before & (ds.label_end_ts < t0) & (ds.ts < t0 - embargo_ns)
    return np.flatnonzero(keep)


def walk_forward(ds: Dataset, *, n_folds: int, oos_fraction: float, embargo_bars: int) -> tuple[list[Split], Split]:
    """Return ``(cross-validation splits, final split)``; the final test set is the OOS window."""
    if not 0.0 < oos_fraction < 1.0:
        raise ValueError(f"oos_fraction must be in (0, 1), was {oos_fraction}")
    if n_folds < 0 or embargo_bars < 0:
        raise ValueError(f"n_folds and embargo_bars must be >= 0, were {n_folds} and {embargo_bars}")
    times = np.unique(ds.ts)
    if len(times) < 10:
        raise DataError(f"too few distinct bar times for a walk-forward split: {len(times)}")
    embargo_ns = embargo_bars * ds.interval_ns
    t_oos = int(times[int(len(times) * (1.0 - oos_fraction))])
    final = Split(_purged(ds, ds.ts < t_oos, t_oos, embargo_ns), np.flatnonzero(ds.ts >= t_oos), t_oos)
    pre = times[times < t_oos]
    edges = [int(pre[int(len(pre) * i / (n_folds + 1))]) for i in range(1, n_folds + 1)] + [t_oos]
    folds = []
    for i in range(n_folds):
        t0, t1 = edges[i], edges[i + 1]
        test = np.flatnonzero((ds.ts >= t0) & (ds.ts < t1) & (ds.label_end_ts < t_oos))
        folds.append(Split(_purged(ds, ds.ts < t0, t0, embargo_ns), test, t0))
    return folds, final


def model_params(cfg: MLConfig, kind: str | None = None) -> dict[str, Any]:
    """Return the parameters that define a model (written to the manifest)."""
    kind = kind or cfg.model
    if kind == "hgb":
        return {"model": "hgb", "learning_rate": cfg.learning_rate, "max_iter": cfg.max_iter,
                "max_leaf_nodes": cfg.max_leaf_nodes, "min_samples_leaf": cfg.min_samples_leaf,
                "l2_regularization": cfg.l2_regularization, "seed": cfg.seed}
    if kind == "logreg":
        return {"model": "logreg", "C": cfg.logreg_c, "seed": cfg.seed}
    raise ValueError(f"model must be 'hgb' or 'logreg', was {kind!r}")


def _check_deadline(deadline: float | None, what: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceeded(f"time budget ran out before {what}")


def fit_model(X: np.ndarray, y: np.ndarray, params: dict[str, Any], *, deadline: float | None = None,
              threads: int = 1):
    """Fit and return a scikit-learn classifier; stop with :class:`BudgetExceeded` past ``deadline``.

    ``threads`` caps OpenMP/BLAS threads during the fit (the result does not depend on it).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=max(1, threads)):
        return _fit(X, y, params, deadline)


def _fit(X: np.ndarray, y: np.ndarray, params: dict[str, Any], deadline: float | None):
    if len(np.unique(y)) < 2:
        raise DataError(f"training labels hold one class only ({len(y)} rows): cannot train a classifier")
    _check_deadline(deadline, f"fitting {params['model']}")
    X64 = X.astype(np.float64)  # the float32 values, exactly; scikit-learn works in float64
    if params["model"] == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=2000))
        return model.fit(X64, y)
    from sklearn.ensemble import HistGradientBoostingClassifier

    total = int(params["max_iter"])
    step = max(1, min(25, total))
    model = HistGradientBoostingClassifier(
        learning_rate=params["learning_rate"], max_iter=step, max_leaf_nodes=params["max_leaf_nodes"],
        min_samples_leaf=params["min_samples_leaf"], l2_regularization=params["l2_regularization"],
        early_stopping=False, random_state=params["seed"], warm_start=True)
    done = 0
    while done < total:
        _check_deadline(deadline, f"boosting iteration {done + 1} of {total}")
        done = min(total, done + step)
        model.set_params(max_iter=done)
        model.fit(X64, y)
    return model


def classification_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 of ``proba >= threshold`` against ``y`` (0 when undefined), plus rates."""
    pred = proba >= threshold
    truth = y.astype(bool)
    tp = float(np.sum(pred & truth))
    fp = float(np.sum(pred & ~truth))
    fn = float(np.sum(~pred & truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    n = len(y)
    return {"precision": precision, "recall": recall, "f1": f1, "rows": float(n),
            "base_rate": float(truth.mean()) if n else 0.0, "signal_rate": float(pred.mean()) if n else 0.0}


@dataclass(eq=False)
class TrainResult:
    """The fitted candidate and baseline, the OOS rows, and every number worth keeping."""

    model: Any
    baseline: Any
    params: dict[str, Any]
    oos: Dataset
    oos_proba: np.ndarray      # scikit-learn's P(take-profit first) on the OOS rows
    metrics: dict[str, float] = field(default_factory=dict)
    train_rows: int = 0
    oos_start_ts: int = 0      # the model never trained on a bar at or after this time


def train(ds: Dataset, cfg: MLConfig, *, deadline: float | None = None, progress=None) -> TrainResult:
    """Cross-validate, then fit the candidate and the baseline on everything before the OOS window.

    ``progress(step: str)`` is called before each fit (for a progress bar).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=max(1, cfg.train_threads)):  # predict_proba uses OpenMP too
        return _train(ds, cfg, deadline, progress)


def _train(ds: Dataset, cfg: MLConfig, deadline: float | None, progress) -> TrainResult:
    params = model_params(cfg)
    folds, final = walk_forward(ds, n_folds=cfg.n_folds, oos_fraction=cfg.oos_fraction,
                                embargo_bars=cfg.embargo_bars)
    if len(final.train) == 0 or len(final.test) == 0:
        raise DataError(f"walk-forward left {len(final.train)} training and {len(final.test)} OOS rows")
    metrics: dict[str, float] = {}
    cv = []
    for i, f in enumerate(folds):
        if len(f.train) < 100 or len(f.test) < 20 or len(np.unique(ds.y[f.train])) < 2:
            continue
        if progress:
            progress(f"cv fold {i + 1}/{len(folds)}")
        m = fit_model(ds.X[f.train], ds.y[f.train], params, deadline=deadline, threads=cfg.train_threads)
        p = m.predict_proba(ds.X[f.test].astype(np.float64))[:, 1]
        cv.append(classification_metrics(ds.y[f.test], p, cfg.threshold))
    for key in ("precision", "recall", "f1"):
        metrics[f"cv_{key}"] = float(np.mean([c[key] for c in cv])) if cv else float("nan")
    metrics["cv_folds"] = float(len(cv))
    if progress:
        progress("candidate")
    model = fit_model(ds.X[final.train], ds.y[final.train], params, deadline=deadline, threads=cfg.train_threads)
    oos = ds.take(final.test)
    oos_proba = model.predict_proba(oos.X.astype(np.float64))[:, 1]
    for key, v in classification_metrics(oos.y, oos_proba, cfg.threshold).items():
        metrics[f"oos_{key}"] = v
    baseline = None
    if params["model"] != "logreg":  # the logistic-regression baseline, on the same rows
        if progress:
            progress("baseline")
        baseline = fit_model(ds.X[final.train], ds.y[final.train], model_params(cfg, "logreg"), deadline=deadline,
                              threads=cfg.train_threads)
        bp = baseline.predict_proba(oos.X.astype(np.float64))[:, 1]
        for key in ("precision", "recall", "f1"):
            metrics[f"baseline_logreg_{key}"] = classification_metrics(oos.y, bp, cfg.threshold)[key]
    metrics["train_rows"] = float(len(final.train))
    return TrainResult(model, baseline, params, oos, oos_proba, metrics, len(final.train), final.test_start_ts)
