"""Smoke test of ``tradejet bench sweep`` on two months of the real data, local only (no timing asserted)."""

from __future__ import annotations

import argparse
import json

import pytest

from tradejet.bench import sweep as suite


@pytest.mark.slow
def test_bench_sweep_local_smoke(shared_data, tmp_path, capsys):
    p = argparse.ArgumentParser()
    suite.add_arguments(p)
    out = tmp_path / "s.json"
    args = p.parse_args(["--data", str(shared_data / "crypto" / "binance"), "--start", "2021-01-01", "--end",
                         "2021-03-01", "--scaling-tasks", "6", "--overhead-tasks", "6", "--no-ray", "--json", str(out)])
    assert suite.run(args) == 0
    figs = json.loads(out.read_text())
    assert figs["local_1"]["tasks"] == figs["local_2"]["tasks"] == 6
    assert figs["local_1"]["tasks_per_s"] > 0 and figs["speedup_2_vs_1"] > 0
    assert figs["overhead_local"]["failed"] == 0
    assert "2 workers vs 1" in capsys.readouterr().out
