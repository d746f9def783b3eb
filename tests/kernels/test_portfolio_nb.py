"""Portfolio accounting kernel against an exact Fraction ledger, plus hand cases."""

from __future__ import annotations

import math
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradejet.engine.portfolio import Portfolio
from tradejet.engine.universe import Universe
from tradejet.errors import ConfigError, DataError
from tradejet.kernels import portfolio as kpf
from tradejet.kernels.portfolio import ACC_CASH, N_ACC, equity_held_nb, equity_nb, held_mask_nb


class Ledger:
    """Average-cost ledger in exact rational arithmetic (the oracle)."""

    def __init__(self, cash):
        self.cash = F(cash)
        self.qty, self.avg, self.real, self.fees = {}, {}, {}, {}

    def fill(self, s, p, side, qty, price, fee):
        k = (s, p)
        qty, price, fee = F(qty), F(price), F(fee)
        q, a = self.qty.get(k, F(0)), self.avg.get(k, F(0))
        pnl = F(0)
        new = q + side * qty
        if q == 0 or (q > 0) == (side > 0):
            a = (abs(q) * a + qty * price) / abs(new)
        else:
            closed = min(qty, abs(q))
            pnl = closed * (price - a) * (1 if q > 0 else -1)
            if new == 0:
                a = F(0)
            elif (new > 0) != (q > 0):
                a = price
        self.qty[k], self.avg[k] = new, a
        self.real[k] = self.real.get(k, F(0)) + pnl
        self.fees[k] = self.fees.get(k, F(0)) + fee
        self.cash -= side * qty * price + fee
        return pnl


def arrays(n_s=3, n_p=3, cash=1000.0):
    account = np.zeros(kpf.N_ACC)
    account[kpf.ACC_CASH] = cash
    return account, np.zeros((n_s, n_p)), np.zeros((n_s, n_p)), np.zeros((n_s, n_p)), np.zeros((n_s, n_p))


def test_hand_computed_round_trip_with_flip():
    acc, q, a, r, f = arrays()
    # buy 2 @ 100, buy 2 @ 110 -> avg 105
    assert kpf.apply_fill_nb(acc, q, a, r, f, 0, 1, 1, 2.0, 100.0, 0.5) == 0.0
    kpf.apply_fill_nb(acc, q, a, r, f, 0, 1, 1, 2.0, 110.0, 0.5)
    assert (q[0, 1], a[0, 1]) == (4.0, 105.0)
    # sell 5 @ 120: closes 4 (+60), opens short 1 @ 120
    assert kpf.apply_fill_nb(acc, q, a, r, f, 0, 1, -1, 5.0, 120.0, 1.0) == 60.0
    assert (q[0, 1], a[0, 1], r[0, 1], f[0, 1]) == (-1.0, 120.0, 60.0, 2.0)
    # buy 1 @ 100 covers the short: +20
    assert kpf.apply_fill_nb(acc, q, a, r, f, 0, 1, 1, 1.0, 100.0, 0.0) == 20.0
    assert (q[0, 1], a[0, 1]) == (0.0, 0.0)
    # cash: 1000 - 200.5 - 220.5 + 599 - 100 = 1078
    assert acc[kpf.ACC_CASH] == 1078.0
    assert (acc[kpf.ACC_FEES], acc[kpf.ACC_REALIZED]) == (2.0, 80.0)
    assert 1000.0 + 80.0 - 2.0 == acc[kpf.ACC_CASH]


def test_float_residue_snaps_to_flat():
    acc, q, a, r, f = arrays()
    kpf.apply_fill_nb(acc, q, a, r, f, 0, 0, 1, 1.0, 10.0, 0.0)
    kpf.apply_fill_nb(acc, q, a, r, f, 0, 0, -1, 0.3, 11.0, 0.0)
    kpf.apply_fill_nb(acc, q, a, r, f, 0, 0, -1, 0.7, 11.0, 0.0)
    assert q[0, 0] == 0.0 and a[0, 0] == 0.0


