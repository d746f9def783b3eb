"""Strategy step kernels and their registry (dispatched by integer code).

Each strategy module holds its ``Params`` struct (msgspec, strict, documented
defaults) and its ``step_nb`` kernel; :data:`REGISTRY` maps the strategy's name to its
code (``tradejet.kernels.codes.Strategy``) and parameter type, and
:func:`params_table` turns a configuration into the kernels' parameter array.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from tradejet.errors import StrategyError
from tradejet.kernels.codes import STRATEGY_TEXT, Strategy
from tradejet.strategies import breakout, defensive, mean_reversion, ml_signal, momentum_rotation, swing, trend_following
from tradejet.strategies.base import N_SP

__all__ = ["REGISTRY", "params_table", "params_schema"]

REGISTRY: dict[str, tuple[int, type]] = {
    "trend_following": (Strategy.TREND_FOLLOWING, trend_following.Params),
    "mean_reversion": (Strategy.MEAN_REVERSION, mean_reversion.Params),
    "breakout": (Strategy.BREAKOUT, breakout.Params),
    "momentum_rotation": (Strategy.MOMENTUM_ROTATION, momentum_rotation.Params),
    "ml_signal": (Strategy.ML_SIGNAL, ml_signal.Params),
    "defensive": (Strategy.DEFENSIVE, defensive.Params),
    "swing": (Strategy.SWING, swing.Params),
}
assert tuple(REGISTRY) == STRATEGY_TEXT


def params_table(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> np.ndarray:
    """Return the ``(n_strategies, N_SP)`` parameter array: defaults, with ``overrides`` per strategy name."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(REGISTRY)
    if unknown:
        raise StrategyError(f"unknown strategy {sorted(unknown)[0]!r}; known: {', '.join(REGISTRY)}")
    table = np.empty((len(REGISTRY), N_SP))
    for name, (code, cls) in REGISTRY.items():
        try:
            p = msgspec.convert(dict(overrides.get(name, {})), cls)
        except msgspec.ValidationError as e:
            raise StrategyError(f"strategy {name}: {e}") from None
        table[code] = p.to_array()
    return table


def params_schema() -> dict[str, Any]:
    """Return each strategy's parameter JSON schema, for docs and config validation."""
    return {name: msgspec.json.schema(cls) for name, (_, cls) in REGISTRY.items()}
