"""Backtest speed: from_signals against vectorbt and backtrader (SMA 10/50 crossover).

One process, one synthetic random walk, the same signals for everyone. tradejet and
vectorbt run ``from_signals`` on precomputed signals; backtrader runs its usual
strategy (its own SMA and CrossOver indicators, cheat-on-close market orders) on a
slice, because it needs ~70 s for 1M bars. Compile / first-call time is measured
separately and excluded from the timed repeats (tradejet's also in fresh processes, with
an empty and a filled Numba cache); figures are medians. Parity with
vectorbt (same orders, equity curve to 1e-9) and with backtrader (same orders, final
value to 1e-6) is checked before a ratio is printed; a failed check exits 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

TARGET_VS_VECTORBT = 10.0
TARGET_VS_BACKTRADER = 1000.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bars", type=int, default=1_000_000, help="bars for tradejet and vectorbt (default 1M)")
    p.add_argument("--bt-bars", type=int, default=50_000, help="bars for backtrader (default 50k)")
    p.add_argument("--repeat", type=int, default=7, help="timed repeats per engine; the median is reported")
    p.add_argument("--bt-repeat", type=int, default=1, help="timed repeats for backtrader (slow)")
    p.add_argument("--fee", type=float, default=0.001, help="fee per order (fraction of notional)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-vectorbt", action="store_true", help="skip the vectorbt reference")
    p.add_argument("--no-backtrader", action="store_true", help="skip the backtrader reference")
    p.add_argument("--system-days", type=float, default=365.0,
                   help="days of 1-minute synthetic bars (10 pairs) for the full-system figure (default 365)")
    p.add_argument("--no-system", action="store_true", help="skip the full crypto system figures")
    p.add_argument("--no-startup", action="store_true",
                   help="skip timing `tradejet backtest` to its first bar with a cold and a warm cache")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")


def random_walk(n: int, seed: int):
    """Return a geometric random walk of ``n`` closes (1-minute-like volatility)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))


def sma_cross_signals(close, fast: int = 10, slow: int = 50):
    """Return (entries, exits): the fast SMA crossing above / below the slow one."""
    import numpy as np

    def sma(x, n):
        out = np.full(x.shape, np.nan)
        c = np.cumsum(np.insert(x, 0, 0.0))
        out[n - 1:] = (c[n:] - c[:-n]) / n
        return out

    f, s = sma(close, fast), sma(close, slow)
    above = f > s
    prev = np.empty_like(above)
    prev[0] = False
    prev[1:] = above[:-1]
    valid = np.zeros(close.shape, dtype=bool)
    valid[slow:] = True
    return above & ~prev & valid, ~above & prev & valid


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    _median_time.last_best = min(times)
    return statistics.median(times), out


def run_backtrader(close, fee: float, fast: int = 10, slow: int = 50):
    """Run the SMA crossover in backtrader; return (final value, number of orders)."""
    import backtrader as bt
    import numpy as np

    class Feed(bt.feed.DataBase):
        def __init__(self, closes):
            super().__init__()
            self._c = closes
            self._i = 0

        def _load(self):
            if self._i >= len(self._c):
                return False
            c = float(self._c[self._i])
            self.lines.datetime[0] = 719163.0 + self._i / 1440.0  # 1970-01-01 + i minutes
            self.lines.open[0] = self.lines.high[0] = self.lines.low[0] = self.lines.close[0] = c
            self.lines.volume[0] = 1.0
            self.lines.openinterest[0] = 0.0
            self._i += 1
            return True

    class Cross(bt.Strategy):
        def __init__(self):
            self.x = bt.ind.CrossOver(bt.ind.SMA(self.data.close, period=fast),
                                      bt.ind.SMA(self.data.close, period=slow))
            self.n_orders = 0

        def next(self):
            if self.x[0] > 0 and not self.position:
                price = self.data.close[0]
                self.buy(size=self.broker.getcash() / (price * (1.0 + fee)) * (1.0 - 1e-12))
                self.n_orders += 1
            elif self.x[0] < 0 and self.position:
                self.close()
                self.n_orders += 1

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(Feed(np.asarray(close)))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(1.0)
    cerebro.broker.setcommission(commission=fee)
    cerebro.broker.set_coc(True)
    strat = cerebro.run()[0]
    return float(cerebro.broker.getvalue()), strat.n_orders


_FIRST_CALL = (
    "import time; t0 = time.perf_counter()\n"
    "import numpy as np\n"
    "from tradejet.engine.backtest import from_signals\n"
    "t1 = time.perf_counter()\n"
    "from_signals(np.ones(100), np.zeros(100, bool), np.zeros(100, bool), fee=0.001)\n"
    "print(t1 - t0, time.perf_counter() - t1)\n"
)


