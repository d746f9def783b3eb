"""Risk statistics against NumPy/SciPy, hand-computed cases and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from tradejet.kernels import riskstats as rs

finite = st.floats(-0.2, 0.2, allow_nan=False, allow_infinity=False)


def np_var_cvar(r, alpha):
    q = np.quantile(r, 1 - alpha)
    return -q, -r[r <= q].mean()


def test_hand_computed_var_and_cvar():
    r = np.array([0.01, -0.02, 0.005, -0.01, 0.0])
    # sorted: -0.02 -0.01 0 0.005 0.01; q(0.2) at h=0.8 -> -0.02 + 0.8*0.01 = -0.012
    assert rs.historical_var(r, 0.8) == pytest.approx(0.012, abs=1e-15)
    assert rs.historical_cvar(r, 0.8) == pytest.approx(0.02, abs=1e-15)


@given(arrays(np.float64, st.integers(2, 300), elements=finite), st.floats(0.5, 0.995))
def test_historical_var_cvar_match_numpy(r, alpha):
    v, c = np_var_cvar(r, alpha)
    assert rs.historical_var(r, alpha) == pytest.approx(v, rel=1e-12, abs=1e-15)
    assert rs.historical_cvar(r, alpha) == pytest.approx(c, rel=1e-12, abs=1e-15)
    assert rs.historical_cvar(r, alpha) >= rs.historical_var(r, alpha) - 1e-15


@given(arrays(np.float64, st.integers(6, 120), elements=finite), st.integers(1, 5))
def test_horizon_uses_compounded_overlapping_returns(r, h):
    g = np.array([np.prod(1 + r[t:t + h]) - 1 for t in range(len(r) - h + 1)])
    assert rs.historical_var(r, 0.9, h) == pytest.approx(np_var_cvar(g, 0.9)[0], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("p", [1e-10, 1e-4, 0.01, 0.02425, 0.05, 0.3, 0.5, 0.8, 0.975, 0.999, 1 - 1e-9])
def test_norm_ppf_matches_scipy(p):
    assert rs.norm_ppf(p) == pytest.approx(stats.norm.ppf(p), rel=1e-13, abs=1e-13)


@given(arrays(np.float64, st.integers(10, 300), elements=finite, unique=True), st.sampled_from([0.9, 0.95, 0.99]),
       st.integers(1, 10))
def test_parametric_vars_match_scipy(r, alpha, h):
    mu, sd = r.mean(), r.std(ddof=1)
    z = stats.norm.ppf(1 - alpha)
    assert rs.gaussian_var(r, alpha, h) == pytest.approx(-(mu * h + z * sd * math.sqrt(h)), rel=1e-10, abs=1e-14)
    s, k = stats.skew(r), stats.kurtosis(r)
    zc = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    assert rs.cornish_fisher_var(r, alpha, h) == pytest.approx(-(mu * h + zc * sd * math.sqrt(h)), rel=1e-9,
                                                                abs=1e-13)


def test_cornish_fisher_equals_gaussian_for_symmetric_mesokurtic_sample():
    r = stats.norm.ppf(np.linspace(0.0005, 0.9995, 2000)) * 0.01
    assert abs(stats.skew(r)) < 1e-10
    # the normal-quantile grid has near-zero excess kurtosis; CF stays close to Gaussian
    assert rs.cornish_fisher_var(r) == pytest.approx(rs.gaussian_var(r), rel=0.02)


@given(arrays(np.float64, st.integers(1, 200), elements=finite), st.integers(2, 40), st.sampled_from([0.8, 0.95]))
def test_rolling_var_cvar_equals_window_by_window(r, window, alpha):
    v, c = rs.rolling_var_cvar(r, window, alpha)
    for t in range(len(r)):
        if t < window - 1:
            assert math.isnan(v[t]) and math.isnan(c[t])
        else:
            ev, ec = np_var_cvar(r[t - window + 1:t + 1], alpha)
            assert v[t] == pytest.approx(ev, rel=1e-12, abs=1e-15)
            assert c[t] == pytest.approx(ec, rel=1e-12, abs=1e-15)


@settings(max_examples=40)
@given(st.integers(2, 6), st.integers(2, 30), st.integers(1, 7), st.integers(0, 2**32 - 1))
def test_rolling_cov_matches_np_cov(n, window, step, seed):
    rng = np.random.default_rng(seed)
    R = rng.normal(0.001, 0.02, size=(window + 45, n))
    idx, cov = rs.rolling_cov(R, window, step)
    assert idx[0] == window - 1 and np.all(np.diff(idx) == step)
    for k, t in enumerate(idx):
        np.testing.assert_allclose(cov[k], np.cov(R[t - window + 1:t + 1].T).reshape(n, n), rtol=1e-9, atol=1e-15)


def test_rolling_cov_does_not_drift_over_a_long_series():
    rng = np.random.default_rng(7)
    R = 50.0 + rng.normal(0, 1e-3, size=(200_000, 3))  # a large offset is where naive sums lose digits
    idx, cov = rs.rolling_cov(R, 500, step=49_999)
    for k, t in enumerate(idx):
        np.testing.assert_allclose(cov[k], np.cov(R[t - 499:t + 1].T), rtol=1e-7, atol=1e-16)


def test_ewm_cov_matches_brute_force():
    rng = np.random.default_rng(3)
    R = rng.normal(0, 0.01, size=(60, 4))
    lam = 0.94
    idx, cov = rs.ewm_cov(R, lam, min_periods=5)
    for t in idx:
        wts = lam ** np.arange(t, -1, -1)
        expect = (R[:t + 1].T * wts) @ R[:t + 1] / wts.sum()
        if t + 1 < 5:
            assert np.isnan(cov[t]).all()
        else:
            np.testing.assert_allclose(cov[t], expect, rtol=1e-12)


def test_cov_to_corr_and_portfolio_vol():
    rng = np.random.default_rng(1)
    R = rng.normal(size=(300, 5))
    C = np.cov(R.T)
    np.testing.assert_allclose(rs.cov_to_corr(C), np.corrcoef(R.T), rtol=1e-12)
    w = rng.normal(size=5)
    assert rs.portfolio_vol(w, C) == pytest.approx(np.std(R @ w, ddof=1), rel=1e-12)
    assert rs.cov_to_corr(np.diag([0.0, 1.0]))[0, 0] == 1.0


@given(st.integers(1, 10), st.integers(0, 2**32 - 1), st.sampled_from([0.9, 0.95, 0.99]), st.integers(1, 5))
@example(4, 167, 0.9, 1)  # a small gradient where a forward difference was 2e-4 off
def test_component_vars_sum_to_the_total(n, seed, alpha, h):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    C = A @ A.T * 1e-4 + np.eye(n) * 1e-6
    w = rng.uniform(-1e4, 1e4, size=n)
    total, marginal, comp = rs.component_var(w, C, alpha, h)
    assert total == pytest.approx(stats.norm.ppf(alpha) * math.sqrt(h) * math.sqrt(w @ C @ w), rel=1e-10)
    assert comp.sum() == pytest.approx(total, rel=1e-10)
    # marginal VaR is the gradient of total VaR in the weights (central differences: a forward
    # difference is off by eps * curvature / 2, 2e-4 relative for a small gradient at n=4, seed=167)
    eps = 1e-3
    for i in range(n):
        wp, wm = w.copy(), w.copy()
        wp[i] += eps
        wm[i] -= eps
        grad = (rs.component_var(wp, C, alpha, h)[0] - rs.component_var(wm, C, alpha, h)[0]) / (2 * eps)
        assert grad == pytest.approx(marginal[i], rel=1e-4, abs=1e-9)


def test_portfolio_historical_var_uses_the_pnl_series():
    rng = np.random.default_rng(5)
    R = rng.normal(0, 0.02, size=(500, 3))
    pos = np.array([1000.0, -500.0, 250.0])
    v, c = rs.portfolio_historical_var_cvar(pos, R, 0.95)
    ev, ec = np_var_cvar(R @ pos, 0.95)
    assert (v, c) == (pytest.approx(ev, rel=1e-12), pytest.approx(ec, rel=1e-12))


@pytest.mark.parametrize(("x", "n", "alpha"), [(5, 100, 0.95), (0, 250, 0.99), (17, 250, 0.99), (250, 250, 0.95)])
def test_kupiec_matches_a_direct_likelihood_ratio(x, n, alpha):
    p = 1 - alpha
    ll0 = stats.binom.logpmf(x, n, p)
    ll1 = stats.binom.logpmf(x, n, x / n)
    lr = -2 * (ll0 - ll1)
    got_lr, got_p = rs.kupiec_test(x, n, alpha)
    assert got_lr == pytest.approx(lr, rel=1e-9, abs=1e-12)
    assert got_p == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: rs.historical_var([0.1, np.nan, 0.2]), "non-finite value nan at index 1"),
        (lambda: rs.historical_var([0.1, 0.2], alpha=0.3), r"alpha must be in \[0.5, 1\)"),
        (lambda: rs.historical_var([0.1]), "at least 2 values"),
        (lambda: rs.historical_var([0.1, 0.2, 0.3], horizon=0), "horizon must be"),
        (lambda: rs.historical_var([0.1, 0.2, 0.3], horizon=3), "more than horizon"),
        (lambda: rs.historical_var(np.array(["a", "b"])), "must be numeric"),
        (lambda: rs.historical_var(np.ones((3, 2))), "must be 1-D"),
        (lambda: rs.rolling_var_cvar([0.1, 0.2], window=1), "window must be"),
        (lambda: rs.rolling_cov(np.ones(5), 2), "must be 2-D"),
        (lambda: rs.rolling_cov(np.array([[1.0, np.inf], [0.0, 0.0]]), 2), "row 0, column 1"),
        (lambda: rs.rolling_cov(np.ones((5, 2)), 2, step=0), "step must be"),
        (lambda: rs.ewm_cov(np.ones((5, 2)), lam=1.0), "lam must be"),
        (lambda: rs.component_var([1.0, 2.0], np.eye(3)), "cov must be 2x2"),
        (lambda: rs.portfolio_historical_var_cvar([1.0], np.ones((5, 2))), "2 columns for 1 positions"),
        (lambda: rs.kupiec_test(11, 10), "breaches must be in"),
        (lambda: rs.norm_ppf(1.0), "p must be in"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_short_series_gives_nan_not_an_error():
    v, c = rs.rolling_var_cvar([0.01, 0.02], window=5)
    assert np.isnan(v).all() and np.isnan(c).all()
    idx, cov = rs.rolling_cov(np.ones((3, 2)), window=5)
    assert idx.size == 0 and cov.shape == (0, 2, 2)
