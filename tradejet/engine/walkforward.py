"""Walk-forward optimisation over a sweep: choose on each training window, judge on the next window.

Every parameter set of the sweep is backtested once over the whole span (one task
each, on the sweep's executor) and its per-bar returns are kept. For each window the
set with the best ``metric`` over the training bars is chosen and its returns over the
following out-of-sample bars are taken; the out-of-sample pieces, chained, are the
stitched equity. Because each set runs continuously, a set's out-of-sample bars
carry its own positions and indicator state from before the window (no warm-up gap,
no hand-over of positions when the choice changes: a switch is seamless, as if each
parameter set had been trading all along and the capital moved at the boundary).

Windows (bar indices, end exclusive): ``rolling`` trains on the ``train`` span just
before each test window; ``anchored`` trains on everything from the first bar. Test
windows follow each other without gap or overlap, ``test`` long (the last may be
shorter; one with fewer than two bars is
left out), and never overlap their training window.

Overfitting estimates over the same returns matrix: PBO by CSCV and the deflated
Sharpe ratio of the full-span best (:mod:`tradejet.engine.overfit`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tradejet.engine.overfit import PBOResult, deflated_sharpe, pbo_cscv, sharpe_moments
from tradejet.errors import ConfigError, DataError

__all__ = ["Window", "make_windows", "parse_span", "window_metric", "WalkForwardResult", "walk_forward",
           "run_walkforward", "WF_METRICS"]

WF_METRICS = ("sharpe", "sortino", "total_return", "cagr", "calmar", "max_drawdown")
_SPAN_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|d|w)\s*$")
_UNIT_NS = {"h": 3_600 * 10**9, "d": 86_400 * 10**9, "w": 7 * 86_400 * 10**9}


def parse_span(text: str, key: str) -> int:
    """Return a span like ``"365d"``, ``"12w"`` or ``"720h"`` in nanoseconds.

    >>> parse_span("2d", "walkforward.train") // 3_600_000_000_000
    48
    """
    m = _SPAN_RE.match(text or "")
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"not a span like 365d, 12w or 720h: {text!r}", key=key)
    return int(float(m.group(1)) * _UNIT_NS[m.group(2)])


@dataclass(frozen=True)
class Window:
    """One walk-forward step: train on bars ``[train_start, train_end)``, test on ``[test_start, test_end)``."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def make_windows(ts: np.ndarray, train_ns: int, test_ns: int, mode: str = "rolling") -> list[Window]:
    """Return the windows over bar times ``ts`` (sorted int64 ns).

    >>> ts = np.arange(10) * 10
    >>> [(w.train_start, w.train_end, w.test_start, w.test_end) for w in make_windows(ts, 40, 30)]
    [(0, 4, 4, 7), (3, 7, 7, 10)]
    """
    if mode not in ("rolling", "anchored"):
        raise ConfigError(f"walk-forward mode must be rolling or anchored, was {mode!r}", key="walkforward.mode")
    if train_ns <= 0 or test_ns <= 0:
        raise ConfigError("train and test spans must be > 0", key="walkforward")
    ts = np.asarray(ts, np.int64)
    T = ts.shape[0]
    out: list[Window] = []
    t = int(ts[0]) + train_ns
    while True:
        a = int(np.searchsorted(ts, t, "left"))
        if a >= T:
            break
        b = int(np.searchsorted(ts, t + test_ns, "left"))
        s = 0 if mode == "anchored" else int(np.searchsorted(ts, t - train_ns, "left"))
        if a - s >= 2 and b - a >= 2:  # a metric needs two returns on each side
            out.append(Window(len(out), s, a, a, b))
        t += test_ns
    if not out:
        span = (int(ts[-1]) - int(ts[0])) / 86_400e9
        raise ConfigError(f"no walk-forward window fits: the data spans {span:.1f} days, "
                          f"train + test need {(train_ns + test_ns) / 86_400e9:.1f}", key="walkforward")
    return out


