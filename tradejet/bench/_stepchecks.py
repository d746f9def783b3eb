"""Per-intent cost of the portfolio limits inside the step (kernels/portrisk.py), 10 pairs by default.

Three timings per repeat, medians of process CPU time reported (the bench machine's cores are
shared), compile excluded:

- the existing per-intent check alone (``kernels.risk.check_intent_nb``): the reference;
- the same intents through ``check_intent_portfolio_nb`` with every portfolio limit on
  (VaR, CVaR, correlated cluster, volatility target): the difference is the new checks' cost;
- one bar of the incremental covariance (``cov_update_nb``), paid once per bar, not per intent.

A NumPy implementation of the same portfolio arithmetic (book values, ``v'Ev``, the cluster
sum, the volatility-target root) runs in the same process as a second reference; its
decisions are checked equal to the kernel's before any ratio is trusted.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
from numba import njit

from tradejet.kernels import portrisk as kp
from tradejet.kernels.risk import check_intent_nb

TARGET_NS = 1000.0


@njit(cache=True)
def _loop_base(n_iter, pairs, qtys, prices, meta, limits, shares, status, unrec, account, pos, avg, mark, rs):
    acc = 0.0
    for i in range(n_iter):
        k = i % pairs.shape[0]
        code, q, p = check_intent_nb(pairs[k], 0, 1, qtys[k], prices[k], 0, 0, meta, limits, shares, status, unrec,
                                     account, pos, avg, mark, rs)
        acc += q + code
    return acc


@njit(cache=True)
def _loop_portfolio(n_iter, pairs, qtys, prices, meta, limits, shares, status, unrec, account, pos, avg, mark, rs,
                    pending, cov, vec, pp, equity):
    acc = 0.0
    for i in range(n_iter):
        k = i % pairs.shape[0]
        code, q, p = kp.check_intent_portfolio_nb(pairs[k], 0, 1, qtys[k], prices[k], 0, 0, meta, limits, shares,
                                                  status, unrec, account, pos, avg, mark, rs, pending, cov, vec, pp,
                                                  1, equity)
        acc += q + code
    return acc


@njit(cache=True)
def _loop_cov(n_iter, closes, have, cov, vec, pp):
    for i in range(n_iter):
        kp.cov_update_nb(cov, vec, pp, closes[i % closes.shape[0]], have)
    return vec[kp.PV_SD, 0]


def _median(fn, repeat: int) -> float:
    """Median CPU time of this process (``process_time``): robust to the other processes sharing the cores."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def build_case(n_pairs: int = 10, seed: int = 7):
    """A warm 10-pair book: half the pairs held by two strategies, correlations 0.3..0.9, tight limits."""
    from tradejet.kernels import pairs as KP
    from tradejet.kernels import portfolio as kpf
    from tradejet.kernels import risk as kr

    rng = np.random.default_rng(seed)
    n = n_pairs
    S = 6
    meta = np.zeros((n, KP.N_META))
    meta[:, [KP.META_PAIR_DECIMALS, KP.META_LOT_DECIMALS, KP.META_COST_DECIMALS, KP.META_TICK_SIZE]] = np.nan
    meta[:, KP.META_TAKER_FEE] = 0.004
    limits = np.array([1.0, 0.0, 0.35, 0.8, 0.25, math.inf, 0.15])
    assert limits.shape == (kr.N_LIM,)
    mark = 10.0 ** rng.uniform(0, 4, n)
    pos = np.zeros((S, n))
    avg = np.zeros((S, n))
    for p in range(0, n, 2):
        pos[p % 2, p] = 300.0 / mark[p]
        avg[p % 2, p] = mark[p]
    account = np.zeros(kpf.N_ACC)
    account[kpf.ACC_CASH] = 10_000.0 - (pos * avg).sum()
    shares = np.array([0.6, 0.4, 0.0, 0.0, 0.0, 0.0])
    status = (shares > 0).astype(np.int64)
    # covariance from a one-factor model, warmed through the kernel itself
    T = 2_000
    beta = rng.uniform(0.6, 1.2, n)
    f = rng.normal(0, 0.008, T)
    R = f[:, None] * beta + rng.normal(0, 0.006, (T, n))
    closes = mark * np.cumprod(1 + R, axis=0)
    pp = kp.port_params(max_var=0.03, max_cvar=0.035, cluster_corr=0.7, max_cluster_share=0.2, target_vol=0.012)
    cov, vec = kp.port_state(n)
    have = np.ones(n, np.bool_)
    for t in range(T):
        kp.cov_update_nb(cov, vec, pp, closes[t], have)
    mark = closes[-1].copy()
    equity = kpf.equity_nb(account, pos, avg, mark)
    pairs = np.arange(n, dtype=np.int64)
    qtys = rng.uniform(200.0, 2_400.0, n) / mark
    return dict(meta=meta, limits=limits, shares=shares, status=status, unrec=np.zeros(n, np.bool_), account=account,
                pos=pos, avg=avg, mark=mark, rs=np.array([np.nan, 0.0]), pending=np.zeros((S, n)), cov=cov, vec=vec,
                pp=pp, equity=equity, pairs=pairs, qtys=qtys, prices=mark.copy(), closes=closes, have=have)


