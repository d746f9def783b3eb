"""The fill model: each rule by a hand-computed case, the whole model against a
brute-force Python oracle (fill_loop.py), invariants with hypothesis, and the spread
estimator against real Kraken quotes and trades."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kernels import fill_loop as oracle
from tradejet.config import FillConfig
from tradejet.kernels.codes import FILL_TEXT, Fill, OrderType
from tradejet.kernels.fills import (
    BAR, CFG, N_BAR, ORD, config_array, corwin_schultz_nb, fill_at_nb, fill_bar_nb, half_spread_nb, impact_nb,
    market_context, market_context_lr_into_nb, market_context_nb, new_order, pair_row, prepare_order_nb, ready_bar,
    round_price_nb, round_qty_nb,
)
from tradejet.kernels.indicators import log_return_value

BUY, SELL = 1, -1
MKT, LMT, SL, TP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LOSS, OrderType.TAKE_PROFIT
BTC = dict(tick_size=0.1, lot_decimals=8, ordermin=0.00005, costmin=0.5)  # Kraken BTC/USD, 2026-09


def bar(o, h, lo, c=None, v=10.0, spread=np.nan, sigma=np.nan, avg_volume=np.nan):
    return np.array([o, h, lo, o if c is None else c, v, spread, sigma, avg_volume], dtype=np.float64)


def cfg(**kw):
    return config_array(FillConfig(**kw))


def order(side, kind, qty, price=np.nan, price2=np.nan, post_only=False, ready=0, pair=None, ref=100.0):
    o = new_order(side, kind, qty, price, price2, post_only, ready)
    code = prepare_order_nb(o, pair_row() if pair is None else pair, ref)
    assert code == Fill.NONE, FILL_TEXT[code]
    return o


# --- rounding and minimums (prepare_order_nb) ---------------------------------------------

def test_qty_rounds_down_to_lot_decimals():
    assert round_qty_nb(0.123456789, 8) == 0.12345678
    assert round_qty_nb(0.7 * 3, 1) == 2.1  # 2.0999999999999996 is 21 lots, not 20
    assert round_qty_nb(1.99, 0) == 1.0
    assert round_qty_nb(1.23, np.nan) == 1.23


def test_price_rounds_to_tick_on_the_passive_side():
    assert round_price_nb(100.07, 0.1, -1) == 100.0
    assert round_price_nb(100.01, 0.1, 1) == 100.1
    assert round_price_nb(100.05, 0.1, 0) == 100.1
    assert round_price_nb(0.30000001, 0.1, -1) == 0.3
    assert round_price_nb(0.12345678, 1e-7, -1) == 0.1234567  # DOGE/USD tick
    assert round_price_nb(10.3, 0.25, 1) == 10.5
    o = order(BUY, LMT, 1.0, 100.07, pair=pair_row(**BTC))
    assert o[ORD.PRICE] == 100.0
    o = order(SELL, LMT, 1.0, 100.01, pair=pair_row(**BTC))
    assert o[ORD.PRICE] == 100.1
    o = order(SELL, SL, 1.0, 95.04, 104.96, pair=pair_row(**BTC))
    assert (o[ORD.PRICE], o[ORD.PRICE2]) == (95.0, 105.0)


@pytest.mark.parametrize(
    ("side", "kind", "qty", "price", "ref", "code"),
    [
        (BUY, MKT, 0.00004, np.nan, 40000.0, Fill.REJECT_ORDERMIN),
        (BUY, MKT, 0.00005, np.nan, 40000.0, Fill.NONE),
        (BUY, LMT, 0.0001, 4000.0, 0.0, Fill.REJECT_COSTMIN),  # 0.40 < costmin 0.5
        (BUY, LMT, 0.0001, 5000.0, 0.0, Fill.NONE),  # exactly 0.5
        (BUY, MKT, 0.000000004, np.nan, 40000.0, Fill.REJECT_QTY),  # 0 lots after rounding
        (BUY, MKT, np.nan, np.nan, 40000.0, Fill.REJECT_QTY),
        (BUY, MKT, -1.0, np.nan, 40000.0, Fill.REJECT_QTY),
        (BUY, LMT, 1.0, np.nan, 40000.0, Fill.REJECT_PRICE),
        (SELL, SL, 1.0, -5.0, 40000.0, Fill.REJECT_PRICE),
        (0, MKT, 1.0, np.nan, 40000.0, Fill.REJECT_ORDER),
        (BUY, 7, 1.0, np.nan, 40000.0, Fill.REJECT_ORDER),
    ],
)
def test_prepare_checks_pair_minimums(side, kind, qty, price, ref, code):
    o = new_order(side, kind, qty, price)
    assert prepare_order_nb(o, pair_row(**BTC), ref) == code
    assert o[ORD.STATUS] == code
    if code != Fill.NONE:  # a rejected order never fills
        assert fill_bar_nb(o, 5, bar(100, 101, 99), pair_row(), cfg())[3] == Fill.NONE


def test_fill_text_covers_every_code():
    assert len(FILL_TEXT) == len(Fill) and FILL_TEXT[Fill.REJECT_POST_ONLY].startswith("rejected")


def test_pair_row_rejects_nonsense():
    with pytest.raises(ValueError, match="tick_size must be > 0 or NaN, was 0.0"):
        pair_row(tick_size=0.0)
    with pytest.raises(ValueError, match="lot_decimals must be a whole number, was 2.5"):
        pair_row(lot_decimals=2.5)
    with pytest.raises(ValueError, match="taker_fee must be a fraction in"):
        pair_row(taker_fee=0.4)  # a percent, not a fraction
    with pytest.raises(ValueError, match="ordermin must be finite and >= 0, was -1.0"):
        pair_row(ordermin=-1)


# --- market orders -----------------------------------------------------------------------

def test_market_buy_pays_half_spread_and_sqrt_impact():
    pair = pair_row(spread=0.001)
    b = bar(100.0, 101.0, 99.0, v=20.0, sigma=0.01, avg_volume=4.0)
    o = order(BUY, MKT, 1.0, ready=3)
    # impact = 1.0 * 0.01 * sqrt(1/4) = 0.005; half spread 0.0005
    assert impact_nb(1.0, b, cfg()) == pytest.approx(0.005)
    q, p, fee, code = fill_bar_nb(o, 3, b, pair, cfg())
    assert (q, code) == (1.0, Fill.FILLED)
    assert p == pytest.approx(100.55)
    assert fee == pytest.approx(100.55 * 0.004)
    s = order(SELL, MKT, 1.0)
    assert fill_bar_nb(s, 3, b, pair, cfg())[1] == pytest.approx(99.45)


def test_market_order_waits_for_latency_and_a_bar_with_trades():
    assert ready_bar(10, 0.0, 60_000_000_000) == 11  # default: next bar's open
    assert ready_bar(10, 1.5 * 60e9, 60_000_000_000) == 12
    o = order(BUY, MKT, 1.0, ready=11)
    assert fill_bar_nb(o, 10, bar(100, 101, 99), pair_row(), cfg())[3] == Fill.NONE
    assert fill_bar_nb(o, 11, bar(100, 100, 100, v=0.0), pair_row(), cfg())[3] == Fill.NONE  # no trades
    q, p, _, code = fill_bar_nb(o, 12, bar(102, 103, 101), pair_row(), cfg())
    assert (q, p, code) == (1.0, 102.0, Fill.FILLED)  # no spread set, none estimated, no impact inputs


def test_fill_price_stays_inside_the_bar():
    o = order(BUY, MKT, 1.0)
    q, p, _, _ = fill_bar_nb(o, 0, bar(100.0, 100.02, 99.0), pair_row(spread=0.01), cfg())
    assert p == 100.02  # open * 1.005 would be above the high
    o = order(SELL, MKT, 1.0)
    assert fill_bar_nb(o, 0, bar(100.0, 101.0, 99.9), pair_row(spread=0.01), cfg())[1] == 99.9


def test_participation_cap_spreads_a_large_order_over_bars():
    o = order(BUY, MKT, 2.5, pair=pair_row(lot_decimals=8))
    pair = pair_row(lot_decimals=8)
    got = [fill_bar_nb(o, i, bar(100 + i, 101 + i, 99 + i, v=10.0), pair, cfg(participation=0.1)) for i in range(4)]
    assert [g[0] for g in got] == [1.0, 1.0, 0.5, 0.0]
    assert [g[3] for g in got] == [Fill.PARTIAL, Fill.PARTIAL, Fill.FILLED, Fill.NONE]
    assert [g[1] for g in got[:3]] == [100.0, 101.0, 102.0]  # each at its bar's open
    assert o[ORD.FILLED] == 2.5 and o[ORD.AVG_PRICE] == pytest.approx((100 + 101 + 0.5 * 102) / 2.5)
    assert o[ORD.FEES] == pytest.approx(sum(g[2] for g in got))


# --- limit orders ------------------------------------------------------------------------

def test_resting_limit_fills_only_when_traded_through():
    pair = pair_row(spread=0.001)
    o = order(BUY, LMT, 1.0, 99.5)
    assert fill_bar_nb(o, 0, bar(100.0, 100.5, 99.6), pair, cfg())[3] == Fill.NONE  # arrives, rests
    assert fill_bar_nb(o, 1, bar(99.8, 100.0, 99.5), pair, cfg())[3] == Fill.NONE  # touched, not through
    q, p, fee, code = fill_bar_nb(o, 2, bar(99.8, 100.0, 99.4), pair, cfg())
    assert (q, p, code) == (1.0, 99.5, Fill.FILLED)
    assert fee == pytest.approx(99.5 * 0.0025)  # maker


def test_resting_limit_fills_at_the_open_on_a_gap_through():
    o = order(SELL, LMT, 1.0, 105.0)
    fill_bar_nb(o, 0, bar(100.0, 101.0, 99.0), pair_row(), cfg())
    q, p, _, code = fill_bar_nb(o, 1, bar(107.0, 108.0, 106.0), pair_row(), cfg())
    assert (p, code) == (107.0, Fill.FILLED)


def test_limit_inside_the_spread_never_fills_beyond_the_bar():
    """A sell limit at 100 arrives while bid ~99.97 (not marketable) and the bar prints
    only 100.12: it fills, at the bar's low, which beats its limit."""
    o = order(SELL, LMT, 1.0, 100.0)
    q, p, fee, code = fill_bar_nb(o, 0, bar(100.12, 100.12, 100.12, spread=0.003), pair_row(), cfg())
    assert (q, p, code) == (1.0, 100.12, Fill.FILLED) and fee == pytest.approx(100.12 * 0.0025)


