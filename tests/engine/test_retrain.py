"""Retraining in DOWNTIME: once per window, within the window, promoted models swapped into the scorer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest

from tradejet.config import Config
from tradejet.engine.retrain import DowntimeRetrainer
from tradejet.engine.schedule import Schedule
from tradejet.io.audit import AuditLog, read_records
from tradejet.kernels.codes import TradingState
from tradejet.models.data import Candles, synthetic_market
from tradejet.models.scoring import StreamingScorer

H = 3600 * 10**9
SMALL_ML = dict(max_iter=20, max_leaf_nodes=7, min_samples_leaf=50, n_folds=1, oos_fraction=0.25,
                min_precision=0.3, min_recall=0.05, min_f1=0.1, max_turnover=1e6, max_drawdown=0.9, max_position=0.9)


def _config(**ml) -> Config:
    return msgspec.convert({"ml": {**SMALL_ML, **ml}}, Config)


@pytest.fixture(scope="module")
def market():
    return synthetic_market(n_symbols=2, n_bars=2500, seed=3)


def _history(market):
    def history(ts: int) -> list[Candles]:
        out = []
        for c in market:
            k = int(np.searchsorted(c.ts, ts, "right"))
            out.append(Candles(c.symbol, c.source, c.ts[:k], c.open[:k], c.high[:k], c.low[:k], c.close[:k],
                               c.volume[:k]))
        return out

    return history


def _hours_from(market, start_index: int, hours: int) -> list[int]:
    return [int(market[0].ts[start_index + i]) for i in range(hours)]


def test_trains_once_per_window_and_swaps_the_promoted_model(market, tmp_path):
    sched = Schedule(Config().schedule)
    seen = []

    def history(ts):
        seen.append(ts)
        return _history(market)(ts)

    scorer = StreamingScorer(None, 2)
    with AuditLog(tmp_path / "run.audit.jsonl") as audit:
        r = DowntimeRetrainer(_config(), tmp_path / "home", history, scorer=scorer, audit=audit)
        hours = _hours_from(market, 2000, 50)  # two days: two or three downtime windows
        for ts in hours:
            r.on_bar(ts)
    windows = [ts for prev, ts in zip(hours, hours[1:], strict=False)
               if sched.state_at(ts) == TradingState.DOWNTIME and sched.state_at(prev) != TradingState.DOWNTIME]
    assert len(windows) >= 2 and seen == windows  # once per window, on its first bar, with bars up to it
    assert [x.outcome for x in r.results] == ["promoted"] * len(windows), [x.reason for x in r.results]
    assert r.swaps == [x.promoted_id for x in r.results] and scorer.model is not None
    assert scorer.model.model_id == r.swaps[-1]
    events = [rec.event for rec in read_records(tmp_path / "run.audit.jsonl")]
    assert events == ["retrain_started", "retrain_finished", "model_swapped"] * len(windows)
    # gate 4 ran on the engine
    assert "[engine backtest of ml_signal]" in r.results[0].gates[3].reason


def test_the_first_bar_inside_a_window_does_not_count_as_entering_it(market, tmp_path):
    sched = Schedule(Config().schedule)
    i = next(i for i in range(2000, 2100) if sched.state_at(int(market[0].ts[i])) == TradingState.DOWNTIME)
    r = DowntimeRetrainer(_config(), tmp_path, _history(market))
    r.on_bar(int(market[0].ts[i]))  # started mid-window: no run until the next window
    assert r.results == []


def test_a_rejected_candidate_leaves_the_scorer_alone(market, tmp_path):
    scorer = StreamingScorer(None, 2)
    r = DowntimeRetrainer(_config(min_f1=0.99), tmp_path, _history(market), scorer=scorer)
    for ts in _hours_from(market, 2000, 30):
        r.on_bar(ts)
    assert [x.outcome for x in r.results] == ["rejected"] and "gate out_of_sample" in r.results[0].reason
    assert scorer.model is None and r.swaps == []


def test_a_failing_run_is_logged_and_trading_goes_on(tmp_path):
    def history(ts):
        raise OSError("bar store unreadable")

    with AuditLog(tmp_path / "a.jsonl") as audit:
        r = DowntimeRetrainer(_config(), tmp_path, history, audit=audit)
        t0 = 1_700_000_000 * 10**9 // H * H
        for k in range(30):
            r.on_bar(t0 + k * H)
    recs = list(read_records(tmp_path / "a.jsonl"))
    events = [x.event for x in recs]
    assert events and events == ["retrain_started", "retrain_failed"] * (len(events) // 2)
    assert all("OSError: bar store unreadable" in x.data["reason"] for x in recs if x.event == "retrain_failed")
    assert all(isinstance(x, OSError) for x in r.results)


def test_budget_is_cut_to_the_window(market, tmp_path):
    cfg = _config(budget_s=10_000.0)
    sched = Schedule(cfg.schedule)
    i = next(i for i in range(2000, 2100) if sched.state_at(int(market[0].ts[i])) == TradingState.DOWNTIME)
    ts = int(market[0].ts[i])
    _s, end = sched.next_change(ts)
    replay = DowntimeRetrainer(cfg, tmp_path, _history(market))
    assert replay.budget_s(ts) == pytest.approx((end - ts) / 1e9 - DowntimeRetrainer.MARGIN_S)
    live = DowntimeRetrainer(cfg, tmp_path, _history(market), background=True, now=lambda: end - 30 * 10**9)
    assert live.budget_s(ts) == 1.0  # 30 s left on the wall clock, less the margin: the minimum
    assert DowntimeRetrainer(_config(budget_s=5.0), tmp_path, _history(market)).budget_s(ts) == 5.0


def test_background_mode_swaps_after_the_thread_finishes(market, tmp_path):
    scorer = StreamingScorer(None, 2)
    r = DowntimeRetrainer(_config(), tmp_path, _history(market), scorer=scorer, background=True,
                          now=lambda: 0)
    for ts in _hours_from(market, 2000, 30):
        r.on_bar(ts)
    r.close()
    assert [x.outcome for x in r.results] == ["promoted"] and scorer.model is not None


def test_paper_retrains_in_downtime(tmp_path):
    cfg = tmp_path / "c.toml"
    # loose floors: a few days of bars make weak models, and this test is about the plumbing
    loose = {**SMALL_ML, "min_precision": 0.0, "min_recall": 0.0, "min_f1": 0.0, "min_precision_lift": -1.0,
             "threshold": 0.3}
    ml = "\n".join(f"{k} = {v}" for k, v in loose.items())
    cfg.write_text(f"[backtest]\nsynthetic_days = 30\n[ml]\n{ml}\nhorizon = 6\n")
    ledger = tmp_path / "p.sqlite"
    env = dict(os.environ, TRADEJET_HOME=str(tmp_path / "home"))
    r = subprocess.run([sys.executable, "-m", "tradejet", "paper", "--synthetic", "--config", str(cfg), "--ledger",
                        str(ledger), "--max-bars", "150", "--retrain", "--quiet"], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    recs = list(read_records(ledger.with_name(ledger.name + ".audit.jsonl")))
    started = [x for x in recs if x.event == "retrain_started"]
    finished = [x for x in recs if x.event in ("retrain_finished", "retrain_failed")]
    assert len(started) >= 5 and len(finished) == len(started)  # 150 hourly bars cross 6 windows
    assert any(x.event == "model_swapped" for x in recs), [x.data for x in finished]
    assert json.loads(r.stdout.strip().splitlines()[-1])["bars"] == 150
    assert Path(tmp_path / "home" / "audit").is_dir()


def test_store_history_reads_the_bar_store_up_to_the_bar(tmp_path, caplog):
    from tradejet.engine.retrain import store_history
    from tradejet.io.store import BarStore

    store = BarStore(tmp_path)
    ts = np.arange(50, dtype=np.int64) * H
    cols = {"ts": ts, "open": np.linspace(1, 2, 50), "high": np.linspace(1.1, 2.1, 50),
            "low": np.linspace(0.9, 1.9, 50), "close": np.linspace(1, 2, 50), "volume": np.full(50, 10.0)}
    store.write("kraken", "BTC/USD", "1h", cols)
    hist = store_history(tmp_path, ["BTC/USD", "ETH/USD"], 60, max_rows=30)
    got = hist(int(ts[39]))
    assert [c.symbol for c in got] == ["BTC/USD"]  # ETH/USD is not stored: left out
    assert got[0].ts[-1] == ts[39] and len(got[0]) == 30  # nothing after the bar, the last max_rows
    np.testing.assert_array_equal(got[0].close, cols["close"][10:40])
    assert "retraining without ETH/USD" in caplog.text
