"""The swing system from the command line: backtest on the real equities and the synthetic market,
paper replay, the operator script, and broken input named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _main(args, tmp_path, monkeypatch, capsys) -> tuple[int, str, str]:
    """Run the CLI in this process (no interpreter start-up): exit code, stdout, stderr."""
    from tradejet.cli import main

    monkeypatch.setenv("TRADEJET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DEPLOYMENT_ENV", raising=False)
    monkeypatch.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as e:  # argparse errors
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_backtest_swing_on_the_real_equities(tmp_path, shared_data, monkeypatch, capsys):
    code, _, err = _main(["backtest", "--system", "swing", "--ml", "off", "--data", str(shared_data / "equities"),
                          "--out", str(tmp_path / "run"), "--no-png"], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    rep = json.loads((tmp_path / "run" / "report.json").read_text())
    assert rep["system"] == "swing" and len(rep["symbols"]) == 10 and rep["extra"]["env"] == "backtest"
    tr = rep["extra"]["tranches"]
    assert set(tr["filled"]) == {"1", "2", "3"} and sum(tr["filled"].values()) == rep["metrics"]["trades"]
    assert set(rep["by_pair"]) == set(rep["symbols"])
    assert rep["config"]["swing"]["tranches"] == 3
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Scale-in tranches" in html
    assert "3 tr." in err and "SPY" in err  # the per-symbol table with tranche columns


def test_backtest_swing_synthetic_and_the_guard_without_a_model(tmp_path, monkeypatch, capsys, caplog):
    code, _, err = _main(["backtest", "--system", "swing", "--out", str(tmp_path / "run"), "--no-png"], tmp_path,
                         monkeypatch, capsys)
    assert code == 0, err
    rep = json.loads((tmp_path / "run" / "report.json").read_text())
    assert rep["symbols"][0] == "SPY" and rep["extra"]["ml_guard"]["state"] == "no_model"
    assert rep["metrics"]["trades"] == 0                     # blocked: no promoted swing model
    assert "no trades: the ML guard blocks entries" in err
    assert any("[backtest]" in r.getMessage() and "no promoted swing model" in r.getMessage() for r in caplog.records)
    code, _, err = _main(["backtest", "--system", "swing", "--ml", "rules-only", "--out", str(tmp_path / "r2"),
                          "--no-png", "--quiet"], tmp_path, monkeypatch, capsys)
    assert code == 0 and json.loads((tmp_path / "r2" / "report.json").read_text())["metrics"]["trades"] > 10, err


def test_paper_swing_replays_daily_bars_into_its_own_ledger(tmp_path, monkeypatch, capsys):
    code, out, err = _main(["paper", "--system", "swing", "--ml", "off", "--max-bars", "400", "--quiet"], tmp_path,
                           monkeypatch, capsys)
    assert code == 0, err
    res = json.loads(out.strip().splitlines()[-1])
    assert res["system"] == "swing" and res["env"] == "paper" and res["bars"] == 400 and res["reconciled"]
    assert res["fills"] > 0
    assert Path(res["ledger"]) == tmp_path / "home" / "paper" / "swing" / "ledger.sqlite"
    assert not (tmp_path / "home" / "paper" / "ledger.sqlite").exists()   # crypto's stays untouched
    audit = tmp_path / "home" / "paper" / "swing" / "ledger.sqlite.audit.jsonl"
    from tradejet.io.audit import read_records

    started = [r for r in read_records(audit) if r.event == "paper_started"]
    assert started[0].data["env"] == "paper" and started[0].data["system"] == "swing"
    # the operator's reconcile rebuilds the swing run and finds the ledger clean
    code, out, err = _main(["reconcile", "--ledger", res["ledger"]], tmp_path, monkeypatch, capsys)
    assert code == 0 and "clean" in out, out + err


def test_run_us_paper_swing_script(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRADEJET_HOME=str(tmp_path), TRADEJET_SPEED="max",
               PYTHON=sys.executable, TRADEJET_SWING_ML="off")
    env.pop("TRADEJET_EQUITY_DATA_DIR", None)
    out = subprocess.run([str(ROOT / "scripts" / "run_us_paper_swing.sh"), "--max-bars", "300", "--quiet"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["bars"] == 300 and res["reconciled"] is True and res["system"] == "swing"
    assert Path(res["ledger"]) == tmp_path / "paper" / "swing" / "ledger.sqlite"


@pytest.mark.parametrize(("args", "words"), [
    (["--system", "stocks"], "invalid choice: 'stocks'"),
    (["--system", "swing", "--ml", "maybe"], "invalid choice: 'maybe'"),
])
def test_bad_cli_values_are_named(tmp_path, monkeypatch, capsys, args, words):
    code, _, err = _main(["backtest", *args], tmp_path, monkeypatch, capsys)
    assert code != 0 and words in err


def test_bad_swing_config_file_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "c.toml").write_text("[swing]\nmax_open_symbols = 0\n")
    code, _, err = _main(["backtest", "--system", "swing", "--config", str(tmp_path / "c.toml")], tmp_path,
                         monkeypatch, capsys)
    assert code != 0 and "swing.max_open_symbols" in err


def test_equity_folder_without_equity_files_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    code, _, err = _main(["backtest", "--system", "swing", "--data", str(tmp_path / "empty")], tmp_path,
                         monkeypatch, capsys)
    assert code != 0 and "<TICKER>_<timeframe>" in err
