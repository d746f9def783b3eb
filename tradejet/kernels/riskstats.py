"""Risk statistics: VaR, CVaR, covariance and correlation, portfolio and component risk.

Contract: inputs are finite float64 arrays (1-D return series, or 2-D bars x symbols
return matrices); the public wrappers check that and raise ``ValueError`` naming the
problem and the first bad index. Returns are simple per-bar returns.

Sign convention: VaR and CVaR are *losses*, positive numbers (a 2% VaR is ``0.02``).
At level ``alpha`` (e.g. 0.95):

- historical VaR  = ``-quantile(r, 1 - alpha)`` with NumPy's default (linear) quantile;
- historical CVaR = ``-mean(r[r <= quantile(r, 1 - alpha)])`` (expected shortfall), so
  CVaR >= VaR always;
- horizon ``h`` > 1: historical measures use the overlapping compounded h-bar returns
  ``prod(1 + r[t-h+1..t]) - 1``; parametric ones scale mean by h and sigma by sqrt(h);
- Gaussian VaR = ``-(mu h + z sigma sqrt(h))`` with ``z = Phi^-1(1 - alpha)``, sample
  sigma (ddof=1);
- Cornish-Fisher VaR replaces z by ``z + (z^2-1)S/6 + (z^3-3z)K/24 - (2z^3-5z)S^2/36``
  with the sample skewness S and excess kurtosis K (biased moments, as scipy.stats'
  defaults).

Covariance: rolling windows use ddof=1 (as ``np.cov``); running sums are taken about an
anchor that is reset every ``window`` bars, so long series do not drift. The
exponentially weighted covariance is the zero-mean RiskMetrics form with bias-corrected
weights: ``S_t = sum_k lam^(t-k) r_k r_k' / sum_k lam^(t-k)``.

Portfolio: for weights (or position values) ``w`` and covariance ``C``, the Gaussian
VaR is ``z_a sqrt(w'Cw)`` (z_a = Phi^-1(alpha)); marginal VaR is ``z_a (Cw) / sqrt(w'Cw)``
and component VaR ``w * marginal``; the components sum to the total (Euler).

Warm-up: rolling outputs are NaN until a full window is available.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "norm_ppf",
    "historical_var",
    "historical_cvar",
    "gaussian_var",
    "cornish_fisher_var",
    "rolling_var_cvar",
    "rolling_cov",
    "ewm_cov",
    "cov_to_corr",
    "portfolio_vol",
    "component_var",
    "portfolio_historical_var_cvar",
    "kupiec_test",
]

# ---------------------------------------------------------------------------------------
# Normal distribution (Acklam's rational approximation refined by one Halley step: ~1e-15)
# ---------------------------------------------------------------------------------------
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
      -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
      -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
      4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


@njit(cache=True)
def norm_cdf_nb(x):
    """Standard normal CDF via erfc."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@njit(cache=True)