def test_post_only_limit_that_would_cross_is_rejected():
    pair = pair_row(spread=0.001)  # touch: ask 100.05, bid 99.95
    o = order(BUY, LMT, 1.0, 100.05, post_only=True)
    assert fill_bar_nb(o, 0, bar(100.0, 101.0, 99.0), pair, cfg())[3] == Fill.REJECT_POST_ONLY
    assert o[ORD.STATUS] == Fill.REJECT_POST_ONLY
    assert fill_bar_nb(o, 1, bar(90.0, 101.0, 89.0), pair, cfg())[3] == Fill.NONE  # dead for good
    o = order(BUY, LMT, 1.0, 100.04, post_only=True)  # just below the ask: rests
    assert fill_bar_nb(o, 0, bar(100.0, 101.0, 99.0), pair, cfg())[3] == Fill.FILLED  # then trades through (low 99)
    assert o[ORD.AVG_PRICE] == 100.04


def test_marketable_limit_takes_at_market_but_never_beyond_its_limit():
    pair = pair_row(spread=0.001)
    o = order(BUY, LMT, 1.0, 100.2)
    q, p, fee, _ = fill_bar_nb(o, 0, bar(100.0, 101.0, 99.0), pair, cfg())
    assert p == pytest.approx(100.05) and fee == pytest.approx(100.05 * 0.004)  # taker
    o = order(BUY, LMT, 1.0, 100.1)
    b = bar(100.0, 101.0, 99.0, sigma=0.02, avg_volume=1.0)  # impact 2 % would pay 102.05
    assert fill_bar_nb(o, 0, b, pair, cfg())[1] == 100.1


