"""Every bad-input case raises ValueError naming the argument, the problem and the first bad index."""

from __future__ import annotations

import numpy as np
import pytest

import tradejet.kernels as K

X = np.linspace(100.0, 120.0, 50)
CALLS = {
    "sma": lambda **a: K.sma(a.get("x", X), a.get("period", 5)),
    "ema": lambda **a: K.ema(a.get("x", X), a.get("period", 5)),
    "wma": lambda **a: K.wma(a.get("x", X), a.get("period", 5)),
    "stddev": lambda **a: K.stddev(a.get("x", X), a.get("period", 5)),
    "rsi": lambda **a: K.rsi(a.get("x", X), a.get("period", 5)),
    "roc": lambda **a: K.roc(a.get("x", X), a.get("period", 5)),
    "rolling_max": lambda **a: K.rolling_max(a.get("x", X), a.get("period", 5)),
    "rolling_min": lambda **a: K.rolling_min(a.get("x", X), a.get("period", 5)),
    "zscore": lambda **a: K.zscore(a.get("x", X), a.get("period", 5)),
    "realized_vol": lambda **a: K.realized_vol(a.get("x", X), a.get("period", 5)),
    "atr": lambda **a: K.atr(X + 1, X - 1, a.get("x", X), a.get("period", 5)),
    "adx": lambda **a: K.adx(X + 1, X - 1, a.get("x", X), a.get("period", 5)),
    "stoch": lambda **a: K.stoch(X + 1, X - 1, a.get("x", X), a.get("period", 5)),
    "rolling_vwap": lambda **a: K.rolling_vwap(X + 1, X - 1, a.get("x", X), np.ones(50), a.get("period", 5)),
}


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
@pytest.mark.parametrize("where", [0, 17, 49])
def test_nonfinite_input_names_the_first_bad_index(name, bad, word, where):
    # the kernels count bad values inside their loops: the first and last bars are covered too
    x = X.copy()
    x[where] = bad
    if where < 30:
        x[30] = np.nan
    with pytest.raises(ValueError, match=rf"(x|close) has {word} at index {where}$"):
        CALLS[name](x=x)


@pytest.mark.parametrize("arg", ["open", "high", "low", "close", "volume"])
@pytest.mark.parametrize("where", [0, 49])
def test_fused_names_a_nonfinite_input(arg, where):
    cols = {"open": X, "high": X + 1, "low": X - 1, "close": X, "volume": np.ones(50)}
    cols[arg] = cols[arg].copy()
    cols[arg][where] = np.nan
    with pytest.raises(ValueError, match=rf"{arg} has NaN at index {where}$"):
        K.features(**cols)


@pytest.mark.parametrize("where", [0, 49])
def test_hlc_and_volume_inputs_are_all_checked(where):
    for name, call in [("high", lambda h: K.trange(h, X - 1, X)), ("low", lambda lo: K.atr(X + 1, lo, X)),
                       ("high", lambda h: K.adx(h, X - 1, X)), ("low", lambda lo: K.stoch(X + 1, lo, X)),
                       ("volume", lambda v: K.obv(X, v)), ("volume", lambda v: K.rolling_vwap(X + 1, X - 1, X, v, 3))]:
        base = np.ones(50) if name == "volume" else (X + 1 if name == "high" else X - 1)
        a = base.copy()
        a[where] = np.inf
        with pytest.raises(ValueError, match=rf"{name} has inf at index {where}$"):
            call(a)


@pytest.mark.parametrize("name", CALLS)
def test_period_below_minimum_is_refused(name):
    with pytest.raises(ValueError, match=r"(period|fastk) must be >= [12], was 0"):
        CALLS[name](period=0)
    with pytest.raises(ValueError, match=r"(period|fastk) must be an integer"):
        CALLS[name](period=2.5)


@pytest.mark.parametrize("name", ["rsi", "adx", "zscore", "realized_vol"])
def test_period_one_is_refused_where_the_formula_needs_two(name):
    with pytest.raises(ValueError, match=r"period must be >= 2, was 1"):
        CALLS[name](period=1)


@pytest.mark.parametrize("value, dtype", [(["a"] * 50, "<U1"), ([1 + 2j] * 50, "complex128"),
                                          (np.array([object()] * 50), "object")])
def test_unconvertible_dtypes_are_refused(value, dtype):
    with pytest.raises(ValueError, match=rf"x must be float64 .*got dtype {dtype}"):
        K.sma(value, 3)


def test_ints_and_float32_convert_safely():
    ints = np.arange(1, 11)
    np.testing.assert_array_equal(K.sma(ints, 3), K.sma(ints.astype(np.float64), 3))
    np.testing.assert_array_equal(K.ema(ints.astype(np.float32), 3), K.ema(ints.astype(np.float32).astype(np.float64), 3))
    assert K.sma([1, 2, 3], 2)[2] == 2.5


