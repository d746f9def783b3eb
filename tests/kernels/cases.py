"""Every indicator as (name, tradejet call, TA-Lib call or None, floor kind) for the parity tests."""

from __future__ import annotations

import numpy as np

import tradejet.kernels as K


def _talib():
    import talib

    return talib


def cases(p: int = 20):
    """Return [(name, ours(d), ref(d), floor kind)] for one window ``p``; d: dict of columns.

    ``q = max(p, 2)`` where TA-Lib refuses a period of 1."""
    ta = _talib()
    q = max(p, 2)
    return [
        ("sma", lambda d: K.sma(d["close"], q), lambda d: ta.SMA(d["close"], q), "price"),
        ("ema", lambda d: K.ema(d["close"], q), lambda d: ta.EMA(d["close"], q), "price"),
        ("wma", lambda d: K.wma(d["close"], q), lambda d: ta.WMA(d["close"], q), "price"),
        ("stddev", lambda d: K.stddev(d["close"], q, 1.5), lambda d: ta.STDDEV(d["close"], q, 1.5), "price"),
        ("rsi", lambda d: K.rsi(d["close"], q), lambda d: ta.RSI(d["close"], q), "pct"),
        ("trange", lambda d: K.trange(d["high"], d["low"], d["close"]),
         lambda d: ta.TRANGE(d["high"], d["low"], d["close"]), "price"),
        ("atr", lambda d: K.atr(d["high"], d["low"], d["close"], p),
         lambda d: ta.ATR(d["high"], d["low"], d["close"], p), "price"),
        # TA-Lib's NATR(1) is off by a factor 1e6 (not ATR(1)/close*100): compared from period 2
        ("natr", lambda d: K.natr(d["high"], d["low"], d["close"], q),
         lambda d: ta.NATR(d["high"], d["low"], d["close"], q), "pct"),
        ("bbands", lambda d: K.bbands(d["close"], q, 2.0), lambda d: ta.BBANDS(d["close"], q, 2.0, 2.0), "price"),
        ("macd", lambda d: K.macd(d["close"], max(p // 2, 2), q + 6, max(p // 3, 1)),
         lambda d: ta.MACD(d["close"], max(p // 2, 2), q + 6, max(p // 3, 1)), "price"),
        ("macd_default", lambda d: K.macd(d["close"]), lambda d: ta.MACD(d["close"]), "price"),
        ("adx", lambda d: K.adx(d["high"], d["low"], d["close"], q),
         lambda d: ta.ADX(d["high"], d["low"], d["close"], q), "pct"),
        ("plus_di", lambda d: K.plus_di(d["high"], d["low"], d["close"], q),
         lambda d: ta.PLUS_DI(d["high"], d["low"], d["close"], q), "pct"),
        ("minus_di", lambda d: K.minus_di(d["high"], d["low"], d["close"], q),
         lambda d: ta.MINUS_DI(d["high"], d["low"], d["close"], q), "pct"),
        ("stoch", lambda d: K.stoch(d["high"], d["low"], d["close"], p, 3, 3),
         lambda d: ta.STOCH(d["high"], d["low"], d["close"], p, 3, 0, 3, 0), "pct"),
        ("stoch_default", lambda d: K.stoch(d["high"], d["low"], d["close"]),
         lambda d: ta.STOCH(d["high"], d["low"], d["close"]), "pct"),
        ("roc", lambda d: K.roc(d["close"], p), lambda d: ta.ROC(d["close"], p), "pct"),
        ("obv", lambda d: K.obv(d["close"], d["volume"]), lambda d: ta.OBV(d["close"], d["volume"]), "volume"),
        ("rolling_max", lambda d: K.rolling_max(d["close"], q), lambda d: ta.MAX(d["close"], q), "price"),
        ("rolling_min", lambda d: K.rolling_min(d["close"], q), lambda d: ta.MIN(d["close"], q), "price"),
    ]


def floor_of(kind: str, d) -> float:
    """Absolute floor for relative comparisons near 0, in the output's own units."""
    if kind == "price":
        return float(np.mean(np.abs(d["close"])))
    if kind == "volume":
        return float(np.sum(np.abs(d["volume"]))) or 1.0
    return 1.0
