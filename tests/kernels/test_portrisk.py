"""Portfolio limits in the step (kernels/portrisk.py) against NumPy models and riskstats' estimator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tradejet.kernels import portrisk as kp
from tradejet.kernels import risk as kr
from tradejet.kernels.codes import REJECT_TEXT, Regime, Reject as R, Strategy as S, TradingState as TS
from tradejet.kernels.riskstats import ewm_cov, norm_ppf

from tests.kernels.test_risk_nb import MARKS, META, U, Ctx

N = len(U)
TF, BO = S.TREND_FOLLOWING, S.BREAKOUT


def feed(closes, have=None, **kw):
    """Run cov_update_nb over (T, n) closes; return (port_cov, port_vec, pp)."""
    T, n = closes.shape
    have = np.isfinite(closes) if have is None else have
    pp = kp.port_params(**kw)
    cov, vec = kp.port_state(n)
    for t in range(T):
        kp.cov_update_nb(cov, vec, pp, closes[t], have[t])
    return cov, vec, pp


def closes_from(R0):
    return 100.0 * np.cumprod(np.vstack([np.ones((1, R0.shape[1])), 1.0 + R0]), axis=0)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 60), st.integers(1, 4)), elements=st.floats(-0.2, 0.2)),
       st.floats(2.0, 50.0), st.integers(2, 10))
def test_cov_equals_riskstats_ewm_cov_bit_for_bit(R0, halflife, min_bars):
    C = closes_from(R0)
    R = C[1:] / C[:-1] - 1.0  # the returns the kernel sees, rounding included
    cov, vec, pp = feed(C, halflife_bars=halflife, min_bars=min_bars)
    _, ref = ewm_cov(R, lam=0.5 ** (1.0 / halflife), min_periods=min_bars)
    np.testing.assert_array_equal(cov[kp.COV_VAL], ref[-1])
    np.testing.assert_array_equal(vec[kp.PV_SD], np.sqrt(np.diag(ref[-1])))


def ewm_pairwise_model(C, lam, min_bars):
    """Plain-Python model: each element advances only on bars where both pairs have a return."""
    T, n = C.shape
    last = np.full(n, np.nan)
    num = np.zeros((n, n))
    den = np.zeros((n, n))
    cnt = np.zeros((n, n))
    for t in range(T):
        r = np.full(n, np.nan)
        for p in range(n):
            if np.isfinite(C[t, p]):
                if np.isfinite(last[p]):
                    r[p] = C[t, p] / last[p] - 1.0
                last[p] = C[t, p]
        for i in range(n):
            for j in range(n):
                if np.isfinite(r[i]) and np.isfinite(r[j]):
                    num[i, j] = lam * num[i, j] + r[i] * r[j]
                    den[i, j] = lam * den[i, j] + 1.0
                    cnt[i, j] += 1
    out = np.where(cnt >= min_bars, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def test_cov_with_missing_bars_and_late_listing():
    rng = np.random.default_rng(3)
    C = closes_from(rng.normal(0, 0.01, (400, 3)))
    C[:150, 2] = np.nan  # listed later
    C[rng.random(401) < 0.05, 0] = np.nan  # gaps
    cov, vec, _ = feed(C, halflife_bars=30.0, min_bars=40)
    ref = ewm_pairwise_model(C, 0.5 ** (1 / 30.0), 40)
    np.testing.assert_allclose(cov[kp.COV_VAL], ref, rtol=1e-13, equal_nan=True)
    assert np.isfinite(cov[kp.COV_VAL]).all()
    cov2, _, _ = feed(C[:180], halflife_bars=30.0, min_bars=40)  # pair 2 has < 40 returns: cold
    assert np.isnan(cov2[kp.COV_VAL][2]).all() and np.isfinite(cov2[kp.COV_VAL][:2, :2]).all()


# --------------------------------------------------------------------------- the checks
def warm_state(corr=0.5, vol=0.01, n=N, cold=()):
    """A covariance state with every pair at ``vol`` per bar and pairwise correlation ``corr``."""
    cov, vec = kp.port_state(n)
    C = np.full((n, n), corr * vol * vol)
    np.fill_diagonal(C, vol * vol)
    cov[kp.COV_VAL] = C
    vec[kp.PV_SD] = vol
    for p in cold:
        cov[kp.COV_VAL][p, :] = np.nan
        cov[kp.COV_VAL][:, p] = np.nan
        vec[kp.PV_SD, p] = np.nan
    return cov, vec


class PCtx(Ctx):
    def __init__(self, *, corr=0.5, vol=0.01, cold=(), pp=None, pending=None, **kw):
        super().__init__(**kw)
        self.cov, self.vec = warm_state(corr, vol, cold=cold)
        self.pp = kp.port_params() if pp is None else pp
        self.pending = np.zeros_like(self.pos) if pending is None else pending

    def pcheck(self, strategy, symbol, side, qty, price=None, flags=0, regime=Regime.RISK_ON):
        pair = U.index(symbol)
        price = MARKS[symbol] if price is None else price
        code, q, p = kp.check_intent_portfolio_nb(
            pair, strategy, side, qty, price, flags, TS.TRADING, META, self.lim, self.shares, self.status, self.unrec,
            self.account, self.pos, self.avg, self.mark, self.rs, self.pending, self.cov, self.vec, self.pp, regime,
            self.equity())
        return int(code), q, p


def model_sigma(values, corr, vol, panic=False):
    n = values.shape[0]
    Cm = np.full((n, n), (1.0 if panic else corr) * vol * vol)
    np.fill_diagonal(Cm, vol * vol)
    return math.sqrt(values @ Cm @ values)


def book_values(ctx, extra_pair=None, extra=0.0):
    v = ((ctx.pos + ctx.pending) * ctx.mark).sum(axis=0)
    if extra_pair is not None:
        v[U.index(extra_pair)] += extra
    return v


def test_off_by_default_is_exactly_check_intent():
    c = PCtx(holdings=[(TF, "ETH/USD", 0.8)], cash=8_000.0)
    assert not kp.portfolio_on(c.pp)
    for qty in (0.01, 0.04, 0.06):
        assert c.pcheck(TF, "BTC/USD", 1, qty) == c.check(TF, "BTC/USD", 1, qty)


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_var_and_cvar_limits_against_the_gaussian_model(level):
    c = PCtx(holdings=[(TF, "ETH/USD", 0.8)], cash=8_000.0, corr=0.6, vol=0.01)  # 2000 in ETH
    eq = c.equity()
    z = norm_ppf(level)
    ck = math.exp(-z * z / 2) / math.sqrt(2 * math.pi) / (1 - level)
    h = 24
    for qty in (0.01, 0.03, 0.05):  # 500 .. 2500 of BTC
        sigma = model_sigma(book_values(c, "BTC/USD", qty * 50_000.0), 0.6, 0.01)
        var, cvar = z * sigma * math.sqrt(h), ck * sigma * math.sqrt(h)
        for limit in (var / eq * 0.999, var / eq * 1.001):
            c.pp = kp.port_params(level=level, horizon_bars=h, max_var=limit)
            want = R.VAR_LIMIT if var > limit * eq else R.OK
            assert c.pcheck(TF, "BTC/USD", 1, qty)[0] == want
        for limit in (cvar / eq * 0.999, cvar / eq * 1.001):
            c.pp = kp.port_params(level=level, horizon_bars=h, max_cvar=limit)
            assert c.pcheck(TF, "BTC/USD", 1, qty)[0] == (R.CVAR_LIMIT if cvar > limit * eq else R.OK)


def test_panic_takes_correlations_as_one():
    c = PCtx(holdings=[(TF, "ETH/USD", 0.8)], cash=8_000.0, corr=0.2, vol=0.01)
    eq = c.equity()
    z, h = norm_ppf(0.99), 24
    v = book_values(c, "BTC/USD", 1_000.0)
    calm = z * model_sigma(v, 0.2, 0.01) * math.sqrt(h)
    panic = z * np.abs(v).sum() * 0.01 * math.sqrt(h)
    assert panic > calm * 1.2
    c.pp = kp.port_params(max_var=(calm + panic) / 2 / eq)
    assert c.pcheck(TF, "BTC/USD", 1, 0.02, regime=Regime.RISK_ON)[0] == R.OK
    assert c.pcheck(TF, "BTC/USD", 1, 0.02, regime=Regime.PANIC)[0] == R.VAR_LIMIT
    c.pp = kp.port_params(max_var=(calm + panic) / 2 / eq, panic_corr1=False)
    assert c.pcheck(TF, "BTC/USD", 1, 0.02, regime=Regime.PANIC)[0] == R.OK


def test_cold_pair_counts_as_fully_correlated_at_the_largest_volatility():
    c = PCtx(holdings=[(TF, "ETH/USD", 0.8)], cash=8_000.0, corr=0.0, vol=0.01, cold=(U.index("SOL/USD"),))
    eq = c.equity()
    z, h = norm_ppf(0.99), 24
    # SOL cold: sigma = sd_eth*2000 + maxsd*1000 (correlation 1), not sqrt(2000^2 + 1000^2) * sd
    cold = z * (2_000 + 1_000) * 0.01 * math.sqrt(h)
    warm = z * math.hypot(2_000, 1_000) * 0.01 * math.sqrt(h)
    c.pp = kp.port_params(max_var=(cold + warm) / 2 / eq)
    assert c.pcheck(TF, "SOL/USD", 1, 10.0)[0] == R.VAR_LIMIT
    c.cov, c.vec = warm_state(0.0, 0.01)
    assert c.pcheck(TF, "SOL/USD", 1, 10.0)[0] == R.OK


def test_no_warm_pair_means_the_risk_is_unknown_and_only_the_pair_limits_hold():
    c = PCtx(cash=10_000.0, cold=tuple(range(N)), pp=kp.port_params(max_var=1e-6, target_vol=1e-6))
    assert c.pcheck(TF, "BTC/USD", 1, 0.04)[0] == R.OK
    assert c.pcheck(TF, "BTC/USD", 1, 0.06)[0] == R.STRATEGY_PAIR_LIMIT


def test_pending_orders_count_as_filled():
    pend = np.zeros((6, N))
    pend[BO, U.index("ETH/USD")] = 0.8
    c = PCtx(cash=10_000.0, corr=0.6, pending=pend)
    eq = c.equity()
    var = norm_ppf(0.99) * model_sigma(book_values(c, "BTC/USD", 1_000.0), 0.6, 0.01) * math.sqrt(24)
    c.pp = kp.port_params(max_var=var / eq * 0.999)
    assert c.pcheck(TF, "BTC/USD", 1, 0.02)[0] == R.VAR_LIMIT
    c.pending[:] = 0.0
    assert c.pcheck(TF, "BTC/USD", 1, 0.02)[0] == R.OK


def test_exits_are_never_limited():
    c = PCtx(holdings=[(TF, "BTC/USD", 0.04)], cash=8_000.0,
             pp=kp.port_params(max_var=1e-9, max_cvar=1e-9, cluster_corr=0.0, max_cluster_share=1e-9, target_vol=1e-9))
    assert c.pcheck(TF, "BTC/USD", -1, 0.04)[0] == R.OK
    assert c.pcheck(TF, "BTC/USD", -1, 0.04, flags=kr.INTENT_REDUCE_ONLY)[0] == R.OK
    assert c.pcheck(TF, "BTC/USD", 1, 0.001)[0] == R.VOL_TARGET


@pytest.mark.parametrize(("corr", "threshold", "in_cluster"), [(0.8, 0.7, True), (0.6, 0.7, False), (0.7, 0.7, True)])
def test_cluster_concentration(corr, threshold, in_cluster):
    # ETH 2000 + SOL 1000 held; BTC entry of 1000: its cluster is BTC + the pairs correlated >= threshold
    c = PCtx(holdings=[(TF, "ETH/USD", 0.8), (BO, "SOL/USD", 10.0)], cash=7_000.0, corr=corr,
             pp=kp.port_params(cluster_corr=threshold, max_cluster_share=0.35))
    want = R.CONCENTRATION_CLUSTER if in_cluster else R.OK  # 4000 > 3500 in the cluster; 1000 alone
    assert c.pcheck(TF, "BTC/USD", 1, 0.02)[0] == want
    assert c.pcheck(TF, "BTC/USD", 1, 0.02, regime=Regime.PANIC)[0] == R.CONCENTRATION_CLUSTER


def test_cluster_reads_the_estimated_correlation_per_pair():
    c = PCtx(holdings=[(TF, "ETH/USD", 0.8), (BO, "SOL/USD", 10.0)], cash=7_000.0, corr=0.3,
             pp=kp.port_params(cluster_corr=0.7, max_cluster_share=0.35))
    btc, eth = U.index("BTC/USD"), U.index("ETH/USD")
    c.cov[kp.COV_VAL][btc, eth] = c.cov[kp.COV_VAL][eth, btc] = 0.9 * 1e-4  # BTC-ETH 0.9, BTC-SOL 0.3
    assert c.pcheck(TF, "BTC/USD", 1, 0.02)[0] == R.OK  # 1000 + 2000 = 3000 <= 3500
    assert c.pcheck(TF, "BTC/USD", 1, 0.04)[0] == R.CONCENTRATION_CLUSTER  # 2000 + 2000 > 3500


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 0.95), st.floats(0.005, 0.03), st.floats(0.0, 0.25), st.floats(0.001, 0.05))
def test_vol_target_scales_to_the_target(corr, vol, eth_share, target):
    eth_qty = round(eth_share * 10_000 / 2_500, 4)
    c = PCtx(holdings=[(TF, "ETH/USD", eth_qty)] if eth_qty > 0 else [], cash=10_000.0 - eth_qty * 2_500, corr=corr,
             vol=vol, pp=kp.port_params(target_vol=target, horizon_bars=24))
    eq = c.equity()
    tsig = target * eq / math.sqrt(24)
    asked = 0.04  # 2000 of BTC
    code, q, _ = c.pcheck(TF, "BTC/USD", 1, asked)
    before = model_sigma(book_values(c), corr, vol)
    full = model_sigma(book_values(c, "BTC/USD", asked * 50_000), corr, vol)
    if full <= tsig * (1 + 1e-12):
        assert (code, q) == (R.OK, asked)
    elif before >= tsig * (1 - 1e-9):
        assert code == R.VOL_TARGET
    elif code == R.OK:
        assert 0 < q < asked
        after = model_sigma(book_values(c, "BTC/USD", q * 50_000), corr, vol)
        lot = 10.0 ** -META[U.index("BTC/USD"), 1]  # rounded down to the lot: at most one lot short of the target
        assert after <= tsig * (1 + 1e-9)
        assert model_sigma(book_values(c, "BTC/USD", (q + lot) * 50_000), corr, vol) >= tsig * (1 - 1e-9)
    else:
        assert code == R.VOL_TARGET  # scaled below 5 % of the ask, or below the pair's minimums


def test_vol_scale_root():
    a, e, eii, x, T = 4.0, 1.0, 1.0, 3.0, 4.0
    k = kp.vol_scale_nb(a, e, eii, x, T)
    assert a + 2 * k * x * e + (k * x) ** 2 * eii == pytest.approx(T * T)
    assert kp.vol_scale_nb(a, e, eii, 0.1, T) == 1.0
    assert kp.vol_scale_nb(16.0, e, eii, x, T) == 0.0


def test_book_risk_components_sum_to_sigma():
    cov, vec = warm_state(0.4, 0.02)
    vals = np.linspace(-500, 2_000, N)
    m = np.empty(N)
    pp = kp.port_params(level=0.975, horizon_bars=4)
    sigma, var, cvar = kp.book_risk_nb(cov, vec, pp, vals, False, m)
    assert sigma == pytest.approx(model_sigma(vals, 0.4, 0.02), rel=1e-12)
    assert (vals * m).sum() == pytest.approx(sigma, rel=1e-12)
    assert var == pytest.approx(norm_ppf(0.975) * sigma * 2, rel=1e-12) and cvar > var


def test_reason_texts_cover_the_new_codes():
    assert len(REJECT_TEXT) == max(R) + 1
    for code in (R.VAR_LIMIT, R.CVAR_LIMIT, R.CONCENTRATION_CLUSTER, R.VOL_TARGET):
        assert REJECT_TEXT[code] and REJECT_TEXT[code] != "accepted"