def numpy_decision(c, k):
    """The NumPy reference of one portfolio check on intent ``k`` (after the base check passed): (code, qty)."""
    from tradejet.kernels.codes import Reject

    pp = c["pp"]
    n = c["mark"].shape[0]
    pair, price = int(c["pairs"][k]), float(c["prices"][k])
    px = c["mark"].copy()
    px[pair] = price
    vals = (c["pos"] + c["pending"]).sum(axis=0) * px
    E = c["cov"][kp.COV_VAL]
    sd = np.sqrt(np.diag(E))
    a = vals @ E @ vals
    e = (E @ vals)[pair]
    eii = E[pair, pair]
    x = c["qtys"][k] * price
    T = pp[kp.PP_TARGET_VOL] * c["equity"] / pp[kp.PP_SQRT_H]
    scale = 1.0
    if a + 2 * x * e + x * x * eii > T * T:
        scale = 0.0 if a >= T * T else (-x * e + math.sqrt((x * e) ** 2 - x * x * eii * (a - T * T))) / (x * x * eii)
    if scale < 0.05:
        return Reject.VOL_TARGET, 0.0
    q = c["qtys"][k] * scale
    code = check_intent_nb(pair, 0, 1, q, price, 0, 0, c["meta"], c["limits"], c["shares"], c["status"], c["unrec"],
                           c["account"], c["pos"], c["avg"], c["mark"], c["rs"])[0]
    if code != Reject.OK:
        return int(code), q
    x = q * price
    sigma = math.sqrt(max(a + 2 * x * e + x * x * eii, 0.0))
    slack = 1 + 1e-9
    if sigma * pp[kp.PP_Z] * pp[kp.PP_SQRT_H] > pp[kp.PP_MAX_VAR] * c["equity"] * slack:
        return Reject.VAR_LIMIT, q
    if sigma * pp[kp.PP_CVAR_K] * pp[kp.PP_SQRT_H] > pp[kp.PP_MAX_CVAR] * c["equity"] * slack:
        return Reject.CVAR_LIMIT, q
    v2 = vals.copy()
    v2[pair] += x
    corr = E[pair] / (sd[pair] * sd)
    cl = (np.arange(n) == pair) | (corr >= pp[kp.PP_CLUSTER_CORR])
    if np.abs(v2[cl]).sum() > pp[kp.PP_MAX_CLUSTER_SHARE] * c["equity"] * slack:
        return Reject.CONCENTRATION_CLUSTER, q
    return Reject.OK, q


def run_rows(n_pairs: int = 10, n_intents: int = 200_000, repeat: int = 5) -> dict:
    """Time the three cases and the NumPy reference; return a dict of the figures."""
    c = build_case(n_pairs)
    base_args = (c["pairs"], c["qtys"], c["prices"], c["meta"], c["limits"], c["shares"], c["status"], c["unrec"],
                 c["account"], c["pos"], c["avg"], c["mark"], c["rs"])
    port_args = base_args + (c["pending"], c["cov"], c["vec"], c["pp"], c["equity"])
    t0 = time.perf_counter()
    _loop_base(10, *base_args)
    _loop_portfolio(10, *port_args)
    cov2, vec2 = kp.port_state(n_pairs)
    _loop_cov(10, c["closes"], c["have"], cov2, vec2, c["pp"])
    compile_s = time.perf_counter() - t0
    # parity: the kernel's decision per intent == the NumPy reference's
    from tradejet.kernels.codes import REJECT_TEXT

    decisions = {}
    for k in range(n_pairs):
        code, q, _ = kp.check_intent_portfolio_nb(c["pairs"][k], 0, 1, c["qtys"][k], c["prices"][k], 0, 0, c["meta"],
                                                  c["limits"], c["shares"], c["status"], c["unrec"], c["account"],
                                                  c["pos"], c["avg"], c["mark"], c["rs"], c["pending"], c["cov"],
                                                  c["vec"], c["pp"], 1, c["equity"])
        ref_code, ref_q = numpy_decision(c, k)
        if int(code) != ref_code or not math.isclose(q, ref_q, rel_tol=1e-9, abs_tol=1e-15):
            raise AssertionError(f"intent {k}: kernel {REJECT_TEXT[int(code)]} {q} != NumPy {REJECT_TEXT[ref_code]} {ref_q}")
        decisions[REJECT_TEXT[int(code)]] = decisions.get(REJECT_TEXT[int(code)], 0) + 1
    t_base = _median(lambda: _loop_base(n_intents, *base_args), repeat) / n_intents
    t_port = _median(lambda: _loop_portfolio(n_intents, *port_args), repeat) / n_intents
    n_bars = max(1, n_intents // 4)
    t_cov = _median(lambda: _loop_cov(n_bars, c["closes"], c["have"], cov2, vec2, c["pp"]), repeat) / n_bars
    m = min(n_intents, 5_000)
    t_np = _median(lambda: [numpy_decision(c, k % n_pairs) for k in range(m)], max(1, repeat // 2)) / m
    return {"pairs": n_pairs, "intents": n_intents, "repeat": repeat, "compile_s": compile_s,
            "base_check_ns": t_base * 1e9, "with_portfolio_ns": t_port * 1e9,
            "portfolio_increment_ns": (t_port - t_base) * 1e9, "ratio_to_base_check": t_port / t_base,
            "cov_update_per_bar_ns": t_cov * 1e9, "numpy_reference_ns": t_np * 1e9,
            "speedup_vs_numpy": t_np / t_port, "target_increment_ns": TARGET_NS, "decisions": decisions}
