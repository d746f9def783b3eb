"""THE parity test (the guard of the one-step rule): compiled backtest == event driver + paper venue.

Same bars, same config: the same intents (accepted or refused, with the same risk codes),
the same fills (qty, price, fee, realized P&L, bar, order), the same equity and cash on
every bar. Bit-equal: both drivers call the same kernels in the same order.
"""

from __future__ import annotations

import asyncio
import random

import msgspec
import numpy as np
import pytest

from tradejet.config import Config
from tradejet.engine import Engine
from tradejet.engine.simulate import MarketBars, run
from tradejet.engine.sources import load_bars
from tradejet.io.ledger import Ledger
from tradejet.io.synthetic import synthetic_market
from tradejet.messages import Bar, BarsComplete, OrderFilled
from tradejet.testing.paper import FILL_COLUMNS, ORDER_COLUMNS, build_paper, fills_array, orders_array, run_paper


def _replace(cfg: Config, section: str, **kw) -> Config:
    return msgspec.structs.replace(cfg, **{section: msgspec.structs.replace(getattr(cfg, section), **kw)})


def assert_same(res, eng) -> None:
    fl, ol = fills_array(eng), orders_array(eng)
    assert len(fl["qty"]) == len(res.fills["qty"]), "fill counts differ"
    assert len(ol["qty"]) == len(res.orders["qty"]), "intent counts differ"
    for k in FILL_COLUMNS:
        np.testing.assert_array_equal(fl[k], res.fills[k].astype(np.float64), err_msg=f"fills.{k}")
    for k in ORDER_COLUMNS:
        np.testing.assert_array_equal(ol[k], res.orders[k].astype(np.float64), err_msg=f"orders.{k}")
    np.testing.assert_array_equal(np.array(eng.log.equity), res.equity)
    np.testing.assert_array_equal(np.array(eng.log.cash), res.cash)
    np.testing.assert_array_equal(np.array(eng.log.regime), res.regime)
    np.testing.assert_array_equal(np.array(eng.log.active), res.active)
    np.testing.assert_array_equal(np.array(eng.log.ts), res.ts)


@pytest.fixture(scope="module")
def synthetic():
    return MarketBars.from_synthetic(synthetic_market(days=120, timeframe="1h", seed=7))


@pytest.fixture(scope="module")
def alt_btc(shared_data, tmp_path_factory):
    """The ten Binance alt/BTC 5m files (one 20-day window, with the 2018-01-16 crash)."""
    d = tmp_path_factory.mktemp("altbtc")
    for f in sorted((shared_data / "crypto" / "binance").glob("*BTC_5m.csv")):
        (d / f.name).symlink_to(f)
    bars, _ = load_bars(d)
    assert len(bars.symbols) == 10
    return bars


def test_parity_synthetic(synthetic):
    cfg = Config()
    res = run(synthetic, cfg)
    eng = run_paper(synthetic, cfg)
    assert len(res.fills["qty"]) > 50  # the test means something only if it trades
    assert_same(res, eng)


def test_parity_real_alt_btc(alt_btc):
    cfg = Config()
    res = run(alt_btc, cfg)
    eng = run_paper(alt_btc, cfg)
    assert len(res.fills["qty"]) > 100 and np.any(~alt_btc.have)  # partial fills and missing bars exercised
    assert_same(res, eng)


@pytest.mark.parametrize(("max_order_bars", "latency_ms", "participation"), [(1, 0.0, 0.02), (3, 7.5 * 60e3, 0.05)])
def test_parity_cancels_latency_partial_fills(alt_btc, max_order_bars, latency_ms, participation):
    """Stale market orders cancelled, orders delayed by latency, fills capped by participation."""
    cfg = _replace(_replace(Config(), "backtest", max_order_bars=max_order_bars), "fills", latency_ms=latency_ms,
                   participation=participation)
    res = run(alt_btc, cfg)
    eng = run_paper(alt_btc, cfg)
    assert_same(res, eng)
    per_order = np.bincount(res.fills["order"])
    assert per_order.max() > 1  # some order filled in pieces


def test_parity_with_ledger_and_every_write_in_it(synthetic, tmp_path):
    cfg = Config()
    res = run(synthetic, cfg)
    with Ledger(tmp_path / "l.sqlite") as led:
        eng = run_paper(synthetic, cfg, ledger=led)
        assert_same(res, eng)
        snap = led.snapshot()
        assert snap.fills == len(res.fills["qty"])
        assert snap.orders == int((res.orders["code"] == 0).sum())
        # the ledger's cash is the book's cash: every fill applied once
        assert snap.cash["USD"] == pytest.approx(res.cash[-1], rel=1e-12, abs=1e-9)
        held = {(p.symbol, p.strategy): p.qty for p in snap.positions}
        for s in range(eng.ctx.pos_qty.shape[0]):
            for p, sym in enumerate(synthetic.symbols):
                assert held.get((sym, s), 0.0) == pytest.approx(eng.ctx.pos_qty[s, p], abs=1e-9)
        assert led.get_meta("last_bar") == f"{synthetic.n_bars} {synthetic.ts[-1]}"


