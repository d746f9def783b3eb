"""Universe, schedule, regimes, selection, risk, portfolio, the step and the drivers."""

from tradejet.engine.live import Engine
from tradejet.engine.ports import ExecutionVenue

__all__ = ["Engine", "ExecutionVenue"]
