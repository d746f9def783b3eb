"""`tradejet bench kernels` runs end to end on a tiny size and writes its JSON (no timed assertions)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("talib")


def test_bench_kernels_writes_the_table_as_json(tmp_path):
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-m", "tradejet", "bench", "kernels", "--sizes", "2000", "--repeat", "1",
                        "--indicator-repeat", "3", "--symbols", "2", "--skip-startup", "--json", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "rsi" in r.stdout and "ratio" in r.stdout
    res = json.loads(out.read_text())
    assert res["sizes"] == [2000] and res["repeat"] == 1 and res["indicator_repeat"] == 3
    assert res["parity_checked"] is True
    assert res["parity_ok"] is True
    names = [x["name"] for x in res["indicators"]]
    assert len(names) == 18 and {"sma", "adx", "stoch", "rolling_max"} <= set(names)
    for x in res["indicators"]:
        assert x["bars"] == 2000 and x["parity_ok"] and x["tradejet_ns_per_bar"] > 0 and x["talib_ns_per_bar"] > 0
        assert x["ratio"] == pytest.approx(x["tradejet_ns_per_bar"] / x["talib_ns_per_bar"])
        assert x["threads"] == 1  # below SPLIT_MIN bars
    # the bar is on the 1M-bar series: a 2000-bar run shows its ratios but judges none
    assert res["targets"]["judged_from_bars"] == 1_000_000 and "MISSED" not in r.stdout
    assert res["fused"][0]["features"] == 27 and res["fused"][0]["parity_ok"]
    f = res["fused"][0]
    assert f["store_floor_ns_per_bar"] == min(f["store_floor_bar_major_ns_per_bar"], f["store_floor_row_major_ns_per_bar"])
    assert 0 < f["store_floor_best_ns_per_bar"] <= f["store_floor_ns_per_bar"] and f["tradejet_ns_per_bar_beside_floor"] > 0
    assert "store floor (27 rows written by a trivial loop" in r.stdout
    assert res["fused_2d"][0]["symbols"] == 2 and res["fused_2d"][0]["parity_ok"]
    assert res["streaming"]["us_per_update"] > 0 and res["streaming"]["parity_ok"]
    assert "startup" not in res


def test_bench_kernels_refuses_bad_sizes():
    r = subprocess.run([sys.executable, "-m", "tradejet", "bench", "kernels", "--sizes", "10,x"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "--sizes must be comma-separated integers" in r.stderr


def test_bench_kernels_refuses_a_repeat_below_one():
    r = subprocess.run([sys.executable, "-m", "tradejet", "bench", "kernels", "--sizes", "200", "--indicator-repeat", "0"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "--indicator-repeat and --symbols must be >= 1" in r.stderr


def test_bench_kernels_runs_without_talib(tmp_path):
    # README's first command installs tradejet without the test extra: the bench must still run
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "talib.py").write_text("raise ImportError('TA-Lib hidden for this test')\n")
    out = tmp_path / "out.json"
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), os.getcwd()])}
    r = subprocess.run([sys.executable, "-m", "tradejet", "bench", "kernels", "--sizes", "500", "--repeat", "1",
                        "--symbols", "1", "--skip-startup", "--json", str(out)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "TA-Lib is not installed" in r.stdout
    res = json.loads(out.read_text())
    assert res["talib"] is False and res["parity_checked"] is False and res["parity_ok"] is True
    assert all(x["tradejet_ns_per_bar"] > 0 for x in res["indicators"])


def test_bench_kernels_thread_clock(tmp_path):
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-m", "tradejet", "bench", "kernels", "--sizes", "3000", "--repeat", "2",
                        "--symbols", "2", "--skip-startup", "--clock", "thread", "--json", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "this thread's CPU time" in r.stdout
    res = json.loads(out.read_text())
    assert res["clock"] == "thread" and res["parity_ok"] is True
    assert all(x["tradejet_ns_per_bar"] > 0 and x["talib_ns_per_bar"] > 0 for x in res["indicators"])
    assert res["fused_2d"][0]["tradejet_ns_per_bar_per_series"] > 0
