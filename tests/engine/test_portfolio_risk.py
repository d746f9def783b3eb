"""Portfolio risk end to end: the limits on real data, the replayed risk view, the report, the config."""

from __future__ import annotations

import asyncio
import importlib.util
import json

import msgspec
import numpy as np
import pytest

from tradejet.config import Config, PortfolioRiskConfig, load_config
from tradejet.engine.report import report_schema, write_report
from tradejet.engine.riskview import RiskMonitor, portfolio_risk, return_correlation
from tradejet.engine.simulate import MarketBars, run
from tradejet.engine.sources import load_bars
from tradejet.engine.summary import to_report
from tradejet.errors import ConfigError
from tradejet.io.synthetic import synthetic_market
from tradejet.kernels.codes import REJECT_TEXT, Reject
from tradejet.testing.paper import build_paper

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _limits(cfg: Config, **kw) -> Config:
    return msgspec.structs.replace(cfg, risk=msgspec.structs.replace(cfg.risk, portfolio=PortfolioRiskConfig(**kw)))


@pytest.fixture(scope="module")
def synthetic():
    return MarketBars.from_synthetic(synthetic_market(days=90, timeframe="1h", seed=11))


@pytest.fixture(scope="module")
def majors(shared_data, tmp_path_factory):
    d = tmp_path_factory.mktemp("majors")
    for f in sorted((shared_data / "crypto" / "binance").glob("*USDT_1h_*_2022-10.csv*")):
        (d / f.name).symlink_to(f)
    bars, _ = load_bars(d)
    assert len(bars.symbols) == 10
    return bars


def _compare_module():
    spec = importlib.util.spec_from_file_location("portfolio_risk_compare", ROOT / "scripts" / "portfolio_risk_compare.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_limits_change_what_the_engine_does_in_the_2022_selloff(majors):
    """The done-when: the desk-style limits on the ten majors, 2022-04..07 (LUNA, 3AC): shallower drawdown."""
    ns = lambda s: int(np.datetime64(s, "ns").astype(np.int64))  # noqa: E731
    bars = majors.slice_time(ns("2022-04-01"), ns("2022-07-31"))
    out = _compare_module().compare(bars)
    w, wo = out["with"], out["without"]
    assert sum(w["refused"].values()) > 100 and not wo["refused"]
    assert w["max_drawdown"] > wo["max_drawdown"] + 0.05  # drawdowns are negative: at least 5 points shallower
    assert w["worst_block_loss"] < wo["worst_block_loss"]
    assert w["mean_var_1bar"] < wo["mean_var_1bar"]


def test_var_limit_alone_cuts_the_days_beyond_it(majors):
    ns = lambda s: int(np.datetime64(s, "ns").astype(np.int64))  # noqa: E731
    bars = majors.slice_time(ns("2021-01-01"), ns("2021-12-31"))
    out = _compare_module().compare(bars, {"max_var_share": 0.04})
    w, wo = out["with"], out["without"]
    assert set(w["refused"]) == {REJECT_TEXT[Reject.VAR_LIMIT]}
    assert w["blocks_loss_over_0.04"] < wo["blocks_loss_over_0.04"]


def test_online_monitor_counts_what_the_replay_counts(synthetic):
    """The paper status's online VaR backtest == the report's replay of the compiled run, bar for bar."""
    cfg = _limits(Config(), cluster_corr=0.5, target_vol=0.03)
    res = run(synthetic, cfg)
    risk, series = portfolio_risk(res, cfg)
    eng, _ = build_paper(synthetic, cfg)
    mon = RiskMonitor(cfg, len(synthetic.symbols))
    vars_ = []

    def on_bar(e):
        mon.on_bar(e)
        vars_.append(mon.var / mon.equity)

    asyncio.run(eng.run(on_bar_done=on_bar))
    np.testing.assert_allclose(np.array(vars_), series.var, rtol=1e-9, atol=1e-15)
    assert risk.bars_at_risk > 100 and risk.breaches > 0
    assert (mon.bars_at_risk, mon.breaches) == (risk.bars_at_risk, risk.breaches)
    assert mon.kupiec()[1] == pytest.approx(risk.kupiec_p)
    # Euler: the contributions of the current book sum to one
    if mon.var > 0:
        assert mon.contribution_pair.sum() == pytest.approx(1.0)
        assert mon.contribution_strategy.sum() == pytest.approx(1.0)
    assert sum(risk.contribution_pair.values()) == pytest.approx(1.0)
    assert sum(risk.contribution_strategy.values()) == pytest.approx(1.0)


def test_breach_count_by_hand(synthetic):
    cfg = Config()
    res = run(synthetic, cfg)
    risk, s = portfolio_risk(res, cfg)
    eq = res.equity
    loss = (eq[:-1] - eq[1:]) / eq[:-1]
    v = s.var[:-1]
    m = np.isfinite(v) & (v > 0)
    assert risk.bars_at_risk == int(m.sum()) and risk.breaches == int((loss[m] > v[m]).sum())
    from scipy.stats import chi2

    assert risk.kupiec_p == pytest.approx(chi2.sf(risk.kupiec_lr, 1), rel=1e-9)
    assert risk.expected_breaches == pytest.approx(0.01 * risk.bars_at_risk)


def test_return_correlation_matches_numpy():
    rng = np.random.default_rng(1)
    C = 100 * np.cumprod(1 + rng.normal(0, 0.01, (300, 4)) @ np.array([[1, .5, 0, 0], [0, 1, .3, 0], [0, 0, 1, 0],
                                                                         [0, 0, 0, 1.]]), axis=0)
    R = C[1:] / C[:-1] - 1
    np.testing.assert_allclose(return_correlation(C), np.corrcoef(R.T), rtol=1e-12)
    C[:100, 3] = np.nan  # listed later: pairwise over the bars both have
    got = return_correlation(C)
    np.testing.assert_allclose(got[0, 3], np.corrcoef(R[100:, 0], R[100:, 3])[0, 1], rtol=1e-12)


def test_report_has_var_heatmap_and_contributions(synthetic, tmp_path):
    cfg = _limits(Config(), cluster_corr=0.5, target_vol=0.03)
    res = run(synthetic, cfg)
    report, series = to_report(res, cfg, title="risk")
    out = write_report(tmp_path / "r", report, series, png=False)
    js = json.loads((out / "report.json").read_text())
    pr = js["portfolio_risk"]
    assert pr["bars_at_risk"] > 0 and len(pr["correlation"]) == len(res.symbols)
    assert pr["limits"]["cluster_corr"] == 0.5 and pr["refused"][REJECT_TEXT[Reject.VOL_TARGET]] >= 0
    assert set(pr["contribution_strategy"]) <= {"trend_following", "mean_reversion", "breakout", "momentum_rotation",
                                                "ml_signal", "defensive"}
    assert all(pr["correlation"][i][i] == pytest.approx(1.0) for i in range(len(res.symbols)))
    page = (out / "report.html").read_text()
    for marker in ('data-chart="VaR against losses"', 'data-chart="correlation heatmap"', "Risk contribution",
                   "Kupiec"):
        assert marker in page
    assert page.count('<rect class="corr"') == len(res.symbols) ** 2
    assert "portfolio_risk" in json.dumps(report_schema())


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("[risk.portfolio]\nvar_level = 1.0\n", "risk.portfolio.var_level", "<"),
        ("[risk.portfolio]\nmax_var_share = -0.1\n", "risk.portfolio.max_var_share", ">"),
        ("[risk.portfolio]\ncluster_corr = 1.5\n", "risk.portfolio.cluster_corr", "<="),
        ("[risk.portfolio]\ntarget_vol = \"high\"\n", "risk.portfolio.target_vol", "Expected"),
        ("[risk.portfolio]\nmax_vars = 0.1\n", "risk.portfolio", "unknown field `max_vars`"),
        ("[risk.portfolio]\nmax_cluster_share = 0.3\n", "risk.portfolio", "cluster_corr is not"),
        ("[risk.portfolio]\nmin_bars = 1\n", "risk.portfolio.min_bars", ">="),
    ],
)
def test_bad_portfolio_config_is_named(tmp_path, text, key, fragment):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_config(f, env={})
    assert key in str(ei.value) and str(f) in str(ei.value) and fragment in str(ei.value), str(ei.value)


