"""Numba kernels over NumPy arrays. This package imports only numpy and numba.

Contract for every ``*_nb`` kernel: float64 1-D (or 2-D bars x symbols) inputs,
outputs of the input's length, NaN over the warm-up; pure (state in, state out).

Indicators: batch functions with TA-Lib's values (:mod:`.api`), their O(1) streaming
forms ``*_init`` / ``*_update`` (:mod:`.streaming`), and the fused standard feature set
(:mod:`.fused`). ``import tradejet`` does not import this package (numba is slow to
import); ``from tradejet.kernels import sma`` does.
"""

from tradejet.kernels.api import (
    adx,
    atr,
    bbands,
    ema,
    log_returns,
    macd,
    minus_di,
    natr,
    obv,
    plus_di,
    realized_vol,
    roc,
    rolling_max,
    rolling_min,
    rolling_vwap,
    rsi,
    sma,
    stddev,
    stoch,
    trange,
    wma,
    zscore,
)
from tradejet.kernels.fused import (
    FEATURES,
    N_FEATURES,
    features,
    features_2d,
    features_init,
    features_update,
)
from tradejet.kernels.streaming import (
    adx_init,
    adx_update,
    atr_init,
    atr_update,
    bbands_init,
    bbands_update,
    ema_init,
    ema_update,
    log_returns_init,
    log_returns_update,
    macd_init,
    macd_update,
    minus_di_init,
    minus_di_update,
    natr_init,
    natr_update,
    obv_init,
    obv_update,
    plus_di_init,
    plus_di_update,
    realized_vol_init,
    realized_vol_update,
    roc_init,
    roc_update,
    rolling_max_init,
    rolling_max_update,
    rolling_min_init,
    rolling_min_update,
    rolling_vwap_init,
    rolling_vwap_update,
    rsi_init,
    rsi_update,
    sma_init,
    sma_update,
    stddev_init,
    stddev_update,
    stoch_init,
    stoch_update,
    trange_init,
    trange_update,
    wma_init,
    wma_update,
    zscore_init,
    zscore_update,
)

INDICATORS = (
    "sma", "ema", "wma", "stddev", "rsi", "trange", "atr", "natr", "bbands", "macd", "adx", "plus_di",
    "minus_di", "stoch", "roc", "obv", "rolling_max", "rolling_min", "log_returns", "realized_vol",
    "zscore", "rolling_vwap",
)

__all__ = [*INDICATORS, *(f"{n}_init" for n in INDICATORS), *(f"{n}_update" for n in INDICATORS),
           "FEATURES", "N_FEATURES", "features", "features_2d", "features_init", "features_update", "INDICATORS"]