# --- stop-loss and take-profit -----------------------------------------------------------

def test_stop_loss_triggers_inside_the_bar():
    pair = pair_row(spread=0.002)
    o = order(SELL, SL, 1.0, 95.0)
    assert fill_bar_nb(o, 0, bar(100.0, 101.0, 95.5), pair, cfg())[3] == Fill.NONE
    q, p, fee, code = fill_bar_nb(o, 1, bar(99.0, 99.5, 94.0), pair, cfg())
    assert p == pytest.approx(95.0 * 0.999) and code == Fill.FILLED and o[ORD.TRIGGERED] == SL
    assert fee == pytest.approx(p * 0.004)


def test_stop_loss_on_a_gap_fills_from_the_open():
    o = order(SELL, SL, 1.0, 95.0)
    assert fill_bar_nb(o, 0, bar(90.0, 91.0, 89.0), pair_row(), cfg())[1] == 90.0


def test_bracket_assumes_the_worse_leg_when_both_could_trigger():
    o = order(SELL, SL, 1.0, 95.0, 105.0)
    q, p, _, _ = fill_bar_nb(o, 0, bar(100.0, 106.0, 94.0), pair_row(), cfg())
    assert (p, o[ORD.TRIGGERED]) == (95.0, SL)
    o = order(SELL, TP, 1.0, 105.0, 95.0)  # the same bracket entered from the other leg
    assert fill_bar_nb(o, 0, bar(100.0, 106.0, 94.0), pair_row(), cfg())[1] == 95.0
    o = order(SELL, SL, 1.0, 95.0, 105.0)  # opening above the take-profit: it fired first
    assert fill_bar_nb(o, 0, bar(106.0, 107.0, 94.0), pair_row(), cfg())[1] == 106.0
    assert o[ORD.TRIGGERED] == TP


