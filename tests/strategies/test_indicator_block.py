"""The compiled driver's block of indicators == the per-bar update the event driver calls, bit for bit.

:func:`indicators_block_nb` advances every pair's pack over a block of bars with its
recurrences in local variables; :func:`indicators_update_nb` advances it one bar at a time
in the pack. Same ``IV_*`` rows on every bar (NaN where NaN), same pack state at the end,
whatever the blocks, the gaps (bars a pair does not have) and the indicator periods.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.engine.driver import bar_context_nb
from tradejet.kernels.fills import N_BAR
from tradejet.strategies.base import (
    DEFAULT_IND_PARAMS,
    IP_BB_NBDEV,
    N_IP,
    N_IV,
    indicator_state,
    indicators_update_nb,
)
from tradejet.strategies.indicator_block import (
    _lockstep_nb,
    indicators_block_nb,
    lane_scratch,
)


def per_bar(ip, O, H, L, C, V, have):
    """The oracle: the event driver's path (one indicators_update_nb per pair with a bar)."""
    T, n = C.shape
    state, off = indicator_state(ip, n)
    iv = np.full((n, N_IV), np.nan)
    rows = np.empty((T, n, N_IV))
    for t in range(T):
        for p in range(n):
            if have[t, p]:
                indicators_update_nb(state, off, ip, p, O[t, p], H[t, p], L[t, p], C[t, p], V[t, p], iv)
        rows[t] = iv
    return state, rows


def blocked(ip, O, H, L, C, V, have, cuts, scratch=None, LR=None):
    """The compiled driver's path: blocks [cuts[i], cuts[i+1]), iv carried between blocks
    (``scratch(state, off)``: the lanes' scratch to use; by default the one for these packs;
    ``LR``: the log returns handed to the lanes, by default none)."""
    T, n = C.shape
    LR = np.empty((0, n)) if LR is None else LR
    state, off = indicator_state(ip, n)
    iv = np.full((n, N_IV), np.nan)
    rows = np.full((T, n, N_IV), -1.0)
    lanes = lane_scratch(state, off, ip) if scratch is None else scratch(state, off)
    for a, b in zip(cuts[:-1], cuts[1:]):
        ivb = np.full((b - a + 3, n, N_IV), -2.0)  # larger than the block: rows past it untouched
        indicators_block_nb(state, off, ip, O, H, L, C, V, have, a, b, ivb, iv, lanes, LR)
        assert (ivb[b - a:] == -2.0).all()
        rows[a:b] = ivb[:b - a]
        iv[:] = ivb[b - a - 1]
    T = len(have)
    indicators_block_nb(state, off, ip, O, H, L, C, V, have, T, T, np.empty((1, n, N_IV)), iv, lanes, LR)  # packs back
    return state, rows


def market(seed, T, n, gap, decimals):
    rng = np.random.default_rng(seed)
    C = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (T, n)), axis=0))
    if decimals is not None:  # coarse ticks: flat stretches, equal highs, zero returns
        C = np.maximum(np.round(C, decimals), 10.0 ** -decimals)
    H = C * (1.0 + rng.uniform(0.0, 0.01, (T, n)))
    L = C * (1.0 - rng.uniform(0.0, 0.01, (T, n)))
    O = C * (1.0 + rng.normal(0.0, 0.002, (T, n)))
    if decimals is not None:
        H = np.maximum(np.round(H, decimals), C)
        L = np.minimum(np.round(L, decimals), C)
    V = rng.uniform(0.0, 10.0, (T, n))
    V[rng.uniform(size=(T, n)) < 0.1] = 0.0
    have = rng.uniform(size=(T, n)) >= gap
    if T > 10:
        have[T // 3: T // 2, 0] = False  # a long hole in one pair
    for a in (O, H, L, C, V):
        a[~have] = np.nan
    return O, H, L, C, V, have


def assert_same(a, b):
    state_a, rows_a = a
    state_b, rows_b = b
    np.testing.assert_array_equal(rows_b, rows_a)
    np.testing.assert_array_equal(state_b, state_a)


@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 300), n=st.integers(1, 10),
       gap=st.sampled_from([0.0, 0.05, 0.5, 1.0]), decimals=st.sampled_from([None, 0, 2]),
       periods=st.lists(st.integers(2, 9), min_size=N_IP, max_size=N_IP), nbdev=st.floats(0.5, 3.0),
       cut_seed=st.integers(0, 2**32 - 1), n_cuts=st.integers(0, 8))