def norm_ppf_nb(p):
    """Inverse standard normal CDF for 0 < p < 1. Oracle: scipy.stats.norm.ppf."""
    if p <= 0.0 or p >= 1.0:
        return np.nan
    if p > 0.5:  # 1 - p is exact here (Sterbenz); refine in the tail where erfc is accurate
        return -norm_ppf_nb(1.0 - p)
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
            ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    elif p <= 1.0 - plow:
        q = p - 0.5
        r = q * q
        x = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
            (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    else:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
            ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    # one Halley refinement step
    e = norm_cdf_nb(x) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


# ---------------------------------------------------------------------------------------
# Series measures
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def _lerp_nb(a, b, t):
    """NumPy's quantile interpolation, rounding included (it matters for CVaR at ties)."""
    d = b - a
    if t >= 0.5:
        return b - d * (1.0 - t)
    return a + d * t


@njit(cache=True)
def _quantile_sorted_nb(xs, q):
    """NumPy's default (linear) quantile of an ascending array."""
    n = xs.shape[0]
    h = q * (n - 1)
    lo = int(math.floor(h))
    if lo >= n - 1:
        return xs[n - 1]
    return _lerp_nb(xs[lo], xs[lo + 1], h - lo)


@njit(cache=True)
def horizon_returns_nb(r, h):
    """Overlapping compounded h-bar returns (length n - h + 1)."""
    n = r.shape[0]
    if h == 1:
        return r.copy()
    m = n - h + 1
    out = np.empty(max(m, 0))
    for t in range(m):
        g = 1.0
        for k in range(h):
            g *= 1.0 + r[t + k]
        out[t] = g - 1.0
    return out


@njit(cache=True)
def var_cvar_nb(r, alpha):
    """(historical VaR, CVaR) of one series at level alpha. Oracle: np.quantile + mean."""
    xs = np.sort(r)
    q = _quantile_sorted_nb(xs, 1.0 - alpha)
    s = 0.0
    k = 0
    for i in range(xs.shape[0]):
        if xs[i] <= q:
            s += xs[i]
            k += 1
        else:
            break
    return -q, -s / k


@njit(cache=True)
def moments_nb(r):
    """(mean, sample std ddof=1, skewness, excess kurtosis) with biased higher moments."""
    n = r.shape[0]
    mu = 0.0
    for i in range(n):
        mu += r[i]
    mu /= n
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    for i in range(n):
        d = r[i] - mu
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    m2n = m2 / n
    sd = math.sqrt(m2 / (n - 1))
    if m2n == 0.0:
        return mu, sd, 0.0, 0.0
    return mu, sd, (m3 / n) / m2n ** 1.5, (m4 / n) / (m2n * m2n) - 3.0


@njit(cache=True)
def gaussian_var_nb(mu, sigma, alpha, h):
    z = norm_ppf_nb(1.0 - alpha)
    return -(mu * h + z * sigma * math.sqrt(h))


@njit(cache=True)
def cornish_fisher_var_nb(mu, sigma, skew, exkurt, alpha, h):
    z = norm_ppf_nb(1.0 - alpha)
    zc = (z + (z * z - 1.0) * skew / 6.0 + (z ** 3 - 3.0 * z) * exkurt / 24.0
          - (2.0 * z ** 3 - 5.0 * z) * skew * skew / 36.0)
    return -(mu * h + zc * sigma * math.sqrt(h))


@njit(cache=True)
def rolling_var_cvar_nb(r, window, alpha, out_var, out_cvar):
    """Rolling historical VaR/CVaR over a sorted window kept by insertion (O(window) per bar)."""
    n = r.shape[0]
    buf = np.empty(window)
    m = 0
    qpos = 1.0 - alpha
    for t in range(n):
        x = r[t]
        if m == window:  # drop the value leaving the window
            old = r[t - window]
            lo, hi = 0, m
            while lo < hi:
                mid = (lo + hi) >> 1
                if buf[mid] < old:
                    lo = mid + 1
                else:
                    hi = mid
            for k in range(lo, m - 1):
                buf[k] = buf[k + 1]
            m -= 1
        lo, hi = 0, m
        while lo < hi:
            mid = (lo + hi) >> 1
            if buf[mid] <= x:
                lo = mid + 1
            else:
                hi = mid
        for k in range(m, lo, -1):
            buf[k] = buf[k - 1]
        buf[lo] = x
        m += 1
        if m < window:
            out_var[t] = np.nan
            out_cvar[t] = np.nan
            continue
        q = _quantile_sorted_nb(buf, qpos)
        s = 0.0
        k = 0
        while k < window and buf[k] <= q:
            s += buf[k]
            k += 1
        out_var[t] = -q
        out_cvar[t] = -s / k


# ---------------------------------------------------------------------------------------
# Covariance
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def _reanchor_nb(R, start, end, anchor, s1, s2):
    n = R.shape[1]
    for i in range(n):
        anchor[i] = R[end - 1, i]
        s1[i] = 0.0
        for j in range(n):
            s2[i, j] = 0.0
    for t in range(start, end):
        for i in range(n):
            di = R[t, i] - anchor[i]
            s1[i] += di
            for j in range(i, n):
                s2[i, j] += di * (R[t, j] - anchor[j])


@njit(cache=True)
def rolling_cov_nb(R, window, step, out):
    """Covariance (ddof=1) of the last ``window`` rows, at rows window-1, window-1+step, ...

    ``out`` has shape (m, n, n) with m = (T - window) // step + 1.
    """
    T, n = R.shape
    anchor = np.empty(n)
    s1 = np.empty(n)
    s2 = np.empty((n, n))
    _reanchor_nb(R, 0, window, anchor, s1, s2)
    since = 0
    k = 0
    inv_w = 1.0 / window
    inv_w1 = 1.0 / (window - 1)
    for t in range(window - 1, T):
        if t >= window:
            since += 1
            if since >= window:  # reset the anchor: bounded rounding drift
                _reanchor_nb(R, t - window + 1, t + 1, anchor, s1, s2)
                since = 0
            else:
                for i in range(n):
                    a = R[t, i] - anchor[i]
                    b = R[t - window, i] - anchor[i]
                    s1[i] += a - b
                    for j in range(i, n):
                        s2[i, j] += a * (R[t, j] - anchor[j]) - b * (R[t - window, j] - anchor[j])
        if (t - (window - 1)) % step == 0:
            for i in range(n):
                for j in range(i, n):
                    c = (s2[i, j] - s1[i] * s1[j] * inv_w) * inv_w1
                    out[k, i, j] = c
                    out[k, j, i] = c
            k += 1


@njit(cache=True)
def ewm_cov_nb(R, lam, min_periods, step, out):
    """Zero-mean exponentially weighted covariance with bias-corrected weights, every ``step`` rows."""
    T, n = R.shape
    num = np.zeros((n, n))
    den = 0.0
    k = 0
    for t in range(T):
        den = lam * den + 1.0
        for i in range(n):
            for j in range(i, n):
                num[i, j] = lam * num[i, j] + R[t, i] * R[t, j]
        if t % step == 0:
            inv = 1.0 / den
            for i in range(n):
                for j in range(i, n):
                    c = num[i, j] * inv if t + 1 >= min_periods else np.nan
                    out[k, i, j] = c
                    out[k, j, i] = c
            k += 1


@njit(cache=True)
def cov_to_corr_nb(cov, out):
    n = cov.shape[0]
    for i in range(n):
        for j in range(n):
            d = math.sqrt(cov[i, i] * cov[j, j])
            out[i, j] = cov[i, j] / d if d > 0.0 else (1.0 if i == j else 0.0)


@njit(cache=True)
def portfolio_var_nb(w, cov, z, marginal, component):
    """Gaussian portfolio VaR z*sqrt(w'Cw), filling marginal and component VaR; return the total."""
    n = w.shape[0]
    cw = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += cov[i, j] * w[j]
        cw[i] = s
    var = 0.0
    for i in range(n):
        var += w[i] * cw[i]
    sd = math.sqrt(max(var, 0.0))
    for i in range(n):
        marginal[i] = z * cw[i] / sd if sd > 0.0 else 0.0
        component[i] = w[i] * marginal[i]
    return z * sd


@njit(cache=True)
def kupiec_nb(breaches, n, alpha):
    """Kupiec's proportion-of-failures LR statistic and its chi2(1) p-value."""
    p = 1.0 - alpha
    x = breaches
    if n <= 0:
        return np.nan, np.nan
    phat = x / n
    ll0 = (n - x) * math.log(1.0 - p) + x * math.log(p)
    ll1 = 0.0
    if 0 < x < n:
        ll1 = (n - x) * math.log(1.0 - phat) + x * math.log(phat)
    lr = max(-2.0 * (ll0 - ll1), 0.0)
    return lr, math.erfc(math.sqrt(lr / 2.0))


# ---------------------------------------------------------------------------------------
# Public wrappers: check inputs, allocate outputs, call the kernels
# ---------------------------------------------------------------------------------------
def _series(x, name="returns", min_len=2):
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.shape[0] < min_len:
        raise ValueError(f"{name} needs at least {min_len} values, got {a.shape[0]}")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{name} has a non-finite value {a[bad[0]]} at index {bad[0]}")
    return a


def _matrix(x, name="returns"):
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (bars x symbols), got shape {a.shape}")
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"{name} has a non-finite value {a[i, j]} at row {i}, column {j}")
    return a


