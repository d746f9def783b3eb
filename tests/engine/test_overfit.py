"""Deflated Sharpe ratio and PBO (CSCV) against the papers' worked values and brute-force implementations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm, rankdata

from tradejet.engine.overfit import (
    EULER_GAMMA, deflated_sharpe, expected_max_sharpe, pbo_cscv, probabilistic_sharpe, sharpe_moments,
)


# --- deflated Sharpe ratio -------------------------------------------------------------------------------
# Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", numerical example: a strategist ran N = 100
# trials whose annualised Sharpe ratios have variance 1/2; the best has an annualised SR of 2.5 over five years
# of daily returns (T = 1250, 250 a year), skewness -3 and kurtosis 10. The paper finds the expected maximum
# SR0 ~ 0.1132 per day (~1.79 a year) and DSR ~ 0.9004: not significant at 95 %.
PAPER = dict(n_trials=100, var_annual=0.5, sr_annual=2.5, days=250, n_obs=1250, skew=-3.0, kurtosis=10.0)


def test_dsr_paper_worked_example():
    p = PAPER
    var = p["var_annual"] / p["days"]
    sr = p["sr_annual"] / math.sqrt(p["days"])
    sr0 = expected_max_sharpe(p["n_trials"], var)
    assert round(sr0, 4) == 0.1132
    assert round(sr0 * math.sqrt(p["days"]), 2) == 1.79
    dsr = deflated_sharpe(sr, p["n_obs"], p["n_trials"], var, p["skew"], p["kurtosis"])
    assert round(dsr, 4) == 0.9004
    assert dsr < 0.95


def _psr_oracle(sr, sr0, n, skew, kurt):
    return norm.cdf((sr - sr0) * np.sqrt(n - 1) / np.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2))


@given(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3), st.integers(2, 10_000), st.floats(-2, 2), st.floats(1.5, 12))
def test_psr_matches_scipy_formula(sr, sr0, n, skew, kurt):
    den = 1 - skew * sr + (kurt - 1) / 4 * sr ** 2
    got = probabilistic_sharpe(sr, sr0, n, skew, kurt)
    if den <= 0:
        assert math.isnan(got)
    else:
        assert got == pytest.approx(_psr_oracle(sr, sr0, n, skew, kurt), abs=1e-12)


def test_expected_max_sharpe_formula_and_monte_carlo():
    # closed form with scipy's quantile function
    for n in (2, 10, 100, 1000):
        want = (1 - EULER_GAMMA) * norm.ppf(1 - 1 / n) + EULER_GAMMA * norm.ppf(1 - 1 / (n * math.e))
        assert expected_max_sharpe(n, 1.0) == pytest.approx(want, rel=1e-12)
    # brute force: the mean of the largest of N standard normals (the formula is an approximation for N >> 1)
    rng = np.random.default_rng(1)
    for n in (100, 1000):
        mc = rng.standard_normal((4000, n)).max(axis=1).mean()
        assert expected_max_sharpe(n, 1.0) == pytest.approx(mc, rel=0.02)
    assert expected_max_sharpe(1, 0.3, mean_sharpe=0.1) == 0.1
    assert expected_max_sharpe(50, 4.0) == pytest.approx(2 * expected_max_sharpe(50, 1.0))
    with pytest.raises(ValueError, match="n_trials"):
        expected_max_sharpe(0, 1.0)


def test_sharpe_moments_match_scipy():
    from scipy.stats import kurtosis, skew

    r = np.random.default_rng(2).standard_t(4, 5000) * 0.01 + 0.001
    s, sk, ku = sharpe_moments(r)
    assert s == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-12)
    assert sk == pytest.approx(skew(r), rel=1e-10)
    assert ku == pytest.approx(kurtosis(r, fisher=False), rel=1e-10)
    assert all(math.isnan(x) for x in sharpe_moments(np.zeros(10)))


# --- PBO by CSCV -------------------------------------------------------------------------------------------

def test_pbo_hand_worked_example():
    # 4 blocks of one row, 3 trials. A wins the first half, B the second, C earns 1 always.
    # Splits {1,2} and {3,4} choose A resp. B, which then rank last of 3 out of sample: w = 1/4, logit ln(1/3).
    # The other four splits see A and B at 0 in sample, choose C, which ranks first: w = 3/4, logit ln 3.
    m = np.array([[4.0, -4, 1], [4, -4, 1], [-4, 4, 1], [-4, 4, 1]])
    res = pbo_cscv(m, n_blocks=4, metric="mean")
    assert res.pbo == pytest.approx(2 / 6)
    assert sorted(np.round(res.logits, 12)) == sorted(np.round([math.log(1 / 3)] * 2 + [math.log(3)] * 4, 12))
    assert res.prob_oos_loss == pytest.approx(2 / 6)


def _pbo_brute(M, S, metric="sharpe"):
    """Textbook CSCV: build J and its complement row by row, Sharpe with numpy, rank with scipy."""
    T, N = M.shape
    size = T // S
    M = M[T - size * S:]
    blocks = [M[i * size:(i + 1) * size] for i in range(S)]
    logits = []
    for combo in itertools.combinations(range(S), S // 2):
        J = np.vstack([blocks[i] for i in combo])
        Jc = np.vstack([blocks[i] for i in range(S) if i not in combo])

        def perf(X):
            if metric == "mean":
                return X.mean(axis=0)
            sd = X.std(axis=0, ddof=1)
            return np.array([X[:, j].mean() / sd[j] if sd[j] > 0 else 0.0 for j in range(N)])

        r, rc = perf(J), perf(Jc)
        best = int(np.argmax(r))
        w = rankdata(rc)[best] / (N + 1)
        logits.append(math.log(w / (1 - w)))
    lg = np.array(logits)
    return float(np.mean(lg <= 0)), lg


@settings(max_examples=30)
@given(st.integers(0, 10_000), st.sampled_from([2, 4, 6, 8]), st.integers(2, 7), st.integers(0, 5))
def test_pbo_matches_brute_force(seed, S, N, extra_rows):
    rng = np.random.default_rng(seed)
    T = S * 5 + extra_rows
    M = rng.normal(0.0005, 0.01, (T, N)) + rng.normal(0, 0.002, N)  # trials with different drifts
    got = pbo_cscv(M, S)
    want, lg = _pbo_brute(M, S)
    assert got.pbo == want
    np.testing.assert_allclose(got.logits, lg, rtol=0, atol=1e-9)


def test_pbo_extremes():
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.01, (800, 6))
    dominant = noise.copy()
    dominant[:, 2] += 0.05  # far better in every block: always chosen, always first out of sample
    assert pbo_cscv(dominant, 8).pbo == 0.0
    # a trial that is best in one half and worst in the other, everything else equal: always overfit
    flip = np.zeros((16, 3))
    flip[:8, 0], flip[8:, 0] = 1.0, -1.0
    flip[:8, 1], flip[8:, 1] = -1.0, 1.0
    assert pbo_cscv(flip, 2, metric="mean").pbo == 1.0
    # pure noise: the in-sample winner is a coin flip out of sample (PBO near 1/2)
    assert 0.2 < pbo_cscv(rng.normal(0, 0.01, (1600, 20)), 16).pbo < 0.8


@pytest.mark.parametrize("M, S, match", [
    (np.zeros((100, 1)), 4, "N >= 2"), (np.zeros((100, 3)), 3, "even"), (np.zeros((10, 3)), 8, "too few"),
    (np.full((100, 3), np.nan), 4, "finite"),
])
def test_pbo_bad_input_is_named(M, S, match):
    with pytest.raises(ValueError, match=match):
        pbo_cscv(M, S)
