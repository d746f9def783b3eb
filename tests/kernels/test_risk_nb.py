"""Risk kernel: one hand case per reject code, and hypothesis for the rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.engine.universe import Universe
from tradejet.kernels import portfolio as kpf
from tradejet.kernels import risk as kr
from tradejet.kernels.codes import Reject as R, Strategy as S, StrategyStatus as SS, TradingState as TS
from tradejet.kernels.pairs import META_COSTMIN, META_LOT_DECIMALS, META_ORDERMIN, META_TAKER_FEE

U = Universe.default()
META = U.meta
BTC, ETH, SOL = U.index("BTC/USD"), U.index("ETH/USD"), U.index("SOL/USD")
MARKS = {"BTC/USD": 50_000.0, "ETH/USD": 2_500.0, "SOL/USD": 100.0, "XRP/USD": 0.5, "ADA/USD": 0.4,
         "DOT/USD": 5.0, "LINK/USD": 15.0, "LTC/USD": 80.0, "DOGE/USD": 0.1, "AVAX/USD": 30.0}
LIMIT, REDUCE, FORCED = kr.INTENT_LIMIT, kr.INTENT_REDUCE_ONLY, kr.INTENT_FORCED


def limits(lev=1.0, short=0.0, pair=0.35, top3=0.8, strat_pair=0.25, notional=math.inf, dd=0.15):
    a = np.empty(kr.N_LIM)
    a[kr.LIM_LEVERAGE], a[kr.LIM_ALLOW_SHORT], a[kr.LIM_MAX_PAIR_SHARE] = lev, short, pair
    a[kr.LIM_MAX_TOP3_SHARE], a[kr.LIM_MAX_STRATEGY_PAIR_SHARE] = top3, strat_pair
    a[kr.LIM_MAX_PAIR_NOTIONAL], a[kr.LIM_MAX_DRAWDOWN] = notional, dd
    return a


class Ctx:
    def __init__(self, cash=10_000.0, holdings=(), shares=(0.6, 0.0, 0.4, 0.0, 0.0, 0.0), lim=None, reserved=0.0):
        self.account = np.zeros(kpf.N_ACC)
        self.account[kpf.ACC_CASH] = cash
        self.account[kpf.ACC_RESERVED] = reserved
        self.pos = np.zeros((6, len(U)))
        self.avg = np.zeros((6, len(U)))
        for s, sym, q in holdings:
            self.pos[s, U.index(sym)] = q
            self.avg[s, U.index(sym)] = MARKS[sym]
        self.mark = np.array([MARKS[s] for s in U.symbols])
        self.shares = np.array(shares, dtype=np.float64)
        self.status = np.where(self.shares > 0, SS.ACTIVE, SS.INACTIVE).astype(np.int64)
        self.lim = limits() if lim is None else lim
        self.unrec = np.zeros(len(U), dtype=np.bool_)
        self.rs = np.array([np.nan, 0.0])

    def check(self, strategy, symbol, side, qty, price=None, flags=0, state=TS.TRADING):
        pair = U.index(symbol) if isinstance(symbol, str) else symbol
        price = MARKS[symbol] if price is None else price
        code, q, p = kr.check_intent_nb(pair, strategy, side, qty, price, flags, state, META, self.lim,
                                        self.shares, self.status, self.unrec, self.account, self.pos, self.avg,
                                        self.mark, self.rs)
        return int(code), q, p

    def equity(self):
        return kpf.equity_nb(self.account, self.pos, self.avg, self.mark)


TF, BO, MR = S.TREND_FOLLOWING, S.BREAKOUT, S.MEAN_REVERSION


def test_accepts_a_plain_entry():
    assert Ctx().check(TF, "BTC/USD", 1, 0.04) == (R.OK, 0.04, 50_000.0)


@pytest.mark.parametrize(
    ("ctx", "intent", "code"),
    [
        (dict(), (TF, "BTC/USD", 1, 0.06), R.STRATEGY_PAIR_LIMIT),  # 3000 > 25% of 10k
        (dict(cash=7_600.0, holdings=[(TF, "ETH/USD", 0.96)], shares=(0.3, 0, 0.4, 0, 0, 0)), (TF, "BTC/USD", 1, 0.02),
         R.STRATEGY_LIMIT),  # 2400 + 1000 > 30% of 10k
        (dict(cash=6_000.0, holdings=[(TF, "BTC/USD", 0.04), (BO, "BTC/USD", 0.04)]), (BO, "BTC/USD", 1, 0.01),
         R.CONCENTRATION_PAIR),  # 4500 > 35% of 10k
        (dict(cash=5_000.0, holdings=[(TF, "BTC/USD", 0.04), (TF, "ETH/USD", 0.8), (BO, "SOL/USD", 10.0)],
              lim=limits(top3=0.5)), (BO, "SOL/USD", 1, 5.0), R.CONCENTRATION_TOP3),  # 2000+2000+1500 > 5000
        (dict(lim=limits(notional=1_000.0)), (TF, "BTC/USD", 1, 0.03), R.PAIR_LIMIT),
        (dict(cash=1_000.0, holdings=[(BO, "ETH/USD", 3.6)]), (TF, "BTC/USD", 1, 0.02), R.INSUFFICIENT_CASH),
        (dict(reserved=500.0), (TF, "BTC/USD", 1, 0.00999), R.INSUFFICIENT_CASH),  # 9500 free? no: see below
        (dict(), (TF, "BTC/USD", 1, 0.00004), R.BELOW_ORDERMIN),
        (dict(), (TF, "SOL/USD", 1, 0.02, 20.0), R.BELOW_COSTMIN),  # 0.4 USD < 0.5
        (dict(), (TF, "BTC/USD", -1, 0.01), R.NO_SHORTING),
        (dict(holdings=[(TF, "BTC/USD", 0.01)]), (TF, "BTC/USD", -1, 0.02), R.NO_SHORTING),  # crosses zero
        (dict(), (S.MOMENTUM_ROTATION, "BTC/USD", 1, 0.01), R.STRATEGY_INACTIVE),
        (dict(cash=0.0), (TF, "BTC/USD", 1, 0.01), R.NO_EQUITY),
        (dict(), (TF, "BTC/USD", 1, math.nan), R.INVALID_INTENT),
        (dict(), (TF, "BTC/USD", 1, 0.01, 0.0), R.INVALID_INTENT),
        (dict(), (TF, 10, 1, 0.01, 1.0), R.INVALID_INTENT),
        (dict(), (6, "BTC/USD", 1, 0.01), R.INVALID_INTENT),
        (dict(), (TF, "BTC/USD", 0, 0.01), R.INVALID_INTENT),
    ],
)
def test_each_rule_rejects_with_its_code(ctx, intent, code):
    c = Ctx(**ctx)
    if code == R.INSUFFICIENT_CASH and c.account[kpf.ACC_RESERVED]:
        c.account[kpf.ACC_CASH] = 1_000.0
        c.pos[BO, ETH] = 3.6  # equity 10k, free cash 500: 0.00999 BTC = 499.5 * 1.004 > 500
    assert c.check(*intent)[0] == code


def test_cash_check_includes_the_taker_fee():
    c = Ctx(cash=1_000.0, holdings=[(BO, "ETH/USD", 3.6)], shares=(1.0, 0, 0, 0, 0, 0),
            lim=limits(strat_pair=1.0, pair=1.0, top3=1.0))
    assert META[BTC, META_TAKER_FEE] == 0.004
    assert c.check(TF, "BTC/USD", 1, 0.0199)[0] == R.OK  # 995 * 1.004 = 998.98
    assert c.check(TF, "BTC/USD", 1, 0.0200)[0] == R.INSUFFICIENT_CASH  # 1004


def test_rounding_is_down_for_qty_and_favourable_for_limit_prices():
    c = Ctx()
    assert c.check(TF, "BTC/USD", 1, 0.0123456789, 50_000.06, LIMIT) == (R.OK, 0.01234567, 50_000.0)
    c.pos[TF, BTC] = 0.02
    assert c.check(TF, "BTC/USD", -1, 0.0123456789, 50_000.06, LIMIT) == (R.OK, 0.01234567, 50_000.1)


def test_reduce_only_clips_and_refuses_to_open():
    c = Ctx(holdings=[(TF, "BTC/USD", 0.01)])
    assert c.check(TF, "BTC/USD", -1, 0.5, flags=REDUCE) == (R.OK, 0.01, 50_000.0)
    assert c.check(TF, "BTC/USD", 1, 0.01, flags=REDUCE)[0] == R.INVALID_INTENT
    assert c.check(BO, "BTC/USD", -1, 0.01, flags=REDUCE)[0] == R.INVALID_INTENT  # breakout holds nothing


def test_closing_a_whole_position_summed_in_floats_leaves_no_dust():
    # two fills of DOT (8 lot decimals) sum to 141.94998898999998 in floats, not 141.94998899:
    # the exit must sell the venue's 141.94998899, and the book must then be flat
    dot = U.index("DOT/USD")
    held = 138.36900884 + 3.58098015
    assert held < 141.94998899
    c = Ctx(holdings=[(MR, "DOT/USD", held)])
    code, q, _ = c.check(MR, "DOT/USD", -1, held, flags=REDUCE)
    assert (code, q) == (R.OK, 141.94998899)
    kpf.apply_fill_nb(c.account, c.pos, c.avg, np.zeros_like(c.pos), np.zeros_like(c.pos), MR, dot, -1, q, 5.0, 0.0)
    assert c.pos[MR, dot] == 0.0
    # a partial exit (not the whole position) still rounds down strictly
    c.pos[MR, dot] = held
    assert c.check(MR, "DOT/USD", -1, 100.000000009, flags=REDUCE)[1] == 100.0


@given(st.lists(st.integers(1, 10**12), min_size=1, max_size=6), st.integers(0, 8))
def test_whole_exit_after_any_fills_is_the_decimal_sum(lots, decimals):
    # fills are whole lots (as the venue books them); however their float sum rounds, closing
    # the position sells exactly their decimal sum, never a lot less or more
    meta = META.copy()
    dot = U.index("DOT/USD")
    meta[dot, META_LOT_DECIMALS] = decimals
    meta[dot, META_ORDERMIN] = meta[dot, META_COSTMIN] = 0.0  # no minimum in the way
    scale = 10.0 ** decimals
    held = 0.0
    for k in lots:
        held += k / scale
    c = Ctx(cash=0.0, holdings=[(MR, "DOT/USD", held)])
    code, q, _ = kr.check_intent_nb(dot, MR, -1, held, 5.0, REDUCE, TS.TRADING, meta, c.lim, c.shares, c.status,
                                    c.unrec, c.account, c.pos, c.avg, c.mark, c.rs)
    assert code == R.OK
    assert round(q * scale) == sum(lots)


def test_leverage_and_shorts_when_enabled():
    lev = limits(lev=2.0, short=1.0, pair=10, top3=10, strat_pair=10)
    c = Ctx(shares=(1.0, 0, 0, 0, 0, 0), lim=lev)
    assert c.check(TF, "BTC/USD", -1, 0.02)[0] == R.OK  # short allowed
    assert c.check(TF, "BTC/USD", 1, 0.3)[0] == R.STRATEGY_LIMIT  # 15000 > share 1.0 x 10k
    c.shares[TF] = 2.0  # shares above 1 only to isolate the leverage rule
    assert c.check(TF, "BTC/USD", 1, 0.3)[0] == R.OK  # 15000 <= 2 x 10k
    assert c.check(TF, "BTC/USD", 1, 0.5)[0] == R.LEVERAGE  # 25000 > 20000


@pytest.mark.parametrize(
    ("state", "side", "flags", "code"),
    [
        (TS.DRAINING, 1, 0, R.DRAINING),
        (TS.DRAINING, -1, 0, R.OK),
        (TS.DOWNTIME, 1, 0, R.DOWNTIME),
        (TS.DOWNTIME, 1, FORCED, R.DOWNTIME),  # "forced" never opens anything
        (TS.DOWNTIME, -1, 0, R.DOWNTIME),
        (TS.DOWNTIME, -1, FORCED, R.OK),
        (TS.RESUMING, 1, 0, R.RESUMING),
        (TS.RESUMING, -1, 0, R.OK),
        (TS.TRADING, -1, 0, R.OK),
        (TS.TRADING, 1, 0, R.OK),
    ],
)
def test_trading_states(state, side, flags, code):
    c = Ctx(holdings=[(TF, "BTC/USD", 0.02)])
    assert c.check(TF, "BTC/USD", side, 0.01, flags=flags, state=state)[0] == code


def test_unreconciled_breaker_and_inactive_block_entries_not_exits():
    c = Ctx(holdings=[(TF, "BTC/USD", 0.02)])
    c.unrec[BTC] = True
    assert c.check(TF, "BTC/USD", 1, 0.01)[0] == R.UNRECONCILED
    assert c.check(TF, "BTC/USD", -1, 0.01)[0] == R.OK
    assert c.check(TF, "ETH/USD", 1, 0.1)[0] == R.OK
    c.unrec[BTC] = False
    c.rs[kr.RS_TRIPPED] = 1.0
    assert c.check(TF, "ETH/USD", 1, 0.1)[0] == R.BREAKER
    assert c.check(TF, "BTC/USD", -1, 0.01)[0] == R.OK
    c.rs[kr.RS_TRIPPED] = 0.0
    c.shares[TF], c.status[TF] = 0.0, SS.WINDING_DOWN
    assert c.check(TF, "ETH/USD", 1, 0.1)[0] == R.STRATEGY_INACTIVE
    assert c.check(TF, "BTC/USD", -1, 0.01)[0] == R.OK
    c.status[TF] = SS.FLATTEN
    assert c.check(TF, "BTC/USD", -1, 0.02, flags=FORCED, state=TS.DOWNTIME)[0] == R.OK


def test_exits_still_obey_venue_minimums():
    c = Ctx(holdings=[(TF, "BTC/USD", 0.00003)])
    assert c.check(TF, "BTC/USD", -1, 0.00003)[0] == R.BELOW_ORDERMIN


# ------------------------------------------------------------------ breaker


def test_breaker_hand_case():
    rs = np.array([np.nan, 0.0])
    assert [kr.update_breaker_nb(rs, e, 0.1) for e in (100.0, 120.0, 109.0, 107.9, 130.0)] == [0, 0, 0, 1, 1]
    assert rs[kr.RS_PEAK] == 130.0
    kr.reset_breaker_nb(rs, 95.0)
    assert kr.update_breaker_nb(rs, 90.0, 0.1) == 0
    assert kr.update_breaker_nb(rs, 85.4, 0.1) == 1


@given(st.lists(st.one_of(st.floats(1.0, 1e6), st.just(None)), min_size=1, max_size=100), st.floats(0.01, 0.9))
def test_breaker_holds_until_reset(events, dd):
    """None in ``events`` means a reset at the previous equity; brute force replays the rule."""
    rs = np.array([np.nan, 0.0])
    peak, tripped, last = None, False, 1.0
    for e in events:
        if e is None:
            kr.reset_breaker_nb(rs, last)
            peak, tripped = last, False
            continue
        got = kr.update_breaker_nb(rs, e, dd)
        peak = e if peak is None else max(peak, e)
        tripped = tripped or e < peak * (1 - dd)
        assert bool(got) == tripped
        last = e


# ------------------------------------------------------------------ properties over random intent streams

INTENTS = st.lists(
    st.tuples(st.sampled_from([TF, BO, MR, S.DEFENSIVE]), st.sampled_from([BTC, ETH, SOL, U.index("DOGE/USD")]),
              st.sampled_from([1, 1, -1]), st.floats(0.0, 0.8), st.floats(0.5, 2.0), st.booleans(),
              st.sampled_from([TS.TRADING] * 5 + [TS.DRAINING, TS.DOWNTIME, TS.RESUMING]), st.booleans()),
    min_size=1, max_size=60)


@given(INTENTS, st.sampled_from([(0.6, 0, 0.4, 0, 0, 0), (0, 0.3, 0, 0, 0, 0.7), (0, 0.5, 0, 0, 0.5, 0)]),
       st.floats(0.1, 1.0), st.floats(0.3, 1.0), st.floats(0.05, 0.5))
def test_cash_only_stream_respects_every_limit(intents, shares, pair_cap, top3_cap, strat_pair_cap):
    """Fill every accepted intent at its price with the taker fee; check the invariants after each."""
    lim = limits(pair=pair_cap, top3=top3_cap, strat_pair=strat_pair_cap)
    c = Ctx(cash=10_000.0, shares=shares, lim=lim)
    for strat, pair, side, frac, move, limit, state, forced in intents:
        sym = U.symbols[pair]
        price = MARKS[sym] * move
        c.mark[pair] = price  # the market moves to the intent's price
        qty = frac * 10_000.0 / price * 0.5
        eq_before = c.equity()
        pos_before = c.pos[strat, pair]
        flags = (LIMIT if limit else 0) | (FORCED if forced else 0)
        code, q, p = c.check(strat, pair, side, qty, price, flags, state)
        if code != R.OK:
            continue
        assert q <= qty and q > 0
        assert (p <= price) if side > 0 else (p >= price)
        reducing = (side < 0 and pos_before > 0) or (side > 0 and pos_before < 0)
        entry = not reducing or qty > abs(pos_before)
        assert not (entry and state != TS.TRADING)
        assert not (state == TS.DOWNTIME and not forced)
        fee = q * p * META[pair, META_TAKER_FEE]
        kpf.apply_fill_nb(c.account, c.pos, c.avg, np.zeros_like(c.pos), np.zeros_like(c.pos),
                          strat, pair, side, q, p, fee)
        assert c.account[kpf.ACC_CASH] >= -1e-9, "cash-only went negative"
        assert (c.pos >= 0.0).all(), "a short appeared with shorting disabled"
        if entry:
            net = np.abs(c.pos.sum(axis=0) * c.mark)
            tol = 1 + 1e-9
            assert net[pair] <= pair_cap * eq_before * tol
            assert np.sort(net)[-3:].sum() <= top3_cap * eq_before * tol
            assert abs(c.pos[strat, pair]) * p <= strat_pair_cap * eq_before * tol
            assert np.abs(c.pos[strat] * c.mark).sum() <= shares[strat] * eq_before * tol
            assert shares[strat] > 0


@given(INTENTS)
def test_unreconciled_pairs_never_get_entries(intents):
    c = Ctx(cash=10_000.0, holdings=[(TF, "BTC/USD", 0.01), (BO, "ETH/USD", 0.2)])
    c.unrec[[BTC, ETH]] = True
    for strat, pair, side, frac, move, limit, state, forced in intents:
        pos_before = c.pos[strat, pair]
        code, _, _ = c.check(strat, pair, side, frac, MARKS[U.symbols[pair]], 0, state)
        reducing = (side < 0 and pos_before > 0) or (side > 0 and pos_before < 0)
        entry = not reducing or frac > abs(pos_before)  # crossing through zero opens a position
        if pair in (BTC, ETH) and entry:
            assert code != R.OK
        if code == R.UNRECONCILED:
            assert entry and pair in (BTC, ETH)
