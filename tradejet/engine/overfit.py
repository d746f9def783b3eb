"""How much of a search's best result is luck: the deflated Sharpe ratio and the probability of backtest overfitting.

- :func:`deflated_sharpe` (Bailey & López de Prado, "The Deflated Sharpe Ratio",
  JPM 2014): the probabilistic Sharpe ratio of the selected strategy against the
  Sharpe ratio the best of ``n_trials`` skill-less trials would reach by chance,
  ``E[max SR] ~ sqrt(V) ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e)))``, g the
  Euler-Mascheroni constant; ``PSR = Z((SR - SR0) sqrt(T - 1) / sqrt(1 - skew SR +
  (kurt - 1) / 4 SR^2))``. Sharpe ratios here are per observation (not annualised) and
  ``kurt`` is the plain kurtosis (3 for a normal distribution).
- :func:`pbo_cscv` (Bailey, Borwein, López de Prado & Zhu, "The Probability of
  Backtest Overfitting", J. Computational Finance 2017): combinatorially symmetric
  cross-validation over a ``T x N`` matrix of the N trials' returns. The rows are cut
  into S blocks; for each of the C(S, S/2) ways to pick half of them as the in-sample
  set (the rest out of sample) the in-sample best trial's out-of-sample relative rank
  ``w`` gives a logit ``ln(w / (1 - w))``; PBO is the share of logits <= 0 (the chosen
  trial did no better than the median out of sample).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["EULER_GAMMA", "expected_max_sharpe", "probabilistic_sharpe", "deflated_sharpe", "sharpe_moments",
           "PBOResult", "pbo_cscv"]

EULER_GAMMA = 0.5772156649015329
_Z = NormalDist()


def expected_max_sharpe(n_trials: int, var_sharpe: float, mean_sharpe: float = 0.0) -> float:
    """Return the expected largest Sharpe ratio of ``n_trials`` independent trials without skill.

    >>> round(expected_max_sharpe(100, 0.5 / 250), 4)    # the DSR paper's example, per day
    0.1132
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, was {n_trials}")
    if not var_sharpe >= 0:
        raise ValueError(f"var_sharpe must be >= 0, was {var_sharpe}")
    if n_trials == 1:
        return float(mean_sharpe)
    z = (1 - EULER_GAMMA) * _Z.inv_cdf(1 - 1 / n_trials) + EULER_GAMMA * _Z.inv_cdf(1 - 1 / (n_trials * math.e))
    return float(mean_sharpe + math.sqrt(var_sharpe) * z)


def probabilistic_sharpe(sr: float, sr_benchmark: float, n_obs: int, skew: float = 0.0,
                         kurtosis: float = 3.0) -> float:
    """Return P(true Sharpe > ``sr_benchmark``) given an observed per-observation ``sr`` over ``n_obs`` returns."""
    if n_obs < 2:
        raise ValueError(f"n_obs must be >= 2, was {n_obs}")
    den = 1 - skew * sr + (kurtosis - 1) / 4 * sr * sr
    if not den > 0:
        return math.nan
    return _Z.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(den))


def deflated_sharpe(sr: float, n_obs: int, n_trials: int, var_sharpe: float, skew: float = 0.0,
                    kurtosis: float = 3.0) -> float:
    """Return the deflated Sharpe ratio: PSR of ``sr`` against :func:`expected_max_sharpe`.

    ``sr`` and ``var_sharpe`` (the variance of the trials' Sharpe ratios) per observation.
    """
    return probabilistic_sharpe(sr, expected_max_sharpe(n_trials, var_sharpe), n_obs, skew, kurtosis)


def sharpe_moments(returns: np.ndarray) -> tuple[float, float, float]:
    """Return ``(sharpe, skewness, kurtosis)`` per observation (sample std with ddof=1; plain kurtosis)."""
    r = np.asarray(returns, np.float64)
    if r.size < 2:
        return math.nan, math.nan, math.nan
    mu = r.mean()
    d = r - mu
    sd = r.std(ddof=1)
    m2 = float(np.mean(d * d))
    if not (sd > 0 and m2 > 0):
        return math.nan, math.nan, math.nan
    return float(mu / sd), float(np.mean(d ** 3) / m2 ** 1.5), float(np.mean(d ** 4) / m2 ** 2)


