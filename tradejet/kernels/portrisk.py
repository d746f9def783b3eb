"""Portfolio risk inside the step: an incremental covariance and the limits that read it.

Contract: everything is float64 arrays allocated once per run (``port_cov``
``(N_COV, n, n)``, ``port_vec`` ``(N_PV, n)``, ``port_params`` ``(N_PP,)``); nothing is
allocated per bar or per intent. Both drivers call these through
:func:`tradejet.engine.step.step_nb`, so paper/live make the decisions the backtest makes.

Covariance: the zero-mean, exponentially weighted (RiskMetrics) covariance of simple
per-bar close-to-close returns, ``C = num / den`` with ``num <- lam num + r_i r_j`` and
``den <- lam den + 1`` -- the estimator of :func:`tradejet.kernels.riskstats.ewm_cov_nb`,
which is its oracle (equal bit for bit when every pair has every bar). Each element
advances only on bars where both pairs have a return (a pair listed later, or missing a
bar, leaves its elements unchanged), costs O(n^2) per bar and never drifts (no
subtraction). An element is *warm* after ``PP_MIN_BARS`` joint returns; before that it is NaN.

Risk of a book of position values ``v`` (quote currency, signed): per-bar volatility
``sigma = sqrt(v' E v)`` where ``E`` is the covariance with the conservative case wherever
the estimate is missing: a cold pair gets the largest warm volatility and correlation 1
with everything; in PANIC (when ``PP_PANIC_CORR1``) every correlation is 1, so
``sigma = sum |v_i| sd_i`` for a long book. Gaussian VaR and CVaR over ``h`` bars:
``z_a sigma sqrt(h)`` and ``phi(z_a) / (1 - a) sigma sqrt(h)`` (zero mean).

Checks on an *entry* intent (exits are never limited), after every existing check passed
(:func:`tradejet.kernels.risk.check_intent_nb`); the book counts working orders
(``pending``) as filled, so two entries in one bar cannot both use the same headroom:

- ``VOL_TARGET`` (before the other checks): the intent's qty is scaled down so the book's
  volatility over the horizon stays at most ``PP_TARGET_VOL`` x equity (the exact root of
  the quadratic ``sigma(k)^2``); refused when the book is already at the target, the scale
  is below 5 %, or the scaled order falls below the pair's minimums;
- ``VAR_LIMIT`` / ``CVAR_LIMIT``: VaR / CVaR after the fill > ``PP_MAX_VAR`` / ``PP_MAX_CVAR``
  x equity;
- ``CONCENTRATION_CLUSTER``: the gross value of the intent pair's cluster (the pair and every
  pair whose correlation with it is >= ``PP_CLUSTER_CORR``; cold pairs, and every pair in
  PANIC, count as correlated) > ``PP_MAX_CLUSTER_SHARE`` x equity.

A limit set to ``inf`` (``PP_CLUSTER_CORR`` > 1) is off. With no warm pair at all the
volatility is unknown and the VaR / volatility checks pass (the per-pair limits still hold).
Oracle: the NumPy model in tests/kernels/test_portrisk.py.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from tradejet.kernels.codes import Regime, Reject
from tradejet.kernels.risk import INTENT_REDUCE_ONLY, check_intent_nb

# port_params
PP_LAMBDA = 0  # EWMA decay per bar, 0.5 ** (1 / halflife)
PP_MIN_BARS = 1  # joint returns before an element is used
PP_Z = 2  # Phi^-1(level)
PP_CVAR_K = 3  # phi(z) / (1 - level): Gaussian CVaR per sigma
PP_SQRT_H = 4  # sqrt(horizon bars)
PP_MAX_VAR = 5  # share of equity; inf = off
PP_MAX_CVAR = 6  # share of equity; inf = off
PP_CLUSTER_CORR = 7  # correlation threshold; > 1 = off
PP_MAX_CLUSTER_SHARE = 8  # share of equity
PP_TARGET_VOL = 9  # book volatility over the horizon, share of equity; inf = off
PP_PANIC_CORR1 = 10  # 1.0: correlations taken as 1 in PANIC
N_PP = 11

# port_cov slabs
COV_NUM = 0
COV_DEN = 1
COV_CNT = 2
COV_VAL = 3  # num / den once warm, else NaN
N_COV = 4

# port_vec rows
PV_PREV = 0  # last close
PV_RET = 1  # this bar's return (NaN: none)
PV_SD = 2  # per-bar volatility once warm, else NaN
PV_VAL = 3  # scratch: the book's values for the intent being checked
N_PV = 4

_TOL = 1e-9
_MIN_SCALE = 0.05  # an entry the volatility target scales below 5 % of its size is refused, not sent as dust


def port_params(*, halflife_bars: float = 168.0, min_bars: int = 120, level: float = 0.99, horizon_bars: int = 24,
                max_var: float = math.inf, max_cvar: float = math.inf, cluster_corr: float = math.inf,
                max_cluster_share: float = math.inf, target_vol: float = math.inf,
                panic_corr1: bool = True) -> np.ndarray:
    """Return the ``port_params`` vector (the config layer validates; this only converts).

    >>> p = port_params(level=0.99)
    >>> round(float(p[PP_Z]), 4), round(float(p[PP_CVAR_K]), 4)
    (2.3263, 2.6652)
    """
    from statistics import NormalDist  # not the njit norm_ppf_nb: no kernel to load at start-up for one number

    p = np.empty(N_PP)
    p[PP_LAMBDA] = 0.5 ** (1.0 / halflife_bars)
    p[PP_MIN_BARS] = float(min_bars)
    z = NormalDist().inv_cdf(level)
    p[PP_Z] = z
    p[PP_CVAR_K] = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi) / (1.0 - level)
    p[PP_SQRT_H] = math.sqrt(horizon_bars)
    p[PP_MAX_VAR] = max_var
    p[PP_MAX_CVAR] = max_cvar
    p[PP_CLUSTER_CORR] = cluster_corr
    p[PP_MAX_CLUSTER_SHARE] = max_cluster_share
    p[PP_TARGET_VOL] = target_vol
    p[PP_PANIC_CORR1] = 1.0 if panic_corr1 else 0.0
    return p


def port_state(n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Return fresh ``(port_cov, port_vec)`` for ``n_pairs`` pairs."""
    cov = np.zeros((N_COV, n_pairs, n_pairs))
    cov[COV_VAL] = np.nan
    vec = np.full((N_PV, n_pairs), np.nan)
    vec[PV_VAL] = 0.0
    return cov, vec