def test_take_profit_and_short_side_mirror():
    o = order(SELL, TP, 1.0, 105.0)
    assert fill_bar_nb(o, 0, bar(100.0, 106.0, 99.0), pair_row(), cfg())[1] == 105.0
    o = order(BUY, SL, 1.0, 105.0, 95.0)  # covering a short: stop above, take-profit below
    assert fill_bar_nb(o, 0, bar(100.0, 104.0, 96.0), pair_row(), cfg())[3] == Fill.NONE
    assert fill_bar_nb(o, 1, bar(100.0, 106.0, 94.0), pair_row(), cfg())[1] == 105.0  # both: the stop
    o = order(BUY, TP, 1.0, 95.0)
    assert fill_bar_nb(o, 0, bar(100.0, 101.0, 94.0), pair_row(), cfg())[1] == 95.0


def test_triggered_stop_capped_by_volume_finishes_at_the_next_opens():
    o = order(SELL, SL, 3.0, 95.0)
    c = cfg(participation=0.1)
    got = [fill_bar_nb(o, 0, bar(100.0, 100.0, 94.0, v=10.0), pair_row(), c),
           fill_bar_nb(o, 1, bar(93.0, 96.0, 92.0, v=10.0), pair_row(), c),
           fill_bar_nb(o, 2, bar(97.0, 98.0, 96.0, v=10.0), pair_row(), c)]
    assert [(g[0], g[1]) for g in got] == [(1.0, 95.0), (1.0, 93.0), (1.0, 97.0)]
    assert o[ORD.STATUS] == Fill.FILLED


# --- spread estimate and context ---------------------------------------------------------

def cs_numpy(h, lo, c):
    """Corwin & Schultz (2012), eq. 14 and 18, with the close-gap adjustment, as NumPy."""
    h2, l2 = h[1:].copy(), lo[1:].copy()
    up = l2 - c[:-1]
    down = c[:-1] - h2
    adj = np.where(up > 0, -up, np.where(down > 0, down, 0.0))
    h2, l2 = h2 + adj, l2 + adj
    beta = np.log(h[:-1] / lo[:-1]) ** 2 + np.log(h2 / l2) ** 2
    gamma = np.log(np.maximum(h[:-1], h2) / np.minimum(lo[:-1], l2)) ** 2
    k = 3 - 2 * np.sqrt(2)
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k)
    s = 2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha))
    return np.concatenate([[np.nan], np.maximum(s, 0.0)])


def random_bars(rng, n, spread=0.0):
    mid = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    o = mid * np.exp(rng.normal(0, 0.0005, n))
    c = mid * np.exp(rng.normal(0, 0.0005, n))
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, 0.001, n))) * (1 + spread / 2)
    lo = np.minimum(o, c) / np.exp(np.abs(rng.normal(0, 0.001, n))) * (1 - spread / 2)
    v = rng.gamma(2.0, 5.0, n)
    return o, h, lo, c, v


def test_corwin_schultz_matches_the_paper_formula():
    o, h, lo, c, _ = random_bars(np.random.default_rng(1), 500)
    np.testing.assert_allclose(corwin_schultz_nb(h, lo, c), cs_numpy(h, lo, c), rtol=1e-12, atol=1e-15)


def test_corwin_schultz_recovers_a_spread_in_simulated_quotes():
    """Trades bounce between bid and ask of a Brownian mid: the estimate finds the spread."""
    rng = np.random.default_rng(5)
    n_bars, ticks, spread = 3000, 200, 0.002
    mid = 100 * np.exp(np.cumsum(rng.normal(0, 0.0001, n_bars * ticks))).reshape(n_bars, ticks)
    px = mid * (1 + spread / 2 * rng.choice([-1.0, 1.0], mid.shape))
    est = corwin_schultz_nb(px.max(1), px.min(1), px[:, -1])
    assert np.nanmean(est) == pytest.approx(spread, rel=0.25)


