"""ML inference: tradejet's onnxruntime API vs scikit-learn predict_proba, single row and batch.

Everything heavy is imported inside :func:`run` (the CLI imports this module to build
its parser).

What is measured, in one process, on the production model shape (the default
``MLConfig``: HistGradientBoosting, 150 trees of 15 leaves, 11 float32 features) trained
on a seeded synthetic market:

- single-row latency, p50 and p99 over ``--rows`` calls: ``OnnxModel.predict_one`` (the
  schema check included), a bare onnxruntime ``session.run`` for reference, and
  scikit-learn's ``predict_proba`` on one row; the ratio is scikit-learn p50 / tradejet p50;
- batch throughput on ``--batch`` rows: ``OnnxModel.predict`` (checks included) vs
  ``predict_proba``, both limited to ``--threads`` threads; medians over ``--repeat`` runs.

Parity first: ONNX and scikit-learn probabilities must agree to 1e-5 and single-row
scores must equal batch scores, or no ratio is printed.
"""

from __future__ import annotations

import argparse
import json

TARGETS = {"single_p99_us_max": 25.0, "single_p50_speedup_min": 30.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=20000, help="single-row calls timed for tradejet (default 20000)")
    p.add_argument("--sk-rows", type=int, default=1000, help="single-row calls timed for scikit-learn (default 1000)")
    p.add_argument("--batch", type=int, default=100_000, help="rows of the batch benchmark (default 100000)")
    p.add_argument("--repeat", type=int, default=5, help="timed batch runs; the median is reported")
    p.add_argument("--threads", type=int, default=1, help="threads for batch scoring, both sides (default 1)")
    p.add_argument("--bars", type=int, default=6000, help="bars per symbol of the synthetic training market (4 symbols)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")


def build_model(seed: int = 7, bars: int = 6000):
    """Return ``(scikit-learn model, OnnxModel factory, float32 rows)`` of the default config."""
    import numpy as np

    from tradejet.config import MLConfig
    from tradejet.models.data import synthetic_market
    from tradejet.models.export import export_onnx
    from tradejet.models.inference import OnnxModel
    from tradejet.models.schema import DEFAULT_SCHEMA
    from tradejet.models.train import build_dataset, fit_model, model_params

    cfg = MLConfig(seed=seed)
    ds = build_dataset(synthetic_market(n_symbols=4, n_bars=bars, seed=seed), cfg)
    model = fit_model(ds.X, ds.y, model_params(cfg))
    blob, _ = export_onnx(model, ds.X[:5000], schema=DEFAULT_SCHEMA, system="crypto")
    return model, (lambda threads: OnnxModel(blob, batch_threads=threads)), np.ascontiguousarray(ds.X)


