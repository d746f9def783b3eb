"""tradejet: a trading engine with a compiled core.

The embedded API is re-exported here as it lands; heavy modules load lazily so that
``import tradejet`` stays fast (no pandas, scikit-learn or TA-Lib on the import path).

>>> import tradejet
>>> tradejet.__version__
'0.1.0'
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_config", "TradejetError", "run_backtest", "MarketBars"]

from tradejet.config import load_config
from tradejet.errors import TradejetError


def __getattr__(name: str):
    # The engine (Numba kernels) loads on first use, not on `import tradejet`.
    if name == "run_backtest":
        from tradejet.engine.simulate import run

        return run
    if name == "MarketBars":
        from tradejet.engine.simulate import MarketBars

        return MarketBars
    raise AttributeError(f"module 'tradejet' has no attribute {name!r}")