def test_portfolio_config_defaults_are_off_and_load_from_toml(tmp_path):
    assert not Config().risk.portfolio.enabled
    f = tmp_path / "c.toml"
    f.write_text("[risk.portfolio]\nmax_var_share = 0.06\ncluster_corr = 0.7\nhorizon_bars = 6\n")
    pc = load_config(f, env={}).risk.portfolio
    assert pc.enabled and (pc.max_var_share, pc.cluster_corr, pc.horizon_bars, pc.target_vol) == (0.06, 0.7, 6, None)


def test_paper_status_and_json_carry_the_online_var_backtest(tmp_path, capsys):
    """`tradejet paper` with the limits on: the final JSON line and the status show VaR, breaches, Kupiec."""
    from rich.console import Console

    from tradejet.cli import main
    from tradejet.commands import paper as paper_cmd

    cfg = tmp_path / "c.toml"
    cfg.write_text("[risk.portfolio]\ncluster_corr = 0.5\ntarget_vol = 0.03\n")
    argv = ["paper", "--synthetic", "--ledger", str(tmp_path / "l.sqlite"), "--quiet", "--max-bars", "1500",
            "--config", str(cfg)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    risk = out["risk"]
    assert risk["var_level"] == 0.99 and 0 < risk["bars_at_risk"] < 1500
    assert 0 <= risk["breaches"] <= risk["bars_at_risk"] and 0.0 <= risk["kupiec_p"] <= 1.0
    # the same numbers as the replay of a compiled run over the same 1500 bars
    from tradejet.config import load_config

    c = load_config(cfg, env={})
    bt = c.backtest
    bars = MarketBars.from_synthetic(synthetic_market(days=bt.synthetic_days, timeframe=bt.timeframe,
                                                      seed=bt.synthetic_seed))
    bars = bars.slice_time(None, int(bars.ts[1499]))
    rep, _ = portfolio_risk(run(bars, c), c)
    assert (risk["bars_at_risk"], risk["breaches"]) == (rep.bars_at_risk, rep.breaches)
    # the rendered status has the risk tables
    eng, venue = build_paper(bars, c)
    st = paper_cmd._Status(eng, venue, bars.n_bars, "t", c.backtest.initial_cash)
    asyncio.run(eng.run(on_bar_done=st.risk.on_bar))
    con = Console(record=True, width=160)
    con.print(st.render())
    text = con.export_text()
    assert "portfolio risk" in text and "VaR breaches" in text and "Kupiec" in text and "correlation" in text


@pytest.mark.parametrize("name", ["tradejet.kernels.portrisk", "tradejet.engine.risk", "tradejet.engine.riskview"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(name))
    assert res.attempted > 0 and res.failed == 0
