"""A few indicators against StockCharts' worked examples (shared/data/indicator_reference).

The sheets print rounded values: the tolerance is the sheet's own precision. Not used:
cs-atr.csv (StockCharts seeds ATR from bar 0 with TR = high - low, TA-Lib from bar 1, so
the values differ by design) and cs-soo.csv (its close column is blank on the first rows)."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pacsv

import tradejet.kernels as K


def _read(shared_data, rel):
    t = pacsv.read_csv(shared_data / "indicator_reference" / rel)
    return {c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names}


def _num(a):
    return np.array([np.nan if v is None or v == "" else float(v) for v in a], dtype=np.float64)


def _agree(ours, expected, atol):
    m = ~np.isnan(expected) & (expected != 0)
    assert m.sum() >= 5
    np.testing.assert_allclose(ours[m], expected[m], atol=atol)


def test_stockcharts_sma_and_ema_10(shared_data):
    for rel, fn in (("pyalgotrade/sc-sma-10.csv", K.sma), ("pyalgotrade/sc-ema-10.csv", K.ema)):
        d = _read(shared_data, rel)
        x, exp = _num(d["Input"]), _num(d["Expected"])
        ours = fn(x, 10)
        assert np.array_equal(np.isnan(ours), np.isnan(exp)), rel
        _agree(ours, exp, 0.0051)  # the sheet prints 2 decimals


def test_ninjatrader_sma_15(shared_data):
    d = _read(shared_data, "pyalgotrade/nt-sma-15.csv")
    x, exp = _num(d["Input"]), _num(d["Expected"])
    _agree(K.sma(x, 15), exp, 0.0051)


def test_stockcharts_rsi_14(shared_data):
    d = _read(shared_data, "pyalgotrade/rsi-test.csv")
    _agree(K.rsi(_num(d["Input"]), 14), _num(d["Expected"]), 1e-2)


def test_stockcharts_bollinger_20_2(shared_data):
    d = _read(shared_data, "ta/cs-bbands.csv")
    up, mid, lo = K.bbands(_num(d["Close"]), 20, 2.0)
    _agree(mid, _num(d["MiddleBand"]), 1e-5)
    _agree(up, _num(d["HighBand"]), 1e-5)
    _agree(lo, _num(d["LowBand"]), 1e-5)
