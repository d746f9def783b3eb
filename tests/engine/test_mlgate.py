"""Gate 4 on the engine: ml_signal backtested with the candidate's scores over the OOS window."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import msgspec
import numpy as np
import pytest

from tradejet.config import Config, MLConfig
from tradejet.engine.mlgate import bars_from_rows, ml_signal_backtest
from tradejet.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

H = 3600 * 10**9


def _rows(n_bars: int = 400, n_sym: int = 2, seed: int = 0, drop: float = 0.0, trend: float = 0.0):
    """Per-row OHLCV of a random-walk market, rows shuffled, some bars missing."""
    rng = np.random.default_rng(seed)
    ts, sym, o, h, lo, c, v = [], [], [], [], [], [], []
    for s in range(n_sym):
        close = 100.0 * np.exp(np.cumsum(rng.normal(trend, 0.01, n_bars)))
        open_ = np.concatenate(([close[0]], close[:-1]))
        high = np.maximum(open_, close) * 1.002
        low = np.minimum(open_, close) * 0.998
        keep = rng.uniform(size=n_bars) >= drop
        keep[:2] = True
        idx = np.flatnonzero(keep)
        ts.append(idx.astype(np.int64) * H + 1_600_000_000 * 10**9)
        sym.append(np.full(idx.size, s, np.int32))
        o.append(open_[idx]), h.append(high[idx]), lo.append(low[idx]), c.append(close[idx])
        v.append(np.full(idx.size, 1e6))
    rows = {k: np.concatenate(x) for k, x in
            dict(ts=ts, sym=sym, open=o, high=h, low=lo, close=c, volume=v).items()}
    perm = rng.permutation(len(rows["ts"]))
    rows = {k: a[perm] for k, a in rows.items()}
    rows["symbols"] = np.array([f"SYN{s}" for s in range(n_sym)])
    return rows


def test_pivot_matches_a_plain_loop():
    rows = _rows(n_bars=60, n_sym=3, drop=0.2, seed=4)
    vals = np.arange(len(rows["ts"]), dtype=np.float64) / 1000
    bars, sc = bars_from_rows(rows, vals)
    times = sorted(set(int(t) for t in rows["ts"]))
    assert list(bars.ts) == times and bars.timeframe_ns == H and bars.symbols == ["SYN0", "SYN1", "SYN2"]
    seen = set()
    for i in range(len(rows["ts"])):
        t = times.index(int(rows["ts"][i]))
        s = int(rows["sym"][i])
        seen.add((t, s))
        assert bars.close[t, s] == rows["close"][i] and bars.open[t, s] == rows["open"][i]
        assert sc[t, s] == vals[i]
    for t in range(len(times)):
        for s in range(3):
            if (t, s) not in seen:
                assert np.isnan(bars.close[t, s]) and np.isnan(sc[t, s])


def test_no_score_over_the_threshold_means_no_trades():
    rows = _rows()
    r = ml_signal_backtest(rows, np.zeros(len(rows["ts"])), 0.6)
    assert r["entries"] == 0 and r["fills"] == 0
    assert r["max_drawdown"] == 0.0 and r["turnover_per_year"] == 0.0 and r["max_position"] == 0.0
    assert r["final_equity"] == 1.0


def test_always_on_scores_trade_within_the_strategys_sizing():
    rows = _rows(n_bars=600, drop=0.05)
    r = ml_signal_backtest(rows, np.ones(len(rows["ts"])), 0.6)
    assert r["entries"] > 0 and r["turnover_per_year"] > 0 and r["fees"] > 0
    # ml_signal sizes 20 % of equity per pair; the mark-to-market can drift a little over it
    assert 0.05 < r["max_position"] < 0.3
    assert 0.0 < r["max_drawdown"] < 1.0
    assert r["years"] == pytest.approx(600 * H / (365.25 * 86400e9), rel=1e-9)


def test_the_threshold_decides_which_rows_enter():
    rows = _rows(n_bars=500)
    proba = np.random.default_rng(1).uniform(size=len(rows["ts"]))
    low = ml_signal_backtest(rows, proba, 0.5)
    high = ml_signal_backtest(rows, proba, 0.95)
    assert low["entries"] > high["entries"] > 0


def test_config_overrides_reach_the_backtest():
    rows = _rows(n_bars=500)
    ones = np.ones(len(rows["ts"]))
    small = msgspec.convert({"strategies": {"ml_signal": {"max_position_fraction": 0.05}}}, Config)
    a = ml_signal_backtest(rows, ones, 0.6)
    b = ml_signal_backtest(rows, ones, 0.6, config=small)
    assert b["max_position"] < 0.08 < a["max_position"]


def test_bad_rows_are_named():
    rows = _rows(n_bars=50)
    del rows["volume"]
    with pytest.raises(DataError, match="lack volume"):
        ml_signal_backtest(rows, np.zeros(len(rows["ts"])), 0.6)
    rows = _rows(n_bars=50)
    rows["sym"] = rows["sym"].copy()
    rows["sym"][0] = 7
    with pytest.raises(DataError, match="symbol index out of range"):
        bars_from_rows(rows, np.zeros(len(rows["ts"])))
    with pytest.raises(DataError, match="3 scores for"):
        bars_from_rows(_rows(n_bars=50), np.zeros(3))
    one = {k: (a[:1] if k != "symbols" else a) for k, a in _rows(n_bars=50).items()}
    with pytest.raises(DataError, match="1 distinct bar times"):
        bars_from_rows(one, np.zeros(1))
    with pytest.raises(ValueError, match="threshold"):
        ml_signal_backtest(_rows(n_bars=50), np.zeros(100), 1.5)


# -- through the gates -----------------------------------------------------------------------
def _small_cfg(**over) -> MLConfig:
    from _ml_helpers import small_cfg

    return small_cfg(**over)


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory):
    from tradejet.models.data import synthetic_market
    from tradejet.models.pipeline import run_retraining

    home = tmp_path_factory.mktemp("gate4")
    res = run_retraining("crypto", synthetic_market(n_symbols=2, n_bars=2500, seed=3), 300, home,
                         cfg=_small_cfg(), risk_backtest=ml_signal_backtest)
    return home, res


def test_pipeline_runs_gate_4_on_the_engine(trained_home):
    home, res = trained_home
    g4 = res.gates[3]
    assert g4.gate == "risk" and "[engine backtest of ml_signal]" in g4.reason, g4.reason
    assert g4.numbers["bars"] > 100 and "turnover_per_year" in g4.numbers


def test_gate_4_on_the_engine_fails_a_model_that_trades_too_much(trained_home):
    from tradejet.models.artifacts import ArtifactStore
    from tradejet.models.gates import run_gates
    from tradejet.models.schema import DEFAULT_SCHEMA

    home, res = trained_home
    store = ArtifactStore(home, "crypto")
    mid = res.model_id
    ok = run_gates(store, mid, DEFAULT_SCHEMA, _small_cfg(), compare_promoted=False,
                   risk_backtest=ml_signal_backtest)[3]
    assert "[engine backtest of ml_signal]" in ok.reason
    turnover = ok.numbers["turnover_per_year"]
    if turnover <= 0:
        pytest.skip("the candidate never entered on the OOS window; nothing to exceed")
    bad = run_gates(store, mid, DEFAULT_SCHEMA, _small_cfg(max_turnover=turnover / 2), compare_promoted=False,
                    risk_backtest=partial(ml_signal_backtest, config=Config()))[3]
    assert not bad.passed and "it trades too much" in bad.reason and "[engine backtest" in bad.reason
    # the same numbers as calling the backtest directly on the stored rows
    rows = store.validation_rows(mid)
    model = store.load(mid)
    try:
        direct = ml_signal_backtest(rows, model.predict(rows["X"]), store.manifest(mid).threshold)
    finally:
        model.close()
    assert direct["turnover_per_year"] == bad.numbers["turnover_per_year"]


def test_rows_without_ohlcv_fall_back_to_the_interim_simulation_and_say_so(trained_home):
    from tradejet.models.gates import gate_risk

    home, res = trained_home
    rows = _rows(n_bars=100)
    n = len(rows["ts"])
    for k in ("open", "high", "low", "volume"):
        del rows[k]
    g = gate_risk(rows["ts"], rows["sym"], rows["close"], np.ones(n), 0.5, _small_cfg(), rows=rows,
                  backtest=ml_signal_backtest)
    assert "interim simulation: the validation rows hold no OHLCV" in g.reason
