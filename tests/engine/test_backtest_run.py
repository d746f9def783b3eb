"""The compiled backtest as a whole: invariants at every bar, determinism, real data, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec
import numpy as np
import pytest

from tradejet.config import Config, RiskConfig
from tradejet.engine.simulate import MarketBars, run
from tradejet.engine.sources import load_bars, symbol_from_filename
from tradejet.errors import DataError
from tradejet.kernels.codes import Reject, TradingState
from tradejet.strategies.base import FLAG_FORCED


@pytest.fixture(scope="module")
def synth_bars():
    from tradejet.io.synthetic import synthetic_market

    return MarketBars.from_synthetic(synthetic_market(days=150, timeframe="1h", seed=11))


@pytest.fixture(scope="module")
def result(synth_bars):
    # a looser breaker so the run keeps trading through its drawdowns and exercises more paths
    return run(synth_bars, msgspec.structs.replace(Config(), risk=RiskConfig(max_drawdown=0.9)))


def _positions(res):
    """Per-bar position of each (strategy, pair), rebuilt from the fills log."""
    T = res.bars
    pos = {}
    for i in range(len(res.fills["qty"])):
        key = (int(res.fills["strategy"][i]), int(res.fills["pair"][i]))
        arr = pos.setdefault(key, np.zeros(T))
        arr[int(res.fills["bar"][i]):] += res.fills["side"][i] * res.fills["qty"][i]
    return pos


def test_at_most_two_strategies_are_active_at_any_bar(result):
    popcount = np.array([bin(int(a)).count("1") for a in result.active])
    assert popcount.max() <= 2
    assert popcount.max() >= 1


def test_no_entry_is_accepted_outside_trading(result):
    o = result.orders
    accepted = o["code"] == Reject.OK
    entries = accepted & (o["side"] > 0)
    states = result.trading_state[o["bar"]]
    assert not np.any(entries & (states != TradingState.TRADING))
    # and the schedule really refused things: draining/downtime rejections exist over 150 days
    assert np.any(np.isin(o["code"], [Reject.DRAINING, Reject.DOWNTIME, Reject.RESUMING]))


def test_cash_never_negative_and_no_shorts_when_cash_only(result):
    assert result.cash.min() >= -1e-6
    for key, p in _positions(result).items():
        assert p.min() >= -1e-9, key


def test_positions_stay_within_the_strategy_pair_limit(result, synth_bars):
    limit = RiskConfig().max_strategy_pair_share
    for (s, p), q in _positions(result).items():
        notional = q * np.nan_to_num(synth_bars.close[:, p])
        # at each fill bar the position's value is within the share of equity (plus the bar's move and fees)
        assert np.all(notional <= limit * result.equity * 1.5 + 1e-9)


def test_fills_reconcile_with_equity(result):
    cash = Config().backtest.initial_cash - np.sum(result.fills["side"] * result.fills["qty"] * result.fills["price"]) \
        - result.fills["fee"].sum()
    assert result.cash[-1] == pytest.approx(cash, rel=1e-9, abs=1e-6)
    assert result.metrics["trades"] == len(result.trades["pnl"])
    assert sum(v["trades"] for v in result.by_strategy.values()) == result.metrics["trades"]


def test_the_same_bars_give_the_same_run(synth_bars, result):
    again = run(synth_bars, msgspec.structs.replace(Config(), risk=RiskConfig(max_drawdown=0.9)))
    np.testing.assert_array_equal(again.equity, result.equity)
    for k in result.fills:
        np.testing.assert_array_equal(again.fills[k], result.fills[k])


def test_forced_exits_only_in_downtime(result):
    o = result.orders
    accepted = o["code"] == Reject.OK
    in_downtime = result.trading_state[o["bar"]] == TradingState.DOWNTIME
    assert not np.any(accepted & in_downtime & (o["side"] > 0))
    _ = FLAG_FORCED


def test_real_alt_btc_universe_runs(shared_data):
    bars, warnings = load_bars(shared_data / "crypto" / "binance", "5m")
    assert len(bars.symbols) >= 10 and "ADA/BTC" in bars.symbols
    res = run(bars, Config())
    assert res.bars == bars.n_bars and np.all(np.isfinite(res.equity))
    assert res.cash.min() >= -1e-6


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ADABTC_5m.csv", ("ADA/BTC", "5m")), ("BTCUSDT_1h_2024-09_2026-02.csv", ("BTC/USDT", "1h")),
     ("ETHUSDT_5m_2022-10_2023-01.csv.gz", ("ETH/USDT", "5m")), ("XBTUSD_1440.csv", ("XBT/USD", "1d")),
     ("README.md", None), ("STORJUSD_7.csv", None), ("notes_1h.csv", None)],
)
def test_symbol_from_filename(name, expected):
    assert symbol_from_filename(name) == expected


def test_load_bars_refuses_what_it_cannot_use(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_bars(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="no candle files"):
        load_bars(tmp_path)
    with pytest.raises(DataError, match="takes a folder"):
        load_bars(tmp_path / "x.txt")


def test_bad_rows_in_a_data_file_are_left_out_and_counted(tmp_path):
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(300):
        p = 100 + i * 0.1
        rows.append(f"{1_599_998_400 + 3600 * i},{p},{p + 1},{p - 1},{p},10")
    rows[50] = f"{1_599_998_400 + 3600 * 49},1,0.5,2,1,10"  # high < low
    (tmp_path / "BTCUSD_1h.csv").write_text("\n".join(rows) + "\n")
    bars, warnings = load_bars(tmp_path)
    assert bars.n_bars == 299 and "1 bad rows left out" in warnings[0]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tradejet", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_cli_backtest_writes_the_report(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[backtest]\nsynthetic_days = 40\n")
    r = _cli("backtest", "--config", str(cfg), "--out", str(tmp_path / "run"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "run")
    rep = json.loads((tmp_path / "run" / "report.json").read_text())
    assert rep["run"]["bars"] == 40 * 24 and rep["run"]["symbols"] == 10
    assert rep["run"]["prepare_s"] > 0  # the time before the loop (bar context, buffers), beside elapsed_s
    assert {"total_return", "sharpe", "max_drawdown"} <= set(rep["metrics"])
    assert (tmp_path / "run" / "equity.png").exists() and (tmp_path / "run" / "trades.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2031-01-01"], "date range holds 0 bars"),
        (["--from", "2024-02-01", "--to", "2024-01-01"], "must be after --from"),
        (["--from", "yesterday"], "not an ISO date"),
        (["--data", "/nonexistent/folder"], "no such folder"),
    ],
)
def test_cli_backtest_bad_input_is_one_line(tmp_path, args, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[backtest]\nsynthetic_days = 20\n")
    r = _cli("backtest", "--config", str(cfg), "--out", str(tmp_path / "run"), "--quiet", *args)
    assert r.returncode == 2
    assert message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "run").exists()


def test_cli_backtest_bad_config_names_the_field(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[strategies.breakout]\nvolume_mult = -3\n")
    r = _cli("backtest", "--config", str(cfg), "--out", str(tmp_path / "run"), "--quiet")
    assert r.returncode == 2 and "volume_mult must be in" in r.stderr and "strategies" in r.stderr
