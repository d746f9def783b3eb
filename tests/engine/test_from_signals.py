"""from_signals: same trades and value as vectorbt's Portfolio.from_signals, a Python
loop oracle, and clear errors on broken input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tradejet.engine.backtest import from_signals
from tradejet.errors import DataError

FILES = [
    "crypto/binance/BTCUSDT_1h_2024-09_2026-02.csv",
    "crypto/binance/ETHUSDT_5m_2022-10_2023-01.csv.gz",
    "crypto/binance/LUNAUSDT_1h_2020-08_2022-07.csv",
    "crypto/kraken/XBTUSDT_1m_2023-11-17_22.csv",
    "crypto/binance/ADABTC_5m.csv",
    "equities/SPY_1d.csv",
]


def load_close(path) -> np.ndarray:
    with open(path) if not str(path).endswith(".gz") else __import__("gzip").open(path, "rt") as f:
        header = f.readline().strip().split(",")
        col = header.index("close")
        return np.loadtxt(f, delimiter=",", usecols=col, dtype=np.float64)


def sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    c = np.cumsum(np.insert(x, 0, 0.0))
    out[n - 1:] = (c[n:] - c[:-n]) / n
    return out


def crossover(close: np.ndarray, fast: int = 10, slow: int = 50) -> tuple[np.ndarray, np.ndarray]:
    f, s = sma(close, fast), sma(close, slow)
    above = f > s
    prev = np.roll(above, 1)
    prev[0] = False
    valid = ~np.isnan(s) & ~np.isnan(np.roll(s, 1))
    valid[0] = False
    return above & ~prev & valid, ~above & prev & valid & ~np.isnan(s)


def below(a, b):
    """a < b, unless they are within vectorbt's tolerance (rel 1e-9, abs 1e-12)."""
    return a < b and not abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-12)


def python_loop(close, entries, exits, fee, init_cash, min_size=1e-8):
    """Brute-force oracle: the rules in the kernel docstring, one bar at a time."""
    cash, pos, value, orders = init_cash, 0.0, [], []
    for i, p in enumerate(close):
        if entries[i] and not exits[i] and pos == 0 and cash > 0 and not below(cash / (1 + fee) / p, min_size):
            spend = cash / (1 + fee)
            orders.append((i, 1, spend / p, p, cash - spend))
            pos, cash = spend / p, 0.0
        elif exits[i] and not entries[i] and pos > 1e-12 and not below(pos, min_size):
            orders.append((i, -1, pos, p, pos * p * fee))
            cash, pos = cash + (pos * p - pos * p * fee), 0.0
        value.append(cash + pos * p)
    return np.array(value), orders


@pytest.fixture(scope="module")
def vbt():
    return pytest.importorskip("vectorbt", reason="vectorbt not installed (pip install '.[test]')")


