"""Smoke test of ``tradejet bench latency`` on tiny sizes: figures written, --save/--check wired (no timing asserted)."""

from __future__ import annotations

import argparse
import json

from tradejet.bench import latency as suite


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    suite.add_arguments(p)
    return p.parse_args(list(argv))


def test_save_then_check(tmp_path):
    base = tmp_path / "base.json"
    assert suite.run(_args("--events", "300", "--warmup", "200", "--save", str(base))) == 0
    res = json.loads(base.read_text())
    assert res["events"] == 300 and res["symbols"] == 10 and res["orders"] > 0 and res["ml_score"] is True
    for clock in ("cross_section_us", "last_bar_us", "per_bar_per_symbol_us"):
        r = res[clock]
        assert 0 < r["p50"] <= r["p99"] <= r["p99.9"] <= r["max"]
    assert res["reference_ns"] > 0 and res["normalised_p99"] > 0
    # a baseline 1000x faster than anything possible: the check must fail with exit code 1
    res["normalised_p99"] /= 1000.0
    fast = tmp_path / "fast.json"
    fast.write_text(json.dumps(res))
    out = tmp_path / "o.json"
    assert suite.run(_args("--events", "300", "--warmup", "200", "--check", str(fast), "--json", str(out))) == 1
    assert json.loads(out.read_text())["check"]["ok"] is False
