"""Metrics against plain NumPy computations and empyrical-reloaded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tradejet.kernels import metrics as M
from tradejet.kernels.metrics import GroupReturnMetric as GR
from tradejet.kernels.metrics import GroupTradeMetric as GT
from tradejet.kernels.metrics import Metric

# rounded so squares do not underflow (a 1e-264 return is not a market return)
rets = arrays(np.float64, st.integers(2, 300), elements=st.floats(-0.2, 0.2).map(lambda x: round(x, 10)))


def np_sharpe(r, ppy):
    return r.mean() / r.std(ddof=1) * np.sqrt(ppy)


def np_sortino(r, ppy):
    return r.mean() * ppy / (np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * np.sqrt(ppy))


def np_max_drawdown(value):
    peak = np.maximum.accumulate(value)
    return (value / peak - 1).min()


@given(rets, st.sampled_from([252.0, 365.0, 525600.0]))
def test_return_metrics_match_numpy(r, ppy):
    assert M.total_return_nb(r) == pytest.approx(np.prod(1 + r) - 1, rel=1e-9, abs=1e-12)
    with np.errstate(over="ignore"):
        expected = np.prod(1 + r) ** (ppy / r.size) - 1  # inf when a big gain compounds over a tiny span
    assert M.cagr_nb(r, ppy) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    std = r.std(ddof=1)
    if std > 1e-12:
        assert M.ann_volatility_nb(r, ppy) == pytest.approx(std * np.sqrt(ppy), rel=1e-9)
        assert M.sharpe_nb(r, ppy) == pytest.approx(np_sharpe(r, ppy), rel=1e-7, abs=1e-9)
    if (r < 0).any():
        assert M.sortino_nb(r, ppy) == pytest.approx(np_sortino(r, ppy), rel=1e-9, abs=1e-12)


@given(rets)
def test_max_drawdown_matches_numpy_and_its_episode_is_consistent(r):
    value = np.concatenate([[1.0], np.cumprod(1 + r)])
    mdd, peak, trough, rec, dur = M.max_drawdown_nb(value)
    assert mdd == pytest.approx(np_max_drawdown(value), rel=1e-12, abs=1e-15)
    if mdd < 0:
        assert peak < trough and value[peak] == value[: trough + 1].max()
        assert value[trough] / value[peak] - 1 == mdd
        if rec >= 0:
            assert value[rec] >= value[peak] and (value[trough:rec] < value[peak]).all()
            assert dur == rec - peak
        else:
            assert (value[trough:] < value[peak]).all() and dur == value.size - 1 - peak


def test_drawdown_hand_case():
    v = np.array([100.0, 120.0, 90.0, 110.0, 125.0, 100.0])
    mdd, peak, trough, rec, dur = M.max_drawdown_nb(v)
    assert (mdd, peak, trough, rec, dur) == (pytest.approx(-0.25), 1, 2, 4, 3)
    assert M.max_drawdown_nb(np.array([1.0, 2.0, 3.0])) == (0.0, 0, 0, 0, 0)
    # never recovered: duration runs to the last bar
    assert M.max_drawdown_nb(np.array([1.0, 3.0, 2.0, 2.5]))[3:] == (-1, 2)


def test_trade_stats_hand_case():
    n, win, pf, avg = M.trade_stats_nb(np.array([10.0, -5.0, 20.0, -5.0, 0.0]))
    assert (n, win, pf, avg) == (5, 0.4, 3.0, 4.0)
    assert M.trade_stats_nb(np.array([1.0, 2.0]))[2] == np.inf
    n, win, pf, avg = M.trade_stats_nb(np.empty(0))
    assert n == 0 and np.isnan(win) and np.isnan(pf) and np.isnan(avg)


def test_undefined_metrics_are_nan():
    one = np.array([0.01])
    assert np.isnan(M.sharpe_nb(one, 365.0)) and np.isnan(M.ann_volatility_nb(one, 365.0))
    assert np.isnan(M.sharpe_nb(np.zeros(5), 365.0))
    assert M.sortino_nb(np.array([0.01, 0.02]), 365.0) == np.inf
    assert np.isnan(M.cagr_nb(np.empty(0), 365.0))
    assert M.cagr_nb(np.array([-1.0, 0.5]), 365.0) == -1.0


def test_periods_per_year_knows_crypto_and_equity_calendars():
    minute, hour, day = 60 * 10**9, 3600 * 10**9, 86400 * 10**9
    assert M.periods_per_year(day) == 365 and M.periods_per_year(day, "equities") == 252
    assert M.periods_per_year(minute) == 365 * 1440
    assert M.periods_per_year(hour, "equities") == 252 * 6.5
    assert M.periods_per_year(5 * minute, "equities") == 252 * 78
    assert M.periods_per_year(7 * day, "equities") == pytest.approx(252 / 5)
    assert M.periods_per_year(7 * day) == pytest.approx(365 / 7)
    with pytest.raises(ValueError, match="calendar must be 'crypto' or 'equities', was 'forex'"):
        M.periods_per_year(day, "forex")
    with pytest.raises(ValueError, match="bar_ns must be > 0, was 0"):
        M.periods_per_year(0)


def test_summary_matches_numpy_on_a_real_equity_curve(shared_data):
    """SMA crossover on real BTC 1h bars through from_signals, metrics recomputed in NumPy."""
    from tests.engine.test_from_signals import crossover, load_close
    from tradejet.engine.backtest import from_signals

    close = load_close(shared_data / "crypto/binance/BTCUSDT_1h_2024-09_2026-02.csv")
    e, x = crossover(close)
    res = from_signals(close, e, x, fee=0.0026, init_cash=1000.0)
    pos = np.zeros(close.size)
    for (a, b, sz, op) in zip(res.trades.entry_idx, res.trades.exit_idx, res.trades.size, res.trades.is_open):
        pos[a: b + 1 if op else b] = sz
    np.testing.assert_array_equal(res.positions(), pos)
    moved = np.r_[False, np.diff(res.value) != 0]
    traded = np.isin(np.arange(close.size), res.orders.idx)
    assert not (moved & ~np.r_[False, pos[:-1] != 0] & ~traded).any()  # equity moves only when held or traded
    notional = res.orders.size * res.orders.price
    ppy = M.periods_per_year(3600 * 10**9)
    s = M.summarize(res.value, 1000.0, pos, res.trades.pnl, notional, res.orders.fee, ppy)
    r = np.diff(np.concatenate([[1000.0], res.value])) / np.concatenate([[1000.0], res.value[:-1]])
    assert s["total_return"] == pytest.approx(res.value[-1] / 1000 - 1, rel=1e-12)
    assert s["cagr"] == pytest.approx((res.value[-1] / 1000) ** (ppy / r.size) - 1, rel=1e-9)
    assert s["ann_volatility"] == pytest.approx(r.std(ddof=1) * np.sqrt(ppy), rel=1e-9)
    assert s["sharpe"] == pytest.approx(np_sharpe(r, ppy), rel=1e-9)
    assert s["sortino"] == pytest.approx(np_sortino(r, ppy), rel=1e-9)
    mdd = np_max_drawdown(np.concatenate([[1000.0], res.value]))
    assert s["max_drawdown"] == pytest.approx(mdd, rel=1e-12)
    assert s["calmar"] == pytest.approx(s["cagr"] / -mdd, rel=1e-12)
    pnl = res.trades.pnl
    assert s["n_trades"] == pnl.size > 20
    assert s["win_rate"] == pytest.approx((pnl > 0).mean())
    assert s["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum(), rel=1e-12)
    assert s["avg_trade"] == pytest.approx(pnl.mean(), rel=1e-9)
    assert s["exposure"] == pytest.approx((pos != 0).mean())
    assert s["turnover"] == pytest.approx(notional.sum() / res.value.mean(), rel=1e-12)
    assert s["fees"] == pytest.approx(res.orders.fee.sum(), rel=1e-12)
    assert s["max_drawdown_bars"] > 0
    assert res.metrics(ppy) == s


def test_summary_matches_empyrical():
    ep = pytest.importorskip("empyrical", reason="empyrical-reloaded not installed")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    for ppy in (252.0, 365.0, 8760.0):
        r = rng.normal(0.0005, 0.02, 2000)
        value = 50.0 * np.cumprod(1 + r)
        s = M.summarize(value, 50.0, np.ones(r.size), np.empty(0), np.empty(0), np.empty(0), ppy)
        rs = pd.Series(r)
        assert s["total_return"] == pytest.approx(ep.cum_returns_final(rs), rel=1e-9)
        assert s["cagr"] == pytest.approx(ep.cagr(rs, annualization=ppy), rel=1e-9)
        assert s["ann_volatility"] == pytest.approx(ep.annual_volatility(rs, annualization=ppy), rel=1e-9)
        assert s["sharpe"] == pytest.approx(ep.sharpe_ratio(rs, annualization=ppy), rel=1e-9)
        assert s["sortino"] == pytest.approx(ep.sortino_ratio(rs, annualization=ppy), rel=1e-9)
        assert s["max_drawdown"] == pytest.approx(ep.max_drawdown(rs), rel=1e-9)
        assert s["calmar"] == pytest.approx(ep.calmar_ratio(rs, annualization=ppy), rel=1e-9)


@given(st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_group_breakdowns_equal_metrics_of_each_subset(seed, n_groups):
    rng = np.random.default_rng(seed)
    n = 400
    r = rng.normal(0, 0.01, n)
    labels = rng.integers(-1, n_groups, n)  # -1: left out
    ppy = 365.0
    g = M.return_metrics_by_group_nb(r, labels, n_groups, ppy)
    pnl, fees, notional = rng.normal(0, 1, n), rng.random(n) * 0.1, rng.normal(0, 100, n)
    t = M.trade_metrics_by_group_nb(pnl, fees, notional, labels, n_groups)
    for k in range(n_groups):
        m = labels == k
        sub = r[m]
        assert g[k, GR.N_BARS] == m.sum()
        if m.sum() >= 2:
            assert g[k, GR.TOTAL_RETURN] == pytest.approx(np.prod(1 + sub) - 1, rel=1e-9, abs=1e-12)
            assert g[k, GR.ANN_VOLATILITY] == pytest.approx(M.ann_volatility_nb(sub, ppy), rel=1e-9)
            assert g[k, GR.SHARPE] == pytest.approx(M.sharpe_nb(sub, ppy), rel=1e-7, abs=1e-9)
            assert g[k, GR.SORTINO] == pytest.approx(M.sortino_nb(sub, ppy), rel=1e-7, abs=1e-9)
        n_tr, win, pf, avg = M.trade_stats_nb(pnl[m])
        assert t[k, GT.N_TRADES] == n_tr
        if n_tr:
            assert (t[k, GT.WIN_RATE], t[k, GT.AVG_TRADE]) == (pytest.approx(win), pytest.approx(avg))
            assert t[k, GT.PROFIT_FACTOR] == pytest.approx(pf)
        assert t[k, GT.TOTAL_PNL] == pytest.approx(pnl[m].sum(), abs=1e-9)
        assert t[k, GT.FEES] == pytest.approx(fees[m].sum(), abs=1e-12)
        assert t[k, GT.NOTIONAL] == pytest.approx(np.abs(notional[m]).sum())
    # the groups partition the labelled trades
    assert t[:, GT.TOTAL_PNL].sum() == pytest.approx(pnl[labels >= 0].sum(), abs=1e-9)


def test_summary_indices_cover_every_name():
    assert len(Metric) == len(M.METRIC_NAMES) == M.N_METRICS
    assert M.METRIC_NAMES[Metric.SHARPE] == "sharpe"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(value=[]), "value must not be empty"),
        (dict(value=[1.0, np.nan]), "value must be finite, was nan at index 1"),
        (dict(value=[1.0, -1.0]), "value must be > 0, was -1.0 at index 1"),
        (dict(start_value=0.0), "start_value must be finite and > 0, was 0.0"),
        (dict(position=[1.0]), "position must have the length of value (2), was 1"),
        (dict(trade_pnl=[np.inf]), "trade_pnl must be finite, was inf at index 0"),
        (dict(periods_per_year=-1), "periods_per_year must be finite and > 0, was -1.0"),
        (dict(order_fees=[[1.0]]), "order_fees must be 1-D, was shape (1, 1)"),
    ],
)
def test_summarize_rejects_broken_input(kwargs, fragment):
    args = dict(value=[1.0, 1.1], start_value=1.0, position=[0.0, 1.0], trade_pnl=[0.1], order_notional=[1.0],
                order_fees=[0.0], periods_per_year=365.0)
    args.update(kwargs)
    if "value" in kwargs and len(kwargs["value"]) != 2:
        args["position"] = [0.0] * len(kwargs["value"])
    with pytest.raises(ValueError) as ei:
        M.summarize(**args)
    assert fragment in str(ei.value)