def _alpha(alpha):
    if not 0.5 <= alpha < 1.0:
        raise ValueError(f"alpha must be in [0.5, 1), was {alpha}")
    return float(alpha)


def _horizon(h):
    if int(h) != h or h < 1:
        raise ValueError(f"horizon must be a whole number >= 1, was {h}")
    return int(h)


def norm_ppf(p: float) -> float:
    """Return the standard normal quantile.

    >>> round(norm_ppf(0.975), 6)
    1.959964
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), was {p}")
    return float(norm_ppf_nb(float(p)))


def historical_var(returns, alpha: float = 0.95, horizon: int = 1) -> float:
    """Return the historical VaR (a positive loss) of a return series.

    >>> round(historical_var([0.01, -0.02, 0.005, -0.01, 0.0], alpha=0.8), 12)
    0.012
    """
    r = _series(returns)
    h = _horizon(horizon)
    if r.shape[0] < h + 1:
        raise ValueError(f"returns need more than horizon ({h}) values, got {r.shape[0]}")
    return float(var_cvar_nb(horizon_returns_nb(r, h), _alpha(alpha))[0])


def historical_cvar(returns, alpha: float = 0.95, horizon: int = 1) -> float:
    """Return the historical CVaR (expected shortfall, a positive loss) of a return series."""
    r = _series(returns)
    h = _horizon(horizon)
    if r.shape[0] < h + 1:
        raise ValueError(f"returns need more than horizon ({h}) values, got {r.shape[0]}")
    return float(var_cvar_nb(horizon_returns_nb(r, h), _alpha(alpha))[1])


def gaussian_var(returns, alpha: float = 0.95, horizon: int = 1) -> float:
    """Return the parametric (Gaussian) VaR from the sample mean and standard deviation."""
    r = _series(returns)
    mu, sd, _, _ = moments_nb(r)
    return float(gaussian_var_nb(mu, sd, _alpha(alpha), _horizon(horizon)))


def cornish_fisher_var(returns, alpha: float = 0.95, horizon: int = 1) -> float:
    """Return the Cornish-Fisher VaR (Gaussian VaR corrected for skewness and kurtosis)."""
    r = _series(returns, min_len=4)
    mu, sd, s, k = moments_nb(r)
    return float(cornish_fisher_var_nb(mu, sd, s, k, _alpha(alpha), _horizon(horizon)))


def rolling_var_cvar(returns, window: int, alpha: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Return rolling historical (VaR, CVaR) arrays, NaN over the first ``window - 1`` bars."""
    r = _series(returns, min_len=1)
    if int(window) != window or window < 2:
        raise ValueError(f"window must be a whole number >= 2, was {window}")
    out_v = np.empty_like(r)
    out_c = np.empty_like(r)
    if r.shape[0] < window:
        out_v[:] = np.nan
        out_c[:] = np.nan
        return out_v, out_c
    rolling_var_cvar_nb(r, int(window), _alpha(alpha), out_v, out_c)
    return out_v, out_c


