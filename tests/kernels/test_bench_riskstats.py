import json

from tradejet.cli import main


def test_riskstats_bench_runs_small_and_checks_parity(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["bench", "riskstats", "--bars", "3000", "--symbols", "3", "--window", "100", "--repeat", "1",
                 "--intents", "2000", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["case"].split(",")[0] for r in data["rows"]] == ["rolling cov 3x3", "rolling historical VaR+CVaR"]
    assert all(r["parity_max_rel_diff"] < 1e-9 for r in data["rows"])
    sc = data["step_checks"]
    assert sc["pairs"] == 3 and sc["intents"] == 2000 and sum(sc["decisions"].values()) == 3
    assert sc["with_portfolio_ns"] > 0 and sc["base_check_ns"] > 0
    text = capsys.readouterr().out
    assert "speedup" in text and "portfolio checks in the step" in text


def test_riskstats_bench_refuses_bad_sizes(capsys):
    assert main(["bench", "riskstats", "--bars", "10", "--window", "100"]) == 2
    assert main(["bench", "riskstats", "--intents", "0"]) == 2