def test_block_equals_per_bar(seed, T, n, gap, decimals, periods, nbdev, cut_seed, n_cuts):
    ip = np.array(periods, dtype=np.float64)
    ip[IP_BB_NBDEV] = nbdev
    bars = market(seed, T, n, gap, decimals)
    inner = np.random.default_rng(cut_seed).integers(1, T, size=n_cuts) if T > 1 else np.array([], np.int64)
    cuts = [0, *sorted(set(inner.tolist())), T]
    assert_same(per_bar(ip, *bars), blocked(ip, *bars, cuts))


@pytest.mark.parametrize("block", [1, 64, 512, 100_000])
def test_block_equals_per_bar_default_periods(block):
    bars = market(11, 2_000, 4, 0.05, None)
    cuts = list(range(0, 2_000, block)) + [2_000]
    assert_same(per_bar(DEFAULT_IND_PARAMS, *bars), blocked(DEFAULT_IND_PARAMS, *bars, cuts))


def steady_market(seed, T, n, start=None):
    """Every pair has every bar (from ``start[p]`` on): the vector lanes' case."""
    rng = np.random.default_rng(seed)
    C = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (T, n)), axis=0))
    H = C * (1.0 + rng.uniform(0.0, 0.01, (T, n)))
    L = C * (1.0 - rng.uniform(0.0, 0.01, (T, n)))
    O = C * (1.0 + rng.normal(0.0, 0.002, (T, n)))
    V = rng.uniform(0.0, 10.0, (T, n))
    V[rng.uniform(size=(T, n)) < 0.1] = 0.0
    if T > 600:  # a flat stretch: zero returns and ranges (the selects' other sides, zero variance)
        for a in (O, H, L, C):
            a[400:480] = C[399]
    have = np.ones((T, n), dtype=np.bool_)
    if start is not None:
        for p, s0 in enumerate(start):
            have[:s0, p] = False
    for a in (O, H, L, C, V):
        a[~have] = np.nan
    return O, H, L, C, V, have


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 10, 13])
def test_lanes_equal_per_bar(n):
    """Pairs in lockstep run eight, four or two to a vector: the same bits as one at a time,
    the lanes' path really taken (every group is in lockstep at the end)."""
    bars = steady_market(n, 1_500, n)
    for ip in (DEFAULT_IND_PARAMS, np.array([3, 5, 7, 4, 6, 5, 1.5, 3, 4, 2, 3, 2, 3, 5, 4, 6, 3, 2], np.float64)):
        cuts = [0, 7, 300, 301, 812, 1_300, 1_500]
        a = per_bar(ip, *bars)
        b = blocked(ip, *bars, cuts)
        assert_same(a, b)
        state, off = b[0], indicator_state(ip, n)[1]
        have = bars[-1]
        for p0, w in ((0, 4), (n - 4, 4), (4 * (n // 4), 2)):
            if p0 >= 0 and p0 + w <= n:
                assert _lockstep_nb(state, off, have, p0, w, 1_400, 1_500, lane_scratch(state, off, ip))


def lr_of(bars):
    """The bar context's log returns of these bars, as the driver hands them to the block."""
    O, H, L, C, V, _have = bars
    T, n = C.shape
    lr = np.empty((T, n))
    bar_context_nb(O, H, L, C, V, 5, 7, np.empty((n, T, N_BAR)), lr)
    return lr


@pytest.mark.parametrize("n", [4, 10])
def test_lanes_take_the_bar_contexts_log_returns(n):
    """With the bar context's log returns (gapped pairs too), the same bits as the per-bar
    update, which takes its own logarithms; log returns of other bars are not used."""
    bars = steady_market(11, 1_500, n, start=[0] * (n - 1) + [300])
    have = bars[-1]
    have[700:702, 1] = False
    for a in bars[:-1]:
        a[~have] = np.nan
    lr = lr_of(bars)
    assert np.isnan(lr[~have]).all() and np.isnan(lr[300, n - 1]) and np.isfinite(lr[301:, n - 1]).all()
    a = per_bar(DEFAULT_IND_PARAMS, *bars)
    cuts = [0, 512, 700, 1_024, 1_500]
    assert_same(a, blocked(DEFAULT_IND_PARAMS, *bars, cuts, LR=lr))
    other = lr_of(steady_market(12, 1_500, n))
    assert_same(a, blocked(DEFAULT_IND_PARAMS, *bars, cuts, LR=other))
    assert_same(a, blocked(DEFAULT_IND_PARAMS, *bars, cuts, LR=lr[:-1].copy()))  # cut short: not used
    assert_same(a, blocked(DEFAULT_IND_PARAMS, *bars, cuts, LR=np.asfortranarray(lr)))  # not C order: not used
    poisoned = lr.copy()  # right at each block's first bar, off elsewhere: the lanes do read them
    off_rows = np.ones(len(lr), dtype=bool)
    off_rows[cuts[:-1]] = False
    poisoned[off_rows] += 1e-3
    assert not np.array_equal(blocked(DEFAULT_IND_PARAMS, *bars, cuts, LR=poisoned)[1], a[1])


def test_lanes_hand_back_on_a_gap_and_take_over_again():
    """A group runs in lanes block after block (its packs kept in the scratch), a pair misses a
    few bars: the packs come back for the pair path, and the lanes pick the group up again
    once it is back in step (never, here: the pair with the hole is one bar behind for good)."""
    bars = steady_market(3, 4_000, 8)
    have = bars[-1]
    have[2_050:2_053, 1] = False
    for a in bars[:-1]:
        a[~have] = np.nan
    cuts = list(range(0, 4_000, 300)) + [4_000]
    a = per_bar(DEFAULT_IND_PARAMS, *bars)
    b = blocked(DEFAULT_IND_PARAMS, *bars, cuts)
    assert_same(a, b)
    state, off = b[0], indicator_state(DEFAULT_IND_PARAMS, 8)[1]
    lanes = lane_scratch(state, off, DEFAULT_IND_PARAMS)
    assert not _lockstep_nb(state, off, have, 0, 4, 3_700, 4_000, lanes)
    assert _lockstep_nb(state, off, have, 4, 4, 3_700, 4_000, lanes)


@pytest.mark.parametrize("scratch", [
    lambda state, off: lane_scratch(state, off, DEFAULT_IND_PARAMS, code=False),   # lanes off
    lambda state, off: lane_scratch(state, off, DEFAULT_IND_PARAMS)[:-5].copy(),   # truncated
    lambda state, off: np.full(3, np.nan),                                         # not a scratch
    lambda state, off: lane_scratch(*indicator_state(DEFAULT_IND_PARAMS, 9), DEFAULT_IND_PARAMS),  # 9 pairs' packs
])
def test_a_wrong_scratch_only_turns_the_lanes_off(scratch):
    """A scratch without the lanes' code, cut short, not a scratch at all, or built for other packs:
    every pair runs one at a time, the same bits (never a wrong value, never a bad read)."""
    bars = steady_market(2, 1_200, 8)
    cuts = [0, 512, 1_024, 1_200]
    assert_same(per_bar(DEFAULT_IND_PARAMS, *bars), blocked(DEFAULT_IND_PARAMS, *bars, cuts, scratch=scratch))


def test_a_scratch_for_other_periods_is_refused():
    """Built for other periods (same pack layout): the lockstep check refuses it."""
    other = DEFAULT_IND_PARAMS.copy()
    other[IP_BB_NBDEV] = 2.5  # not a period: same layout, and the lanes read nbdev from each pack
    other[0] = DEFAULT_IND_PARAMS[0] + 1  # EMA fast period: same layout, other constants
    bars = steady_market(4, 1_200, 8)
    state, off = indicator_state(DEFAULT_IND_PARAMS, 8)
    if not np.array_equal(indicator_state(other, 8)[1], off):
        pytest.skip("the other periods change the layout (the header check refuses it)")
    lanes = lane_scratch(*indicator_state(other, 8), other)
    want = per_bar(DEFAULT_IND_PARAMS, *bars)
    steady = want[0]  # packs past every warm-up, in lockstep
    assert _lockstep_nb(steady, off, bars[-1], 0, 4, 1_100, 1_200, lane_scratch(state, off, DEFAULT_IND_PARAMS))
    assert not _lockstep_nb(steady, off, bars[-1], 0, 4, 1_100, 1_200, lanes)
    assert_same(want,
                blocked(DEFAULT_IND_PARAMS, *bars, [0, 512, 1_200], scratch=lambda st, o: lanes.copy()))


def test_lanes_mixed_with_pairs_out_of_step():
    """Pairs that list later (and one with a hole) are not in lockstep with the others: their groups
    run one pair at a time, the rest in lanes; all the same bits as the per-bar update."""
    bars = steady_market(7, 1_200, 10, start=[0, 0, 0, 0, 0, 0, 0, 0, 250, 250])
    have = bars[-1]
    have[600:605, 3] = False
    for a in bars[:-1]:
        a[~have] = np.nan
    a = per_bar(DEFAULT_IND_PARAMS, *bars)
    b = blocked(DEFAULT_IND_PARAMS, *bars, [0, 512, 1_024, 1_200])
    assert_same(a, b)
    state, off = b[0], indicator_state(DEFAULT_IND_PARAMS, 10)[1]
    lanes = lane_scratch(state, off, DEFAULT_IND_PARAMS)
    assert not _lockstep_nb(state, off, have, 0, 4, 1_100, 1_200, lanes)  # pair 3 is out of step
    assert _lockstep_nb(state, off, have, 4, 4, 1_100, 1_200, lanes)
    assert not _lockstep_nb(state, off, have, 6, 4, 1_100, 1_200, lanes)  # 8 and 9 listed later than 6 and 7
    assert _lockstep_nb(state, off, have, 8, 2, 1_100, 1_200, lanes)  # with each other: a group of two


def test_block_equals_per_bar_real_majors(shared_data, tmp_path):
    """45k hourly bars of the ten USDT majors: symbols starting years apart, real gaps, 2018-2022 crashes."""
    from tradejet.engine.sources import load_bars

    for f in sorted((shared_data / "crypto" / "binance").glob("*USDT_1h_*_2022-10.csv*")):
        (tmp_path / f.name).symlink_to(f)
    bars, _ = load_bars(tmp_path)
    assert len(bars.symbols) == 10 and not bars.have.all()
    arrays = (bars.open, bars.high, bars.low, bars.close, bars.volume, bars.have)
    T = bars.n_bars
    assert_same(per_bar(DEFAULT_IND_PARAMS, *arrays),
                blocked(DEFAULT_IND_PARAMS, *arrays, list(range(0, T, 512)) + [T]))


def test_backtest_independent_of_chunks_and_blocks():
    """run() in chunks that cut the indicator blocks anywhere: the same results bit for bit."""
    from tradejet.config import Config
    from tradejet.engine.simulate import MarketBars, run
    from tradejet.io.synthetic import synthetic_market

    bars = MarketBars.from_synthetic(synthetic_market(days=40, timeframe="1h", seed=5))
    whole = run(bars, Config())
    cut = run(bars, Config(), chunk=333)
    assert len(whole.fills["qty"]) > 0
    for k in whole.fills:
        np.testing.assert_array_equal(cut.fills[k], whole.fills[k])
    for k in whole.orders:
        np.testing.assert_array_equal(cut.orders[k], whole.orders[k])
    np.testing.assert_array_equal(cut.equity, whole.equity)


def test_backtest_the_same_while_the_helper_builds_the_lanes(monkeypatch):
    """A cold start runs its first chunks one pair at a time until the compile helper has built
    the lanes (precompile.ready), then in lanes: the same results bit for bit as lanes throughout."""
    from tradejet.config import Config
    from tradejet.engine import driver, precompile
    from tradejet.engine.simulate import MarketBars, run
    from tradejet.io.synthetic import synthetic_market

    bars = MarketBars.from_synthetic(synthetic_market(days=40, timeframe="1h", seed=5))
    whole = run(bars, Config(), chunk=200)
    asked, lanes_seen = [], []
    monkeypatch.setattr(precompile, "ready", lambda name: asked.append(name) or len(asked) > 2)
    real_run_nb = driver.run_nb

    def spy(*args, **kw):
        lanes_seen.append(kw.get("lanes", True))
        return real_run_nb(*args, **kw)

    monkeypatch.setattr(driver, "run_nb", spy)
    mixed = run(bars, Config(), chunk=200)
    assert set(asked) == {"lanes"} and lanes_seen[:2] == [False, False] and all(lanes_seen[2:])
    for k in whole.fills:
        np.testing.assert_array_equal(mixed.fills[k], whole.fills[k])
    np.testing.assert_array_equal(mixed.equity, whole.equity)