def _percentiles(samples_ns) -> tuple[float, float]:
    import numpy as np

    a = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def measure(args: argparse.Namespace) -> dict:
    import gc
    import statistics
    import time

    import numpy as np
    from threadpoolctl import threadpool_limits

    model, make, X = build_model(bars=args.bars)
    onnx = make(args.threads)
    rows = X[:2000]
    # parity before any timing
    with threadpool_limits(limits=args.threads):
        ref = model.predict_proba(rows.astype(np.float64))[:, 1]
    got = onnx.predict(rows)
    one = np.array([onnx.predict_one(r) for r in rows])
    parity = float(np.abs(got - ref).max())
    if parity > 1e-5 or not np.array_equal(one, got):
        raise AssertionError(f"parity failed: |onnx - sklearn| = {parity}, single == batch: "
                             f"{np.array_equal(one, got)}")
    sess = onnx._one
    n_rows = len(rows)
    perf = time.perf_counter_ns

    def time_calls(fn, n):
        out = []
        gc.collect()
        for i in range(n):
            r = rows[i % n_rows]
            t = perf()
            fn(r)
            out.append(perf() - t)
        return out

    res: dict = {"parity_max_abs_diff": parity, "threads": args.threads}
    # warm, then time (tradejet, bare session, scikit-learn): medians over the interleaved halves
    time_calls(onnx.predict_one, 2000)
    ours = time_calls(onnx.predict_one, args.rows // 2)
    bare = time_calls(lambda r: sess.run(["probabilities"], {"features": r.reshape(1, -1)}), args.rows // 2)
    with threadpool_limits(limits=1):
        sk = time_calls(lambda r: model.predict_proba(r.reshape(1, -1)), args.sk_rows)
    ours += time_calls(onnx.predict_one, args.rows // 2)
    bare += time_calls(lambda r: sess.run(["probabilities"], {"features": r.reshape(1, -1)}), args.rows // 2)
    res["single"] = {}
    for name, s in (("tradejet", ours), ("onnxruntime bare", bare), ("scikit-learn", sk)):
        p50, p99 = _percentiles(s)
        res["single"][name] = {"p50_us": p50, "p99_us": p99, "calls": len(s)}
    res["single_p50_speedup"] = res["single"]["scikit-learn"]["p50_us"] / res["single"]["tradejet"]["p50_us"]
    # batch
    reps = max(1, args.batch // len(X) + 1)
    B = np.ascontiguousarray(np.tile(X, (reps, 1))[: args.batch])
    t_ours, t_sk = [], []
    onnx.predict(B[:1000])
    for _ in range(args.repeat):
        t = time.perf_counter()
        onnx.predict(B)
        t_ours.append(time.perf_counter() - t)
        with threadpool_limits(limits=args.threads):
            t = time.perf_counter()
            model.predict_proba(B.astype(np.float64))
            t_sk.append(time.perf_counter() - t)
    mo, ms = statistics.median(t_ours), statistics.median(t_sk)
    res["batch"] = {"rows": len(B), "tradejet_s": mo, "scikit_learn_s": ms, "tradejet_rows_per_s": len(B) / mo,
                    "scikit_learn_rows_per_s": len(B) / ms, "speedup": ms / mo}
    res["targets"] = TARGETS
    res["target_single_p99_met"] = res["single"]["tradejet"]["p99_us"] < TARGETS["single_p99_us_max"]
    res["target_single_speedup_met"] = res["single_p50_speedup"] >= TARGETS["single_p50_speedup_min"]
    onnx.close()
    return res


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    with con.status("training and exporting the benchmark model ..."):
        res = measure(args)
    t = Table("single row", "p50 us", "p99 us", "calls", title="Single-row latency (one call = one row)")
    for name, r in res["single"].items():
        t.add_row(name, f"{r['p50_us']:.1f}", f"{r['p99_us']:.1f}", str(r["calls"]))
    con.print(t)
    b = res["batch"]
    bt = Table("batch", "seconds", "rows/s", title=f"Batch of {b['rows']:,} rows, {res['threads']} thread(s), median")
    bt.add_row("tradejet", f"{b['tradejet_s']:.3f}", f"{b['tradejet_rows_per_s']:,.0f}")
    bt.add_row("scikit-learn", f"{b['scikit_learn_s']:.3f}", f"{b['scikit_learn_rows_per_s']:,.0f}")
    con.print(bt)
    p99 = res["single"]["tradejet"]["p99_us"]
    con.print(f"single-row p50 speedup vs scikit-learn: [bold]{res['single_p50_speedup']:.0f}x[/] "
              f"(target >= {TARGETS['single_p50_speedup_min']:.0f}x: "
              f"{'met' if res['target_single_speedup_met'] else 'MISSED'}); "
              f"p99 {p99:.1f} us (target < {TARGETS['single_p99_us_max']:.0f} us: "
              f"{'met' if res['target_single_p99_met'] else 'MISSED'}); batch speedup {b['speedup']:.1f}x; "
              f"parity |onnx - sklearn| = {res['parity_max_abs_diff']:.1e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0
