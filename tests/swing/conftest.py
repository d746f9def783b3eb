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