def test_on_bar_api_in_any_symbol_order(alt_btc):
    """A bot driving the engine itself, bars of one timestamp in shuffled order, fills from the venue."""
    cfg = Config()
    res = run(alt_btc, cfg)
    eng, venue = build_paper(alt_btc, cfg)
    rng = random.Random(5)
    n = len(alt_btc.symbols)
    for t in range(alt_btc.n_bars):
        ts = int(alt_btc.ts[t])
        present = [p for p in range(n) if alt_btc.have[t, p]]
        bars = {p: (alt_btc.open[t, p], alt_btc.high[t, p], alt_btc.low[t, p], alt_btc.close[t, p],
                    alt_btc.volume[t, p]) for p in present}
        for ev in venue.process_bars(ts, bars):
            if isinstance(ev, OrderFilled):
                eng.on_fill(ev)
                assert not eng.on_fill(ev)  # the same trade twice is booked once
            else:
                eng.on_order_event(ev)
        rng.shuffle(present)
        cmds = []
        for p in present:
            o, h, lo, c, v = bars[p]
            cmds += eng.on_bar(Bar(symbol=alt_btc.symbols[p], ts=ts, open=o, high=h, low=lo, close=c, volume=v))
        cmds += eng.flush(ts)
        for c in cmds:
            if hasattr(c, "qty"):
                venue.submit_now(c)
            else:
                venue.cancel_now(c.client_order_id)
    assert_same(res, eng)


def test_late_and_bad_bars_are_left_out():
    eng = Engine(Config(), None, None, symbols=["BTC/USD", "ETH/USD"])
    ok = dict(open=1.0, high=1.1, low=0.9, close=1.0, volume=5.0)
    eng.on_bar(Bar(symbol="BTC/USD", ts=10, **ok))
    eng.on_bar(Bar(symbol="ETH/USD", ts=10, **ok))
    assert eng.bars_done == 1
    eng.on_bar(Bar(symbol="BTC/USD", ts=5, **ok))  # older than the last step
    eng.on_bar(Bar(symbol="BTC/USD", ts=20, open=1.0, high=0.8, low=0.9, close=1.0, volume=1.0))  # high < low
    eng.on_bar(Bar(symbol="XRP/USD", ts=20, **ok))  # not in the universe
    assert (eng.late_bars, eng.bad_bars, eng.bars_done) == (1, 1, 1)
    eng.on_bar(Bar(symbol="BTC/USD", ts=20, **ok))
    assert eng.flush(BarsComplete(ts=20).ts) == [] and eng.bars_done == 2
    assert eng.flush(30) == [] and eng.bars_done == 3  # an empty cross-section still steps once


def test_run_needs_an_adapter():
    from tradejet.errors import DataError

    with pytest.raises(DataError, match="adapter"):
        asyncio.run(Engine(Config(), None, None, symbols=["BTC/USD"]).run())


def test_parity_real_ten_majors_hourly_2017_2022(shared_data, tmp_path):
    """45k hourly bars of the ten USDT majors, symbols starting years apart (2017..2020), 2018/2020/2022 crashes."""
    for f in sorted((shared_data / "crypto" / "binance").glob("*USDT_1h_*_2022-10.csv*")):
        (tmp_path / f.name).symlink_to(f)
    bars, _ = load_bars(tmp_path)
    assert len(bars.symbols) == 10 and bars.n_bars > 40_000
    cfg = Config()
    res = run(bars, cfg)
    eng = run_paper(bars, cfg)
    assert len(res.fills["qty"]) > 100
    assert_same(res, eng)


def _with_portfolio_limits(cfg: Config, **kw) -> Config:
    from tradejet.config import PortfolioRiskConfig

    return _replace(cfg, "risk", portfolio=PortfolioRiskConfig(**kw))


@pytest.mark.parametrize("data", ["synthetic", "alt_btc"])
def test_parity_with_portfolio_limits(data, request):
    """VaR/CVaR, cluster and volatility-target limits on (tight, so they refuse and scale): still bit-equal."""
    bars = request.getfixturevalue(data)
    day = 24 if data == "synthetic" else 288  # hourly / 5-minute bars
    cfg = _with_portfolio_limits(Config(), max_var_share=0.05, max_cvar_share=0.06, cluster_corr=0.3,
                                 max_cluster_share=0.2, target_vol=0.01, min_bars=48, cov_halflife_bars=3.0 * day,
                                 horizon_bars=day)
    res = run(bars, cfg)
    eng = run_paper(bars, cfg)
    from tradejet.kernels.codes import Reject

    codes = set(np.unique(res.orders["code"]).tolist())
    want = {Reject.CONCENTRATION_CLUSTER, Reject.VOL_TARGET} if data == "synthetic" else {Reject.VOL_TARGET}
    assert want <= codes, codes  # the limits acted
    base = run(bars, Config())
    assert len(res.fills["qty"]) > 20 and not np.array_equal(res.equity, base.equity)
    assert_same(res, eng)
    np.testing.assert_array_equal(eng.ctx.port_cov, run_ctx_cov(bars, cfg))


def run_ctx_cov(bars, cfg):
    """The covariance state after a compiled run (the event driver's must equal it)."""
    from tradejet.engine.simulate import build_context
    from tradejet.kernels.portrisk import cov_update_nb

    ctx = build_context(bars.symbols, cfg)[0]
    for t in range(bars.n_bars):
        cov_update_nb(ctx.port_cov, ctx.port_vec, ctx.port_params, bars.close[t], bars.have[t])
    return ctx.port_cov


def test_parity_real_ten_majors_with_portfolio_limits(shared_data, tmp_path):
    """The desk-style limits of scripts/portfolio_risk_compare.py, breaker off so the book trades 2017..2022."""
    for f in sorted((shared_data / "crypto" / "binance").glob("*USDT_1h_*_2022-10.csv*")):
        (tmp_path / f.name).symlink_to(f)
    bars, _ = load_bars(tmp_path)
    cfg = _replace(_with_portfolio_limits(Config(), max_var_share=0.06, max_cvar_share=0.08, cluster_corr=0.7,
                                          target_vol=0.025), "risk", max_drawdown=1.0)
    res = run(bars, cfg)
    eng = run_paper(bars, cfg)
    assert len(res.fills["qty"]) > 1000
    assert_same(res, eng)
