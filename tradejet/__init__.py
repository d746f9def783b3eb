"""tradejet: a trading engine with a compiled core.

The embedded API is re-exported here as it lands; heavy modules load lazily so that
``import tradejet`` stays fast (no pandas, scikit-learn or TA-Lib on the import path).

>>> import tradejet
>>> tradejet.__version__
'0.1.0'
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_config", "TradejetError"]

from tradejet.config import load_config
from tradejet.errors import TradejetError
