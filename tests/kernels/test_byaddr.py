"""Kernels called through their addresses (tradejet.kernels._byaddr): the same results as a
linked call, a key that refuses other argument types, exceptions that still propagate."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit, typeof, types

from tradejet.kernels._byaddr import call_i64, native_address, sig_key


@njit(cache=False, _nrt=False)
def _callee(a, k, flag):
    """Adds k to every element (a side effect to observe), returns the sum as an int64 (or raises)."""
    if k < 0:
        raise ValueError("negative k")
    s = 0
    for i in range(a.shape[0]):
        a[i] += k
        s += int(a[i])
    return s if flag else -s


@njit(cache=False)
def _float_callee(a):
    return a.sum()


@njit(cache=False, _nrt=False)
def _caller(fn, a, k, flag):
    return call_i64(fn, (a, k, flag))


def _tys():
    return (typeof(np.zeros(3)), types.int64, types.boolean)


def test_called_through_its_address_it_does_what_a_linked_call_does():
    fn = native_address(_callee, _tys())
    a, b = np.arange(5.0), np.arange(5.0)
    assert _caller(fn, a, 3, True) == _callee(b, 3, True) == 25
    np.testing.assert_array_equal(a, b)
    assert _caller(fn, a, 1, False) == -30 and a[0] == 4.0


def test_other_argument_types_are_refused_without_calling():
    fn = native_address(_callee, (typeof(np.zeros(3, np.float32)), types.int64, types.boolean))  # float32, not ours
    a = np.arange(5.0)
    assert _caller(fn, a, 3, True) == -1
    np.testing.assert_array_equal(a, np.arange(5.0))  # not called
    fn = native_address(_callee, _tys())
    fn[1] ^= 1  # a key for no known types
    assert _caller(fn, a, 3, True) == -1 and a[0] == 0.0


def test_the_callees_exception_reaches_the_caller():
    fn = native_address(_callee, _tys())
    with pytest.raises(ValueError, match="negative k"):
        _caller(fn, np.arange(3.0), -1, True)


def test_only_int64_results_and_stable_keys():
    with pytest.raises(TypeError, match="not int64"):
        native_address(_float_callee, (typeof(np.zeros(3)),))
    assert sig_key(_tys()) == sig_key(_tys()) > 0
    assert sig_key(_tys()) != sig_key(_tys()[::-1])
    assert sig_key((typeof(np.zeros(3)),)) != sig_key((typeof(np.zeros(3, np.float32)),))


def test_the_driver_stops_when_a_callee_was_built_for_other_types():
    from tradejet.config import Config
    from tradejet.engine.driver import RUN_BAD_CALL, RUN_OK, run_bars_nb
    from tradejet.engine.simulate import MarketBars, _warm_args, bar_context_array, build_context
    from tradejet.io.synthetic import synthetic_market

    bars = MarketBars.from_synthetic(synthetic_market(days=1, timeframe="1h", seed=3))
    ctx, pair_rows, fcfg, _ = build_context(bars.symbols, Config())
    scores = np.full(bars.close.shape, np.nan)
    bar_ctx = bar_context_array(bars, fcfg)
    args = _warm_args(ctx, bars, scores, bar_ctx, pair_rows, fcfg, True)
    for i in (-1, -2):  # the decision step, then the indicator block, with a key of other types
        bad = list(args)
        bad[i] = args[i].copy()
        bad[i][1] ^= 1
        assert run_bars_nb(*bad) == RUN_BAD_CALL
    assert run_bars_nb(*args) == RUN_OK  # the same call with the right keys runs its two bars
