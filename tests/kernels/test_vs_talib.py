"""tradejet.kernels against TA-Lib: every candle file of the shared data, and hypothesis random walks.

After the warm-up the values agree within 1e-9 relative (absolute floor: the mean close
for price-unit outputs, 1 for percentages, the total volume for OBV); NaN positions are
identical."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.kernels.cases import cases, floor_of
from tests.kernels.conftest import assert_close, candle_files, load_candles

talib = pytest.importorskip("talib")


def _check_all(d, p):
    for name, ours, ref, kind in cases(p):
        a, b = ours(d), ref(d)
        floor = floor_of(kind, d)
        if isinstance(a, tuple):
            assert len(a) == len(b), name
            for i, (x, y) in enumerate(zip(a, b)):
                assert_close(x, y, floor, f"{name}[{i}] p={p}")
        else:
            assert_close(a, b, floor, f"{name} p={p}")


@pytest.mark.parametrize("rel", candle_files() or ["<no data>"])
def test_every_candle_file_matches_talib(shared_data, rel):
    d = load_candles(shared_data, rel)
    assert len(d["close"]) > 100, rel
    for p in (14, 20):
        _check_all(d, p)


def test_candle_files_are_found(shared_data):
    files = candle_files()
    assert len(files) >= 60, files
    assert any(f.endswith(".gz") for f in files)
    assert any("kraken_ohlcvt" in f for f in files)


def random_walk(seed: int, n: int, level: float, vol: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = level * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    spread = np.abs(rng.normal(0.0, vol, (2, n))) * c
    h = c + spread[0]
    lo = c - np.minimum(spread[1], 0.9 * c)
    flat = rng.random(n) < 0.05  # some unchanged closes and zero ranges, as thin markets have
    c = np.where(flat, np.roll(c, 1), c)
    h = np.maximum(h, c)
    lo = np.minimum(lo, c)
    v = np.round(rng.exponential(100.0, n), 3) * (rng.random(n) > 0.05)
    return {"open": np.roll(c, 1), "high": h, "low": lo, "close": c, "volume": v}


walks = st.builds(random_walk, st.integers(0, 2**32 - 1), st.integers(1, 400),
                  st.sampled_from([1e-4, 0.05, 1.0, 100.0, 60_000.0]), st.sampled_from([0.001, 0.01, 0.05]))


@given(d=walks, p=st.integers(1, 60))
def test_random_walks_match_talib(d, p):
    _check_all(d, p)


@given(n=st.integers(0, 40), p=st.integers(2, 50))
def test_series_shorter_than_warmup_gives_all_nan(n, p):
    d = random_walk(n, n, 100.0, 0.01)
    for name, ours, ref, _ in cases(p):
        a = ours(d)
        for x in (a if isinstance(a, tuple) else (a,)):
            assert x.shape == (n,), name
        b = ref(d)
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            assert np.array_equal(np.isnan(x), np.isnan(y)), name


def test_stddev_and_wma_do_not_drift_on_a_long_series():
    rng = np.random.default_rng(7)
    x = 60_000 + np.cumsum(rng.normal(0, 5, 300_000))
    import tradejet.kernels as K

    ours = K.stddev(x, 20)
    idx = np.arange(19, x.size, 997)
    exact = np.array([np.std(x[i - 19:i + 1]) for i in idx])
    np.testing.assert_allclose(ours[idx], exact, rtol=1e-9)
    assert_close(ours, talib.STDDEV(x, 20), 1.0, "stddev long")
    # a pure running sum (TA-Lib 0.4's WMA) is 8e-9 off after 1M bars; TA-Lib 0.8 does not drift
    assert_close(K.wma(x, 20), talib.WMA(x, 20), float(np.mean(x)), "wma long", rtol=1e-12)