@njit(cache=True)
def cov_update_nb(port_cov, port_vec, pp, c, have):
    """Advance the covariance by one bar cross-section (closes ``c``, ``have`` bool). O(n^2)."""
    n = c.shape[0]
    lam = pp[PP_LAMBDA]
    min_bars = pp[PP_MIN_BARS]
    for p in range(n):
        r = np.nan
        if have[p]:
            prev = port_vec[PV_PREV, p]
            x = c[p]
            if prev > 0.0 and x > 0.0:
                r = x / prev - 1.0
            if x > 0.0:
                port_vec[PV_PREV, p] = x
        port_vec[PV_RET, p] = r
    num = port_cov[COV_NUM]
    den = port_cov[COV_DEN]
    cnt = port_cov[COV_CNT]
    val = port_cov[COV_VAL]
    for i in range(n):
        ri = port_vec[PV_RET, i]
        if ri != ri:
            continue
        for j in range(i, n):
            rj = port_vec[PV_RET, j]
            if rj != rj:
                continue
            m = lam * num[i, j] + ri * rj
            d = lam * den[i, j] + 1.0
            k = cnt[i, j] + 1.0
            num[i, j] = m
            num[j, i] = m
            den[i, j] = d
            den[j, i] = d
            cnt[i, j] = k
            cnt[j, i] = k
            if k >= min_bars:
                inv = 1.0 / d
                v = m * inv
                val[i, j] = v
                val[j, i] = v
        v = val[i, i]
        port_vec[PV_SD, i] = math.sqrt(v) if v > 0.0 else (0.0 if v == 0.0 else np.nan)


