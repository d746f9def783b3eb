"""Event-driver latency: bar arrival to orders handed to the venue, 10 symbols, >= 100k cross-sections.

Per timestamp the 10 bars of the synthetic universe arrive one by one
(:meth:`tradejet.engine.Engine.on_bar`): validation, buffering, then the step
(booking the fills the paper venue made, indicator update, regime, schedule, selection,
strategies, risk) and the orders handed to the venue. Two clocks per cross-section:
``cross-section`` from the first bar's arrival to the hand-off (all 10 symbols' work),
and ``last bar`` from the arrival of the bar that completes the cross-section to the
hand-off (what a bar waits for its orders). ``per bar per symbol`` divides the first by
the symbol count. The paper venue's own fill simulation runs outside the clocks (it
stands for the exchange). No ledger in the timed path (its fsync is a disk figure, not
the engine's). The ML score is in the clock (``--no-ml`` leaves it out): a real
gradient-boosted model, trained on the run's own warm-up bars and exported to ONNX,
scores every symbol's bar through :class:`~tradejet.models.scoring.StreamingScorer`
(streaming features + one onnxruntime call per cross-section), and ``ml_signal`` trades
on it. Percentiles are numpy's over every cross-section.

``--save FILE`` writes the figures and a reference workload's median timed in the same
run; ``--check FILE`` compares this run's p99 / reference with the saved one and exits 1
when it is more than ``--factor`` (default 1.5) worse: a slower machine slows both.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

TARGET_P99_US_PER_SYMBOL = 50.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, default=100_000, help="timed cross-sections (default 100k)")
    p.add_argument("--warmup", type=int, default=2_000, help="cross-sections stepped before timing (indicator warm-up)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--save", metavar="BASELINE.json", help="write the figures as a baseline")
    p.add_argument("--check", metavar="BASELINE.json", help="exit 1 if p99 regressed against this baseline")
    p.add_argument("--factor", type=float, default=1.5, help="allowed normalised p99 regression (default 1.5)")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--no-ml", dest="ml", action="store_false", help="leave the ML score out of the clock")


def reference_workload_ns(repeat: int = 200) -> float:
    """Median time of a fixed mixed workload (Python loop + small NumPy ops), to normalise by."""
    import numpy as np

    a = np.random.default_rng(0).random((32, 32))
    times = []
    for _ in range(repeat):
        t = time.perf_counter_ns()
        s = 0
        for i in range(2_000):
            s += i * i
        for _ in range(20):
            a = a @ a
            a /= a.max()
        times.append(time.perf_counter_ns() - t)
    return float(np.median(times))


def bench_model(bars, upto: int):
    """A real model for the clock: gradient-boosted trees on the first ``upto`` bars' features, as ONNX."""
    from tradejet.testing.models import quick_model

    return quick_model(bars, upto, max_iter=50, max_leaf_nodes=15)


