"""Decision-core kernels (schedule, risk check, portfolio fills) vs pure-Python references.

Everything heavy is imported inside :func:`run`: the CLI imports this module to build
its parser. Compile happens before any timer; parity with the reference is checked
before a ratio is printed. Medians over ``--repeat`` interleaved runs.

- ``schedule``: trading state of N timestamps, ``Schedule.states`` (vectorised kernel)
  vs a datetime implementation (the test oracle's method), ns per timestamp.
- ``portfolio``: N fills booked by ``apply_fill_nb`` in an @njit loop vs a plain-Python
  average-cost ledger over floats, ns per fill.
- ``risk``: N intents checked by ``check_intent_nb`` in an @njit loop, and one intent
  through the Python facade ``RiskGate.check`` (the event driver's path), ns per intent.
  No outside reference implements these rules: the ratio shown is facade / kernel loop.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=200_000, help="timestamps / fills / intents per run (default 200000)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per measurement; the median is reported")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")


def _median_ns(fn, repeat: int, per: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / per


def _brute_states(ts_ns, start_s, end_s, lead_s, resume_s):
    from datetime import datetime, timedelta, timezone

    out = []
    lead, resume = timedelta(seconds=lead_s), timedelta(seconds=resume_s)
    for t in ts_ns:
        dt = datetime.fromtimestamp(int(t) // 1_000_000_000, tz=timezone.utc)
        state = 0
        for off in (-1, 0, 1):
            day = datetime(dt.year, dt.month, dt.day, tzinfo=timezone.utc) + timedelta(days=off)
            ws = day + timedelta(seconds=start_s)
            we = day + timedelta(seconds=end_s)
            if we <= ws:
                we += timedelta(days=1)
            if ws - lead <= dt < ws:
                state = 1
            elif ws <= dt < we:
                state = 2
            elif we <= dt < we + resume:
                state = 3
            if state:
                break
        out.append(state)
    return out


def _py_ledger(fills, cash):
    qty: dict = {}
    avg: dict = {}
    for s, p, side, q, px, fee in fills:
        k = (s, p)
        pos, a = qty.get(k, 0.0), avg.get(k, 0.0)
        new = pos + side * q
        if pos == 0.0 or (pos > 0) == (side > 0):
            a = (abs(pos) * a + q * px) / abs(new)
        elif abs(new) <= 1e-12 * max(abs(pos), q):
            new, a = 0.0, 0.0
        elif (new > 0) != (pos > 0):
            a = px
        qty[k], avg[k] = new, a
        cash -= side * q * px + fee
    return cash, qty


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from numba import njit

    from tradejet.config import ScheduleConfig
    from tradejet.engine.portfolio import Portfolio
    from tradejet.engine.risk import RiskGate
    from tradejet.engine.schedule import Schedule
    from tradejet.engine.selector import Selector
    from tradejet.engine.universe import Universe
    from tradejet.kernels import portfolio as kpf
    from tradejet.kernels import risk as kr

    n, rep = args.n, args.repeat
    rng = np.random.default_rng(7)
    result: dict = {"n": n, "repeat": rep, "rows": []}

    # ---- schedule
    sched = Schedule(ScheduleConfig(window_start="23:30", window_end="01:15"))
    ts = rng.integers(0, 4_102_444_800, n).astype(np.int64) * 1_000_000_000
    out = np.empty(n, dtype=np.int8)
    from tradejet.kernels.schedule import trading_state_1d_nb
    trading_state_1d_nb(ts[:10], sched.params, out[:10])
    n_ref = min(n, 20_000)
    ref = _brute_states(ts[:n_ref], *[int(x) for x in sched.params[1:]])
    parity = sched.states(ts[:n_ref]).tolist() == ref
    ours = _median_ns(lambda: trading_state_1d_nb(ts, sched.params, out), rep, n)
    theirs = _median_ns(lambda: _brute_states(ts[:n_ref], *[int(x) for x in sched.params[1:]]), max(1, rep // 2), n_ref)
    result["rows"].append({"name": "schedule state / timestamp", "tradejet_ns": ours, "reference": "python datetime",
                           "reference_ns": theirs, "ratio": theirs / ours, "parity": parity})

    # ---- portfolio
    n_s, n_p = 6, 10
    fills_s = rng.integers(0, n_s, n)
    fills_p = rng.integers(0, n_p, n)
    fills_side = rng.choice(np.array([1, -1]), n)
    fills_q = rng.integers(1, 100, n) / 10.0
    fills_px = rng.integers(100, 1000, n) / 4.0
    fills_fee = fills_q * fills_px * 0.004

    @njit
    def book(fs, fp, fside, fq, fpx, ffee, account, q, a, r, f):
        for i in range(fs.shape[0]):
            kpf.apply_fill_nb(account, q, a, r, f, fs[i], fp[i], fside[i], fq[i], fpx[i], ffee[i])

    def ours_pf():
        account = np.zeros(kpf.N_ACC)
        account[0] = 1e9
        arrs = [np.zeros((n_s, n_p)) for _ in range(4)]
        book(fills_s, fills_p, fills_side, fills_q, fills_px, fills_fee, account, *arrs)
        return account, arrs

    fills = list(zip(fills_s.tolist(), fills_p.tolist(), fills_side.tolist(), fills_q.tolist(), fills_px.tolist(),
                     fills_fee.tolist()))
    acc, arrs = ours_pf()
    cash_ref, qty_ref = _py_ledger(fills, 1e9)
    parity = abs(acc[0] - cash_ref) <= 1e-6 * 1e9 and all(abs(arrs[0][k] - v) < 1e-6 for k, v in qty_ref.items())
    ours = _median_ns(ours_pf, rep, n)
    theirs = _median_ns(lambda: _py_ledger(fills, 1e9), rep, n)
    result["rows"].append({"name": "portfolio fill", "tradejet_ns": ours, "reference": "python float ledger",
                           "reference_ns": theirs, "ratio": theirs / ours, "parity": bool(parity)})

    # ---- risk
    u = Universe.default()
    pf = Portfolio(u, cash=1e6)
    pf.set_marks(np.array([50_000.0, 2_500.0, 100.0, 0.5, 0.4, 5.0, 15.0, 80.0, 0.1, 30.0]))
    sel = Selector()
    sel.update(0, 0)
    gate = RiskGate(u)
    i_p = rng.integers(0, 10, n)
    i_s = rng.choice(np.array([0, 2]), n)
    i_side = np.ones(n, dtype=np.int64)
    i_q = 100.0 / pf.mark[i_p] * rng.uniform(0.5, 2.0, n)
    i_px = pf.mark[i_p].copy()

    @njit
    def check_all(ip, is_, iside, iq, ipx, meta, lim, shares, status, unrec, account, q, a, mark, rs, codes):
        for i in range(ip.shape[0]):
            c, _, _ = kr.check_intent_nb(ip[i], is_[i], iside[i], iq[i], ipx[i], 0, 0, meta, lim, shares, status,
                                         unrec, account, q, a, mark, rs)
            codes[i] = c

    codes = np.empty(n, dtype=np.int64)
    call = (i_p, i_s, i_side, i_q, i_px, u.meta, gate.limits.array, sel.shares, sel.status, gate.unreconciled,
            pf.account, pf.pos_qty, pf.pos_avg, pf.mark, gate.risk_state, codes)
    check_all(*call)
    ours = _median_ns(lambda: check_all(*call), rep, n)
    n_py = min(n, 20_000)
    py_codes = [gate.check(pf, sel, strategy=int(i_s[i]), symbol=u.symbols[int(i_p[i])], side=1, qty=float(i_q[i]),
                           price=float(i_px[i])).code for i in range(n_py)]
    parity = py_codes == codes[:n_py].tolist()

    def facade():
        for i in range(n_py):
            gate.check(pf, sel, strategy=int(i_s[i]), symbol=u.symbols[int(i_p[i])], side=1, qty=float(i_q[i]),
                       price=float(i_px[i]))

    theirs = _median_ns(facade, max(1, rep // 2), n_py)
    result["rows"].append({"name": "risk check / intent", "tradejet_ns": ours, "reference": "RiskGate.check (Python facade)",
                           "reference_ns": theirs, "ratio": theirs / ours, "parity": parity})

    print(f"tradejet bench core  (n={n}, median of {rep})")
    print(f"{'measure':<28} {'tradejet ns':>12} {'reference':<32} {'ref ns':>10} {'ratio':>8} parity")
    for r in result["rows"]:
        print(f"{r['name']:<28} {r['tradejet_ns']:>12.1f} {r['reference']:<32} {r['reference_ns']:>10.1f} "
              f"{r['ratio']:>7.1f}x {'ok' if r['parity'] else 'MISMATCH'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if all(r["parity"] for r in result["rows"]) else 1