def window_metric(returns: np.ndarray, metric: str, periods_per_year: float) -> float:
    """Return ``metric`` of a run of per-bar returns (the walk-forward's choice criterion)."""
    from tradejet.kernels.metrics import cagr_nb, max_drawdown_nb, sharpe_nb, sortino_nb, total_return_nb

    r = np.ascontiguousarray(returns, np.float64)
    if r.size < 2:
        return math.nan
    if metric == "sharpe":
        return float(sharpe_nb(r, periods_per_year))
    if metric == "sortino":
        return float(sortino_nb(r, periods_per_year))
    if metric == "total_return":
        return float(total_return_nb(r))
    if metric == "cagr":
        return float(cagr_nb(r, periods_per_year))
    value = np.cumprod(1.0 + r)
    mdd = float(max_drawdown_nb(value)[0])
    if metric == "max_drawdown":
        return mdd
    if metric == "calmar":
        c = float(cagr_nb(r, periods_per_year))
        return c / -mdd if mdd < 0 else (math.inf if c > 0 else math.nan)
    raise ConfigError(f"unknown walk-forward metric {metric!r}; use one of {', '.join(WF_METRICS)}",
                      key="walkforward.metric")


def _score(v: float) -> float:
    return v if math.isfinite(v) else -math.inf


@dataclass
class WalkForwardResult:
    """Everything the walk-forward report shows."""

    windows: list[Window]
    chosen: list[int]                 # column of the chosen trial per window
    params: list[dict[str, Any]]      # its parameters per window
    is_metric: np.ndarray             # chosen trial's metric in its training window
    oos_metric: np.ndarray            # ... and in the test window
    is_sharpe: np.ndarray
    oos_sharpe: np.ndarray
    oos_returns: np.ndarray           # stitched, bars of the test windows in order
    oos_ts: np.ndarray
    ts: np.ndarray                    # every bar's time
    metric: str
    mode: str
    pbo: PBOResult | None
    dsr: float
    best_full: int                    # full-span best trial (by Sharpe), the one the DSR judges
    best_full_sharpe: float           # annualised
    n_trials: int
    periods_per_year: float
    warnings: list[str] = field(default_factory=list)

    @property
    def survival(self) -> float:
        """Mean out-of-sample metric over mean in-sample metric (walk-forward efficiency)."""
        a, b = np.nanmean(self.oos_metric), np.nanmean(self.is_metric)
        return float(a / b) if b and math.isfinite(b) and math.isfinite(a) else math.nan

    @property
    def oos_positive_share(self) -> float:
        """Share of the windows whose out-of-sample metric is > 0."""
        m = self.oos_metric[np.isfinite(self.oos_metric)]
        return float(np.mean(m > 0)) if m.size else math.nan

    def oos_equity(self, start: float = 1.0) -> np.ndarray:
        return start * np.cumprod(1.0 + self.oos_returns)


def walk_forward(R: np.ndarray, ts: np.ndarray, params: list[dict[str, Any]], *, train_ns: int, test_ns: int,
                 mode: str = "rolling", metric: str = "sharpe", periods_per_year: float,
                 cscv_blocks: int = 16) -> WalkForwardResult:
    """Run the walk-forward over ``R`` (bars x trials of per-bar returns) and its bar times ``ts``."""
    R = np.asarray(R, np.float64)
    T, N = R.shape
    if N < 1:
        raise DataError("no successful trial to walk forward with")
    if metric not in WF_METRICS:
        raise ConfigError(f"unknown walk-forward metric {metric!r}; use one of {', '.join(WF_METRICS)}",
                          key="walkforward.metric")
    wins = make_windows(ts, train_ns, test_ns, mode)
    chosen, is_m, oos_m, is_s, oos_s, pieces, piece_ts = [], [], [], [], [], [], []
    for w in wins:
        scores = [_score(window_metric(R[w.train_start:w.train_end, j], metric, periods_per_year)) for j in range(N)]
        j = int(np.argmax(scores))  # ties: the first trial
        chosen.append(j)
        tr, te = R[w.train_start:w.train_end, j], R[w.test_start:w.test_end, j]
        is_m.append(window_metric(tr, metric, periods_per_year))
        oos_m.append(window_metric(te, metric, periods_per_year))
        is_s.append(window_metric(tr, "sharpe", periods_per_year))
        oos_s.append(window_metric(te, "sharpe", periods_per_year))
        pieces.append(te)
        piece_ts.append(ts[w.test_start:w.test_end])
    warnings = []
    pbo = None
    if N >= 2:
        blocks = cscv_blocks
        while blocks > 2 and T // blocks < 2:
            blocks -= 2
        try:
            pbo = pbo_cscv(R, blocks)
        except ValueError as e:
            warnings.append(f"PBO not computed: {e}")
    else:
        warnings.append("PBO needs at least 2 successful trials")
    sr = np.array([sharpe_moments(R[:, j])[0] for j in range(N)])
    best = int(np.argmax(np.where(np.isfinite(sr), sr, -np.inf)))
    s, sk, ku = sharpe_moments(R[:, best])
    var = float(np.var(sr[np.isfinite(sr)], ddof=1)) if np.isfinite(sr).sum() >= 2 else 0.0
    dsr = deflated_sharpe(s, T, N, var, sk, ku) if math.isfinite(s) else math.nan
    return WalkForwardResult(
        windows=wins, chosen=chosen, params=[params[j] for j in chosen], is_metric=np.asarray(is_m),
        oos_metric=np.asarray(oos_m), is_sharpe=np.asarray(is_s), oos_sharpe=np.asarray(oos_s),
        oos_returns=np.concatenate(pieces), oos_ts=np.concatenate(piece_ts), ts=np.asarray(ts, np.int64), metric=metric, mode=mode, pbo=pbo,
        dsr=dsr, best_full=best, best_full_sharpe=float(s * math.sqrt(periods_per_year)) if math.isfinite(s)
        else math.nan, n_trials=N, periods_per_year=periods_per_year, warnings=warnings)


