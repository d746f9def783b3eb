from __future__ import annotations

import numpy as np
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st

from tradejet.errors import DataError
from tradejet.kernels.codes import Regime
from tradejet.models.features import compute_features, warmup_rows
from tradejet.models.schema import DEFAULT_SCHEMA, FeatureSchema, FeatureSpec


def walk(n: int, seed: int):
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.concatenate(([c[0]], c[:-1]))
    h = np.maximum(o, c) * (1 + rng.uniform(0, 0.005, n))
    lo = np.minimum(o, c) * (1 - rng.uniform(0, 0.005, n))
    v = rng.lognormal(5, 0.5, n)
    return o, h, lo, c, v


def test_schema_hash_covers_names_order_params_and_version():
    base = DEFAULT_SCHEMA
    feats = list(base.features)
    renamed = FeatureSchema(version=base.version, features=(FeatureSpec(name="rsi14", kernel="rsi",
                                                                        params={"period": 14}), *feats[1:]))
    reparam = FeatureSchema(version=base.version, features=(FeatureSpec(name=feats[0].name, kernel="roc",
                                                                        params={"period": 2}), *feats[1:]))
    swapped = FeatureSchema(version=base.version, features=(feats[1], feats[0], *feats[2:]))
    bumped = FeatureSchema(version=base.version + 1, features=tuple(feats))
    same = FeatureSchema(version=base.version, features=tuple(feats))
    hashes = {s.hash for s in (renamed, reparam, swapped, bumped)}
    assert len(hashes) == 4 and base.hash not in hashes
    assert same.hash == base.hash and len(base.hash) == 64


def test_duplicate_names_are_refused():
    f = DEFAULT_SCHEMA.features[0]
    with pytest.raises(ValueError, match="unique"):
        FeatureSchema(version=1, features=(f, f))


def test_columns_equal_talib_computations():
    o, h, lo, c, v = walk(600, 1)
    X = compute_features(o, h, lo, c, v)
    names = DEFAULT_SCHEMA.names
    assert X.dtype == np.float32 and X.shape == (600, len(names)) and X.flags.c_contiguous
    col = dict(zip(names, X.T))
    up, _mid, low = talib.BBANDS(c, 20, 2.0, 2.0)
    _m, _s, hist = talib.MACD(c, 12, 26, 9)
    lr = np.log(c[1:] / c[:-1])
    rv = np.full(600, np.nan)
    for t in range(24, 600):
        rv[t] = lr[t - 24:t].std()
    vz = np.full(600, np.nan)
    for t in range(23, 600):
        w = v[t - 23:t + 1]
        vz[t] = (v[t] - w.mean()) / w.std()
    expect = {
        "ret_1": talib.ROC(c, 1), "ret_24": talib.ROC(c, 24), "rsi_14": talib.RSI(c, 14),
        "natr_14": talib.NATR(h, lo, c, 14), "adx_14": talib.ADX(h, lo, c, 14),
        "bb_pctb_20": (c - low) / (up - low), "macd_hist": hist / c * 100, "rvol_24": rv * 100,
        "volume_z_24": vz, "regime": np.full(600, Regime.NEUTRAL, float),
    }
    for name, want in expect.items():
        np.testing.assert_array_equal(np.isnan(col[name]), np.isnan(want), err_msg=name)
        np.testing.assert_allclose(col[name], want.astype(np.float32), rtol=2e-5, atol=2e-5, equal_nan=True,
                                   err_msg=name)
    assert warmup_rows(X) == int(np.flatnonzero(~np.isnan(X).any(axis=1))[0])


@given(st.integers(0, 10_000), st.integers(60, 398))
def test_row_t_does_not_change_when_later_bars_change(seed, t):
    """Causality: rewrite every bar after t (prices and volume); rows 0..t stay bit-identical."""
    o, h, lo, c, v = walk(400, seed)
    reg = np.random.default_rng(seed).integers(0, 4, 400).astype(float)
    X = compute_features(o, h, lo, c, v, reg)
    o2, h2, lo2, c2, v2 = (a.copy() for a in (o, h, lo, c, v))
    rng = np.random.default_rng(seed + 1)
    shock = np.exp(rng.normal(0, 0.2, 400 - t - 1))
    for a in (o2, h2, lo2, c2):
        a[t + 1:] *= shock
    h2[t + 1:] *= 1.05
    v2[t + 1:] = rng.lognormal(9, 1, 400 - t - 1)
    reg2 = reg.copy()
    reg2[t + 1:] = (reg2[t + 1:] + 1) % 4
    X2 = compute_features(o2, h2, lo2, c2, v2, reg2)
    np.testing.assert_array_equal(X[: t + 1], X2[: t + 1])
    assert not np.array_equal(X[t + 1:], X2[t + 1:], equal_nan=True)


def test_regime_column_is_optional_input():
    o, h, lo, c, v = walk(100, 2)
    j = DEFAULT_SCHEMA.names.index("regime")
    assert (compute_features(o, h, lo, c, v)[:, j] == Regime.NEUTRAL).all()
    reg = np.full(100, float(Regime.PANIC))
    assert (compute_features(o, h, lo, c, v, reg)[:, j] == Regime.PANIC).all()


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda a: a["close"].__setitem__(5, np.nan), "close is not finite at index 5"),
        (lambda a: a["high"].__setitem__(7, np.inf), "high is not finite at index 7"),
        (lambda a: a["close"].__setitem__(3, -1.0), "close must be > 0, was -1.0 at index 3"),
        (lambda a: a.__setitem__("volume", a["volume"][:-1]), "volume must be 1-D with 50 values"),
        (lambda a: a.__setitem__("regime", np.full(50, 7.0)), "regime codes must be in 0..3, was 7.0"),
        (lambda a: a.__setitem__("regime", np.ones(49)), "regime must have 50 values"),
    ],
)
def test_bad_input_is_named(mutate, match):
    o, h, lo, c, v = walk(50, 3)
    a = {"open": o, "high": h, "low": lo, "close": c, "volume": v, "regime": None}
    mutate(a)
    with pytest.raises(DataError, match=match):
        compute_features(a["open"], a["high"], a["low"], a["close"], a["volume"], a["regime"])


def test_short_series_gives_nan_rows_not_an_error():
    o, h, lo, c, v = walk(10, 4)
    X = compute_features(o, h, lo, c, v)
    assert X.shape == (10, DEFAULT_SCHEMA.width) and warmup_rows(X) == 10
