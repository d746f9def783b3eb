"""Risk statistics: rolling covariance and VaR kernels against NumPy, side by side."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bars", type=int, default=525_600, help="bars (default: one year of minutes)")
    p.add_argument("--symbols", type=int, default=10)
    p.add_argument("--window", type=int, default=1440, help="rolling window in bars (default: one day)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per case; the median is reported")
    p.add_argument("--intents", type=int, default=200_000,
                   help="intents per timed run of the step's portfolio checks (default 200000)")
    p.add_argument("--json", metavar="PATH", help="also write the table as JSON")


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _numpy_rolling_cov(R, window):
    """The NumPy reference: rolling sums by cumulative sums of values and outer products (ddof=1)."""
    import numpy as np

    T, n = R.shape
    c1 = np.cumsum(np.vstack([np.zeros((1, n)), R]), axis=0)
    c2 = np.cumsum(np.concatenate([np.zeros((1, n, n)), R[:, :, None] * R[:, None, :]]), axis=0)
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    return (s2 - s1[:, :, None] * s1[:, None, :] / window) / (window - 1)


def _numpy_rolling_var(r, window, alpha):
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    return -np.quantile(sliding_window_view(r, window), 1 - alpha, axis=1)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from tradejet.kernels import riskstats as rs

    if args.bars < args.window + 1 or args.window < 2 or args.symbols < 1 or args.repeat < 1 or args.intents < 1:
        print("tradejet bench riskstats: need bars > window >= 2, symbols >= 1, repeat >= 1, intents >= 1",
              file=sys.stderr)
        return 2
    rng = np.random.default_rng(42)
    R = rng.normal(0.0, 1e-3, size=(args.bars, args.symbols))
    T, n, w = args.bars, args.symbols, args.window
    rows = []

    # compile outside the timer, and check parity before trusting a ratio
    t0 = time.perf_counter()
    rs.rolling_cov(R[: w + 5], w)
    rs.rolling_var_cvar(R[: w + 5, 0], w)
    compile_s = time.perf_counter() - t0
    out = np.empty((T - w + 1, n, n))
    _, ours = rs.rolling_cov(R, w, out=out)
    ref = _numpy_rolling_cov(R, w)
    parity = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
    del ref
    t_ours = _median_time(lambda: rs.rolling_cov(R, w, out=out), args.repeat)
    t_ref = _median_time(lambda: _numpy_rolling_cov(R, w), args.repeat)
    rows.append({"case": f"rolling cov {n}x{n}, window {w}", "bars": T, "tradejet_s": t_ours, "reference": "numpy cumsum",
                 "reference_s": t_ref, "speedup": t_ref / t_ours, "parity_max_rel_diff": parity,
                 "target_speedup": 10.0})

    m = min(T, 100_000)
    r = R[:m, 0]
    v, _ = rs.rolling_var_cvar(r, w, 0.95)
    refv = _numpy_rolling_var(r, w, 0.95)
    parity_v = float(np.max(np.abs(v[w - 1:] - refv)))
    t_ours = _median_time(lambda: rs.rolling_var_cvar(r, w, 0.95), args.repeat)
    t_ref = _median_time(lambda: _numpy_rolling_var(r, w, 0.95), args.repeat)
    rows.append({"case": f"rolling historical VaR+CVaR, window {w}", "bars": m, "tradejet_s": t_ours,
                 "reference": "numpy quantile (VaR only)", "reference_s": t_ref, "speedup": t_ref / t_ours,
                 "parity_max_rel_diff": parity_v, "target_speedup": None})

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tradejet bench riskstats (medians of {args.repeat}; compile {compile_s:.2f} s, excluded)")
    for col in ("case", "bars", "tradejet s", "reference", "reference s", "speedup", "target", "parity"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["case"], f"{row['bars']:,}", f"{row['tradejet_s']:.4f}", row["reference"],
                      f"{row['reference_s']:.4f}", f"{row['speedup']:.1f}x",
                      f">= {row['target_speedup']:.0f}x" if row["target_speedup"] else "-",
                      f"{row['parity_max_rel_diff']:.1e}")
    con = Console(width=None if sys.stdout.isatty() else 160)
    con.print(table)

    # the portfolio limits inside the step, per intent (tradejet.bench._stepchecks)
    from tradejet.bench._stepchecks import run_rows

    sc = run_rows(n_pairs=max(2, args.symbols), n_intents=args.intents, repeat=args.repeat)
    t2 = Table(title=f"portfolio checks in the step, {sc['pairs']} pairs (median CPU time of {args.repeat}; "
                     f"decisions checked against NumPy: {sc['decisions']})")
    for col in ("case", "ns", "vs existing check", "target"):
        t2.add_column(col)
    t2.add_row("existing per-intent check (reference)", f"{sc['base_check_ns']:.0f}", "1.00x", "-")
    t2.add_row("+ VaR, CVaR, cluster, vol target", f"{sc['with_portfolio_ns']:.0f}",
               f"{sc['ratio_to_base_check']:.2f}x", "-")
    t2.add_row("  increment per intent", f"{sc['portfolio_increment_ns']:.0f}", "-",
               f"< {sc['target_increment_ns']:.0f} ns")
    t2.add_row("covariance update, per bar", f"{sc['cov_update_per_bar_ns']:.0f}", "-", "-")
    t2.add_row("same checks in NumPy, per intent", f"{sc['numpy_reference_ns']:.0f}",
               f"kernel {sc['speedup_vs_numpy']:.0f}x faster", "-")
    con.print(t2)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"suite": "riskstats", "compile_s": compile_s, "repeat": args.repeat, "rows": rows,
                       "step_checks": sc}, f, indent=2)
    return 0