@njit(cache=True, inline="always")
def _max_sd(sd):
    """Largest warm volatility; -1.0 when no pair is warm."""
    m = -1.0
    for i in range(sd.shape[0]):
        if sd[i] > m:  # False for NaN
            m = sd[i]
    return m


@njit(cache=True, inline="always")
def _eff_row(val, sd, i, vals, maxsd, panic):
    """``(E v)_i`` over the nonzero values, E = the estimate or the correlation-1 case (cold pair, PANIC)."""
    si = sd[i]
    warm_i = si == si and not panic
    if si != si:
        si = maxsd
    row = 0.0
    for j in range(vals.shape[0]):
        vj = vals[j]
        if vj == 0.0:
            continue
        v = val[i, j]
        if not (warm_i and v == v):  # a finite element implies both pairs are warm
            sj = sd[j]
            v = si * (sj if sj == sj else maxsd)
        row += v * vj
    return row


@njit(cache=True)
def book_values_nb(vals, pos_qty, pending, pos_avg, mark, pair, price):
    """Fill ``vals`` with each pair's net value (positions + working orders); ``pair`` valued at ``price``.

    A pair without a mark is valued at each strategy's average price (as the risk check does).
    """
    S, n = pos_qty.shape
    for j in range(n):
        px = price if j == pair else mark[j]
        q = 0.0
        if math.isfinite(px):
            for s in range(S):
                q += pos_qty[s, j] + pending[s, j]
            vals[j] = q * px
        else:
            tot = 0.0
            for s in range(S):
                tot += (pos_qty[s, j] + pending[s, j]) * pos_avg[s, j]
            vals[j] = tot
    return vals


@njit(cache=True)
def book_terms_nb(port_cov, port_vec, vals, pair, panic):
    """Return ``(a, e, eii)``: ``a = v'Ev`` of the book, ``e = (Ev)_pair``, ``eii = E[pair, pair]``.

    The book after adding ``x`` (currency) in ``pair`` has variance ``a + 2 x e + x^2 eii``.
    NaNs when no pair is warm (the risk is unknown).
    """
    val = port_cov[COV_VAL]
    sd = port_vec[PV_SD]
    maxsd = _max_sd(sd)
    if maxsd < 0.0:
        return np.nan, np.nan, np.nan
    a = 0.0
    for i in range(vals.shape[0]):
        vi = vals[i]
        if vi != 0.0:
            a += vi * _eff_row(val, sd, i, vals, maxsd, panic)
    e = _eff_row(val, sd, pair, vals, maxsd, panic)
    sp = sd[pair]
    if sp != sp:
        sp = maxsd
    eii = val[pair, pair] if (sd[pair] == sd[pair] and not panic) else sp * sp
    return a, e, eii


@njit(cache=True)
def vol_scale_nb(a, e, eii, x, target_sigma):
    """Largest ``k`` in [0, 1] with ``a + 2 k x e + k^2 x^2 eii <= target_sigma^2`` (0 if none)."""
    t2 = target_sigma * target_sigma
    b = x * e
    c = x * x * eii
    if a + 2.0 * b + c <= t2:
        return 1.0
    if a >= t2 or not (c > 0.0):
        return 0.0
    k = (-b + math.sqrt(b * b - c * (a - t2))) / c
    return min(max(k, 0.0), 1.0)


@njit(cache=True)
def cluster_gross_nb(port_cov, port_vec, vals, pair, threshold, panic):
    """Gross value of ``pair``'s cluster: pairs with correlation >= threshold (cold pairs and PANIC: all)."""
    val = port_cov[COV_VAL]
    sd = port_vec[PV_SD]
    si = sd[pair]
    tot = 0.0
    for j in range(vals.shape[0]):
        vj = vals[j]
        if vj == 0.0:
            continue
        if j == pair or panic or si != si or not (si > 0.0):
            tot += abs(vj)
            continue
        sj = sd[j]
        cij = val[pair, j]
        if sj != sj or cij != cij or not (sj > 0.0) or cij / (si * sj) >= threshold:
            tot += abs(vj)
    return tot