def measure(events: int, warmup: int, seed: int, ml: bool = True) -> dict:
    """Run the engine over ``warmup + events`` synthetic cross-sections; return the figures."""
    import numpy as np

    from tradejet.config import Config
    from tradejet.engine.simulate import MarketBars
    from tradejet.io.synthetic import synthetic_market
    from tradejet.messages import Bar, OrderFilled, SubmitOrder
    from tradejet.testing.paper import build_paper

    total = warmup + events
    bars = MarketBars.from_synthetic(synthetic_market(days=total / 24 + 2, timeframe="1h", seed=seed))
    total = min(total, bars.n_bars)
    import msgspec

    cfg = Config()  # the breaker off, so that the whole run trades (it never resets by itself)
    cfg = msgspec.structs.replace(cfg, risk=msgspec.structs.replace(cfg.risk, max_drawdown=1.0))
    scorer = None
    if ml:
        from tradejet.models.scoring import StreamingScorer

        scorer = StreamingScorer(bench_model(bars, max(warmup, 500)), len(bars.symbols))
    eng, venue = build_paper(bars, cfg, scorer=scorer)
    eng.record = False
    syms = bars.symbols
    n = len(syms)
    whole = np.zeros(total, np.int64)
    last = np.zeros(total, np.int64)
    orders = 0
    perf = time.perf_counter_ns
    import gc

    for t in range(total):
        if t == warmup:
            gc.collect()
            gc.freeze()  # what a long-running driver does after start-up: old objects out of the collector's scans
        ts = int(bars.ts[t])
        have = bars.have[t]
        row = {p: (float(bars.open[t, p]), float(bars.high[t, p]), float(bars.low[t, p]), float(bars.close[t, p]),
                   float(bars.volume[t, p])) for p in range(n) if have[p]}
        for ev in venue.process_bars(ts, row):  # the exchange: outside the clock
            if isinstance(ev, OrderFilled):
                eng.on_fill(ev)
            else:
                eng.on_order_event(ev)
        msgs = [Bar(symbol=syms[p], ts=ts, open=o, high=h, low=lo, close=c, volume=v, timeframe_ns=bars.timeframe_ns)
                for p, (o, h, lo, c, v) in row.items()]
        t_first = perf()
        cmds = []
        t_last = t_first
        for m in msgs:
            t_last = perf()
            cmds = eng.on_bar(m)
        if eng._pending_ts is not None:
            t_last = perf()
            cmds = eng.flush(ts)
        handed = []
        for c in cmds:  # the hand-off: the venue's queue
            handed.append(c)
        t_end = perf()
        whole[t] = t_end - t_first
        last[t] = t_end - t_last
        for c in handed:
            if isinstance(c, SubmitOrder):
                venue.submit_now(c)
                orders += 1
            else:
                venue.cancel_now(c.client_order_id)
    gc.unfreeze()
    w = whole[warmup:total] / 1e3
    lw = last[warmup:total] / 1e3

    def pct(x):
        q = np.percentile(x, [50, 99, 99.9])
        return {"p50": float(q[0]), "p99": float(q[1]), "p99.9": float(q[2]), "max": float(x.max())}

    per = pct(w / n)
    return {"events": int(w.size), "symbols": n, "orders": orders, "ml_score": ml, "cross_section_us": pct(w),
            "last_bar_us": pct(lw), "per_bar_per_symbol_us": per}


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    if args.events < 1 or args.warmup < 0:
        con.print("[red]--events must be >= 1 and --warmup >= 0[/]")
        return 2
    measure(50, 10, args.seed, args.ml)  # compile / load the caches outside the measurement
    ref_ns = reference_workload_ns()
    res = measure(args.events, args.warmup, args.seed, args.ml)
    ref_ns = (ref_ns + reference_workload_ns()) / 2  # before and after: a machine busy in between shows in both
    res["reference_ns"] = ref_ns
    res["normalised_p99"] = res["cross_section_us"]["p99"] * 1e3 / ref_ns
    res["target_p99_us_per_symbol"] = TARGET_P99_US_PER_SYMBOL
    res["meets_target"] = res["per_bar_per_symbol_us"]["p99"] < TARGET_P99_US_PER_SYMBOL

    t = Table(title=f"tradejet event driver latency: {res['events']:,} cross-sections x {res['symbols']} symbols, "
                    f"{res['orders']:,} orders, ML score {'in' if res['ml_score'] else 'out of'} the clock")
    for c in ("clock (us)", "p50", "p99", "p99.9", "max"):
        t.add_column(c, justify="right")
    for key, label in (("cross_section_us", "cross-section (10 bars)"), ("last_bar_us", "last bar -> orders"),
                       ("per_bar_per_symbol_us", "per bar per symbol")):
        r = res[key]
        t.add_row(label, f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['p99.9']:.1f}", f"{r['max']:.1f}")
    con.print(t)
    con.print(f"reference workload {ref_ns / 1e3:.1f} us; normalised p99 {res['normalised_p99']:.3f}; "
              f"target p99 < {TARGET_P99_US_PER_SYMBOL:.0f} us per bar per symbol: "
              f"{'met' if res['meets_target'] else 'NOT met'}")
    status = 0
    if args.check:
        base = json.loads(Path(args.check).read_text())
        ratio = res["normalised_p99"] / base["normalised_p99"]
        res["check"] = {"baseline": args.check, "ratio": ratio, "factor": args.factor, "ok": ratio <= args.factor}
        con.print(f"check against {args.check}: normalised p99 x{ratio:.2f} (allowed x{args.factor:.2f}): "
                  f"{'ok' if ratio <= args.factor else 'REGRESSED'}")
        status = 0 if ratio <= args.factor else 1
    if args.save:
        Path(args.save).write_text(json.dumps(res, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return status