@dataclass(frozen=True)
class PBOResult:
    """What :func:`pbo_cscv` found."""

    pbo: float
    """Share of the splits whose in-sample best ranked at or below the median out of sample."""
    logits: np.ndarray
    """``ln(w / (1 - w))`` per split (w: out-of-sample relative rank of the in-sample best)."""
    is_perf: np.ndarray
    """The in-sample best's performance per split."""
    oos_perf: np.ndarray
    """The same trial's out-of-sample performance per split."""
    n_blocks: int
    n_trials: int

    @property
    def prob_oos_loss(self) -> float:
        """Share of the splits where the in-sample best lost money out of sample (performance < 0)."""
        return float(np.mean(self.oos_perf < 0)) if self.oos_perf.size else math.nan

    @property
    def degradation(self) -> float:
        """Least-squares slope of out-of-sample on in-sample performance across splits (< 0: worse when better IS)."""
        x, y = self.is_perf, self.oos_perf
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 2 or np.ptp(x[ok]) == 0:
            return math.nan
        return float(np.polyfit(x[ok], y[ok], 1)[0])


def _relative_rank(values: np.ndarray, i: int) -> float:
    """Rank of ``values[i]`` among ``values`` (1 = lowest, ties share their average rank) / (N + 1)."""
    v = values[i]
    less = int(np.sum(values < v))
    equal = int(np.sum(values == v))
    return (less + (equal + 1) / 2) / (values.shape[0] + 1)


def pbo_cscv(returns: np.ndarray, n_blocks: int = 16, metric: str = "sharpe") -> PBOResult:
    """Return the probability of backtest overfitting of choosing the best of ``returns``' columns.

    ``returns``: ``(T, N)``, one column per trial, rows in time order. The first
    ``T % n_blocks`` rows are left out so the blocks are equal. ``metric``: "sharpe"
    (mean / sample std; 0 where the std is 0) or "mean". Ties in-sample go to the
    lowest column; out-of-sample ranks of ties are averaged.

    >>> m = np.array([[4., -4, 1], [4, -4, 1], [-4, 4, 1], [-4, 4, 1]])
    >>> pbo_cscv(m, n_blocks=4, metric="mean").pbo   # 2 of the 6 splits pick a trial that then ranks last
    0.3333333333333333
    """
    M = np.asarray(returns, np.float64)
    if M.ndim != 2 or M.shape[1] < 2:
        raise ValueError(f"returns must be (T, N) with N >= 2 trials, was shape {M.shape}")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"n_blocks must be even and >= 2, was {n_blocks}")
    T, N = M.shape
    size = T // n_blocks
    if size < 2 and metric == "sharpe" or size < 1:
        raise ValueError(f"{T} rows are too few for {n_blocks} blocks")
    if metric not in ("sharpe", "mean"):
        raise ValueError(f"metric must be 'sharpe' or 'mean', was {metric!r}")
    if not np.all(np.isfinite(M)):
        raise ValueError("returns must be finite")
    B = M[T - size * n_blocks:].reshape(n_blocks, size, N)
    s1 = B.sum(axis=1)              # per block and trial: sum of returns
    mu_b = s1 / size
    # within-block sums of squared deviations, combined exactly across blocks (parallel variance)
    ss_b = ((B - mu_b[:, None, :]) ** 2).sum(axis=1)
    half = n_blocks // 2
    logits, is_perf, oos_perf = [], [], []
    all_blocks = frozenset(range(n_blocks))

    def perf(blocks: tuple[int, ...]) -> np.ndarray:
        idx = list(blocks)
        n = size * len(idx)
        mean = s1[idx].sum(axis=0) / n
        if metric == "mean":
            return mean
        ss = ss_b[idx].sum(axis=0) + (size * (mu_b[idx] - mean) ** 2).sum(axis=0)
        sd = np.sqrt(ss / (n - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sd > 0, mean / sd, 0.0)

    for combo in itertools.combinations(range(n_blocks), half):
        r_is = perf(combo)
        r_oos = perf(tuple(sorted(all_blocks - set(combo))))
        best = int(np.argmax(r_is))
        w = _relative_rank(r_oos, best)
        logits.append(math.log(w / (1 - w)))
        is_perf.append(r_is[best])
        oos_perf.append(r_oos[best])
    lg = np.asarray(logits)
    return PBOResult(pbo=float(np.mean(lg <= 0)), logits=lg, is_perf=np.asarray(is_perf),
                     oos_perf=np.asarray(oos_perf), n_blocks=n_blocks, n_trials=N)
