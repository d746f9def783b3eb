"""``tradejet data ...`` end to end: through ``cli.main`` and, for exit codes and stderr, a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tradejet.cli import main
from tradejet.io.store import BarStore

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_179_200


def run_cli(*args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tradejet", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=ROOT)


def test_import_list_show_resample_on_the_real_files(shared_data, tmp_path, capsys):
    store = tmp_path / "store"
    src = shared_data / "crypto" / "kraken" / "XBTUSDT_1m_2023-11-17_22.csv"
    assert main(["data", "import", str(src), "--symbol", "XBT/USDT", "--timeframe", "1m", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "5388 rows imported, 0 rejected; XBT/USDT 1m @ kraken: 5388 bars added" in out
    trades = shared_data / "crypto" / "kraken_trades" / "XBTUSDT_trades_2023-11-17_22.csv.gz"
    assert main(["data", "import", str(trades), "--symbol", "XBT/USDT", "--timeframe", "1h", "--venue", "trades",
                 "--store", str(store)]) == 0
    capsys.readouterr()
    assert main(["data", "resample", "xbt-usdt", "--from", "1m", "--to", "1h", "--venue", "kraken",
                 "--store", str(store)]) == 0
    assert "5388 1m bars -> 129 1h bars" in capsys.readouterr().out
    # the 1h built from 1m bars equals the 1h built from trades
    s = BarStore(store)
    a, b = s.read("kraken", "XBT/USDT", "1h"), s.read("trades", "XBT/USDT", "1h")
    assert a["ts"].tolist() == b["ts"].tolist() and a["close"].tolist() == b["close"].tolist()
    assert main(["data", "list", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if "XBT/USDT" in ln]
    assert len(lines) == 3
    row_1m = next(ln for ln in lines if " 1m " in ln)
    for cell in ("kraken", "2023-11-17T00:00:00Z", "2023-11-22T08:41:00Z", "5388", "2334"):
        assert cell in row_1m
    assert main(["data", "show", "XBT/USDT", "--timeframe", "1h", "--last", "3", "--venue", "kraken",
                 "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "last 3 of 129" in out
    assert "2023-11-22T08:00:00Z" in out and "2023-11-22T06:00:00Z" in out and "2023-11-22T05:00:00Z" not in out


def test_default_store_is_under_tradejet_home(tmp_path):
    f = tmp_path / "k.csv"
    f.write_text(f"{T0},1,2,0.5,1.5,3,4\n")
    r = run_cli("data", "import", f, "--symbol", "A/B", "--timeframe", "1m", env_extra={"TRADEJET_HOME": str(tmp_path / "home")})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "home" / "data" / "kraken" / "A%2FB" / "1m" / "bars.parquet").exists()


def test_quarantine_report_and_strict_exit(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(f"{T0},1,2,0.5,1.5,3,4\n{T0 + 60},1,0.4,0.5,0.45,1,1\n{T0 + 120},1,2,0.5,1.5,-3,4\n")
    store = tmp_path / "s"
    r = run_cli("data", "import", f, "--symbol", "A/B", "--timeframe", "1m", "--store", store)
    assert r.returncode == 0, r.stderr
    assert "1 rows imported, 2 rejected (high < low: 1, open outside [low, high]: 1, " \
           "close outside [low, high]: 1, volume < 0: 1)" in r.stdout
    assert (store / "rejected" / "bad.csv.rejected.csv").exists()
    r = run_cli("data", "import", f, "--symbol", "A/B", "--timeframe", "1m", "--store", tmp_path / "s2", "--strict")
    assert r.returncode == 2
    assert r.stderr.strip() == f"tradejet: error: {f}: line 2: high < low: high = 0.4, low = 0.5"
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s2" / "kraken").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["data", "import", "{tmp}/missing.csv", "--symbol", "A/B", "--timeframe", "1m"], "missing.csv: cannot read file"),
    (["data", "import", "{tmp}/k.csv", "--symbol", "A B", "--timeframe", "1m"], "symbol must look like BASE/QUOTE"),
    (["data", "import", "{tmp}/k.csv", "--symbol", "A/B", "--timeframe", "7x"], "timeframe must look like"),
    (["data", "import", "{tmp}/k.csv", "--symbol", "A/B", "--timeframe", "1m", "--format", "csv"],
     "expected a header line"),
    (["data", "show", "A/B", "--timeframe", "1h"], "no 1h bars for A/B in the store"),
    (["data", "show", "A/B", "--timeframe", "1m", "--last", "0"], "--last must be >= 1"),
    (["data", "resample", "A/B", "--from", "1h", "--to", "1m"], "--to must be a whole multiple of --from"),
    (["data", "resample", "C/D", "--from", "1m", "--to", "1h"], "no 1m bars for C/D"),
])
def test_errors_exit_2_with_one_line(tmp_path, args, message):
    (tmp_path / "k.csv").write_text(f"{T0},1,2,0.5,1.5,3,4\n")
    store = tmp_path / "s"
    assert run_cli("data", "import", tmp_path / "k.csv", "--symbol", "A/B", "--timeframe", "1m",
                   "--store", store).returncode == 0
    r = run_cli(*[a.format(tmp=tmp_path) for a in args], "--store", store)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tradejet: error: ") and message in lines[0], r.stderr


def test_debug_shows_the_traceback(tmp_path):
    r = run_cli("--debug", "data", "show", "A/B", "--timeframe", "1h", "--store", tmp_path)
    assert r.returncode != 0
    assert "Traceback" in r.stderr and "DataError" in r.stderr


def test_synth_writes_the_demo_market(tmp_path, capsys):
    assert main(["data", "synth", "--days", "1", "--timeframe", "1h", "--symbols", "BTC/USD", "ETH/USD",
                 "--store", str(tmp_path)]) == 0
    assert "2 symbols x 24 1h bars; 48 bars added" in capsys.readouterr().out
    assert main(["data", "list", "--store", str(tmp_path)]) == 0
    assert "synthetic" in capsys.readouterr().out


def test_list_of_an_empty_store(tmp_path, capsys):
    assert main(["data", "list", "--store", str(tmp_path / "none")]) == 0
    assert "no bars in the store" in capsys.readouterr().out


def test_bench_data_smoke(tmp_path):
    out = tmp_path / "b.json"
    assert main(["bench", "data", "--rows", "3000", "--repeat", "1", "--appends", "2000", "--json", str(out)]) == 0
    import json

    res = json.loads(out.read_text())
    cases = [r["case"] for r in res["results"]]
    assert any(c.startswith("csv import 3,000 rows") for c in cases)
    assert any("ring append from numba" in c for c in cases) and any("record_batch(" in c for c in cases)
    assert any(c.startswith("store range read") for c in cases)
    assert all(r["tradejet"] > 0 for r in res["results"])
