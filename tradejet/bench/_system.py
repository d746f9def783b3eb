"""Full-system figures for ``tradejet bench backtest``: bar-steps/s of the whole crypto system,
and how long ``tradejet backtest`` takes to reach its first bar with a warm and a cold compile cache."""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time


def system_throughput(days: float = 365.0, timeframe: str = "1m", repeat: int = 3, seed: int = 1) -> dict:
    """Median bar-steps/s of :func:`tradejet.engine.simulate.run` over a synthetic universe (compile excluded)."""
    import msgspec

    from tradejet.config import Config, RegimeConfig
    from tradejet.engine.simulate import MarketBars, run
    from tradejet.io.synthetic import synthetic_market

    bars = MarketBars.from_synthetic(synthetic_market(days=days, timeframe=timeframe, seed=seed))
    # minute bars: the volatility percentile is re-ranked hourly (vol_sample=60), as a minute config would
    cfg = msgspec.structs.replace(Config(), regime=RegimeConfig(vol_sample=60 if timeframe == "1m" else 1))
    t0 = time.perf_counter()
    first = run(bars, cfg)
    first_wall = time.perf_counter() - t0
    runs = [first]
    for _ in range(max(0, repeat - 1)):
        # collect the compiler's garbage (Numba's IR of a cold first run) outside the timers: a
        # full collection that falls inside a later run's preparation cost it ~1 s here
        gc.collect()
        runs.append(run(bars, cfg))
    med = statistics.median(r.elapsed_s for r in runs)
    prep = statistics.median(r.prepare_s for r in runs)
    steps = bars.n_bars * len(bars.symbols)
    return {"prepare_s": prep, "bar_steps_per_s_with_prepare": steps / (med + prep),
            "case": f"full crypto system, {len(bars.symbols)} pairs, {timeframe} bars, {days:g} days",
            "bars": bars.n_bars, "symbols": len(bars.symbols), "bar_steps": steps, "elapsed_s": med,
            "bar_steps_per_s": steps / med, "compile_s": first.compile_s, "first_run_wall_s": first_wall,
            "target_bar_steps_per_s": 20e6, "trades": first.metrics["trades"]}


_PROBE = """
import os, sys, time
t_launch = float(sys.argv[1])
import tradejet.engine.simulate as sim
orig = sim.run
def run(*a, **k):
    prog = k.get("progress")
    def p(done, total, _first=[True]):
        if _first[0]:
            print(f"FIRST_BAR {time.time() - t_launch:.4f}", file=sys.stderr, flush=True)
            _first[0] = False
        if prog:
            prog(done, total)
    k["progress"] = p
    return orig(*a, **k)
sim.run = run
from tradejet.cli import main
sys.exit(main(["backtest", "--quiet", "--no-png", "--out", sys.argv[2], "--config", sys.argv[3]]))
"""


def time_to_first_bar(cache_dir: str | None, repeat: int = 3) -> float:
    """Median seconds from launching ``tradejet backtest`` to its first bar (a small synthetic run).

    The first bar is reported when the first chunk of bars has run, so this includes the
    compile (or cache load) and one chunk. ``cache_dir``: NUMBA_CACHE_DIR for the child
    (a fresh empty folder measures a cold cache).
    """
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "c.toml")
        with open(cfg, "w") as f:
            f.write("[backtest]\nsynthetic_days = 5\n")
        for i in range(repeat):
            env = dict(os.environ)
            if cache_dir is not None:
                env["NUMBA_CACHE_DIR"] = cache_dir
            t = time.time()
            r = subprocess.run([sys.executable, "-c", _PROBE, repr(t), os.path.join(tmp, f"run{i}"), cfg],
                               capture_output=True, text=True, env=env, timeout=600)
            line = [x for x in r.stderr.splitlines() if x.startswith("FIRST_BAR")]
            if r.returncode != 0 or not line:
                raise RuntimeError(f"backtest probe failed: {r.stderr[-500:]}")
            out.append(float(line[0].split()[1]))
    return statistics.median(out)


