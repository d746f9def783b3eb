"""Parameter structs: msgspec, strict, with ranges; ``to_array()`` gives the kernel row."""

from __future__ import annotations

import math
from typing import ClassVar

import msgspec
import numpy as np

from tradejet.errors import StrategyError
from tradejet.strategies.base import N_SP, SP_MAX_HOLD, SP_MAX_POS_FRAC, SP_P0, SP_STOP_ATR, SP_TP_ATR


class RiskProfile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The risk profile every strategy has. ``None`` disables a stop, take-profit or time limit."""

    max_position_fraction: float = 0.25
    stop_atr: float | None = 3.0
    take_profit_atr: float | None = None
    max_hold_bars: int | None = None

    #: extra parameters, in order, written after the profile (subclasses list them)
    EXTRA: ClassVar[tuple] = ()

    def __post_init__(self) -> None:
        if not 0.0 < self.max_position_fraction <= 1.0:
            raise StrategyError(f"max_position_fraction must be in (0, 1], was {self.max_position_fraction}")
        for name in ("stop_atr", "take_profit_atr"):
            v = getattr(self, name)
            if v is not None and not (v > 0 and math.isfinite(v)):
                raise StrategyError(f"{name} must be > 0 or unset, was {v}")
        if self.max_hold_bars is not None and self.max_hold_bars < 1:
            raise StrategyError(f"max_hold_bars must be >= 1 or unset, was {self.max_hold_bars}")
        for name, lo, hi in type(self).EXTRA:
            v = getattr(self, name)
            if not (lo <= v <= hi):
                raise StrategyError(f"{name} must be in [{lo}, {hi}], was {v}")

    def to_array(self) -> np.ndarray:
        row = np.full(N_SP, np.nan)
        row[SP_MAX_POS_FRAC] = self.max_position_fraction
        row[SP_STOP_ATR] = np.nan if self.stop_atr is None else self.stop_atr
        row[SP_TP_ATR] = np.nan if self.take_profit_atr is None else self.take_profit_atr
        row[SP_MAX_HOLD] = np.nan if self.max_hold_bars is None else self.max_hold_bars
        for k, (name, _, _) in enumerate(type(self).EXTRA):
            row[SP_P0 + k] = float(getattr(self, name))
        return row
