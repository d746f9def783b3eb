"""The full live session (issue 7 §5): `tradejet live` against `tradejet sandbox`, both child processes.

The sandbox replays a slice of the seeded synthetic market (written to a bar store) that
goes through regime changes; the test advances it candle by candle over its admin route.
The live process trades, is killed with SIGKILL mid-run, the market moves on while it is
down (its orders may fill then), and it is restarted on the same ledger: it replays its
journal, reconciles with the sandbox, refills the candles it missed and trades on.
Checked at the end against the sandbox's own books: no order placed twice (by
``cl_ord_id``), every order and fill of the sandbox in the ledger with the same
quantities, prices and fees, and the same cash and positions.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest

from tradejet.adapters.kraken.auth import generate_credentials
from tradejet.io.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]
START = 880  # first forming candle of the replay: the 720 before it are the warm-up history


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("LOG_LEVEL", None)
    env.update(extra)
    return env


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists() and text in path.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {text!r}: {path.read_text()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} within {timeout}s: {path.read_text()[-2000:] if path.exists() else ''}")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from tradejet.io.store import BarStore
    from tradejet.io.synthetic import synthetic_market

    m = synthetic_market(days=45, timeframe="1h", seed=7)
    root = tmp_path_factory.mktemp("store")
    m.to_store(BarStore(root))
    return root, m


def test_live_session_kill_9_restart_matches_the_sandbox_books(store, tmp_path):
    root, market = store
    # the replayed window goes through regime changes (the market's own truth)
    window = market.regime[START:START + 140]
    assert len(set(window.tolist())) >= 2, "pick a slice with a regime change"
    creds = generate_credentials()
    port, ws_port = _free_port(), _free_port()
    sb_log = tmp_path / "sandbox.log"
    files = [sb_log.open("w"), (tmp_path / "live1.err").open("w"), (tmp_path / "live2.err").open("w")]
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "tradejet", "sandbox", "--port", str(port), "--ws-port", str(ws_port),
         "--api-key", creds.api_key, "--api-secret", creds.reveal_secret(), "--data", str(root),
         "--start", str(START), "--speed", "0", "--tier", "pro"],
        env=_env(), stdout=files[0], stderr=subprocess.STDOUT)
    admin = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10)
    ledger = tmp_path / "live.sqlite"
    cfg = tmp_path / "live.toml"
    cfg.write_text('[live]\ntier = "pro"\nmax_order_notional = 5000.0\ndead_mans_switch_s = 60\n')
    env = _env(DEPLOYMENT_ENV="live", KRAKEN_API_KEY=creds.api_key, KRAKEN_API_SECRET=creds.reveal_secret())

    def live(max_bars: int, err) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "tradejet", "live", "--config", str(cfg), "--base-url",
             f"http://127.0.0.1:{port}", "--ws-url", f"ws://127.0.0.1:{ws_port}/v2", "--i-understand-real-money",
             "--ledger", str(ledger), "--max-bars", str(max_bars)],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=err, text=True)

    def advance(n: int, pause: float = 0.12) -> None:
        for _ in range(n):
            r = admin.post("/_sandbox/advance", json={"n": 1})
            assert r.status_code == 200, r.text
            time.sleep(pause)

    procs = [sandbox]
    try:
        _wait_for(sb_log, "Kraken sandbox WebSocket", sandbox, 60)
        # run 1: trade, then SIGKILL mid-run
        err1 = tmp_path / "live1.err"
        p1 = live(10_000, files[1])
        procs.append(p1)
        _wait_for(err1, "tradejet live: trading", p1, 90)
        advance(60)
        orders_before = len(admin.get("/_sandbox/state").json()["result"]["orders"])
        p1.send_signal(signal.SIGKILL)
        p1.wait(10)
        assert orders_before > 0, "the first run placed no order: nothing to test"
        # the market moves on while the runner is down, longer than the WebSocket snapshot
        # reaches back (10 candles): candles to refill over REST; orders may fill meanwhile
        advance(15, pause=0.02)
        # run 2: resume, reconcile, continue
        err2 = tmp_path / "live2.err"
        p2 = live(50, files[2])
        procs.append(p2)
        _wait_for(err2, "tradejet live: trading", p2, 90)
        # the answer to the next order is lost after Kraken took it: looked up by cl_ord_id, not resent
        assert admin.post("/_sandbox/fault", json={"kind": "drop_response", "endpoint": "AddOrder"}).status_code == 200
        t0 = time.monotonic()
        while p2.poll() is None and time.monotonic() - t0 < 60:
            advance(1)
        out, _ = p2.communicate(timeout=30)
        assert p2.returncode == 0, err2.read_text()[-3000:]
        res = json.loads(out.strip().splitlines()[-1])
        state = admin.get("/_sandbox/state").json()["result"]
    finally:
        for p in procs[::-1]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        admin.close()
        for p in procs:
            if p.stdout is not None:
                p.stdout.close()
        for f in files:
            f.close()

    assert res["resumed"] is True and res["live_bars"] == 50
    assert ["drop_response", "AddOrder"] in state["faults_fired"], "run 2 sent no order: the lost answer was not tried"
    assert res["gaps_refilled"] >= 1, "the candles missed while down were not refilled"
    assert "late_bar" not in err2.read_text(), "a refill broke the cross-sections"
    assert "unknown_fill" not in err2.read_text(), "a fill the engine's book did not take"

    # no order placed twice
    sb_orders = state["orders"]
    cl_ids = [o["cl_ord_id"] for o in sb_orders.values()]
    dup = [c for c, n in Counter(cl_ids).items() if n > 1]
    assert not dup, f"orders placed twice: {dup}"
    assert all(c.startswith(res["run_id"] + "-") for c in cl_ids)

    with Ledger(ledger) as led:
        rows = {o.client_order_id: o for o in led.orders()}
        _, fills = led.table("fills")
        cash = led.cash()
        positions = {p.symbol: p.qty for p in led.positions()}
    # every sandbox order is in the ledger under its txid, with the same executed quantity
    sent = {o.venue_order_id: cid for cid, o in rows.items() if o.venue_order_id}
    assert sent == {txid: o["cl_ord_id"] for txid, o in sb_orders.items()}
    for txid, o in sb_orders.items():
        row = rows[o["cl_ord_id"]]
        assert row.filled_qty == pytest.approx(float(o["vol_exec"]), rel=1e-9, abs=1e-12), o["cl_ord_id"]
        assert not row.is_open and o["status"] != "open"  # a clean stop cancels what works
    # every fill, once, with the sandbox's numbers
    sb_trades = state["trades"]
    led_fills = {f[0]: f for f in fills}  # trade_id, cid, venue id, symbol, side, qty, price, fee, ...
    assert set(led_fills) == set(sb_trades)
    assert len(sb_trades) >= 4, "too few fills to mean anything"
    for tid, tr in sb_trades.items():
        f = led_fills[tid]
        assert f[1] == tr["cl_ord_id"] and f[2] == tr["ordertxid"]
        assert (f[5], f[6], f[7]) == pytest.approx((float(tr["vol"]), float(tr["price"]), float(tr["fee"])),
                                                   rel=1e-12)
    # the same cash and positions
    bal = next(iter(state["balances"].values()))
    assert cash["USD"] == pytest.approx(float(bal["ZUSD"]), abs=1e-4)
    names = {"XXBT": "BTC", "XETH": "ETH", "XXRP": "XRP", "XLTC": "LTC", "XXDG": "DOGE"}
    held = {names.get(a, a) + "/USD": float(v) for a, v in bal.items() if a != "ZUSD" and float(v) != 0.0}
    assert set(positions) == set(held)
    for sym, q in held.items():
        assert positions[sym] == pytest.approx(q, rel=1e-9, abs=1e-10), sym
    assert np.isfinite(res["equity"])
    # what the two runs asked the sandbox (REST), beside the WebSocket ohlc and executions channels
    used = {p.rsplit("/", 1)[1] for p in state["requests"]}
    assert {"SystemStatus", "AssetPairs", "Assets", "OHLC", "BalanceEx", "GetWebSocketsToken", "AddOrder",
            "QueryOrders", "CancelAllOrdersAfter", "CancelAll", "TradesHistory", "OpenOrders"} <= used, used
    print(f"session: {len(sb_orders)} orders ({orders_before} before the kill), {len(sb_trades)} fills, "
          f"regimes {sorted(set(window.tolist()))}; endpoints used: {sorted(used)}")
