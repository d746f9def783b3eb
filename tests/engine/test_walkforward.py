"""Walk-forward windows (no test bar ever in its training window), the choice, the stitching."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.engine.walkforward import make_windows, parse_span, walk_forward, window_metric
from tradejet.errors import ConfigError

H = 3_600 * 10**9


@given(st.integers(50, 3000), st.integers(2, 400), st.integers(1, 300), st.sampled_from(["rolling", "anchored"]),
       st.integers(0, 2**31))
def test_windows_never_overlap_and_tile_the_test_span(n, train_h, test_h, mode, seed):
    # hourly bars with random gaps (missing hours)
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(1, 3, n)) * H
    try:
        wins = make_windows(ts, train_h * H, test_h * H, mode)
    except ConfigError:  # then no nominal window has 2 training bars and a test bar
        t = ts[0] + train_h * H
        while t <= ts[-1]:
            lo = ts[0] if mode == "anchored" else t - train_h * H
            assert np.sum((ts >= lo) & (ts < t)) < 2 or np.sum((ts >= t) & (ts < t + test_h * H)) < 2
            t += test_h * H
        return
    prev_end = None
    for k, w in enumerate(wins):
        assert w.index == k
        assert w.train_start < w.train_end == w.test_start < w.test_end - 1 < n
        # every training bar is before every test bar of the same window, and inside the training span
        assert ts[w.train_end - 1] < ts[w.test_start]
        assert ts[w.train_end - 1] - ts[w.train_start] < train_h * H or mode == "anchored"
        if mode == "anchored":
            assert w.train_start == 0
        # test bars lie in [start, start + test) and follow the previous test window without overlap
        assert ts[w.test_end - 1] - ts[w.test_start] < test_h * H
        if prev_end is not None:
            assert w.test_start >= prev_end
        prev_end = w.test_end
    starts = [w.test_start for w in wins]
    assert starts == sorted(set(starts))


def test_windows_by_hand():
    ts = np.arange(10) * H
    assert [(w.train_start, w.train_end, w.test_start, w.test_end) for w in make_windows(ts, 4 * H, 3 * H)] == \
        [(0, 4, 4, 7), (3, 7, 7, 10)]
    assert [(w.train_start, w.train_end, w.test_start, w.test_end)
            for w in make_windows(ts, 4 * H, 3 * H, "anchored")] == [(0, 4, 4, 7), (0, 7, 7, 10)]
    with pytest.raises(ConfigError, match="no walk-forward window fits"):
        make_windows(ts, 20 * H, 3 * H)
    with pytest.raises(ConfigError, match="rolling or anchored"):
        make_windows(ts, 4 * H, 3 * H, "sliding")


@pytest.mark.parametrize("text, ok", [("365d", 365 * 24), ("12w", 12 * 7 * 24), ("720h", 720), ("1.5d", 36),
                                      ("0d", None), ("30", None), ("3m", None), ("", None)])
def test_parse_span(text, ok):
    if ok is None:
        with pytest.raises(ConfigError, match="walkforward.train"):
            parse_span(text, "walkforward.train")
    else:
        assert parse_span(text, "walkforward.train") == ok * H


def test_walk_forward_chooses_the_training_best_and_stitches_its_test_returns():
    rng = np.random.default_rng(5)
    T, N = 2000, 6
    R = rng.normal(0.0, 0.01, (T, N))
    ts = np.arange(T) * H
    params = [{"x": j} for j in range(N)]
    res = walk_forward(R, ts, params, train_ns=300 * H, test_ns=100 * H, mode="rolling", metric="sharpe",
                       periods_per_year=8760.0, cscv_blocks=8)
    assert len(res.windows) == (T - 300) // 100
    pieces = []
    for k, w in enumerate(res.windows):
        # brute force: the Sharpe of every column over the training bars
        tr = R[w.train_start:w.train_end]
        sh = tr.mean(axis=0) / tr.std(axis=0, ddof=1) * math.sqrt(8760)
        assert res.chosen[k] == int(np.argmax(sh))
        assert res.params[k] == {"x": res.chosen[k]}
        assert res.is_metric[k] == pytest.approx(sh.max(), rel=1e-9)
        te = R[w.test_start:w.test_end, res.chosen[k]]
        assert res.oos_metric[k] == pytest.approx(te.mean() / te.std(ddof=1) * math.sqrt(8760), rel=1e-9)
        pieces.append(te)
    np.testing.assert_array_equal(res.oos_returns, np.concatenate(pieces))
    assert res.oos_ts[0] == ts[res.windows[0].test_start] and np.all(np.diff(res.oos_ts) > 0)
    np.testing.assert_allclose(res.oos_equity(100.0), 100.0 * np.cumprod(1 + np.concatenate(pieces)))
    assert 0.0 <= res.pbo.pbo <= 1.0 and res.pbo.n_blocks == 8
    assert 0.0 <= res.dsr <= 1.0
    # pure noise: the in-sample best is chance; the deflated Sharpe must not call it significant
    assert res.dsr < 0.95


def test_walk_forward_finds_a_real_edge():
    rng = np.random.default_rng(6)
    R = rng.normal(0, 0.01, (3000, 5))
    R[:, 3] += 0.004  # trial 3 is better everywhere
    res = walk_forward(R, np.arange(3000) * H, [{"x": j} for j in range(5)], train_ns=500 * H, test_ns=250 * H,
                       mode="anchored", metric="total_return", periods_per_year=8760.0, cscv_blocks=10)
    assert set(res.chosen) == {3}
    assert res.pbo.pbo == 0.0
    assert res.dsr > 0.99
    assert res.oos_positive_share == 1.0


@pytest.mark.parametrize("metric", ["sharpe", "sortino", "total_return", "cagr", "calmar", "max_drawdown"])
def test_window_metric_brute_force(metric):
    r = np.random.default_rng(7).normal(0.001, 0.02, 500)
    v = np.cumprod(1 + r)
    dd = float(np.min(v / np.maximum.accumulate(v) - 1))
    cagr = v[-1] ** (8760 / r.size) - 1
    want = {"sharpe": r.mean() / r.std(ddof=1) * math.sqrt(8760),
            "sortino": r.mean() * 8760 / (math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(8760)),
            "total_return": v[-1] - 1, "cagr": cagr, "calmar": cagr / -dd, "max_drawdown": dd}[metric]
    assert window_metric(r, metric, 8760.0) == pytest.approx(want, rel=1e-9)
    with pytest.raises(ConfigError, match="unknown walk-forward metric"):
        window_metric(r, "alpha", 8760.0)
