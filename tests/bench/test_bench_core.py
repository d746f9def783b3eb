"""``tradejet bench core`` runs, checks parity and writes JSON (tiny sizes; no timing asserted)."""

from __future__ import annotations

import argparse
import json

from tradejet.bench import core


def test_bench_core_runs_with_parity(tmp_path, capsys):
    p = argparse.ArgumentParser()
    core.add_arguments(p)
    out = tmp_path / "core.json"
    args = p.parse_args(["--n", "300", "--repeat", "1", "--json", str(out)])
    assert core.run(args) == 0
    result = json.loads(out.read_text())
    assert [r["name"] for r in result["rows"]] == ["schedule state / timestamp", "portfolio fill", "risk check / intent"]
    assert all(r["parity"] for r in result["rows"])
    assert "tradejet bench core" in capsys.readouterr().out