@njit(cache=True)
def portfolio_on(pp):
    """True when any portfolio limit is configured."""
    return (math.isfinite(pp[PP_MAX_VAR]) or math.isfinite(pp[PP_MAX_CVAR]) or pp[PP_CLUSTER_CORR] <= 1.0
            or math.isfinite(pp[PP_TARGET_VOL]))


@njit(cache=True, _nrt=False)
def check_intent_portfolio_nb(pair, strategy, side, qty, price, flags, trading_state, meta, limits, strategy_share,
                              strategy_status, unreconciled, account, pos_qty, pos_avg, mark, risk_state, pending,
                              port_cov, port_vec, pp, regime, equity):
    """:func:`~tradejet.kernels.risk.check_intent_nb` plus the portfolio limits; return ``(code, qty, price)``.

    ``equity`` is the pre-trade equity the step computed; ``regime`` the current regime code.
    """
    if not portfolio_on(pp) or not (0 <= pair < pos_qty.shape[1]) or not (0 <= strategy < pos_qty.shape[0]):
        return check_intent_nb(pair, strategy, side, qty, price, flags, trading_state, meta, limits, strategy_share,
                               strategy_status, unreconciled, account, pos_qty, pos_avg, mark, risk_state)
    pos = pos_qty[strategy, pair]
    reducing = (side < 0 and pos > 0.0) or (side > 0 and pos < 0.0)
    entry = not reducing and not (flags & INTENT_REDUCE_ONLY) and (side == 1 or side == -1)
    panic = regime == Regime.PANIC and pp[PP_PANIC_CORR1] != 0.0
    vals = port_vec[PV_VAL]
    scale = 1.0
    a = np.nan
    e = np.nan
    eii = np.nan
    if entry and qty > 0.0 and price > 0.0 and math.isfinite(qty) and math.isfinite(price):
        book_values_nb(vals, pos_qty, pending, pos_avg, mark, pair, price)
        a, e, eii = book_terms_nb(port_cov, port_vec, vals, pair, panic)
        if math.isfinite(pp[PP_TARGET_VOL]) and a == a and equity > 0.0:
            scale = vol_scale_nb(a, e, eii, side * qty * price, pp[PP_TARGET_VOL] * equity / pp[PP_SQRT_H])
            if scale < _MIN_SCALE:
                return Reject.VOL_TARGET, 0.0, price
    code, q, p = check_intent_nb(pair, strategy, side, qty * scale, price, flags, trading_state, meta, limits,
                                 strategy_share, strategy_status, unreconciled, account, pos_qty, pos_avg, mark,
                                 risk_state)
    if scale < 1.0 and (code == Reject.BELOW_ORDERMIN or code == Reject.BELOW_COSTMIN):
        return Reject.VOL_TARGET, q, p
    if code != Reject.OK or not entry:
        return code, q, p
    slack = 1.0 + _TOL
    if a == a:
        x = side * q * p  # the rounded order at its rounded price
        var = a + 2.0 * x * e + x * x * eii
        sigma = math.sqrt(var) if var > 0.0 else 0.0
        if sigma * pp[PP_Z] * pp[PP_SQRT_H] > pp[PP_MAX_VAR] * equity * slack:
            return Reject.VAR_LIMIT, q, p
        if sigma * pp[PP_CVAR_K] * pp[PP_SQRT_H] > pp[PP_MAX_CVAR] * equity * slack:
            return Reject.CVAR_LIMIT, q, p
    if pp[PP_CLUSTER_CORR] <= 1.0:
        v0 = vals[pair]
        vals[pair] = v0 + side * q * p
        g = cluster_gross_nb(port_cov, port_vec, vals, pair, pp[PP_CLUSTER_CORR], panic)
        vals[pair] = v0
        if g > pp[PP_MAX_CLUSTER_SHARE] * equity * slack:
            return Reject.CONCENTRATION_CLUSTER, q, p
    return Reject.OK, q, p


