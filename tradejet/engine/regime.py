"""The regime detector for Python callers and other bots, over :mod:`tradejet.kernels.regime`.

>>> import numpy as np
>>> det = RegimeDetector()
>>> det.update(close=100.0, ema_long=99.0, realized_vol=0.01, breadth=0.7)
'NEUTRAL'
"""

from __future__ import annotations

import numpy as np

from tradejet.config import RegimeConfig
from tradejet.errors import ConfigError
from tradejet.kernels.codes import REGIME_TEXT
from tradejet.kernels.regime import (
    N_RP,
    RS_DD,
    RS_FAST_DD,
    RS_RAW,
    RS_SLOPE,
    RS_VOL_PCT,
    regime_1d,
    regime_init,
    regime_update_nb,
)

__all__ = ["RegimeDetector", "regime_params"]


def regime_params(config: RegimeConfig | None = None) -> np.ndarray:
    """Return the kernel parameter array (``RP_*``) of a :class:`RegimeConfig`."""
    r = config or RegimeConfig()
    rp = np.array([r.slope_bars, r.vol_lookback, r.vol_sample, r.dd_window, r.fast_window, r.panic_drawdown,
                   r.panic_vol_percentile, r.crash_drawdown, r.risk_off_drawdown, r.high_vol_percentile, r.breadth_on,
                   r.breadth_off, r.confirm_bars, r.min_dwell_bars, r.panic_exit_bars, r.risk_off_vol_percentile],
                  dtype=np.float64)
    assert rp.shape == (N_RP,)
    return rp


class RegimeDetector:
    """Streaming regime classification, one bar at a time (the same kernel the drivers run)."""

    def __init__(self, config: RegimeConfig | None = None):
        try:
            self.params = regime_params(config)
            self.state = regime_init(self.params)
        except ValueError as e:
            raise ConfigError(str(e), key="regime") from None
        self.regime: str = "NEUTRAL"

    def update(self, *, close: float, ema_long: float, realized_vol: float, breadth: float = float("nan")) -> str:
        """Add one bar of the proxy (and the universe's breadth); return the regime's name."""
        if not (close > 0):
            raise ValueError(f"close must be > 0, was {close}")
        code = regime_update_nb(self.state, self.params, float(close), float(ema_long), float(realized_vol),
                                float(breadth))
        self.regime = REGIME_TEXT[code]
        return self.regime

    @property
    def signals(self) -> dict[str, float | str]:
        """The last bar's inputs to the decision: raw call, vol percentile, drawdowns, EMA slope."""
        s = self.state
        return {"raw": REGIME_TEXT[int(s[RS_RAW])], "vol_percentile": float(s[RS_VOL_PCT]),
                "drawdown": float(s[RS_DD]), "fast_drawdown": float(s[RS_FAST_DD]), "slope": float(s[RS_SLOPE])}

    def batch(self, close, ema_long, realized_vol, breadth=None) -> list[str]:
        """Classify a whole series from a fresh state (the batch form); return names per bar."""
        return [REGIME_TEXT[c] for c in regime_1d(close, ema_long, realized_vol, breadth, self.params)]