def test_market_context_is_causal_and_matches_numpy():
    rng = np.random.default_rng(2)
    o, h, lo, c, v = random_bars(rng, 300)
    ctx = market_context_nb(o, h, lo, c, v, 20, 30)
    assert ctx.shape == (300, N_BAR)
    i = 150
    cs = cs_numpy(h, lo, c)
    assert ctx[i, BAR.SPREAD] == pytest.approx(cs[i - 20:i].mean(), rel=1e-12)
    r = np.diff(np.log(c))
    assert ctx[i, BAR.SIGMA] == pytest.approx(r[i - 31:i - 1].std(ddof=1), rel=1e-9)
    assert ctx[i, BAR.AVG_VOLUME] == pytest.approx(v[i - 30:i].mean(), rel=1e-12)
    assert np.isnan(ctx[:20, BAR.SPREAD]).all() and not np.isnan(ctx[21:, BAR.SPREAD]).any()
    h2, lo2, c2, v2 = h.copy(), lo.copy(), c.copy(), v.copy()
    h2[i:] *= 1.05
    lo2[i:] *= 0.9
    c2[i:] *= 1.01
    v2[i:] *= 7
    ctx2 = market_context_nb(o, h2, lo2, c2, v2, 20, 30)
    np.testing.assert_array_equal(ctx2[: i + 1, BAR.SPREAD:], ctx[: i + 1, BAR.SPREAD:])  # bar i sees only < i


def market_context_loop(o, h, lo, c, v, sw, vw):
    """The estimates row by row in plain Python floats, each window summed left to right."""
    n = len(c)
    cs = corwin_schultz_nb(h, lo, c)
    out = np.full((n, N_BAR), np.nan)
    for i in range(n):
        out[i, :5] = o[i], h[i], lo[i], c[i], v[i]
        if i - sw >= 1:
            s = 0.0
            for j in range(i - sw, i):
                s += float(cs[j])
            out[i, BAR.SPREAD] = s / sw
        if i - vw >= 1:
            r = [log_return_value(float(c[j]), float(c[j - 1])) for j in range(i - vw, i)]  # the kernels' log
            m = 0.0
            for x in r:
                m += x
            m /= vw
            ss = 0.0
            for x in r:
                ss += (x - m) * (x - m)
            out[i, BAR.SIGMA] = math.sqrt(ss / (vw - 1))
        if i >= vw:
            s = 0.0
            for j in range(i - vw, i):
                s += float(v[j])
            out[i, BAR.AVG_VOLUME] = s / vw
    return out


def test_market_context_of_a_panels_columns_equals_it_on_copies():
    # strided views (a column of a (T, pairs) panel, and of a (T, pairs) log-return array): the
    # vector passes read at unit stride, so the kernel must not hand them the views themselves
    rng = np.random.default_rng(4)
    cols = [random_bars(rng, 257) for _ in range(3)]
    panel = [np.stack([cols[p][k] for p in range(3)], axis=1) for k in range(5)]  # five (T, 3) arrays
    lr_panel = np.full((257, 3), -1.0)
    for p in range(3):
        got = np.empty((257, N_BAR))
        market_context_lr_into_nb(*(a[:, p] for a in panel), 20, 30, got, lr_panel[:, p])
        want = np.empty((257, N_BAR))
        want_lr = np.empty(257)
        market_context_lr_into_nb(*(np.ascontiguousarray(a[:, p]) for a in panel), 20, 30, want, want_lr)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(lr_panel[:, p], want_lr)
        np.testing.assert_array_equal(got, market_context_nb(*cols[p], 20, 30))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 90), sw=st.integers(1, 12), vw=st.integers(2, 12), seed=st.integers(0, 2**32 - 1))
def test_market_context_equals_a_row_by_row_loop_bit_for_bit(n, sw, vw, seed):
    """The kernel sums four rows in lockstep and computes each log return once; every row
    must still be the same bits as summing its own window alone (sizes cross the 4-row groups)."""
    o, h, lo, c, v = random_bars(np.random.default_rng(seed), n)
    np.testing.assert_array_equal(market_context_nb(o, h, lo, c, v, sw, vw), market_context_loop(o, h, lo, c, v, sw, vw))


@pytest.mark.parametrize("keep", [62, 63, 64, 65, 100])
def test_market_context_row_depends_on_its_window_only(keep):
    """The paper venue computes the newest row from a bounded history: same bits as the full series."""
    o, h, lo, c, v = random_bars(np.random.default_rng(keep), 400)
    full = market_context_nb(o, h, lo, c, v, 60, 60)
    for i in range(keep, 400, 37):
        a = slice(i + 1 - keep, i + 1)
        tail = market_context_nb(o[a], h[a], lo[a], c[a], v[a], 60, 60)
        np.testing.assert_array_equal(tail[-1], full[i])


