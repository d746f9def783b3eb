from __future__ import annotations

import json

from tradejet.cli import main


def test_bench_models_smoke(tmp_path, capsys):
    """The suite runs end to end with tiny sizes and writes its numbers (no timing asserted)."""
    out = tmp_path / "b.json"
    assert main(["bench", "models", "--rows", "200", "--sk-rows", "20", "--batch", "3000", "--repeat", "1", "--bars", "800",
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["parity_max_abs_diff"] <= 1e-5
    assert set(res["single"]) == {"tradejet", "onnxruntime bare", "scikit-learn"}
    assert res["batch"]["rows"] == 3000 and res["single_p50_speedup"] > 0
    assert "speedup vs scikit-learn" in capsys.readouterr().out