def test_two_dimensional_input_is_refused():
    with pytest.raises(ValueError, match=r"x must be 1-D, got shape \(5, 2\)"):
        K.sma(np.ones((5, 2)), 2)


def test_different_lengths_name_the_arrays_and_the_first_missing_index():
    with pytest.raises(ValueError, match=r"high, low, close must have the same length: high has 50, close has 49 "
                                         r"\(first index without a value in close: 49"):
        K.atr(X + 1, X - 1, X[:49])
    with pytest.raises(ValueError, match=r"close, volume must have the same length: close has 50, volume has 51"):
        K.obv(X, np.ones(51))
    with pytest.raises(ValueError, match=r"same shape"):
        K.features_2d(*(np.ones((5, 2)),) * 4, np.ones((5, 3)))


def test_nonpositive_prices_are_refused_for_log_returns():
    x = X.copy()
    x[4] = 0.0
    with pytest.raises(ValueError, match=r"x must be > 0 for log returns, was 0.0 at index 4"):
        K.log_returns(x)
    with pytest.raises(ValueError, match=r"close must be > 0 .* at index 4"):
        K.realized_vol(x, 3)


def test_negative_volume_is_refused():
    v = np.ones(50)
    v[9] = -1.0
    with pytest.raises(ValueError, match=r"volume must be >= 0, was -1.0 at index 9"):
        K.rolling_vwap(X + 1, X - 1, X, v, 3)
    with pytest.raises(ValueError, match=r"volume must be >= 0, was -1.0 at index 9"):
        K.features(X, X + 1, X - 1, X, v)
    with pytest.raises(ValueError, match=r"volume must be >= 0, was -1.0 at flat index 9"):
        K.features_2d(*(np.column_stack([a]) for a in (X, X + 1, X - 1, X, v)))


def test_fused_2d_names_bar_and_symbol_of_a_nan():
    c = np.ones((6, 3))
    c[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"close has NaN at index \(4, 2\) \(bar 4, symbol 2\)"):
        K.features_2d(np.ones((6, 3)), np.ones((6, 3)), np.ones((6, 3)), c, np.ones((6, 3)))


def test_bad_parameters_and_out_buffers_are_refused():
    with pytest.raises(ValueError, match=r"nbdev must be finite, was nan"):
        K.stddev(X, 5, float("nan"))
    with pytest.raises(ValueError, match=r"bars_per_year must be > 0, was -1.0"):
        K.realized_vol(X, 5, -1.0)
    with pytest.raises(ValueError, match=r"out must be a C-contiguous float64 array of shape \(50,\), got float32"):
        K.sma(X, 5, out=np.empty(50, np.float32))
    with pytest.raises(ValueError, match=r"out must be a C-contiguous float64 array of shape \(27, 50\)"):
        K.features(X, X + 1, X - 1, X, np.ones(50), out=np.empty((27, 49)))
    with pytest.raises(ValueError, match=r"fastk must be >= 1, was 0"):
        K.stoch_init(0)
    with pytest.raises(ValueError, match=r"period must be >= 1, was -3"):
        K.sma_init(-3)


def test_empty_input_gives_empty_output():
    assert K.sma(np.empty(0), 3).shape == (0,)
    assert K.features(*(np.empty(0),) * 5).shape == (27, 0)


def test_as_series_fast_path_and_the_checked_path_agree():
    from tradejet.kernels.api import as_series, check_period

    x = np.linspace(1.0, 2.0, 40)
    assert as_series("x", x, False) is x  # C-contiguous float64 1-D: used as it is
    strided = np.linspace(1.0, 2.0, 80)[::2]
    big_endian = x.astype(">f8")
    for other in (strided, big_endian, x.astype(np.float32), x.tolist()):
        a = as_series("x", other, False)
        assert a.dtype == np.float64 and a.flags.c_contiguous and a.shape == (len(other),)
        np.testing.assert_array_equal(a, np.asarray(other, dtype=np.float64))
        np.testing.assert_array_equal(K.sma(other, 5), K.sma(a, 5))
    with pytest.raises(ValueError, match=r"x must be 1-D, got shape \(2, 20\)"):
        as_series("x", x.reshape(2, 20))
    y = x.copy()
    y[7] = np.nan
    with pytest.raises(ValueError, match="y has NaN at index 7"):
        as_series("y", y)  # scan=True on the fast path still scans
    assert check_period("period", 3) == 3 and check_period("period", np.int64(3)) == 3
    for bad, msg in ((True, "period must be an integer >= 1, was True"), (0, "period must be >= 1, was 0"),
                     (2.0, "period must be an integer >= 1, was 2.0")):
        with pytest.raises(ValueError, match=msg):
            check_period("period", bad)
    with pytest.raises(ValueError, match="period must be >= 2, was 1"):
        check_period("period", 1, 2)