def returns_matrix(folder: str | Path) -> tuple[np.ndarray, list[dict[str, Any]], list[int], dict]:
    """Return ``(R, params, task numbers, manifest)`` of a sweep folder run with returns kept (ok tasks only)."""
    from tradejet.engine.sweep import PARAM_PREFIX, read_results

    folder = Path(folder)
    manifest = json.loads((folder / "sweep.json").read_text())
    t = read_results(folder)
    if t is None or "returns" not in t.column_names:
        raise DataError("the sweep folder has no per-bar returns (run it through walk-forward)", source=str(folder))
    cols, params, tasks = [], [], []
    pnames = [c for c in t.column_names if c.startswith(PARAM_PREFIX)]
    for row in t.to_pylist():
        if row["status"] != "ok":
            continue
        cols.append(np.frombuffer(row["returns"], np.float64))
        params.append({c[len(PARAM_PREFIX):]: row[c] for c in pnames})
        tasks.append(int(row["task"]))
    if not cols:
        raise DataError("every task of the sweep failed; nothing to walk forward with", source=str(folder))
    return np.column_stack(cols), params, tasks, manifest


def run_walkforward(spec, out: str | Path, executor=None, *, progress=None) -> tuple[WalkForwardResult, Path]:
    """Run the sweep of ``spec`` (returns kept) into ``out/sweep``, walk forward, write ``out/report.html``."""
    from tradejet.engine.sweep import run_sweep
    from tradejet.engine.walkforward_report import write_walkforward
    from tradejet.kernels.metrics import periods_per_year

    wf = spec.walkforward
    if wf is None:
        raise ConfigError("a walk-forward file needs a [walkforward] section", key="walkforward", source=spec.source)
    train_ns, test_ns = parse_span(wf.train, "walkforward.train"), parse_span(wf.test, "walkforward.test")
    if wf.metric not in WF_METRICS:
        raise ConfigError(f"walk-forward metric must be one of {', '.join(WF_METRICS)}, was {wf.metric!r}",
                          key="walkforward.metric", source=spec.source)
    out = Path(out)
    summary = run_sweep(spec, out / "sweep", executor, progress=progress, keep_returns=True)
    R, params, tasks, manifest = returns_matrix(out / "sweep")
    from tradejet.engine.sweep.data import map_bars_ipc

    bars, _ = map_bars_ipc(out / "sweep" / "bars.arrow")
    ppy = periods_per_year(bars.timeframe_ns)
    res = walk_forward(R, np.asarray(bars.ts), params, train_ns=train_ns, test_ns=test_ns, mode=wf.mode,
                       metric=wf.metric, periods_per_year=ppy, cscv_blocks=wf.cscv_blocks)
    res.chosen = [tasks[j] for j in res.chosen]
    res.best_full = tasks[res.best_full]
    if summary.failed:
        res.warnings.append(f"{summary.failed} of {summary.total} tasks failed and are left out "
                            f"(see tradejet sweep show {out / 'sweep'})")
    initial = float(spec.base_raw.get("backtest", {}).get("initial_cash", 10_000.0))
    path = write_walkforward(out, res, manifest, initial_cash=initial, title=f"tradejet walk-forward: {spec.source}")
    return res, path
