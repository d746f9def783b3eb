"""A pair the venue's metadata does not know (NaN decimals, tick): orders pass unrounded, minimums 0."""

from __future__ import annotations

import math

import numpy as np

from tradejet.kernels import pairs as KP
from tradejet.kernels.codes import Reject


def _meta_unknown():
    m = np.zeros((1, KP.N_META))
    for k in (KP.META_PAIR_DECIMALS, KP.META_LOT_DECIMALS, KP.META_COST_DECIMALS, KP.META_TICK_SIZE):
        m[0, k] = math.nan
    return m


def test_unknown_pair_is_not_rounded():
    m = _meta_unknown()
    assert KP.prepare_order_nb(m, 0, 1, 123.456789, 0.00004976, False) == (Reject.OK, 123.456789, 0.00004976)
    assert KP.prepare_order_nb(m, 0, -1, 2.5, 101.2345, True) == (Reject.OK, 2.5, 101.2345)
    code, q, _ = KP.prepare_order_nb(m, 0, 1, math.nan, 1.0, False)
    assert code == Reject.BELOW_ORDERMIN and q == 0.0


def test_known_pair_still_rounds():
    m = _meta_unknown()
    m[0, KP.META_LOT_DECIMALS] = 2
    m[0, KP.META_TICK_SIZE] = 0.01
    m[0, KP.META_PAIR_DECIMALS] = 2
    assert KP.prepare_order_nb(m, 0, 1, 1.239, 10.019, True) == (Reject.OK, 1.23, 10.01)


def test_round_qty_down_terminates_beyond_float_precision():
    # qty * 10**decimals above 2**53: the old loop stepped k - 1 == k forever
    for qty, dec in ((999_999_999.123, 10.0), (8.5e8, 9.0), (1e9, 10.0)):
        got = KP.round_qty_down_nb(qty, dec)
        assert got <= qty and got == qty