def test_spread_falls_back_to_estimate_then_floor():
    c = cfg(min_spread=0.0002)
    assert half_spread_nb(pair_row(spread=0.001), bar(1, 1, 1, spread=0.004), c) == 0.0005
    assert half_spread_nb(pair_row(), bar(1, 1, 1, spread=0.004), c) == 0.002
    assert half_spread_nb(pair_row(), bar(1, 1, 1), c) == 0.0001
    assert half_spread_nb(pair_row(), bar(1, 1, 1, spread=0.0), c) == 0.0001


def test_fill_config_converts_with_defaults():
    a = config_array(FillConfig())
    assert a[CFG.PARTICIPATION] == 0.1 and a[CFG.LATENCY_NS] == 0.0 and a[CFG.IMPACT_COEF] == 1.0
    assert config_array(FillConfig(latency_ms=250))[CFG.LATENCY_NS] == 250e6
    fc = FillConfig()
    assert (fc.maker_fee, fc.taker_fee) == (0.0025, 0.004)  # Kraken base tier, KRAKEN_API.md §11


def test_bad_fill_config_is_named(tmp_path):
    from tradejet.config import load_config
    from tradejet.errors import ConfigError

    f = tmp_path / "c.toml"
    f.write_text("[fills]\nparticipation = 0.0\n")
    with pytest.raises(ConfigError) as ei:
        load_config(f, env={})
    assert ei.value.key == "fills.participation" and "Expected `float` > 0.0" in str(ei.value)
    f.write_text('[fills.pairs."BTC/USD"]\nspred = 0.001\n')
    with pytest.raises(ConfigError, match="spred"):
        load_config(f, env={})
    f.write_text('[fills]\ntaker_fee = 0.26\n[fills.pairs."BTC/USD"]\nspread = 0.0001\n')
    with pytest.raises(ConfigError):
        load_config(f, env={})  # 26 %: a percent written where a fraction belongs
    f.write_text('[fills]\ntaker_fee = 0.0026\n[fills.pairs."BTC/USD"]\nspread = 0.0001\n')
    fc = load_config(f, env={}).fills
    assert fc.costs("BTC/USD") == (0.0025, 0.0026, 0.0001)
    assert math.isnan(fc.costs("ETH/USD")[2])


# --- the oracle and invariants -----------------------------------------------------------

def _valid_bar(draw, prev_close):
    o = prev_close * math.exp(draw(st.floats(-0.02, 0.02)))
    c = prev_close * math.exp(draw(st.floats(-0.02, 0.02)))
    h = max(o, c) * math.exp(draw(st.floats(0, 0.02)))
    lo = min(o, c) * math.exp(-draw(st.floats(0, 0.02)))
    v = draw(st.sampled_from([0.0, 0.5, 3.0, 10.0, 100.0]))
    spread = draw(st.sampled_from([np.nan, 0.0, 0.0004, 0.003]))
    sigma = draw(st.sampled_from([np.nan, 0.001, 0.02]))
    adv = draw(st.sampled_from([np.nan, 0.0, 1.0, 20.0]))
    return bar(o, h, lo, c, v, spread, sigma, adv)


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 12))
    bars, c = [], 100.0
    for _ in range(n):
        b = _valid_bar(draw, c)
        bars.append(b)
        c = b[BAR.CLOSE]
    kind = draw(st.sampled_from([MKT, LMT, SL, TP]))
    side = draw(st.sampled_from([BUY, SELL]))
    qty = draw(st.sampled_from([0.3, 1.0, 2.5, 7.0, 40.0]))
    price = 100.0 * math.exp(draw(st.floats(-0.04, 0.04)))
    price2 = draw(st.sampled_from([np.nan, 100.0 * math.exp(draw(st.floats(-0.05, 0.05)))]))
    costs = oracle.Costs(
        lot_decimals=draw(st.sampled_from([np.nan, 0.0, 2.0, 8.0])),
        spread=draw(st.sampled_from([np.nan, 0.0, 0.001])),
        participation=draw(st.sampled_from([0.1, 0.5, 1.0, np.inf])),
        impact_coef=draw(st.sampled_from([0.0, 1.0, 3.0])),
        min_spread=draw(st.sampled_from([0.0, 0.0002])),
    )
    return bars, kind, side, qty, price, price2, draw(st.booleans()), draw(st.integers(0, 3)), costs