@njit(cache=True)
def book_risk_nb(port_cov, port_vec, pp, vals, panic, marginal):
    """Per-bar (sigma, VaR, CVaR) of a book of values over the horizon; ``marginal`` gets d sigma / d v_i.

    The Euler components ``vals * marginal`` sum to sigma (scale them by z sqrt(h) for VaR).
    """
    val = port_cov[COV_VAL]
    sd = port_vec[PV_SD]
    maxsd = _max_sd(sd)
    n = vals.shape[0]
    if maxsd < 0.0:
        for i in range(n):
            marginal[i] = np.nan
        return np.nan, np.nan, np.nan
    a = 0.0
    for i in range(n):
        row = _eff_row(val, sd, i, vals, maxsd, panic)
        marginal[i] = row
        a += vals[i] * row
    sigma = math.sqrt(a) if a > 0.0 else 0.0
    for i in range(n):
        marginal[i] = marginal[i] / sigma if sigma > 0.0 else 0.0
    h = pp[PP_SQRT_H]
    return sigma, sigma * pp[PP_Z] * h, sigma * pp[PP_CVAR_K] * h


@njit(cache=True)
def replay_risk_nb(C, have, regime, fill_bar, fill_pair, fill_strategy, fill_qty, n_strat, pp, sigma_out, hyp_out,
                   comp_pair, comp_strat):
    """Replay a run's book bar by bar through the step's estimator: the ex-ante risk it held.

    ``C``/``have`` (T, n) closes; fills in bar order with signed qty, booked before the bar's
    estimate (as the driver books them before the step). Writes ``sigma_out[t]``: the per-bar
    volatility (currency) of the book held after bar ``t``, and ``hyp_out[t]``: that book's
    P&L over bar ``t + 1`` at the closes (NaN on the last bar). ``comp_pair`` (n,) and
    ``comp_strat`` (n_strat,) accumulate the Euler contributions to sigma over all bars.
    """
    T, n = C.shape
    port_cov = np.zeros((N_COV, n, n))
    for i in range(n):
        for j in range(n):
            port_cov[COV_VAL, i, j] = np.nan
    port_vec = np.full((N_PV, n), np.nan)
    pos = np.zeros((n_strat, n))
    vals = np.zeros(n)
    prev_vals = np.zeros(n)
    mark = np.full(n, np.nan)
    marginal = np.zeros(n)
    k = 0
    nf = fill_bar.shape[0]
    for t in range(T):
        while k < nf and fill_bar[k] <= t:
            pos[fill_strategy[k], fill_pair[k]] += fill_qty[k]
            k += 1
        cov_update_nb(port_cov, port_vec, pp, C[t], have[t])
        if t > 0:
            h = 0.0
            for p in range(n):
                r = port_vec[PV_RET, p]
                if r == r:
                    h += prev_vals[p] * r
            hyp_out[t - 1] = h
        for p in range(n):
            if have[t, p]:
                mark[p] = C[t, p]
        for p in range(n):
            tot = 0.0
            for s in range(n_strat):
                q = pos[s, p]
                if abs(q) < 1e-12:
                    pos[s, p] = 0.0
                elif mark[p] == mark[p]:
                    tot += q * mark[p]
            vals[p] = tot
            prev_vals[p] = tot
        panic = regime[t] == Regime.PANIC and pp[PP_PANIC_CORR1] != 0.0
        sigma, _, _ = book_risk_nb(port_cov, port_vec, pp, vals, panic, marginal)
        sigma_out[t] = sigma
        if sigma == sigma:
            for p in range(n):
                comp_pair[p] += vals[p] * marginal[p]
                if mark[p] == mark[p]:
                    for s in range(n_strat):
                        comp_strat[s] += pos[s, p] * mark[p] * marginal[p]
    hyp_out[T - 1] = np.nan
