from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tradejet.errors import DataError
from tradejet.io.store import BarStore
from tradejet.io.synthetic import DEFAULT_SYMBOLS, PHASE_REGIME, PHASES, synthetic_market
from tradejet.io.validate import validate_bars
from tradejet.kernels.codes import Regime

FIELDS = ("ts", "open", "high", "low", "close", "volume", "trades", "phase", "regime")


def digest(m) -> str:
    h = hashlib.sha256()
    for f in FIELDS:
        h.update(np.ascontiguousarray(getattr(m, f)).tobytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes():
    a = synthetic_market(days=3, timeframe="5m", seed=42)
    b = synthetic_market(days=3, timeframe="5m", seed=42)
    c = synthetic_market(days=3, timeframe="5m", seed=43)
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_default_universe_and_shapes():
    m = synthetic_market(n_bars=500, timeframe="1m", seed=1, start="2024-03-01T00:00:30")
    assert m.symbols == tuple(DEFAULT_SYMBOLS) and len(m.symbols) == 10
    assert m.symbols[:2] == ("BTC/USD", "ETH/USD")
    assert m.close.shape == (10, 500) and m.ts.shape == (500,)
    assert m.ts[0] == 1_709_251_200 * 10**9 and np.all(np.diff(m.ts) == 60 * 10**9)  # floored to the minute
    np.testing.assert_allclose(m.open[:, 0], [p[0] for p in DEFAULT_SYMBOLS.values()])
    np.testing.assert_array_equal(m.open[:, 1:], m.close[:, :-1])  # open = previous close
    assert m.bars("btc-usd")["close"] is not None
    with pytest.raises(DataError, match="not in the synthetic market"):
        m.bars("PEPE/USD")


def test_every_bar_is_valid_ohlcv():
    m = synthetic_market(days=20, timeframe="1m", seed=3, start_phase=2)
    for s in m.symbols:
        rep = validate_bars(m.bars(s), 60 * 10**9, source=s, strict=True)
        assert rep.rejected == 0 and rep.gaps == 0
    assert (m.trades >= 1).all() and (m.trades == np.round(m.trades)).all()


def test_regimes_and_their_character():
    m = synthetic_market(days=3 * 365, timeframe="1h", seed=11)
    assert set(np.unique(m.phase)) == set(range(5)), "a long run visits every phase"
    np.testing.assert_array_equal(m.regime, PHASE_REGIME[m.phase])
    assert PHASE_REGIME.tolist() == [Regime.RISK_ON, Regime.NEUTRAL, Regime.RISK_OFF, Regime.PANIC, Regime.NEUTRAL]
    assert len(PHASES) == 5
    lr = np.diff(np.log(m.close), axis=1)
    ph = m.phase[1:]
    mean = [lr[:, ph == p].mean() for p in range(5)]
    vol = [lr[0, ph == p].std() for p in range(5)]
    up, chop, sell, crash, rec = range(5)
    assert mean[crash] < mean[sell] < 0 < mean[up] and mean[rec] > 0
    assert vol[crash] > 2 * vol[up] and vol[sell] > vol[up]
    volume = [m.volume[0, 1:][ph == p].mean() * m.close[0, 1:][ph == p].mean() for p in range(5)]
    assert volume[crash] > 2 * volume[up]
    # symbols move together (one market factor)
    corr = np.corrcoef(lr)
    assert corr[np.triu_indices(10, 1)].min() > 0.3
    # volatility clusters: |returns| are autocorrelated
    a = np.abs(lr[0])
    assert np.corrcoef(a[:-1], a[1:])[0, 1] > 0.1


def test_arguments_and_store_roundtrip(tmp_path):
    with pytest.raises(ValueError, match="n_bars or days"):
        synthetic_market(10, days=1)
    with pytest.raises(ValueError, match="start_phase"):
        synthetic_market(10, start_phase=7)
    with pytest.raises(ValueError, match="unique"):
        synthetic_market(10, symbols=["BTC/USD", "btc-usd"])
    m = synthetic_market(50, timeframe="1h", symbols=["BTC/USD", "FOO/USD"], seed=5)
    assert m.open[1, 0] == 100.0  # unknown symbols start at 100
    store = BarStore(tmp_path)
    assert m.to_store(store) == 100
    got = store.read("synthetic", "FOO/USD", "1h")
    np.testing.assert_array_equal(got["close"], m.close[1])
    assert synthetic_market(0).close.shape == (10, 0)
