"""Smoke test of ``tradejet bench backtest`` on tiny sizes (no timing asserted)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys

import pytest

from tradejet.bench import backtest as suite
from tradejet.bench.backtest import random_walk, sma_cross_signals


def test_signals_helper_marks_crossings():
    close = random_walk(500, 1)
    entries, exits = sma_cross_signals(close)
    assert entries.sum() > 0 and exits.sum() > 0
    assert not (entries & exits).any() and not entries[:50].any()


@pytest.mark.parametrize("ref", ["vectorbt", "backtrader"])
def test_suite_runs_on_tiny_sizes_and_writes_json(tmp_path, capsys, ref):
    """In-process (vectorbt's import and compile are paid once per test session)."""
    if importlib.util.find_spec(ref) is None:
        pytest.skip(f"{ref} not installed: its column of the suite is skipped")
    out = tmp_path / "b.json"
    other = "--no-backtrader" if ref == "vectorbt" else "--no-vectorbt"
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    args = parser.parse_args(["--bars", "3000", "--bt-bars", "1500", "--repeat", "2", other, "--no-system", "--json", str(out)])
    assert suite.run(args) == 0
    res = json.loads(out.read_text())
    assert res["ok"] and res["parity"][ref]["ok"]
    engines = [row["engine"] for row in res["rows"]]
    assert engines[0] == "tradejet from_signals" and any(ref in e for e in engines)
    assert all(row["bars_per_s"] > 0 for row in res["rows"])
    assert "tradejet speedup" in capsys.readouterr().out


def test_cli_runs_the_suite_without_references(tmp_path):
    out = tmp_path / "b.json"
    r = subprocess.run([sys.executable, "-m", "tradejet", "bench", "backtest", "--bars", "2000", "--repeat", "1",
                        "--no-vectorbt", "--no-backtrader", "--no-system", "--json", str(out)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert [row["engine"] for row in json.loads(out.read_text())["rows"]] == ["tradejet from_signals"]


def test_cli_reports_the_full_system_figure(tmp_path):
    out = tmp_path / "s.json"
    r = subprocess.run([sys.executable, "-m", "tradejet", "bench", "backtest", "--bars", "2000", "--repeat", "1",
                        "--no-vectorbt", "--no-backtrader", "--system-days", "3", "--no-startup", "--json", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sysres = json.loads(out.read_text())["system"]
    assert sysres["bars"] == 3 * 1440 and sysres["symbols"] == 10
    assert sysres["bar_steps_per_s"] > 0 and "full crypto system" in r.stdout
    # the time before the loop is reported beside it, and the two together are slower than the loop alone
    assert sysres["prepare_s"] > 0 and "before the loop" in r.stdout
    assert 0 < sysres["bar_steps_per_s_with_prepare"] < sysres["bar_steps_per_s"]
    # the bar estimates beside the plain row-by-row computation: same bits, a ratio
    bc = json.loads(out.read_text())["bar_context"]
    assert bc["parity_ok"] and bc["bars"] == 3 * 1440 and bc["speedup"] > 0
    assert "computed row by row" in r.stdout
    # the indicator block's vector lanes beside the same block one pair at a time: same bits, a ratio
    il = json.loads(out.read_text())["indicator_lanes"]
    assert il["parity_ok"] and il["bars"] == 3 * 1440 and il["pairs"] == 10 and il["speedup"] > 0
    assert il["lanes_own_logs_ns_per_pair_bar"] > 0
    assert "one pair at a time" in r.stdout and "their own logarithms" in r.stdout