def rolling_cov(returns, window: int, step: int = 1, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (row index, covariance matrices) of rolling windows ending every ``step`` rows.

    >>> R = np.random.default_rng(0).normal(size=(50, 3))
    >>> idx, cov = rolling_cov(R, window=20, step=10)
    >>> idx.tolist(), cov.shape
    ([19, 29, 39, 49], (4, 3, 3))
    >>> bool(np.allclose(cov[-1], np.cov(R[30:50].T)))
    True
    """
    R = _matrix(returns)
    T, n = R.shape
    if int(window) != window or window < 2:
        raise ValueError(f"window must be a whole number >= 2, was {window}")
    if int(step) != step or step < 1:
        raise ValueError(f"step must be a whole number >= 1, was {step}")
    if T < window:
        return np.empty(0, dtype=np.int64), np.empty((0, n, n))
    idx = np.arange(window - 1, T, step, dtype=np.int64)
    if out is None:
        out = np.empty((idx.shape[0], n, n))
    elif out.shape != (idx.shape[0], n, n) or out.dtype != np.float64:
        raise ValueError(f"out must be float64 with shape {(idx.shape[0], n, n)}, got {out.dtype} {out.shape}")
    rolling_cov_nb(R, int(window), int(step), out)
    return idx, out


def ewm_cov(returns, lam: float = 0.94, min_periods: int = 1, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return (row index, RiskMetrics-style EW covariance matrices) every ``step`` rows."""
    R = _matrix(returns)
    if not 0.0 < lam < 1.0:
        raise ValueError(f"lam must be in (0, 1), was {lam}")
    if int(step) != step or step < 1:
        raise ValueError(f"step must be a whole number >= 1, was {step}")
    T, n = R.shape
    idx = np.arange(0, T, step, dtype=np.int64)
    out = np.empty((idx.shape[0], n, n))
    ewm_cov_nb(R, float(lam), int(min_periods), int(step), out)
    return idx, out


def cov_to_corr(cov) -> np.ndarray:
    """Return the correlation matrix of a covariance matrix (zero-variance rows get 0, diagonal 1)."""
    c = np.ascontiguousarray(cov, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"cov must be a square matrix, got shape {c.shape}")
    out = np.empty_like(c)
    cov_to_corr_nb(c, out)
    return out


def portfolio_vol(weights, cov) -> float:
    """Return sqrt(w' C w)."""
    w = _series(weights, "weights", min_len=1)
    c = np.ascontiguousarray(cov, dtype=np.float64)
    if c.shape != (w.shape[0], w.shape[0]):
        raise ValueError(f"cov must be {w.shape[0]}x{w.shape[0]} for {w.shape[0]} weights, got {c.shape}")
    return float(math.sqrt(max(float(w @ c @ w), 0.0)))


def component_var(weights, cov, alpha: float = 0.95, horizon: int = 1) -> tuple[float, np.ndarray, np.ndarray]:
    """Return (total, marginal, component) Gaussian VaR; the components sum to the total."""
    w = _series(weights, "weights", min_len=1)
    c = np.ascontiguousarray(cov, dtype=np.float64)
    if c.shape != (w.shape[0], w.shape[0]):
        raise ValueError(f"cov must be {w.shape[0]}x{w.shape[0]} for {w.shape[0]} weights, got {c.shape}")
    z = norm_ppf_nb(_alpha(alpha)) * math.sqrt(_horizon(horizon))
    marginal = np.empty_like(w)
    component = np.empty_like(w)
    total = portfolio_var_nb(w, c, z, marginal, component)
    return float(total), marginal, component


def portfolio_historical_var_cvar(positions, returns, alpha: float = 0.95) -> tuple[float, float]:
    """Return historical (VaR, CVaR) in currency of holding ``positions`` (values) over past ``returns``."""
    w = _series(positions, "positions", min_len=1)
    R = _matrix(returns)
    if R.shape[1] != w.shape[0]:
        raise ValueError(f"returns have {R.shape[1]} columns for {w.shape[0]} positions")
    if R.shape[0] < 2:
        raise ValueError(f"returns need at least 2 rows, got {R.shape[0]}")
    v, c = var_cvar_nb(R @ w, _alpha(alpha))
    return float(v), float(c)


def kupiec_test(breaches: int, n: int, alpha: float = 0.95) -> tuple[float, float]:
    """Return Kupiec's POF likelihood-ratio statistic and p-value for ``breaches`` in ``n`` bars."""
    if not 0 <= breaches <= n:
        raise ValueError(f"breaches must be in [0, n={n}], was {breaches}")
    lr, p = kupiec_nb(float(breaches), float(n), _alpha(alpha))
    return float(lr), float(p)