@pytest.mark.parametrize(("side", "qty", "price", "fee"),
                         [(0, 1.0, 1.0, 0.0), (1, 0.0, 1.0, 0.0), (1, 1.0, math.nan, 0.0), (1, 1.0, 1.0, -1.0),
                          (-1, math.inf, 1.0, 0.0)])
def test_invalid_fills_change_nothing(side, qty, price, fee):
    acc, q, a, r, f = arrays()
    assert math.isnan(kpf.apply_fill_nb(acc, q, a, r, f, 0, 0, side, qty, price, fee))
    assert acc[kpf.ACC_CASH] == 1000.0 and not q.any() and not f.any()


def test_unrealized_and_equity_with_missing_marks():
    acc, q, a, r, f = arrays()
    kpf.apply_fill_nb(acc, q, a, r, f, 0, 0, 1, 2.0, 10.0, 0.0)
    kpf.apply_fill_nb(acc, q, a, r, f, 1, 1, -1, 1.0, 50.0, 0.0)
    mark = np.array([12.0, np.nan, 7.0])
    out = np.empty_like(q)
    assert kpf.unrealized_nb(q, a, mark, out) == 4.0
    assert out[0, 0] == 4.0 and out[1, 1] == 0.0
    # cash 1000 - 20 + 50 = 1030; positions 2*12 - 1*50 (avg stands in) = -26
    assert kpf.equity_nb(acc, q, a, mark) == 1004.0
    assert kpf.pair_qty_nb(q, 1) == -1.0


FILLS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from([1, -1]),
              st.integers(1, 400).map(lambda k: k / 8), st.integers(1, 2000).map(lambda k: k / 4),
              st.integers(0, 40).map(lambda k: k / 16)),
    min_size=1, max_size=80)


@given(FILLS, st.lists(st.integers(1, 4000).map(lambda k: k / 4), min_size=3, max_size=3))
def test_kernel_matches_exact_ledger(fills, marks):
    acc, q, a, r, f = arrays(cash=10_000.0)
    led = Ledger(10_000.0)
    for s, p, side, qty, price, fee in fills:
        got = kpf.apply_fill_nb(acc, q, a, r, f, s, p, side, qty, price, fee)
        want = led.fill(s, p, side, qty, price, fee)
        assert got == pytest.approx(float(want), rel=1e-12, abs=1e-9)
    for (s, p), v in led.qty.items():
        assert q[s, p] == pytest.approx(float(v), abs=1e-9)
        assert a[s, p] == pytest.approx(float(led.avg[(s, p)]), rel=1e-12, abs=1e-9)
        assert r[s, p] == pytest.approx(float(led.real[(s, p)]), rel=1e-12, abs=1e-7)
        assert f[s, p] == pytest.approx(float(led.fees[(s, p)]), rel=1e-12)
    assert acc[kpf.ACC_CASH] == pytest.approx(float(led.cash), rel=1e-12, abs=1e-7)
    # Accounting identity: equity = start + realized + unrealized - fees.
    mark = np.array(marks)
    un = np.empty_like(q)
    unreal = kpf.unrealized_nb(q, a, mark, un)
    eq = kpf.equity_nb(acc, q, a, mark)
    assert eq == pytest.approx(10_000.0 + acc[kpf.ACC_REALIZED] + unreal - acc[kpf.ACC_FEES], rel=1e-10, abs=1e-6)