def first_call_times() -> dict:
    """Return import and first-call seconds of from_signals in fresh processes: with an
    empty Numba cache (cold compile) and then with that cache filled (warm)."""
    import os
    import subprocess
    import sys
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "warm"):
            r = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True, text=True,
                               check=True)
            imp, first = (float(x) for x in r.stdout.split())
            out[label] = {"import_s": imp, "first_call_s": first}
    return out


def measure(args: argparse.Namespace) -> dict:
    """Run every engine and return the figures (no printing)."""
    import numpy as np

    from tradejet.engine.backtest import from_signals

    n, fee = args.bars, args.fee
    close = random_walk(n, args.seed)
    entries, exits = sma_cross_signals(close)
    rows: list[dict] = []
    out: dict = {"suite": "backtest", "bars": n, "fee": fee, "seed": args.seed, "rows": rows,
                 "parity": {}, "ok": True}

    out["tradejet_start"] = first_call_times()
    t0 = time.perf_counter()
    from_signals(close[:100], entries[:100], exits[:100], fee=fee)
    tj_compile = time.perf_counter() - t0
    tj_s, ours = _median_time(lambda: from_signals(close, entries, exits, fee=fee), args.repeat)
    rows.append({"engine": "tradejet from_signals", "bars": n, "median_s": tj_s, "bars_per_s": n / tj_s,
                 "best_s": _median_time.last_best,
                 "first_call_s": tj_compile, "orders": int(ours.orders.idx.size)})

    if not args.no_vectorbt:
        try:
            t0 = time.perf_counter()
            import vectorbt as vbt
            vbt_import = time.perf_counter() - t0
        except ImportError as e:
            out["skipped_vectorbt"] = f"vectorbt not installed: {e}"
        else:
            t0 = time.perf_counter()
            vbt.Portfolio.from_signals(close[:100], entries[:100], exits[:100], fees=fee, init_cash=1.0)
            vbt_compile = time.perf_counter() - t0
            vbt_s, pf = _median_time(
                lambda: vbt.Portfolio.from_signals(close, entries, exits, fees=fee, init_cash=1.0),
                args.repeat)
            # vectorbt's final_value() is init_cash + summed order cash flows, which loses
            # ~1e-16 * init_cash to cancellation; its equity curve value() is exact.
            ref_value = pf.value().to_numpy()
            ref_final = float(ref_value[-1])
            n_ref = len(pf.orders.values)
            ok = n_ref == ours.orders.idx.size and bool(np.array_equal(pf.orders.values["idx"], ours.orders.idx)) \
                and bool(np.allclose(ours.value, ref_value, rtol=1e-9, atol=0.0))
            out["parity"]["vectorbt"] = {"ok": ok, "orders": n_ref, "final_value": ref_final,
                                         "tradejet_final_value": ours.final_value}
            out["ok"] &= ok
            rows.append({"engine": "vectorbt from_signals", "bars": n, "median_s": vbt_s, "bars_per_s": n / vbt_s,
                         "best_s": _median_time.last_best,
                         "first_call_s": vbt_compile, "import_s": vbt_import, "orders": n_ref, "parity_ok": ok,
                         "speedup": vbt_s / tj_s, "target": TARGET_VS_VECTORBT})

    if not args.no_backtrader:
        try:
            import backtrader  # noqa: F401
        except ImportError as e:
            out["skipped_backtrader"] = f"backtrader not installed: {e}"
        else:
            m = min(args.bt_bars, n)
            c_bt = close[:m].copy()
            bt_s, (bt_final, bt_orders) = _median_time(lambda: run_backtrader(c_bt, fee), args.bt_repeat)
            sub = from_signals(c_bt, entries[:m], exits[:m], fee=fee)
            ok = bt_orders == sub.orders.idx.size and abs(sub.final_value / bt_final - 1.0) <= 1e-6
            out["parity"]["backtrader"] = {"ok": ok, "orders": bt_orders, "final_value": bt_final,
                                           "tradejet_final_value": sub.final_value, "bars": m}
            out["ok"] &= ok
            bps = m / bt_s
            rows.append({"engine": "backtrader (SMA+CrossOver, coc)", "bars": m, "median_s": bt_s, "bars_per_s": bps,
                         "first_call_s": None, "orders": bt_orders, "parity_ok": ok,
                         "speedup": (n / tj_s) / bps, "target": TARGET_VS_BACKTRADER})
    return out


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    res = measure(args)
    con = Console(width=max(Console().width, 120))
    if not args.no_system:
        from tradejet.bench._system import (
            bar_context_ratio,
            cold_and_warm,
            indicator_lanes_ratio,
            system_throughput,
        )

        sysres = system_throughput(days=args.system_days, repeat=max(1, min(args.repeat, 3)))
        res["system"] = sysres
        t = Table(title="the full crypto system (compiled driver, compile excluded), median")
        for col in ("case", "bar-steps", "median", "bar-steps/s", "compile", "target"):
            t.add_column(col, justify="left" if col == "case" else "right")
        ok = sysres["bar_steps_per_s"] >= sysres["target_bar_steps_per_s"]
        t.add_row(sysres["case"], f"{sysres['bar_steps']:,}", f"{sysres['elapsed_s']:.2f} s",
                  f"{sysres['bar_steps_per_s']:,.0f}", f"{sysres['compile_s']:.1f} s",
                  f">= 20,000,000 {'met' if ok else 'MISSED'}")
        con.print(t)
        con.print(f"before the loop (not in the figure above): {sysres['prepare_s']:.2f} s, mostly the fill model's "
                  f"bar context (spread, volatility, volume estimates for every bar of every pair); loop and that "
                  f"together: {sysres['bar_steps_per_s_with_prepare']:,.0f} bar-steps/s")
        bc = bar_context_ratio(n=max(1_000, int(args.system_days * 1440)))  # the system case's bars per pair
        res["bar_context"] = bc
        con.print(f"fill model's bar estimates, {bc['bars']:,} bars, {bc['window']}-bar windows: "
                  f"{bc['tradejet_ns_per_bar']:.0f} ns/bar vs {bc['plain_ns_per_bar']:.0f} ns/bar computed row by row "
                  f"({bc['speedup']:.1f}x), parity {'ok' if bc['parity_ok'] else 'FAILED'}")
        il = indicator_lanes_ratio(n_bars=max(1_000, int(args.system_days * 1440)))
        res["indicator_lanes"] = il
        con.print(f"indicator block, {il['pairs']} pairs x {il['bars']:,} bars: {il['lanes_ns_per_pair_bar']:.1f} ns per "
                  f"pair-bar with pairs in vector lanes vs {il['pair_path_ns_per_pair_bar']:.1f} ns one pair at a time "
                  f"({il['speedup']:.1f}x; the lanes taking their own logarithms instead of the bar context's: "
                  f"{il['lanes_own_logs_ns_per_pair_bar']:.1f} ns), parity {'ok' if il['parity_ok'] else 'FAILED'}")
        if not args.no_startup:
            cw = cold_and_warm(repeat=3)
            res["startup"] = cw
            con.print(f"tradejet backtest, launch to first bar: warm cache {cw['warm_first_bar_s']:.2f} s "
                      f"(target {cw['target_warm_s']} s: {'met' if cw['warm_first_bar_s'] <= cw['target_warm_s'] else 'MISSED'}), "
                      f"cold cache {cw['cold_first_bar_s']:.1f} s (target {cw['target_cold_s']} s: "
                      f"{'met' if cw['cold_first_bar_s'] <= cw['target_cold_s'] else 'MISSED'})")
    table = Table(title=f"from_signals, SMA(10)/SMA(50) crossover, fee {res['fee']}, medians")
    for col in ("engine", "bars", "median", "bars/s", "first call", "tradejet speedup", "target"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for r in res["rows"]:
        sp = r.get("speedup")
        if sp is not None and not r["parity_ok"]:
            table.add_row(r["engine"], f"{r['bars']:,}", f"{r['median_s'] * 1e3:.2f} ms", f"{r['bars_per_s']:,.0f}",
                          "-", "parity FAILED", "not trusted")
            continue
        table.add_row(
            r["engine"], f"{r['bars']:,}", f"{r['median_s'] * 1e3:.2f} ms", f"{r['bars_per_s']:,.0f}",
            "-" if r["first_call_s"] is None else f"{r['first_call_s']:.2f} s",
            "-" if sp is None else f"{sp:,.1f}x",
            "-" if sp is None else (f">= {r['target']:,.0f}x " + ("met" if sp >= r["target"] else "MISSED")),
        )
    con.print(table)
    st = res["tradejet_start"]
    con.print(f"tradejet from_signals in a fresh process: import {st['cold']['import_s']:.2f} s, first call "
              f"{st['cold']['first_call_s']:.2f} s with an empty Numba cache (compile), "
              f"{st['warm']['first_call_s']:.3f} s with it filled")
    for name, p in res["parity"].items():
        con.print(f"parity with {name}: {'ok' if p['ok'] else 'FAILED'} ({p['orders']} orders, "
                  f"final value {p['final_value']:.12g} vs tradejet {p['tradejet_final_value']:.12g})")
    for key in ("skipped_vectorbt", "skipped_backtrader"):
        if key in res:
            con.print(f"skipped: {res[key]}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0 if res["ok"] else 1
