"""``tradejet sweep``, ``tradejet sweep show`` and ``tradejet walkforward`` end to end on the real ten majors."""

from __future__ import annotations

import json

import pytest

from tradejet.cli import main

SWEEP = """
[sweep]
metric = "total_return"

[data]
path = "{data}"
pattern = "*USDT_1h_*_2022-10.csv*"
start = "{start}"
end = "{end}"

[params]
"strategies.trend_following.adx_min" = [15.0, 30.0]
"risk.max_drawdown" = [0.3, 1.0]
{extra}
"""


def write(tmp_path, shared_data, name="sweep.toml", start="2021-02-01", end="2021-03-01", extra=""):
    p = tmp_path / name
    p.write_text(SWEEP.format(data=shared_data / "crypto" / "binance", start=start, end=end, extra=extra))
    return p


def test_sweep_then_show(shared_data, tmp_path, capsys):
    cfg = write(tmp_path, shared_data)
    out = tmp_path / "out"
    assert main(["sweep", "--config", str(cfg), "--out", str(out), "--workers", "1"]) == 0
    cap = capsys.readouterr()
    assert cap.out.strip().splitlines()[-1] == str(out / "results.parquet")
    assert "4 tasks run (0 failed), 0 already done" in cap.err
    assert (out / "results.parquet").exists() and (out / "bars.arrow").exists()
    assert main(["sweep", "show", str(out), "--top", "2"]) == 0
    shown = capsys.readouterr().out
    assert "4/4 tasks, 0 failed, top 2 by total_return" in shown
    assert main(["sweep", "show", str(out), "--by", "sharpe"]) == 0
    assert "top 4 by sharpe" in capsys.readouterr().out


@pytest.mark.parametrize("extra, needle", [
    ('"strategies.trend_following.adx_mn" = [1.0]', "key strategies.trend_following.adx_mn"),
    ('"risk.max_pair_share" = [0.2, 12.0]', "key risk.max_pair_share"),
    ('"indicators.rsi" = ["fourteen"]', "key indicators.rsi"),
    ('"risk.max_drawdown" = [0.2', "not valid TOML"),
])
def test_bad_sweep_file_exits_2_naming_the_problem(shared_data, tmp_path, capsys, extra, needle):
    cfg = write(tmp_path, shared_data, extra=extra)
    assert main(["sweep", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and str(cfg) in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, needle", [
    (["--executor", "local", "--address", "127.0.0.1:6379"], "--address is for --executor ray"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--batch", "4"], "--batch is for --executor ray"),
    (["--executor", "ray", "--batch", "0"], "--batch must be >= 1"),
])
def test_bad_executor_arguments(shared_data, tmp_path, capsys, args, needle):
    cfg = write(tmp_path, shared_data)
    assert main(["sweep", "--config", str(cfg), *args]) == 2
    assert needle in capsys.readouterr().err


def test_walkforward_writes_its_report(shared_data, tmp_path, capsys):
    cfg = write(tmp_path, shared_data, start="2021-01-01", end="2021-07-01",
                extra='[walkforward]\nmode = "anchored"\ntrain = "60d"\ntest = "30d"\nmetric = "sharpe"\n'
                      'cscv_blocks = 6')
    out = tmp_path / "wf"
    assert main(["walkforward", "--config", str(cfg), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "report.html")
    page = (out / "report.html").read_text()
    for needle in ("Stitched out-of-sample equity", "Parameter stability across windows",
                   'data-chart="risk.max_drawdown"', "Probability of backtest overfitting", "Deflated Sharpe"):
        assert needle in page
    summary = json.loads((out / "walkforward.json").read_text())
    assert summary["windows"] == 5 and summary["trials"] == 4 and summary["mode"] == "anchored"
    assert 0.0 <= summary["pbo"] <= 1.0 and 0.0 <= summary["deflated_sharpe"] <= 1.0
    assert all(0 <= t < 4 for t in summary["chosen"])
    # no walk-forward section: a clear error
    plain = write(tmp_path, shared_data, name="plain.toml")
    assert main(["walkforward", "--config", str(plain), "--out", str(tmp_path / "x")]) == 2
    assert "needs a [walkforward] section" in capsys.readouterr().err