def test_portfolio_facade_by_pair_and_strategy():
    u = Universe.default()
    pf = Portfolio(u, cash=10_000.0)
    pf.apply_fill("trend_following", "BTC/USD", 1, 0.1, 50_000.0, fee=20.0)
    pf.apply_fill("breakout", "XBT/USD", 1, 0.02, 51_000.0, fee=4.08)
    pf.apply_fill(0, "ETH/USD", 1, 1.0, 2_000.0, fee=8.0)
    pf.apply_fill("trend_following", "BTC/USD", -1, 0.05, 52_000.0, fee=10.4)
    pf.set_marks({"BTC/USD": 53_000.0, "ETH/USD": 1_900.0})
    by_pair = pf.by_pair()
    assert by_pair["BTC/USD"]["qty"] == pytest.approx(0.07)
    assert by_pair["BTC/USD"]["realized"] == pytest.approx(100.0)
    assert by_pair["BTC/USD"]["unrealized"] == pytest.approx(0.05 * 3_000 + 0.02 * 2_000)
    assert by_pair["ETH/USD"]["unrealized"] == pytest.approx(-100.0)
    by_strat = pf.by_strategy()
    assert by_strat["trend_following"]["fees"] == pytest.approx(38.4)
    assert by_strat["breakout"]["exposure"] == pytest.approx(0.02 * 53_000)
    assert pf.cash == pytest.approx(10_000 - 5_020 - 1_024.08 - 2_008 + 2_589.6)
    assert pf.equity() == pytest.approx(pf.cash + 0.07 * 53_000 + 1_900)
    assert pf.equity() == pytest.approx(10_000 + pf.realized_pnl + pf.unrealized().sum() - pf.total_fees)
    pos = {(p.symbol, p.strategy): p for p in pf.positions()}
    assert pos[("BTC/USD", 0)].qty == pytest.approx(0.05) and pos[("BTC/USD", 0)].avg_price == 50_000.0
    assert pf.position("BTC/USD", "breakout") == 0.02


def test_portfolio_refuses_bad_fills():
    pf = Portfolio(Universe.default(), cash=100.0)
    for args, err, match in [
        (("nope", "BTC/USD", 1, 1.0, 1.0), DataError, "unknown strategy 'nope'"),
        ((9, "BTC/USD", 1, 1.0, 1.0), DataError, "strategy must be a code"),
        ((0, "FOO/USD", 1, 1.0, 1.0), ConfigError, "unknown symbol 'FOO/USD'"),
        ((0, "BTC/USD", 2, 1.0, 1.0), DataError, "side must be 1"),
        ((0, "BTC/USD", 1, -1.0, 1.0), DataError, "qty must be finite and > 0, was -1.0"),
        ((0, "BTC/USD", 1, 1.0, math.nan), DataError, "price must be"),
    ]:
        with pytest.raises(err, match=match):
            pf.apply_fill(*args)
    with pytest.raises(DataError, match="fee must be"):
        pf.apply_fill(0, "BTC/USD", 1, 1.0, 1.0, fee=-0.1)
    with pytest.raises(DataError, match="cash must be"):
        Portfolio(Universe.default(), cash=-1.0)
    with pytest.raises(DataError, match="marks must have shape"):
        pf.set_marks(np.zeros(3))


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), S=st.integers(1, 7), n=st.integers(1, 12), density=st.sampled_from([0.0, 0.1, 0.5]))
def test_held_mask_and_equity_over_held_rows_equal_the_plain_scan(seed, S, n, density):
    """The compiled step's per-bar scan: which strategies hold anything (NaN counts, -0.0 does not),
    and the equity summed over those rows only: the same bits as equity_nb's full scan."""
    rng = np.random.default_rng(seed)
    q = np.zeros((S, n))
    hit = rng.random((S, n)) < density
    q[hit] = rng.normal(size=int(hit.sum()))
    q[rng.random((S, n)) < 0.05] = -0.0
    if rng.random() < 0.2:
        q[rng.integers(S), rng.integers(n)] = np.nan
    mark = rng.random(n) * 100.0
    mark[rng.random(n) < 0.2] = np.nan
    avg = rng.random((S, n)) * 100.0
    account = np.zeros(N_ACC)
    account[ACC_CASH] = 1000.0
    held = held_mask_nb(q)
    assert held == sum(1 << s for s in range(S) if np.any((q[s] != 0.0) | np.isnan(q[s])))
    a, b = equity_held_nb(account, q, avg, mark, held), equity_nb(account, q, avg, mark)
    assert a == b or (np.isnan(a) and np.isnan(b))