@given(scenarios())
def test_kernel_equals_the_python_oracle_and_keeps_invariants(sc):
    bars, kind, side, qty, price, price2, post_only, ready, c = sc
    if kind in (SL, TP):
        lo_leg, hi_leg = sorted([price, price2]) if not math.isnan(price2) else (price, price)
        if not math.isnan(price2):  # a bracket: stop on the losing side of the take-profit
            stop, tp = (lo_leg, hi_leg) if side == SELL else (hi_leg, lo_leg)
            price, price2 = (stop, tp) if kind == SL else (tp, stop)
    pair = pair_row(lot_decimals=c.lot_decimals, spread=c.spread)
    conf = cfg(participation=c.participation, impact_coef=c.impact_coef, min_spread=c.min_spread)
    o = new_order(side, kind, qty, price, price2, post_only, ready)
    if prepare_order_nb(o, pair, 100.0) != Fill.NONE:
        return
    ref = oracle.Order(side, kind, o[ORD.QTY], o[ORD.PRICE], o[ORD.PRICE2], post_only, ready)
    o2, ctx = o.copy(), np.array(bars)
    total = 0.0
    for i, b in enumerate(bars):
        got = fill_bar_nb(o, i, b, pair, conf)
        np.testing.assert_array_equal(fill_at_nb(o2, i, ctx, pair, conf), got)  # the driver's entry point
        np.testing.assert_array_equal(o2, o)
        want = oracle.one_bar(ref, i, dict(open=b[0], high=b[1], low=b[2], volume=b[4], spread=b[5], sigma=b[6],
                                           avg_volume=b[7]), c)
        assert got[3] == want[3]
        assert got[0] == pytest.approx(want[0], rel=1e-12, abs=0)
        if got[0] > 0:
            q, p, fee, _ = got
            assert p == pytest.approx(want[1], rel=1e-12)
            assert b[BAR.LOW] <= p <= b[BAR.HIGH]  # never outside the bar
            assert fee == pytest.approx(want[2], rel=1e-12)
            # fees = rate x notional: taker, or maker for a resting limit
            assert fee == pytest.approx(q * p * pair[5], rel=1e-12) or (
                kind == LMT and fee == pytest.approx(q * p * pair[4], rel=1e-12))
            assert q <= c.participation * b[BAR.VOLUME] * (1 + 1e-12)  # participation cap
            total += q
    assert total == pytest.approx(o[ORD.FILLED], rel=1e-12, abs=1e-15)
    if o[ORD.STATUS] == Fill.FILLED:
        assert total == pytest.approx(o[ORD.QTY], rel=1e-12)  # partial fills sum to the order
    assert total <= o[ORD.QTY] * (1 + 1e-12)
    assert o[ORD.FEES] == pytest.approx(sum(f[3] for f in ref.fills), rel=1e-12, abs=1e-15)


# --- real data ---------------------------------------------------------------------------