def cold_and_warm(repeat: int = 3) -> dict:
    """Time to first bar with a cold cache (an empty NUMBA_CACHE_DIR each time) and a warm one."""
    cold = []
    for _ in range(max(1, repeat // 2 + 1) if repeat > 1 else 1):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(time_to_first_bar(cache, repeat=1))
    with tempfile.TemporaryDirectory() as cache:
        time_to_first_bar(cache, repeat=1)  # fill it
        warm = time_to_first_bar(cache, repeat=repeat)
    return {"cold_first_bar_s": statistics.median(cold), "warm_first_bar_s": warm,
            "target_cold_s": 15.0, "target_warm_s": 1.5}


def _plain_market_context():
    """The reference for :func:`bar_context_ratio`: the fill model's estimates computed the plain
    way, row by row, each window summed alone with its log returns taken per window, one at a
    time (how ``market_context_nb`` computed them before it shared the logs, took them four at a
    time and summed 16 rows at once)."""
    import math

    import numpy as np
    from numba import njit

    from tradejet.kernels.fills import BAR, N_BAR, corwin_schultz_nb
    from tradejet.kernels.indicators import log_return_value

    @njit(cache=True)
    def plain(open_, high, low, close, volume, sw, vw):
        n = open_.shape[0]
        out = np.full((n, N_BAR), np.nan)
        cs = corwin_schultz_nb(high, low, close)
        for i in range(n):
            out[i, BAR.OPEN] = open_[i]
            out[i, BAR.HIGH] = high[i]
            out[i, BAR.LOW] = low[i]
            out[i, BAR.CLOSE] = close[i]
            out[i, BAR.VOLUME] = volume[i]
            if i - sw >= 1:
                s = 0.0
                for j in range(i - sw, i):
                    s += cs[j]
                out[i, BAR.SPREAD] = s / sw
            if i - vw >= 1:
                m = 0.0
                for j in range(i - vw, i):
                    m += log_return_value(close[j], close[j - 1])
                m /= vw
                ss = 0.0
                for j in range(i - vw, i):
                    d = log_return_value(close[j], close[j - 1]) - m
                    ss += d * d
                out[i, BAR.SIGMA] = math.sqrt(ss / (vw - 1))
            if i >= vw:
                v = 0.0
                for j in range(i - vw, i):
                    v += volume[j]
                out[i, BAR.AVG_VOLUME] = v / vw
        return out

    return plain


def bar_context_ratio(n: int = 525_600, window: int = 60, repeat: int = 5, seed: int = 1) -> dict:
    """ns/bar of the fill model's per-bar estimates (``market_context_nb``, what the driver's bar
    context runs per pair) beside the plain row-by-row computation, same bars, same process;
    the two must agree bit for bit (parity), medians of ``repeat``."""
    import numpy as np

    from tradejet.kernels.fills import market_context_nb

    rng = np.random.default_rng(seed)
    c = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    h = c * (1.0 + rng.uniform(0.0, 0.002, n))
    lo = c * (1.0 - rng.uniform(0.0, 0.002, n))
    o = c * (1.0 + rng.normal(0.0, 0.0005, n))
    v = rng.uniform(0.0, 10.0, n)
    plain = _plain_market_context()
    args = (o, h, lo, c, v, window, window)
    ours_out = market_context_nb(*args)
    ref_out = plain(*args)
    parity = bool(np.array_equal(ours_out, ref_out, equal_nan=True))
    t_ours, t_ref = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        market_context_nb(*args)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        plain(*args)
        t_ref.append(time.perf_counter() - t0)
    ours, ref = statistics.median(t_ours) / n * 1e9, statistics.median(t_ref) / n * 1e9
    return {"bars": n, "window": window, "tradejet_ns_per_bar": ours, "plain_ns_per_bar": ref,
            "speedup": ref / ours, "parity_ok": parity}


def indicator_lanes_ratio(n_bars: int = 525_600, n_pairs: int = 10, repeat: int = 5, seed: int = 1) -> dict:
    """ns per pair-bar of the compiled driver's indicator block (``indicators_block_nb`` in blocks of
    ``driver.IND_BLOCK`` bars, groups of pairs in vector lanes) beside the same block run one pair at
    a time (its lanes switched off: ``lane_scratch(code=False)``), same bars, same process; medians of
    ``repeat``. Both get the bar context's log returns, as in the driver (the lanes read them; the
    pair path takes its own logarithms); a third run has the lanes take their own logarithms too
    (``lanes_own_logs_ns_per_pair_bar``). Parity: every block's rows and the packs at the end of
    all three agree bit for bit."""
    import numpy as np

    from tradejet.engine.driver import IND_BLOCK, bar_context_nb
    from tradejet.kernels.fills import N_BAR
    from tradejet.strategies.base import DEFAULT_IND_PARAMS, N_IV, indicator_state
    from tradejet.strategies.indicator_block import indicators_block_nb, lane_scratch

    rng = np.random.default_rng(seed)
    T, n, ip = n_bars, n_pairs, DEFAULT_IND_PARAMS
    C = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, (T, n)), axis=0))
    H = C * (1.0 + rng.uniform(0.0, 0.002, (T, n)))
    L = C * (1.0 - rng.uniform(0.0, 0.002, (T, n)))
    O = C * (1.0 + rng.normal(0.0, 0.0005, (T, n)))
    V = rng.uniform(0.0, 10.0, (T, n))
    have = np.ones((T, n), dtype=np.bool_)
    LR = np.empty((T, n))  # the bar context's log returns, as the driver hands them to the lanes
    bar_context_nb(O, H, L, C, V, 60, 60, np.empty((n, T, N_BAR)), LR)

    def fresh(code):
        state, off = indicator_state(ip, n)
        return state, off, np.full((n, N_IV), np.nan), np.empty((IND_BLOCK, n, N_IV)), lane_scratch(state, off, ip, code)

    no_lr = LR[:0]  # no log returns handed over: the lanes take the logarithms themselves

    def block(run, a, b, lr=LR):
        state, off, iv, ivb, lanes = run
        indicators_block_nb(state, off, ip, O, H, L, C, V, have, a, b, ivb, iv, lanes, lr)
        if b > a:
            iv[:] = ivb[b - a - 1]

    def timed(code, lr=LR):
        run = fresh(code)
        t0 = time.perf_counter()
        for a in range(0, T, IND_BLOCK):
            block(run, a, min(T, a + IND_BLOCK), lr)
        block(run, T, T, lr)  # the lanes hand their packs back
        return time.perf_counter() - t0

    lanes_run, own_run, pair_run = fresh(True), fresh(True), fresh(False)
    parity = True
    for a in range(0, T, IND_BLOCK):
        b = min(T, a + IND_BLOCK)
        block(lanes_run, a, b)
        block(own_run, a, b, no_lr)
        block(pair_run, a, b)
        parity &= bool(np.array_equal(lanes_run[3][:b - a], pair_run[3][:b - a], equal_nan=True))
        parity &= bool(np.array_equal(own_run[3][:b - a], pair_run[3][:b - a], equal_nan=True))
    block(lanes_run, T, T)
    block(own_run, T, T, no_lr)
    parity &= bool(np.array_equal(lanes_run[0], pair_run[0], equal_nan=True))
    parity &= bool(np.array_equal(own_run[0], pair_run[0], equal_nan=True))
    t_lanes, t_own, t_pair = [], [], []
    for _ in range(repeat):
        t_lanes.append(timed(True))
        t_own.append(timed(True, no_lr))
        t_pair.append(timed(False))
    ours, own, ref = (statistics.median(x) / (T * n) * 1e9 for x in (t_lanes, t_own, t_pair))
    return {"bars": T, "pairs": n, "lanes_ns_per_pair_bar": ours, "pair_path_ns_per_pair_bar": ref,
            "speedup": ref / ours, "lanes_own_logs_ns_per_pair_bar": own, "parity_ok": parity}
