"""Shared helpers of the swing tests: hand-built daily paths and a small swing config."""

from __future__ import annotations

import numpy as np
import pytest

from tradejet.config import Config, FillConfig, PairFillConfig, SwingConfig
from tradejet.engine.simulate import MarketBars

DAY = 86_400_000_000_000
T0 = 1_577_836_800 * 1_000_000_000  # 2020-01-01 00:00 UTC


def small_config(**swing) -> Config:
    """Short periods so a path of ~80 bars has a trend; no spread or impact: fills at the next open."""
    kw = dict(sma_trend=30, sma_mid=10, sma_exit=3, rsi_period=2, rsi_entry=30.0, use_bbands=False, atr_period=5,
              ml_enabled=False, max_hold_bars=10, symbols=["TEST"])
    kw.update(swing)
    fills = FillConfig(impact_coef=0.0, participation=1.0, pairs={"TEST": PairFillConfig(spread=0.0)})
    return Config(system="swing", deployment_env="backtest", swing=SwingConfig(**kw), fills=fills)


def path_bars(closes, symbol: str = "TEST") -> MarketBars:
    """Daily bars from closes: open = previous close (so a market order fills at that close), range +-0.5."""
    c = np.asarray(closes, np.float64)
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) + 0.5
    lo = np.minimum(o, c) - 0.5
    v = np.full(c.size, 1e9)
    ts = T0 + DAY * np.arange(c.size, dtype=np.int64)
    col = lambda a: a.reshape(-1, 1).copy()  # noqa: E731
    return MarketBars(symbols=[symbol], ts=ts, open=col(o), high=col(h), low=col(lo), close=col(c), volume=col(v),
                      timeframe_ns=DAY, source="hand-built")


def rise(n: int = 60, start: float = 100.0, slope: float = 3.0) -> list[float]:
    return [start + slope * t for t in range(n)]


@pytest.fixture(scope="session")
def equities(shared_data):
    from tradejet.engine.sources import load_bars

    bars, warnings = load_bars(shared_data / "equities", equities=True)
    assert len(bars.symbols) == 10 and not warnings
    return bars


def equity_candles(bars):
    """Each symbol's adjusted daily bars as the models layer's Candles."""
    from tradejet.models.data import Candles

    out = []
    for j, s in enumerate(bars.symbols):
        ok = bars.have[:, j]
        out.append(Candles(s, f"equities/{s}", bars.ts[ok], bars.open[ok, j], bars.high[ok, j], bars.low[ok, j],
                           bars.close[ok, j], bars.volume[ok, j]))
    return out


@pytest.fixture(scope="session")
def swing_model_home(equities, tmp_path_factory):
    """A $TRADEJET_HOME with a really trained, exported and promoted swing model (tiny: 20 trees)."""
    import time

    import msgspec

    from tradejet.config import MLConfig
    from tradejet.models.artifacts import ArtifactStore, Manifest
    from tradejet.models.data import data_hash
    from tradejet.models.export import export_onnx
    from tradejet.models.schema import DEFAULT_SCHEMA
    from tradejet.models.train import build_dataset, train

    home = tmp_path_factory.mktemp("tjhome")
    cfg = msgspec.convert(dict(max_iter=20, max_leaf_nodes=7, min_samples_leaf=50, n_folds=1, oos_fraction=0.25,
                               horizon=10, embargo_bars=10), MLConfig)
    candles = equity_candles(equities)
    ds = build_dataset(candles, cfg, DEFAULT_SCHEMA)
    tr = train(ds, cfg)
    blob, diff = export_onnx(tr.model, tr.oos.X, schema=DEFAULT_SCHEMA, system="swing")
    store = ArtifactStore(home, "swing")
    created = time.time_ns()
    m = Manifest(id=store.new_id(created), system="swing", created=created, status="candidate",
                 feature_schema_hash=DEFAULT_SCHEMA.hash, feature_names=list(DEFAULT_SCHEMA.names),
                 schema_version=DEFAULT_SCHEMA.version, training_data_hash=data_hash(candles), params=tr.params,
                 metrics=tr.metrics, threshold=cfg.threshold, model_sha256="", validation_sha256="",
                 export_max_abs_diff=diff)
    o = tr.oos
    store.add_candidate(m, blob, {"X": o.X, "y": o.y, "ts": o.ts, "sym": o.sym, "close": o.close})
    store.set_status(m.id, "validated", "test fixture")
    store.promote(m.id, "test fixture")
    return home