@pytest.mark.parametrize("rel", FILES)
@pytest.mark.parametrize("fee", [0.0, 0.0026])
def test_sma_crossover_matches_vectorbt_on_real_data(vbt, shared_data, rel, fee):
    close = load_close(shared_data / rel)
    entries, exits = crossover(close)
    ours = from_signals(close, entries, exits, fee=fee, init_cash=1.0)
    pf = vbt.Portfolio.from_signals(close, entries, exits, fees=fee, init_cash=1.0)
    rec = pf.orders.values
    assert len(ours.orders.idx) == len(rec) > 10
    np.testing.assert_array_equal(ours.orders.idx, rec["idx"])
    np.testing.assert_array_equal(ours.orders.side, np.where(rec["side"] == 0, 1, -1))
    np.testing.assert_allclose(ours.orders.size, rec["size"], rtol=1e-9)
    np.testing.assert_allclose(ours.orders.price, rec["price"], rtol=0)
    np.testing.assert_allclose(ours.orders.fee, rec["fees"], rtol=1e-9, atol=0)
    tr = pf.trades.values
    np.testing.assert_array_equal(ours.trades.entry_idx, tr["entry_idx"])
    np.testing.assert_array_equal(ours.trades.exit_idx, tr["exit_idx"])
    np.testing.assert_array_equal(ours.trades.is_open, tr["status"] == 0)
    np.testing.assert_allclose(ours.trades.pnl, tr["pnl"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.value, pf.value().to_numpy(), rtol=1e-9)
    assert ours.final_value == pytest.approx(float(pf.final_value()), rel=1e-9)


def test_matches_vectorbt_on_random_signals_with_conflicts(vbt):
    rng = np.random.default_rng(7)
    n = 3000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    entries, exits = rng.random(n) < 0.1, rng.random(n) < 0.1  # many same-bar conflicts
    ours = from_signals(close, entries, exits, fee=0.001, init_cash=1000.0)
    pf = vbt.Portfolio.from_signals(close, entries, exits, fees=0.001, init_cash=1000.0)
    np.testing.assert_array_equal(ours.orders.idx, pf.orders.values["idx"])
    np.testing.assert_allclose(ours.value, pf.value().to_numpy(), rtol=1e-9)


def test_matches_vectorbt_when_orders_fall_below_min_size(vbt):
    """Equity so small that orders cross vectorbt's min_size=1e-8: both skip the same ones."""
    rng = np.random.default_rng(11)
    n = 4000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    entries, exits = rng.random(n) < 0.05, rng.random(n) < 0.05
    ours = from_signals(close, entries, exits, fee=0.01, init_cash=5e-6)
    pf = vbt.Portfolio.from_signals(close, entries, exits, fees=0.01, init_cash=5e-6)
    assert ours.orders.size.min() < 2e-8  # the rule was exercised near the limit
    np.testing.assert_array_equal(ours.orders.idx, pf.orders.values["idx"])
    np.testing.assert_allclose(ours.value, pf.value().to_numpy(), rtol=1e-9)
    no_min = from_signals(close, entries, exits, fee=0.01, init_cash=5e-6, min_size=0.0)
    assert no_min.orders.idx.size > ours.orders.idx.size


@given(
    arrays(np.float64, st.integers(1, 200), elements=st.floats(1e-3, 1e6)),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, 0.001, 0.01]),
)
def test_matches_python_loop(close, seed, fee):
    rng = np.random.default_rng(seed)
    entries, exits = rng.random(close.size) < 0.3, rng.random(close.size) < 0.3
    r = from_signals(close, entries, exits, fee=fee, init_cash=10.0)
    value, orders = python_loop(close, entries, exits, fee, 10.0)
    np.testing.assert_allclose(r.value, value, rtol=1e-12)
    want = np.array(orders, dtype=np.float64).reshape(-1, 5)
    np.testing.assert_array_equal(r.orders.idx, want[:, 0])
    np.testing.assert_array_equal(r.orders.side, want[:, 1])
    np.testing.assert_allclose(np.c_[r.orders.size, r.orders.price, r.orders.fee], want[:, 2:], rtol=1e-12)
    # accounting identity: final value = init + realised and open P&L
    scale = max([10.0] + list(r.orders.size * r.orders.price))  # cancellation grows with the notional traded
    assert r.final_value == pytest.approx(10.0 + r.trades.pnl.sum(), rel=1e-9, abs=1e-12 * scale)


def test_hand_computed_round_trip_with_fee():
    r = from_signals([10.0, 20.0, 40.0], [True, True, False], [False, False, True], fee=0.01, init_cash=101.0)
    # buy: spend 100, fee 1, size 10 at 10; sell 10 at 40: 400 - 4 fee
    np.testing.assert_allclose(r.orders.size, [10.0, 10.0])
    np.testing.assert_allclose(r.orders.fee, [1.0, 4.0])
    np.testing.assert_allclose(r.value, [100.0, 200.0, 396.0])
    assert r.trades.pnl[0] == pytest.approx(396.0 - 101.0)
    assert r.total_return == pytest.approx(396.0 / 101.0 - 1)


def test_open_trade_is_marked_to_last_close():
    r = from_signals([1.0, 3.0], [True, False], [False, False])
    assert r.trades.is_open.tolist() == [True]
    assert r.trades.exit_price[0] == 3.0 and r.position == 1.0 and r.cash == 0.0


def test_same_bar_entry_and_exit_cancel():
    r = from_signals([1.0, 2.0], [True, True], [True, False])
    assert r.orders.idx.tolist() == [1]


@pytest.mark.parametrize(
    ("kwargs", "exc", "fragment"),
    [
        (dict(close=[1.0, np.nan, 2.0]), DataError, "close[1] must be finite and > 0, was nan"),
        (dict(close=[1.0, 0.0, 2.0]), DataError, "close[1] must be finite and > 0, was 0.0"),
        (dict(close=[]), ValueError, "close must be a non-empty 1-D array"),
        (dict(entries=[True, False]), ValueError, "entries must be 1-D with the length of close (3)"),
        (dict(exits=[0.5, 0.1, 0.2]), ValueError, "exits must be boolean, was dtype float64"),
        (dict(fee=-0.1), ValueError, "fee must be in [0, 1), was -0.1"),
        (dict(init_cash=0.0), ValueError, "init_cash must be finite and > 0, was 0.0"),
        (dict(init_cash=np.inf), ValueError, "init_cash must be finite and > 0, was inf"),
        (dict(min_size=-1.0), ValueError, "min_size must be finite and >= 0, was -1.0"),
    ],
)
def test_broken_input_gives_clear_error(kwargs, exc, fragment):
    args = dict(close=[1.0, 2.0, 3.0], entries=[True, False, False], exits=[False, False, True])
    args.update(kwargs)
    if len(args["close"]) == 0:
        args["entries"] = args["exits"] = []
    with pytest.raises(exc) as ei:
        from_signals(**args)
    assert fragment in str(ei.value)


def test_int_signals_are_accepted():
    r = from_signals([1.0, 2.0, 4.0], np.array([1, 0, 0]), np.array([0, 0, 1]))
    assert r.final_value == 4.0