def _load(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        f.readline()
        return np.loadtxt(f, delimiter=",")


def test_corwin_schultz_against_recorded_kraken_quotes(shared_data):
    """XBT/USD 2022-01-25: CS on the day's 1m bars vs the recorded bid/ask at 23:01-23:02.

    Measured: quoted spread mean 0.58 bp (median 0.44 bp, 220 quotes); CS mean over the
    day 1.9 bp, over the last hour 1.0 bp. Same order of magnitude, CS biased high
    (volatility inside the minute leaks into the high-low range). Asserted: within 5x.
    """
    b = _load(shared_data / "crypto/kraken/XBTUSD_1m_2022-01-25.csv")
    q = np.genfromtxt(shared_data / "crypto/kraken_trades/XBTUSD_spreads_2022-01-25.csv", delimiter=",",
                      skip_header=1, usecols=(1, 2))
    quoted = np.mean((q[:, 1] - q[:, 0]) / q.mean(axis=1))
    cs = corwin_schultz_nb(b[:, 2], b[:, 3], b[:, 4])
    last_hour = np.nanmean(cs[-60:])
    day = np.nanmean(cs)
    assert 0.2 < last_hour / quoted < 5 and 0.2 < day / quoted < 5
    ctx = market_context_nb(b[:, 1], b[:, 2], b[:, 3], b[:, 4], b[:, 5], 60, 60)
    assert ctx[-1, BAR.SPREAD] == pytest.approx(np.mean(cs[-61:-1]))


def test_corwin_schultz_against_kraken_trade_prints(shared_data):
    """XBT/USDT 2023-11-17..22: CS on 1m bars vs the jump between a sell print and the
    next buy print within 2 s (an effective-spread proxy from the tagged trades).

    Measured: trade proxy mean 0.55 bp; CS on 1m 0.37 bp, on 5m 2.1 bp, on 1h 13 bp.
    Asserted: 1m CS within 5x of the proxy, and the estimate grows with the bar length
    (so keep it to short bars or set the pair's spread).
    """
    d = shared_data / "crypto/kraken"
    est = {}
    for tf, step in (("1m", 60), ("5m", 300), ("1h", 3600)):
        b = _load(d / f"XBTUSDT_{tf}_2023-11-17_22.csv")
        cs = corwin_schultz_nb(b[:, 2], b[:, 3], b[:, 4])
        consecutive = np.r_[False, np.diff(b[:, 0]) == step]  # pairs of adjacent bars only
        est[tf] = np.nanmean(cs[consecutive])
    with gzip.open(shared_data / "crypto/kraken_trades/XBTUSDT_trades_2023-11-17_22.csv.gz", "rt") as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    t = np.array([float(r[0]) for r in rows])
    side = np.array([r[3] for r in rows])
    px = np.array([float(r[4]) for r in rows])
    m = (side[1:] == "buy") & (side[:-1] == "sell") & (np.diff(t) < 2000)
    proxy = np.mean((px[1:] - px[:-1])[m] / px[1:][m])
    assert m.sum() > 300
    assert 0.2 < est["1m"] / proxy < 5
    assert est["1m"] * 3 < est["5m"] and est["5m"] * 3 < est["1h"]


def test_large_market_order_on_real_minute_bars(shared_data):
    """A 20 BTC buy on Kraken XBT/USDT 1m bars: spread over bars by the 10 % cap, every
    fill inside its bar, fees = taker rate x notional, total = the order."""
    b = _load(shared_data / "crypto/kraken/XBTUSDT_1m_2023-11-17_22.csv")
    ctx = market_context(b[:, 1], b[:, 2], b[:, 3], b[:, 4], b[:, 5], 60, 60)  # checks the bars too
    pair = pair_row(**BTC)
    conf = cfg()
    o = new_order(BUY, MKT, 20.0, ready=100)
    assert prepare_order_nb(o, pair, b[99, 4]) == Fill.NONE
    fills = []
    for i in range(100, len(b)):
        q, p, fee, code = fill_bar_nb(o, i, ctx[i], pair, conf)
        if q > 0:
            fills.append((i, q, p, fee))
            assert ctx[i, BAR.LOW] <= p <= ctx[i, BAR.HIGH]
            assert q <= 0.1 * ctx[i, BAR.VOLUME] + 1e-12
            assert q == round_qty_nb(q, 8)
            assert fee == pytest.approx(q * p * 0.004, rel=1e-12)
            assert p >= ctx[i, BAR.OPEN]  # a buy pays up
        if code == Fill.FILLED:
            break
    assert o[ORD.STATUS] == Fill.FILLED and len(fills) > 10
    assert sum(f[1] for f in fills) == pytest.approx(20.0, rel=1e-12)
    assert o[ORD.AVG_PRICE] == pytest.approx(sum(f[1] * f[2] for f in fills) / 20.0, rel=1e-12)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (dict(close=[1.0, np.nan, 1.0]), "close[1] must be finite and > 0, was nan"),
        (dict(open=[1.0, 0.0, 1.0]), "open[1] must be finite and > 0, was 0.0"),
        (dict(volume=[1.0, 1.0, -2.0]), "volume[2] must be finite and >= 0, was -2.0"),
        (dict(high=[0.95, 1.1, 1.1]), "bar 0 must have low <= open, close <= high, was open 1.0 high 0.95"),
        (dict(low=[0.9, 0.9]), "low must be 1-D with the length of open (3), was shape (2,)"),
        (dict(spread_window=0), "spread_window must be >= 1 and vol_window >= 2, was 0 and 2"),
    ],
)
def test_market_context_rejects_broken_bars(change, fragment):
    args = dict(open_=[1.0, 1.0, 1.0], high=[1.2, 1.1, 1.1], low=[0.9, 0.9, 0.9], close=[1.0, 1.0, 1.0],
                volume=[1.0, 1.0, 1.0], spread_window=1, vol_window=2)
    args.update({("open_" if k == "open" else k): v for k, v in change.items()})
    with pytest.raises(ValueError) as ei:
        market_context(**args)
    assert fragment in str(ei.value)


def test_market_context_wrapper_equals_kernel():
    o, h, lo, c, v = random_bars(np.random.default_rng(9), 200)
    np.testing.assert_array_equal(market_context(o, h, lo, c, v, 10, 20), market_context_nb(o, h, lo, c, v, 10, 20))
