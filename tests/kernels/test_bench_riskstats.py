import json

from tradejet.cli import main


def test_riskstats_bench_runs_small_and_checks_parity(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["bench", "riskstats", "--bars", "3000", "--symbols", "3", "--window", "100", "--repeat", "1",
                 "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["case"].split(",")[0] for r in data["rows"]] == ["rolling cov 3x3", "rolling historical VaR+CVaR"]
    assert all(r["parity_max_rel_diff"] < 1e-9 for r in data["rows"])
    assert "speedup" in capsys.readouterr().out


def test_riskstats_bench_refuses_bad_sizes(capsys):
    assert main(["bench", "riskstats", "--bars", "10", "--window", "100"]) == 2
